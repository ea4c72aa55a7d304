"""Through the exec wrapper's handler (app_protect_lambda.bootstrap with APP_PROTECT_HANDLER): an input
the user's module transforms before its sinks (lower-cased and stripped, a split part, HTML-unescaped)
is still judged there, from HTTP and SQS, and the harm never happens; benign look-alikes pass."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event
from tests.bootstrap_support import wrapping

HANDLER_MODULE = '''
import html
import json
import os
import shlex
import sqlite3
import subprocess

DATABASE = os.environ["PROBE_DATABASE"]
FOLDER = os.environ["PROBE_FOLDER"]


def value(event):
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])["value"]
    return event["queryStringParameters"]["value"]


def handler(event, context):
    action, _, raw = value(event).partition(":")
    text = html.unescape(raw.split(",")[-1]).strip().lower()
    if action == "rename":
        with sqlite3.connect(DATABASE) as db:
            db.execute(f"UPDATE users SET email = 'renamed@example.com' WHERE name = '{text}'")
        db.close()
    elif action == "convert":
        subprocess.run(f"echo {text}", shell=True, cwd=FOLDER, check=True, stdout=subprocess.DEVNULL)
    elif action == "quoted":
        subprocess.run(f"echo {shlex.quote(text)}", shell=True, cwd=FOLDER, check=True, stdout=subprocess.DEVNULL)
    elif action == "save":
        with open(os.path.join(FOLDER, text), "w") as handle:
            handle.write("saved")
    return {"statusCode": 200, "body": action}
'''


@pytest.fixture
def wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    """The bootstrap handler around a user module in a task root; yields it and the work folder."""
    name = f"probe_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "task"
    root.mkdir()
    (root / f"{name}.py").write_text(HANDLER_MODULE)
    folder = tmp_path / "work" / "files"
    folder.mkdir(parents=True)
    database = tmp_path / "users.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (name TEXT, email TEXT)")
        db.executemany("INSERT INTO users VALUES (?, ?)", [("alice", "a@example.com"), ("bob", "b@example.com")])
    db.close()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PROBE_DATABASE", str(database))
    monkeypatch.setenv("PROBE_FOLDER", str(folder))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap.handler, tmp_path


def invoke(handler: Any, trigger: str, value: str) -> Any:
    event = apigw_v2_event("GET", "/act", query={"value": value}) if trigger == "http" else sqs_event({"value": value})
    try:
        return handler(event, LambdaContext())
    except RequestBlocked:
        return "blocked"


def state(root: Path) -> tuple[list, list]:
    """The rows, and every file under the task's temporary folder but the database."""
    with sqlite3.connect(root / "users.db") as db:
        rows = db.execute("SELECT name, email FROM users ORDER BY name").fetchall()
    db.close()
    return rows, sorted(str(path.relative_to(root)) for path in root.rglob("*")
                        if path.is_file() and path.name != "users.db" and path.suffix != ".py")


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize(("value", "protection"), [
    ("rename:  X' OR 'A'='A ", "sql_injection"),
    ("rename:alice,x&#39; OR 1=1 --", "sql_injection"),
    ("convert:  A.PNG >PWNED.TXT", "command_injection"),
    ("convert:x.png,a.png &gt;pwned.txt", "command_injection"),
    ("save: ../../ESCAPED.TXT", "file_access"),
    ("save:a.txt,&period;&period;/&period;&period;/escaped.txt", "file_access"),
])
def test_transformed_attacks_are_blocked_through_the_exec_wrapper(value: str, protection: str, trigger: str,
                                                                  wrapped, records) -> None:
    handler, root = wrapped
    before = state(root)
    answer = invoke(handler, trigger, value)
    assert answer == "blocked" if trigger == "sqs" else answer["statusCode"] == 403
    assert state(root) == before
    assert records.detections(without="malicious_payload")[0]["protection"] == protection


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize(("value", "changed"), [
    ("rename:  ALICE ", "alice"), ("rename:x,Bob", "bob"), ("quoted:  O'Brien (1) & Co.PNG", None),
    ("save:  Report.TXT", "work/files/report.txt"),
])
def test_transformed_benign_values_pass_through_the_exec_wrapper(value: str, changed: str | None, trigger: str,
                                                                 wrapped, records) -> None:
    handler, root = wrapped
    rows, files = state(root)
    assert invoke(handler, trigger, value)["statusCode"] == 200
    after_rows, after_files = state(root)
    if value.startswith("rename"):
        assert dict(after_rows)[changed] == "renamed@example.com"
    elif value.startswith("save"):
        assert after_files == [changed]
    else:
        assert (after_rows, after_files) == (rows, files)
    assert records.detections() == []
