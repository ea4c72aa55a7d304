"""Work a handler hands to another thread is checked under the invocation that started it."""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

ATTACK = "x; touch {marker}"


def run_shell(name: str) -> None:
    subprocess.run(f"echo {name}", shell=True, check=False, stdout=subprocess.DEVNULL)


def in_thread(name: str) -> None:
    thread = threading.Thread(target=run_shell, args=(name,))
    thread.start()
    thread.join()


def in_pool(name: str) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(run_shell, name).result()


def in_pool_map(name: str) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run_shell, [name]))


def in_executor(name: str) -> None:
    async def main() -> None:
        await asyncio.get_running_loop().run_in_executor(None, run_shell, name)

    asyncio.run(main())


def swallowed_in_pool(name: str) -> None:
    """A handler that catches whatever its worker raised, BaseException included."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(run_shell, name)
        with contextlib.suppress(BaseException):
            future.result()


WAYS = [in_thread, in_pool, in_pool_map, in_executor, swallowed_in_pool]


def handler_for(way: Any, mode: str = "block") -> Any:
    @protect(mode=mode)
    def handler(event: dict, context: Any) -> dict:
        way(event["queryStringParameters"]["name"])
        return {"statusCode": 200, "body": "done"}

    return handler


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.__name__)
def test_an_attack_in_another_thread_is_blocked(way: Any, tmp_path: Path, records) -> None:
    marker = tmp_path / "pwned"
    answer = handler_for(way)(apigw_v1_event(query={"name": ATTACK.format(marker=marker)}), LambdaContext())
    assert answer["statusCode"] == 403
    assert not marker.exists()
    assert records.detections()[0]["protection"] == "command_injection"


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.__name__)
def test_benign_work_in_another_thread_runs_unchanged(way: Any, records) -> None:
    answer = handler_for(way)(apigw_v1_event(query={"name": "O'Brien's notes"}), LambdaContext())
    assert answer == {"statusCode": 200, "body": "done"}
    assert records.detections() == []


def test_sql_on_a_connection_opened_in_a_worker_is_judged(tmp_path: Path, records) -> None:
    database = tmp_path / "users.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('alice')")
    db.close()

    def lookup(name: str) -> list:
        with sqlite3.connect(database) as connection:
            return connection.execute(f"SELECT name FROM users WHERE name = '{name}'").fetchall()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        with ThreadPoolExecutor(max_workers=1) as pool:
            rows = pool.submit(lookup, event["queryStringParameters"]["name"]).result()
        return {"statusCode": 200, "body": str(rows)}

    assert handler(apigw_v1_event(query={"name": "alice"}), LambdaContext())["body"] == "[('alice',)]"
    assert handler(apigw_v1_event(query={"name": "x' OR '1'='1"}), LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["protection"] == "sql_injection"


def test_threads_outside_an_invocation_are_left_alone(tmp_path: Path) -> None:
    sinks.instrument()
    marker = tmp_path / "ran"
    in_pool(f"x; touch {marker}")  # no invocation: nothing to correlate, nothing checked
    assert marker.exists()
