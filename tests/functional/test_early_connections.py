"""Connections opened before ``@protect``/``instrument()`` ran (AWS's advice: at module scope) are judged.

Each test opens its connections with the sinks uninstrumented, as a module does above its
decorated handler, then applies ``@protect``: the statement an attack builds never reaches the
engine (rows, tables unchanged), benign statements run unchanged, and the connection keeps its
type and identity.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event
from tests.conftest import require_server
from tests.functional.sql_app import count_users, create_database

PG_DSN = os.environ.get("APP_PROTECT_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test",
         "charset": "utf8mb4", "autocommit": True}


@pytest.fixture
def uninstrumented() -> Iterator[None]:
    """The process as a module's top level sees it before ``@protect`` is applied."""
    sinks.uninstrument()
    yield
    sinks.instrument()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return create_database(tmp_path / "app.db")


def rows(path: Path, statement: str = "SELECT id, name, email FROM users ORDER BY id") -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(statement).fetchall()
    finally:
        db.close()


def invoke(handler: Any, event: dict) -> Any:
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def assert_blocked(result: Any, records: Any) -> None:
    if isinstance(result, RequestBlocked):
        assert result.finding.kind.value == "sql_injection"
    else:
        assert result["statusCode"] == 403, result
    [record] = records.detections()
    assert record["protection"] == "sql_injection" and record["action"] == "blocked"


def http(value: str) -> dict:
    return apigw_v1_event(query={"name": value})


def sqs(value: str) -> dict:
    return sqs_event({"name": value})


def name_of(event: dict) -> str:
    if "Records" in event:
        import json

        return json.loads(event["Records"][0]["body"])["name"]
    return event["queryStringParameters"]["name"]


TRIGGERS = [http, sqs]


# ------------------------------------------------------------------------------------------- sqlite3

class Repository:
    """Holds its connection and a cursor made with it, as data-access objects do."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)
        self.cursor = self.connection.cursor()


def run(where: Any, method: str, statement: str) -> list:
    """``where``: a connection or a cursor; ``method``: execute, executescript or executemany."""
    if method == "executemany":
        return getattr(where, method)(statement, [()]).fetchall()
    return getattr(where, method)(statement).fetchall()


# (name, statement template, payload, method): each would read every row, or change or delete rows
SQLITE_ATTACKS = [
    ("select bypass", "SELECT id, name FROM users WHERE name = '{}'", "' OR '1'='1", "execute"),
    ("union", "SELECT id, name FROM users WHERE name = '{}'", "' UNION SELECT id, secret FROM secrets--", "execute"),
    ("update every row", "UPDATE users SET email = 'pwned' WHERE name = '{}'", "x' OR '1'='1", "execute"),
    ("delete every row", "DELETE FROM users WHERE name = '{}'", "x' OR 1=1 --", "execute"),
    ("insert a row", "INSERT INTO users (name, email) VALUES ('{}', 'e')", "x', 'y'), ('evil', 'evil') --",
     "execute"),
    ("executemany", "UPDATE users SET email = 'pwned' WHERE name = '{}'", "x' OR '1'='1", "executemany"),
    ("stacked delete", "UPDATE users SET email = 'x' WHERE name = '{}';", "nobody'; DELETE FROM users; --",
     "executescript"),
    ("stacked drop", "SELECT 1 WHERE 'a' = '{}';", "a'; DROP TABLE users; --", "executescript"),
    ("stacked after a harmless first statement", "UPDATE users SET email = email WHERE name = '{}';",
     "bob' OR 1=1; UPDATE users SET password = 'owned'; --", "executescript"),
]
HOLDERS = ["module global", "attribute of an object", "cursor made before", "pool list", "connection subclass"]


class Subclassed(sqlite3.Connection):
    """A user's own connection factory."""


