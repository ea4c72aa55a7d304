"""sqlite3 connections that never pass through the patched ``connect`` are judged too (review 1.10).

A ``functools.partial(sqlite3.connect, path)`` kept from before ``@protect`` holds the original
function, and ``sqlite3.Connection(path)`` opens a connection without any ``connect``: neither
gives a checking subclass, and the connection is not alive yet when instrumentation looks for
early ones. The ``sqlite3.connect/handle`` audit event gives each its trace hook: the attack's
statement never changes a row, benign statements run unchanged. Also here: an application's
own trace callback (its SQL logging) keeps running once the connection is hooked (review 1.14).
"""
from __future__ import annotations

import functools
import gc
import importlib
import sqlite3
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import protect, sinks
from tests.functional.sql_app import count_users, create_database
from tests.functional.test_early_connections import TRIGGERS, assert_blocked, http, invoke, name_of, rows


@pytest.fixture
def uninstrumented() -> Iterator[None]:
    sinks.uninstrument()
    yield
    sinks.instrument()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return create_database(tmp_path / "app.db")


class Subclassed(sqlite3.Connection):
    """A user's own connection class, constructed directly."""


def openers(path: Path) -> dict[str, Callable[[], sqlite3.Connection]]:
    """Ways to open a connection without the patched connect, each made before ``@protect``."""
    kept = functools.partial(sqlite3.connect, path, isolation_level=None)
    return {
        "partial of connect kept from before": kept,
        "Connection constructed directly": lambda: sqlite3.Connection(path, isolation_level=None),
        "subclass constructed directly": lambda: Subclassed(path, isolation_level=None),
        "dbapi2.Connection": lambda: sqlite3.dbapi2.Connection(path, isolation_level=None),
        "partial of Connection": functools.partial(sqlite3.Connection, path, isolation_level=None),
        "opened in a worker thread": lambda: in_thread(kept),
        "two opened by C code in a row": lambda: list(map(autocommit, [path, path]))[1],
    }


autocommit = functools.partial(sqlite3.Connection, isolation_level=None)  # a call with no Python frame


def in_thread(open_connection: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    """Opened in another thread (its own profile slot); usable here with check_same_thread off."""
    opened: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: opened.append(open_connection()))
    thread.start()
    thread.join()
    return opened[0]


OPENERS = list(openers(Path("unused")))
ATTACKS = [
    ("UPDATE users SET email = 'pwned' WHERE name = '{}'", "nobody' OR '1'='1", "execute"),
    ("DELETE FROM users WHERE name = '{}'", "x' OR 1=1 --", "execute"),
    ("UPDATE users SET email = 'x' WHERE name = '{}';", "nobody'; DELETE FROM users; --", "executescript"),
]


def handler_on(opener: Callable[[], sqlite3.Connection], template: str, method: str) -> Any:
    @protect(mode="block")
    def handler(event, context):
        connection = opener()
        try:
            getattr(connection, method)(template.format(name_of(event)))
        finally:
            connection.close()
        return {"statusCode": 200, "body": "ok"} if "Records" not in event else {"ok": True}
    return handler


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize(("template", "payload", "method"), ATTACKS, ids=["update", "delete", "stacked"])
@pytest.mark.parametrize("way", OPENERS)
def test_an_attack_through_a_connection_the_patched_connect_never_saw_is_blocked(
        uninstrumented, database: Path, records, way: str, template: str, payload: str, method: str,
        trigger) -> None:
    if way == "opened in a worker thread":
        opener = functools.partial(in_thread, functools.partial(sqlite3.connect, database, isolation_level=None,
                                                                check_same_thread=False))
    else:
        opener = openers(database)[way]
    before = rows(database)
    handler = handler_on(opener, template, method)

    assert_blocked(invoke(handler, trigger(payload)), records)
    assert rows(database) == before  # no e-mail changed, no row deleted
    assert sys.getprofile() is None  # the one-shot profile function is gone


BENIGN = ["O'Brien", "x' OR '1'='1", "nobody'; DELETE FROM users; --", "1 OR 1=1", "50%; -- not a comment",
          "山田太郎"]


@pytest.mark.parametrize("way", [way for way in OPENERS if way != "opened in a worker thread"])
def test_benign_statements_on_such_connections_run_unchanged(uninstrumented, database: Path, records,
                                                             way: str) -> None:
    opener = openers(database)[way]

    @protect(mode="block")
    def handler(event, context):
        value = name_of(event)
        connection = opener()
        try:
            connection.execute("UPDATE users SET email = ? WHERE id = 2", (value,))  # traced as '...''...'
            if "'" not in value:
                connection.executescript(f"UPDATE products SET title = 'note: {value}' WHERE id = 1;")
        finally:
            connection.close()
        return {"statusCode": 200, "body": "ok"}

    for value in BENIGN:
        assert invoke(handler, http(value)) == {"statusCode": 200, "body": "ok"}, value
        assert rows(database, "SELECT email FROM users WHERE id = 2") == [(value,)]
    assert rows(database, "SELECT title FROM products WHERE id = 1") == [("note: 山田太郎",)]
    assert count_users(database) == 5
    assert records.detections() == []


def test_a_connection_constructed_after_protect_at_module_scope_is_judged(uninstrumented, database: Path,
                                                                           records) -> None:
    @protect(mode="block")
    def handler(event, context):
        connection.execute(f"DELETE FROM users WHERE name = '{name_of(event)}'")
        return {"statusCode": 200, "body": "ok"}

    connection = sqlite3.Connection(database, isolation_level=None)  # init code after the decorator ran
    assert type(connection) is sqlite3.Connection
    assert_blocked(invoke(handler, http("x' OR 1=1 --")), records)
    assert count_users(database) == 5
    records.clear()
    assert invoke(handler, http("alice")) == {"statusCode": 200, "body": "ok"}
    assert count_users(database) == 4


