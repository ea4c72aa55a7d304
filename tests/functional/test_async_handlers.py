"""``@protect`` on an ``async def`` handler checks while it is awaited; a block inside a task group
answers 403 or RequestBlocked, never an exception group."""
from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('alice')")
    db.close()
    return path


def lookup(db_path: Path, name: str) -> list:
    with sqlite3.connect(db_path) as db:
        return db.execute(f"SELECT name FROM users WHERE name = '{name}'").fetchall()


def test_an_async_handler_is_checked_while_it_is_awaited(db_path: Path, records) -> None:
    @protect(mode="block")
    async def handler(event: dict, context: Any) -> dict:
        await asyncio.sleep(0)
        return {"statusCode": 200, "body": str(lookup(db_path, event["queryStringParameters"]["name"]))}

    benign = asyncio.run(handler(apigw_v1_event(query={"name": "alice"}), LambdaContext()))
    assert benign == {"statusCode": 200, "body": "[('alice',)]"}
    attacked = asyncio.run(handler(apigw_v1_event(query={"name": "x' OR '1'='1"}), LambdaContext()))
    assert attacked["statusCode"] == 403
    assert records.detections()[0]["protection"] == "sql_injection"


def test_an_async_handler_stays_a_coroutine_function(db_path: Path) -> None:
    async def handler(event: dict, context: Any) -> dict:
        return {}

    protected = protect(handler)
    assert asyncio.iscoroutinefunction(protected) and protected.__name__ == "handler"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
@pytest.mark.parametrize("event", [apigw_v1_event(query={"name": "x' OR '1'='1"}), sqs_event({"name": "x' OR 1=1"})],
                         ids=["http", "sqs"])
def test_a_block_inside_a_task_group_is_answered_as_a_block(event: dict, db_path: Path, records) -> None:
    async def work(name: str) -> list:
        await asyncio.sleep(0)
        return lookup(db_path, name)

    @protect(mode="block")
    async def handler(event: dict, context: Any) -> dict:
        name = (event.get("queryStringParameters") or {}).get("name") or "x' OR 1=1"
        async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
            group.create_task(work("alice"))
            group.create_task(work(name))
        return {"statusCode": 200}

    if "Records" in event:
        with pytest.raises(RequestBlocked):
            asyncio.run(handler(event, LambdaContext()))
    else:
        assert asyncio.run(handler(event, LambdaContext()))["statusCode"] == 403
    assert records.detections()[0]["action"] == "blocked"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
def test_a_sync_handler_running_a_task_group_answers_403(db_path: Path) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        async def main() -> None:
            async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
                group.create_task(asyncio.to_thread(lookup, db_path, event["queryStringParameters"]["name"]))

        asyncio.run(main())
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"name": "x' OR '1'='1"}), LambdaContext())["statusCode"] == 403
    assert handler(apigw_v1_event(query={"name": "alice"}), LambdaContext())["statusCode"] == 200


def test_the_handlers_own_exception_group_passes_through(db_path: Path) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("ExceptionGroup is Python 3.11+")

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        raise ExceptionGroup("handler's own", [ValueError("a"), KeyError("b")])  # noqa: F821

    with pytest.raises(ExceptionGroup):  # noqa: F821
        handler(apigw_v1_event(), LambdaContext())