def early_sqlite(path: Path, holder: str) -> tuple[Any, Any]:
    """(what the handler runs statements on, the connection behind it), opened now."""
    if holder == "module global":
        connection = sqlite3.connect(path)
        return connection, connection
    if holder == "attribute of an object":
        repository = Repository(path)
        return repository.connection, repository.connection
    if holder == "cursor made before":
        repository = Repository(path)
        return repository.cursor, repository.connection
    if holder == "pool list":
        pool = [sqlite3.connect(path) for _ in range(3)]
        return pool[1], pool[1]
    connection = sqlite3.connect(path, factory=Subclassed)
    return connection, connection


def sqlite_handler(where: Any, template: str, method: str, mode: str = "block") -> Any:
    @protect(mode=mode)
    def handler(event, context):
        found = run(where, method, template.format(name_of(event)))
        if "Records" in event:
            return {"rows": found}
        return {"statusCode": 200, "body": repr(found)}
    return handler


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize(("name", "template", "payload", "method"), SQLITE_ATTACKS, ids=[a[0] for a in SQLITE_ATTACKS])
def test_attacks_on_a_module_scope_sqlite_connection_are_blocked(uninstrumented, database: Path, records, trigger,
                                                                  name, template, payload, method) -> None:
    where, connection = early_sqlite(database, "module global")
    before = rows(database)
    handler = sqlite_handler(where, template, method)
    assert type(connection) is sqlite3.Connection  # the driver's own class, not a subclass or a proxy

    assert_blocked(invoke(handler, trigger(payload)), records)
    assert rows(database) == before  # nothing read, written or deleted
    assert rows(database, "SELECT count(*) FROM sqlite_master WHERE name = 'users'") == [(1,)]
    assert rows(database, "SELECT count(*) FROM users WHERE password = 'owned'") == [(0,)]


# Stacked after a statement the input ends, or the whole statement from the input (run as given): the
# trace hook interrupts the ATTACH or VACUUM itself before it opens or writes the file.
@pytest.mark.parametrize("how", ["stacked", "whole statement"])
@pytest.mark.parametrize("stacked", ["ATTACH DATABASE '{copy}' AS stolen", "VACUUM INTO '{copy}'"],
                         ids=["attach", "vacuum-into"])
def test_an_injected_attach_or_vacuum_into_writes_no_file(uninstrumented, database: Path, tmp_path: Path, records,
                                                          stacked: str, how: str) -> None:
    connection = sqlite3.connect(database, isolation_level=None)
    copy = tmp_path / "exfiltrated.db"
    statement = stacked.format(copy=copy)
    if how == "stacked":
        handler = sqlite_handler(connection, "SELECT 1 WHERE 'a' = '{}';", "executescript")
        payload = f"a'; {statement}; --"
    else:
        handler, payload = sqlite_handler(connection, "{}", "execute"), statement
    assert_blocked(invoke(handler, http(payload)), records)
    assert not copy.exists()
    assert connection.execute("PRAGMA database_list").fetchall() == [(0, "main", str(database))]


@pytest.mark.parametrize("holder", HOLDERS)
def test_every_holder_of_an_early_connection_is_covered(uninstrumented, database: Path, records, holder) -> None:
    where, connection = early_sqlite(database, holder)
    kind, identity = type(connection), id(connection)
    handler = sqlite_handler(where, "DELETE FROM users WHERE name = '{}'", "execute")
    assert type(connection) is kind and id(connection) == identity

    assert_blocked(invoke(handler, http("x' OR 1=1 --")), records)
    assert count_users(database) == 5
    records.clear()
    assert invoke(handler, http("nobody"))["statusCode"] == 200  # the connection still works
    assert count_users(database) == 5


# Benign values that look like SQL: bound as parameters (the trace shows them expanded, 'O''Brien'),
# and, where they hold no quote, inline in a literal of a statement and of a script (semicolons included).
BENIGN = ["O'Brien", "1 OR 1=1", "a; b", "john smith", "山田太郎", "50%; -- not a comment", "x' OR '1'='1",
          "nobody'; DELETE FROM users; --"]