def holds_a_python_callback(connection: sqlite3.Connection) -> bool:
    return any(isinstance(held, types.FunctionType) for held in gc.get_referents(connection))


def test_after_uninstrument_the_audit_hook_leaves_new_connections_alone(database: Path) -> None:
    sinks.instrument()
    assert holds_a_python_callback(sqlite3.Connection(database))
    sinks.uninstrument()
    try:
        connection = sqlite3.Connection(database)
        assert sys.getprofile() is None
        assert not holds_a_python_callback(connection)  # no trace hook attached: the audit hook is a no-op
        connection.execute("DELETE FROM users WHERE name = 'x' OR 1=1")
        assert count_users(database) == 5  # not committed: the connection works as the driver's own
    finally:
        sinks.instrument()


def test_a_profiler_already_running_on_the_thread_is_kept(database: Path) -> None:
    seen: list[str] = []

    def profiler(frame: Any, event: str, arg: Any) -> None:
        seen.append(event)

    sinks.instrument()
    sys.setprofile(profiler)
    try:
        connection = sqlite3.Connection(database)
        connection.execute("SELECT 1")
    finally:
        sys.setprofile(None)
    assert seen  # still profiling: ours stands aside (that connection is left unhooked, as documented)
    assert not holds_a_python_callback(connection)


# ------------------------------------------------------------------------------------------- exec wrapper

DB_MODULE = '''
import functools, sqlite3
open_db = functools.partial(sqlite3.connect, {path!r}, isolation_level=None)
'''
HANDLER_MODULE = '''
import json, sqlite3
from early_partial_db import open_db

def handler(event, context):
    if "Records" in event:
        name = json.loads(event["Records"][0]["body"])["name"]
    else:
        name = event["queryStringParameters"]["name"]
    for connection in (open_db(), sqlite3.Connection({path!r}, isolation_level=None)):
        connection.execute(f"UPDATE users SET email = 'seen' WHERE name = '{{name}}'")
        connection.close()
    return {{"statusCode": 200, "body": "ok"}}
'''


@pytest.fixture
def task_root(tmp_path: Path, database: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "task"
    root.mkdir()
    (root / "early_partial_db.py").write_text(DB_MODULE.format(path=str(database)))
    (root / "partial_app.py").write_text(HANDLER_MODULE.format(path=str(database)))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", "partial_app.handler")
    yield root
    for name in ("early_partial_db", "partial_app", "app_protect_lambda.bootstrap"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_exec_wrapper_judges_connections_made_without_the_patched_connect(uninstrumented, task_root: Path,
                                                                          database: Path, records, trigger) -> None:
    importlib.import_module("early_partial_db")  # imported before the wrapper (a layer, a sitecustomize)
    bootstrap = importlib.import_module("app_protect_lambda.bootstrap")

    assert invoke(bootstrap.handler, trigger("bob")) == {"statusCode": 200, "body": "ok"}
    assert rows(database, "SELECT email FROM users WHERE name = 'bob'") == [("seen",)]
    before = rows(database)
    assert_blocked(invoke(bootstrap.handler, trigger("nobody' OR '1'='1")), records)
    assert rows(database) == before


# ------------------------------------------------------------------------------------------- the application's trace

def test_the_applications_own_sql_log_keeps_running_on_an_early_connection(uninstrumented, database: Path,
                                                                            records) -> None:
    connection = sqlite3.connect(database, isolation_level=None)
    log: list[str] = []
    connection.set_trace_callback(log.append)  # its SQL logging, at module scope
    connection.execute("SELECT 1")

    @protect(mode="block")
    def handler(event, context):
        connection.execute(f"UPDATE users SET email = 'seen' WHERE name = '{name_of(event)}'")
        return {"statusCode": 200, "body": "ok"}

    connection.execute("SELECT 3")  # outside an invocation
    assert invoke(handler, http("bob")) == {"statusCode": 200, "body": "ok"}
    assert_blocked(invoke(handler, http("nobody' OR '1'='1")), records)
    assert rows(database, "SELECT count(*) FROM users WHERE email = 'seen'") == [(1,)]
    sinks.uninstrument()
    sinks.instrument()  # adopted again: ours is replaced, the application's kept once
    connection.execute("SELECT 4")
    assert log == ["SELECT 1", "SELECT 3", "UPDATE users SET email = 'seen' WHERE name = 'bob'",
                   "UPDATE users SET email = 'seen' WHERE name = 'nobody' OR '1'='1'", "SELECT 4"]


@pytest.mark.parametrize("where", ["audit hook", "after init"])
def test_an_error_of_ours_never_fails_the_applications_connect(database: Path, records,
                                                               monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    from app_protect_lambda.sinks import early_connections

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected internal error")

    sinks.instrument()
    if where == "audit hook":
        monkeypatch.setattr(early_connections.AfterInit, "attach", broken)
    else:
        monkeypatch.setattr(early_connections, "attach_sqlite", broken)
    connection = sqlite3.Connection(database)  # not raised here: recorded, and the connection works
    assert connection.execute("SELECT count(*) FROM users").fetchone() == (5,)
    assert sys.getprofile() is None
    [error] = records.internal_errors()
    assert "injected internal error" in error["error"]