def test_benign_statements_on_an_early_connection_run_unchanged(uninstrumented, database: Path, records) -> None:
    connection = sqlite3.connect(database)

    @protect(mode="block")
    def handler(event, context):
        name = name_of(event)
        found = connection.execute("SELECT name FROM users WHERE name = ?", (name,)).fetchall()
        connection.executemany("UPDATE users SET email = ? WHERE id = ?", [(name, 2)])
        if "'" not in name:
            connection.execute(f"SELECT count(*) FROM users WHERE email LIKE '%{name}%'").fetchall()
            connection.executescript(f"INSERT INTO products (id, title, discount) VALUES (9, 'note: {name}', '0%');")
        connection.commit()
        return {"statusCode": 200, "body": repr(found)}

    for value in BENIGN:
        result = invoke(handler, http(value))
        assert result["statusCode"] == 200, (value, result)
        assert rows(database, "SELECT email FROM users WHERE id = 2") == [(value,)]
    assert rows(database, "SELECT title FROM products WHERE id = 9")[-1] == ("note: 50%; -- not a comment",)
    assert count_users(database) == 5
    assert records.detections() == []


def test_benign_from_a_queue_on_an_early_connection(uninstrumented, database: Path, records) -> None:
    connection = sqlite3.connect(database)

    @protect(mode="block")
    def handler(event, context):
        connection.execute("UPDATE users SET email = ? WHERE name = ?", ("new@example.com", name_of(event)))
        connection.commit()
        return {"rows": connection.execute("SELECT name FROM users WHERE name = ?", (name_of(event),)).fetchall()}

    assert handler(sqs("O'Brien"), LambdaContext()) == {"rows": [("O'Brien",)]}
    assert rows(database, "SELECT email FROM users WHERE id = 3") == [("new@example.com",)]
    assert records.detections() == []


def test_a_handler_that_catches_the_driver_error_still_answers_blocked(uninstrumented, database: Path,
                                                                       records) -> None:
    connection = sqlite3.connect(database)

    @protect(mode="block")
    def handler(event, context):
        # The driver's OperationalError("interrupted") is swallowed: the code carries on.
        with contextlib.suppress(sqlite3.Error):
            connection.execute(f"DELETE FROM users WHERE name = '{name_of(event)}'")
        return {"statusCode": 200, "body": "deleted"}

    assert_blocked(invoke(handler, http("x' OR 1=1 --")), records)
    assert count_users(database) == 5


def test_report_mode_lets_the_statement_run_and_records_it(uninstrumented, database: Path, records) -> None:
    connection = sqlite3.connect(database)
    handler = sqlite_handler(connection, "SELECT id, name FROM users WHERE name = '{}'", "execute", mode="report")
    result = invoke(handler, http("' OR '1'='1"))
    assert result["statusCode"] == 200 and "alice" in result["body"]
    [record] = records.detections()
    assert record["action"] == "reported" and record["sink"]["name"].startswith("sqlite3.")


def test_outside_an_invocation_the_early_connection_is_untouched(uninstrumented, database: Path, records) -> None:
    connection = sqlite3.connect(database)
    sqlite_handler(connection, "SELECT 1 WHERE '{}'", "execute")
    # Init code, a scheduled warm-up: no invocation, nothing judged, the statement runs.
    connection.execute("DELETE FROM users WHERE name = 'x' OR 1=1")
    connection.commit()
    assert count_users(database) == 0
    assert records.all() == []


def test_closed_and_foreign_thread_connections_do_not_fail_instrumentation(uninstrumented, database: Path,
                                                                           records) -> None:
    import threading

    closed = sqlite3.connect(database)
    closed.close()
    foreign: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: foreign.append(sqlite3.connect(database)))
    thread.start()
    thread.join()
    handler = sqlite_handler(sqlite3.connect(database), "DELETE FROM users WHERE name = '{}'", "execute")
    assert records.internal_errors() == []
    assert_blocked(invoke(handler, http("x' OR 1=1 --")), records)
    assert count_users(database) == 5


# ------------------------------------------------------------------------------------------- servers

@pytest.fixture
def pg_table() -> Iterator[str]:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    import psycopg2

    table = f"early_{uuid.uuid4().hex[:8]}"
    db = psycopg2.connect(PG_DSN)
    db.autocommit = True
    with db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (name TEXT, email TEXT)")
        cursor.execute(f"INSERT INTO {table} VALUES ('alice', 'a'), ('bob', 'b'), ('O''Brien', 'o')")
    yield table
    with db.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    db.close()


@pytest.fixture
def mysql_table() -> Iterator[str]:
    require_server("127.0.0.1", 3306, "MariaDB")
    import pymysql

    table = f"early_{uuid.uuid4().hex[:8]}"
    db = pymysql.connect(**MYSQL)
    with db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (name VARCHAR(100), email VARCHAR(100)) CHARACTER SET utf8mb4")
        cursor.execute(f"INSERT INTO {table} VALUES ('alice', 'a'), ('bob', 'b'), ('O''Brien', 'o')")
    yield table
    with db.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    db.close()


def server_rows(table: str) -> list[tuple]:
    import psycopg2

    db = psycopg2.connect(PG_DSN)
    try:
        with db.cursor() as cursor:
            cursor.execute(f"SELECT name, email FROM {table} ORDER BY name")
            return cursor.fetchall()
    finally:
        db.close()


def mysql_rows(table: str) -> list[tuple]:
    import pymysql

    db = pymysql.connect(**MYSQL)
    try:
        with db.cursor() as cursor:
            cursor.execute(f"SELECT name, email FROM {table} ORDER BY name")
            return list(cursor.fetchall())
    finally:
        db.close()


def early_server_connection(driver: str) -> Any:
    if driver == "psycopg2":
        import psycopg2

        connection = psycopg2.connect(PG_DSN)
        connection.autocommit = True
        return connection
    if driver == "psycopg":
        import psycopg

        return psycopg.connect(PG_DSN, autocommit=True)
    import pymysql

    return pymysql.connect(**MYSQL)


def run_on(connection: Any, driver: str, how: str, statement: str, params: tuple | None = None) -> Any:
    if how == "connection.query":  # PyMySQL's own entry point under every cursor
        connection.query(statement)
        return None
    if how == "connection.execute":  # psycopg 3
        return connection.execute(statement, params)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


SERVER_WAYS = [("psycopg2", "cursor"), ("psycopg", "cursor"), ("psycopg", "connection.execute"),
               ("pymysql", "cursor"), ("pymysql", "connection.query")]


def server_table(driver: str, request: pytest.FixtureRequest) -> tuple[str, Any]:
    if driver == "pymysql":
        return request.getfixturevalue("mysql_table"), mysql_rows
    return request.getfixturevalue("pg_table"), server_rows


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize(("driver", "how"), SERVER_WAYS, ids=[f"{d}-{h}" for d, h in SERVER_WAYS])
def test_attacks_on_early_server_connections_are_blocked(uninstrumented, request, records, driver, how,
                                                          trigger) -> None:
    table, read = server_table(driver, request)
    connection = early_server_connection(driver)
    kind, identity = type(connection), id(connection)
    before = read(table)

    @protect(mode="block")
    def handler(event, context):
        run_on(connection, driver, how, f"UPDATE {table} SET email = 'pwned' WHERE name = '{name_of(event)}'")
        run_on(connection, driver, how, f"DELETE FROM {table} WHERE name = '{name_of(event)}'")
        return {"statusCode": 200, "body": "done"} if "Records" not in event else {"done": True}

    assert type(connection) is kind and id(connection) == identity
    try:
        assert_blocked(invoke(handler, trigger("x' OR '1'='1")), records)
        assert read(table) == before
        records.clear()
        assert invoke(handler, trigger("nobody")) in ({"statusCode": 200, "body": "done"}, {"done": True})
        assert read(table) == before
    finally:
        connection.close()


@pytest.mark.parametrize(("driver", "how"), SERVER_WAYS, ids=[f"{d}-{h}" for d, h in SERVER_WAYS])
def test_benign_statements_on_early_server_connections_run(uninstrumented, request, records, driver, how) -> None:
    table, read = server_table(driver, request)
    connection = early_server_connection(driver)
    placeholder = "%s"

    @protect(mode="block")
    def handler(event, context):
        value = name_of(event)
        if how == "connection.query":
            escaped = connection.escape(value)  # PyMySQL's own quoting: the literal holds the value
            connection.query(f"UPDATE {table} SET email = {escaped} WHERE name = 'bob'")
        else:
            run_on(connection, driver, how, f"UPDATE {table} SET email = {placeholder} WHERE name = 'bob'", (value,))
        return {"statusCode": 200, "body": "ok"}

    try:
        for value in ["O'Brien", "1 OR 1=1", "a; b -- c", "山田太郎", "x' OR '1'='1"]:
            assert invoke(handler, http(value))["statusCode"] == 200, value
            assert dict(read(table))["bob"] == value
        assert records.detections() == []
    finally:
        connection.close()


def test_psycopg2_early_connection_keeps_its_own_cursor_factory(uninstrumented, pg_table: str, records) -> None:
    import psycopg2.extras

    connection = psycopg2.connect(PG_DSN, cursor_factory=psycopg2.extras.RealDictCursor)
    connection.autocommit = True

    @protect(mode="block")
    def handler(event, context):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT name FROM {pg_table} WHERE name = '{name_of(event)}'")
            return {"statusCode": 200, "body": repr(cursor.fetchall())}

    try:
        assert isinstance(connection.cursor(), psycopg2.extras.RealDictCursor)
        assert "'alice'" in invoke(handler, http("alice"))["body"]  # still dict rows
        assert_blocked(invoke(handler, http("' OR '1'='1")), records)
        sinks.uninstrument()
        assert connection.cursor_factory is psycopg2.extras.RealDictCursor  # ours is taken back
    finally:
        connection.close()


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize("factory", ["RealDictCursor", "NamedTupleCursor", "DictCursor"])
def test_psycopg2_explicit_python_cursor_factory_on_an_early_connection(uninstrumented, pg_table: str, records,
                                                                         factory: str, trigger) -> None:
    import psycopg2.extras

    connection = psycopg2.connect(PG_DSN)
    connection.autocommit = True
    before = server_rows(pg_table)

    @protect(mode="block")
    def handler(event, context):
        with connection.cursor(cursor_factory=getattr(psycopg2.extras, factory)) as cursor:
            cursor.execute(f"DELETE FROM {pg_table} WHERE name = '{name_of(event)}'")
        return {"statusCode": 200, "body": "ok"} if "Records" not in event else {"ok": True}

    try:
        assert_blocked(invoke(handler, trigger("x' OR '1'='1")), records)
        assert server_rows(pg_table) == before
        records.clear()
        invoke(handler, trigger("nobody"))
        assert server_rows(pg_table) == before and records.detections() == []
    finally:
        connection.close()


def test_psycopg2_pool_opened_before_protect(uninstrumented, pg_table: str, records) -> None:
    from psycopg2.pool import SimpleConnectionPool

    pool = SimpleConnectionPool(1, 2, PG_DSN)
    before = server_rows(pg_table)

    @protect(mode="block")
    def handler(event, context):
        connection = pool.getconn()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {pg_table} SET email = 'pwned' WHERE name = '{name_of(event)}'")
            connection.commit()
        finally:
            pool.putconn(connection)
        return {"statusCode": 200, "body": "ok"}

    try:
        assert_blocked(invoke(handler, http("x' OR '1'='1")), records)
        assert server_rows(pg_table) == before
    finally:
        pool.closeall()


# ------------------------------------------------------------------------------------------- exec wrapper

DB_MODULE = '''
import sqlite3
connection = sqlite3.connect({path!r})
'''
HANDLER_MODULE = '''
import json
from early_db import connection

def handler(event, context):
    if "Records" in event:
        name = json.loads(event["Records"][0]["body"])["name"]
    else:
        name = event["queryStringParameters"]["name"]
    connection.executescript(f"UPDATE users SET email = 'seen' WHERE name = '{{name}}';")
    return {{"statusCode": 200, "body": "ok"}}
'''


@pytest.fixture
def task_root(tmp_path: Path, database: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "task"
    root.mkdir()
    (root / "early_db.py").write_text(DB_MODULE.format(path=str(database)))
    (root / "early_app.py").write_text(HANDLER_MODULE.format())
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", "early_app.handler")
    yield root
    for name in ("early_db", "early_app", "app_protect_lambda.bootstrap"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_exec_wrapper_adopts_a_connection_opened_before_it(uninstrumented, task_root: Path, database: Path,
                                                           records, trigger) -> None:
    # A module imported before the wrapper's handler (by a layer's extension, a sitecustomize): its
    # connection predates instrumentation.
    early_db = importlib.import_module("early_db")
    assert type(early_db.connection) is sqlite3.Connection
    bootstrap = importlib.import_module("app_protect_lambda.bootstrap")

    assert invoke(bootstrap.handler, trigger("bob")) in ({"statusCode": 200, "body": "ok"},)
    assert rows(database, "SELECT email FROM users WHERE name = 'bob'") == [("seen",)]
    assert_blocked(invoke(bootstrap.handler, trigger("nobody'; DELETE FROM users; --")), records)
    assert count_users(database) == 5
    assert type(early_db.connection) is sqlite3.Connection


# ------------------------------------------------------------------------------------------- our own errors

def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected internal error")


@pytest.mark.parametrize("fail", ["open", "closed"])
def test_an_error_in_the_trace_hook_fails_as_the_policy_says(uninstrumented, database: Path, records,
                                                               monkeypatch: pytest.MonkeyPatch, fail: str) -> None:
    from app_protect_lambda.sources.inputs import Inputs

    connection = sqlite3.connect(database)

    @protect(policy={"mode": "block", "fail": fail})
    def handler(event, context):
        connection.execute("DELETE FROM users WHERE name = 'john smith'")
        connection.commit()
        return {"statusCode": 200, "body": "ok"}

    monkeypatch.setattr(Inputs, "any_in", broken)
    result = invoke(handler, http("john smith"))
    [error] = records.internal_errors()
    assert "injected internal error" in error["error"]
    if fail == "open":
        assert result["statusCode"] == 200 and count_users(database) == 4
    else:  # closed: the statement is stopped like an attack
        assert result["statusCode"] == 403 and count_users(database) == 5


PG_DB_MODULE = '''
import psycopg2
connection = psycopg2.connect({dsn!r})
connection.autocommit = True
'''
PG_HANDLER_MODULE = '''
import json
from early_pg_db import connection

def handler(event, context):
    if "Records" in event:
        name = json.loads(event["Records"][0]["body"])["name"]
    else:
        name = event["queryStringParameters"]["name"]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE name = '{{name}}'")
    return {{"statusCode": 200, "body": "ok"}}
'''


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_exec_wrapper_adopts_a_psycopg2_connection_opened_before_it(uninstrumented, pg_table: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, records,
                                                                    trigger) -> None:
    import psycopg2.extensions

    root = tmp_path / "pg-task"
    root.mkdir()
    (root / "early_pg_db.py").write_text(PG_DB_MODULE.format(dsn=PG_DSN))
    (root / "early_pg_app.py").write_text(PG_HANDLER_MODULE.format(table=pg_table))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", "early_pg_app.handler")
    before = server_rows(pg_table)
    try:
        early_db = importlib.import_module("early_pg_db")
        bootstrap = importlib.import_module("app_protect_lambda.bootstrap")
        assert type(early_db.connection) is psycopg2.extensions.connection
        assert_blocked(invoke(bootstrap.handler, trigger("x' OR '1'='1")), records)
        assert server_rows(pg_table) == before
        records.clear()
        invoke(bootstrap.handler, trigger("nobody"))
        assert server_rows(pg_table) == before and records.detections() == []
    finally:
        early = sys.modules.pop("early_pg_db", None)
        if early is not None:
            early.connection.close()
        for name in ("early_pg_app", "app_protect_lambda.bootstrap"):
            sys.modules.pop(name, None)


# ------------------------------------------------------------------------------------------- transformed inputs

# The code transforms the value before formatting it in (review 1.1): the trace hook looks for the pieces of
# inputs that carry SQL structure, as the patched connections do.
TRANSFORMS = [
    ("strip", str.strip, "  nobody' OR '1'='1  "),
    ("lower", str.lower, "NOBODY' OR 'A'='A"),
    ("upper", str.upper, "nobody' or 'a'='a"),
    ("split", lambda value: value.split(",")[1], "a,nobody' OR '1'='1"),
    ("stacked after strip", str.strip, "  nobody'; DELETE FROM users; --  "),
]


def transformed_handler(connection: Any, transform: Any, method: str = "execute") -> Any:
    @protect(mode="block")
    def handler(event, context):
        value = transform(name_of(event))
        getattr(connection, method)(f"UPDATE users SET email = 'pwned' WHERE name = '{value}';")
        connection.commit()
        return {"statusCode": 200, "body": "ok"} if "Records" not in event else {"ok": True}
    return handler


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize(("name", "transform", "payload"), TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_a_transformed_attack_on_an_early_connection_is_blocked(uninstrumented, database: Path, records, trigger,
                                                                 name, transform, payload) -> None:
    connection = sqlite3.connect(database, isolation_level=None)
    before = rows(database)
    method = "executescript" if name.startswith("stacked") else "execute"
    assert_blocked(invoke(transformed_handler(connection, transform, method), trigger(payload)), records)
    assert rows(database) == before  # no e-mail changed, no row deleted
    assert type(connection) is sqlite3.Connection


# Transformed benign values: bound as parameters (the trace shows them expanded and quoted, 'o''brien',
# 'nobody'' or ''a''=''a'), and inline where they hold no quote.
TRANSFORMED_BENIGN = [
    ("lower", str.lower, "O'Brien"), ("lower", str.lower, "NOBODY' OR 'A'='A"), ("strip", str.strip, "  x' OR 1=1 -- "),
    ("split", lambda value: value.split(",")[1], "a,1 OR 1=1; --"), ("upper", str.upper, "50%; -- not a comment"),
    ("strip", str.strip, "  john smith  "),
]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize(("name", "transform", "value"), TRANSFORMED_BENIGN,
                         ids=[f"{t[0]}-{t[2].strip()}" for t in TRANSFORMED_BENIGN])
def test_transformed_benign_values_on_an_early_connection_run_unchanged(uninstrumented, database: Path, records,
                                                                        trigger, name, transform, value) -> None:
    connection = sqlite3.connect(database)

    @protect(mode="block")
    def handler(event, context):
        changed = transform(name_of(event))
        connection.execute("UPDATE users SET email = ? WHERE id = 2", (changed,))
        connection.executemany("UPDATE users SET password = ? WHERE id = ?", [(changed, 4)])
        if "'" not in changed:
            connection.execute(f"UPDATE products SET title = 'note: {changed}' WHERE id = 1")
        connection.commit()
        return {"statusCode": 200, "body": "ok"} if "Records" not in event else {"ok": True}

    assert invoke(handler, trigger(value)) in ({"statusCode": 200, "body": "ok"}, {"ok": True})
    changed = transform(value)
    assert rows(database, "SELECT email FROM users WHERE id = 2") == [(changed,)]
    assert rows(database, "SELECT password FROM users WHERE id = 4") == [(changed,)]
    if "'" not in changed:
        assert rows(database, "SELECT title FROM products WHERE id = 1") == [(f"note: {changed}",)]
    assert count_users(database) == 5
    assert records.detections() == []
