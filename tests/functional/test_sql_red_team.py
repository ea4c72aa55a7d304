"""Issue 11, round 2, end to end through ``@protect``: the informed attacks the unit rows of
``tests/unit/test_sql_red_team.py`` describe, against real sqlite3, PostgreSQL and MariaDB, with the
rows they read checked (and read for real by the same statement unprotected), next to tricky
benign requests that must reach the database unchanged."""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, alb_event, apigw_v1_event, apigw_v2_event, function_url_event
from tests.conftest import require_server


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT, body TEXT);
        INSERT INTO notes (owner, body) VALUES ('bob', 'hi'), ('alice', 'alice secret'), ('O''Brien', 'x; #1 -- y');
    """)
    db.commit()
    db.close()
    return path


def sqlite_app(database: Path, build: Callable[[dict], str], field: str = "queryStringParameters"):
    @protect(mode="block")
    def handler(event, context):
        query = event.get(field) or {}
        db = sqlite3.connect(database)
        try:
            return {"statusCode": 200, "body": json.dumps(db.execute(build(query)).fetchall())}
        finally:
            db.close()
    return handler


def bodies(response: dict) -> list[str]:
    return [row[0] for row in json.loads(response["body"])]


# (name, statement built from the query, query): each reads alice's note without protection
SQLITE_ATTACKS = [
    ("in list", lambda q: f"SELECT body FROM notes WHERE owner = 'bob' OR id IN ({q['ids']})", {"ids": "9, id"}),
    ("qualified name", lambda q: f"SELECT body FROM notes WHERE owner = {q['o']}", {"o": "notes.owner"}),
    ("backquoted name", lambda q: f"SELECT body FROM notes WHERE owner = {q['o']}", {"o": "`owner`"}),
    ("bracketed name", lambda q: f"SELECT body FROM notes WHERE owner = {q['o']}", {"o": "[owner]"}),
    ("name and a tab", lambda q: f"SELECT body FROM notes WHERE id = {q['id']}", {"id": "id\t"}),
]


@pytest.mark.parametrize(("name", "build", "query"), SQLITE_ATTACKS, ids=[row[0] for row in SQLITE_ATTACKS])
def test_a_name_where_a_value_belongs_is_blocked_in_sqlite(database: Path, records, name, build, query) -> None:
    statement = build(query)
    db = sqlite3.connect(database)
    assert "alice secret" in [row[0] for row in db.execute(statement).fetchall()]  # the attack works unprotected
    db.close()
    response = sqlite_app(database, build)(apigw_v1_event(query=query), LambdaContext())
    assert response["statusCode"] == 403 and "alice" not in response["body"]
    assert records.detections()[0]["rule"] == "sqli.structure"


def test_an_in_list_joined_from_repeated_parameters_is_blocked(database: Path, records) -> None:
    # ?id=9&id=id through an ALB with multi-value headers; the code joins the values itself
    build: Callable[[dict], str] = lambda q: f"SELECT body FROM notes WHERE id IN ({','.join(q['id'])})"  # noqa: E731
    event = alb_event(query={"id": ["9", "id"]}, multi_value=True)
    assert "alice secret" in [row[0] for row in sqlite3.connect(database).execute(build({"id": ["9", "id"]}))]
    response = sqlite_app(database, build, "multiValueQueryStringParameters")(event, LambdaContext())
    assert response["statusCode"] == 403 and "alice" not in response["body"]
    assert records.detections()[0]["input"]["value"] == "id"
    benign = sqlite_app(database, build, "multiValueQueryStringParameters")(
        alb_event(query={"id": ["1", "2"]}, multi_value=True), LambdaContext())
    assert benign["statusCode"] == 200 and bodies(benign) == ["hi", "alice secret"]


SQLITE_BENIGN = [
    ("ids", lambda q: f"SELECT body FROM notes WHERE id IN ({q['ids']}) ORDER BY id", {"ids": "1, 2"},
     ["hi", "alice secret"]),
    ("sort", lambda q: f"SELECT body FROM notes WHERE id < 3 ORDER BY {q['sort']}", {"sort": "notes.owner DESC, id"},
     ["hi", "alice secret"]),
    ("columns", lambda q: f"SELECT {q['cols']} FROM notes WHERE id = 1", {"cols": "notes.body, notes.owner"}, ["hi"]),
    ("filter column", lambda q: f"SELECT body FROM notes WHERE {q['field']} LIKE 'b%'", {"field": "notes.owner"},
     ["hi"]),
    ("apostrophe", lambda q: "SELECT body FROM notes WHERE owner = '{}'".format(q["o"].replace("'", "''")),
     {"o": "O'Brien"},
     ["x; #1 -- y"]),
    ("product name", lambda q: "SELECT owner FROM notes WHERE body = '{}'".format(q["b"]), {"b": "x; #1 -- y"},
     ["O'Brien"]),
    ("sort that the join spells", lambda q: "SELECT n.body FROM notes n JOIN notes m ON m.id = n.id WHERE n.id < 3 "
     f"ORDER BY {q['sort']}", {"sort": "n.id"}, ["hi", "alice secret"]),
    ("strings", lambda q: f"SELECT body FROM notes WHERE owner IN ({q['o']}) ORDER BY id", {"o": "'bob', 'alice'"},
     ["hi", "alice secret"]),
]


@pytest.mark.parametrize(("name", "build", "query", "expected"), SQLITE_BENIGN, ids=[row[0] for row in SQLITE_BENIGN])
def test_lists_names_and_text_that_apps_splice_pass(database: Path, name, build, query, expected) -> None:
    for make in (apigw_v1_event, apigw_v2_event, function_url_event):
        response = sqlite_app(database, build)(make(query=query), LambdaContext())
        assert response["statusCode"] == 200 and bodies(response) == expected


# ---------------------------------------------------------------- PostgreSQL and MariaDB

def _pg_dsn() -> str:
    return os.environ.get("APP_PROTECT_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")


@pytest.fixture
def pg_notes() -> Iterator[str]:
    require_server("127.0.0.1", 5432, "PostgreSQL")
    import psycopg

    table = f"notes_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_pg_dsn(), autocommit=True) as db:
        db.execute(f"CREATE TABLE {table} (owner TEXT, body TEXT)")
        db.execute(f"INSERT INTO {table} VALUES ('bob', 'hi'), ('alice', 'alice secret')")
    yield table
    with psycopg.connect(_pg_dsn(), autocommit=True) as db:
        db.execute(f"DROP TABLE {table}")


def pg_rows(statement: str) -> list[str]:
    import psycopg

    with psycopg.connect(_pg_dsn()) as db:
        return [row[0] for row in db.execute(statement).fetchall()]


def test_a_nested_comment_is_blocked_in_postgresql(pg_notes: str, records) -> None:
    # a route in an sqlcommenter-style comment and a search term: the route's /* makes the code's */
    # close it, and the search term's */ ends the comment inside what the code meant as a literal
    def build(q: dict) -> str:
        return (f"/* route={q['route']} */ SELECT body FROM {pg_notes} WHERE owner = 'bob' "
                f"AND body LIKE '%{q['q']}%'")

    query = {"route": "notes/*", "q": f"*/ SELECT body FROM {pg_notes} --"}
    assert "alice secret" in pg_rows(build(query))  # the attack works unprotected

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(pg_rows(build(event["queryStringParameters"])))}

    response = handler(apigw_v1_event(query=query), LambdaContext())
    assert response["statusCode"] == 403 and "alice" not in response["body"]
    assert "nested comment" in records.detections()[0]["message"]
    benign = handler(apigw_v1_event(query={"route": "notes", "q": "h"}), LambdaContext())
    assert benign["statusCode"] == 200 and json.loads(benign["body"]) == ["hi"]


def test_a_quoted_name_where_a_value_belongs_is_blocked_in_postgresql(pg_notes: str, records) -> None:
    def build(q: dict) -> str:
        return f"SELECT body FROM {pg_notes} WHERE owner = {q['o']}"

    assert "alice secret" in pg_rows(build({"o": '"owner"'}))

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(pg_rows(build(event["queryStringParameters"])))}

    for value in ('"owner"', f"{pg_notes}.owner"):
        response = handler(apigw_v1_event(query={"o": value}), LambdaContext())
        assert response["statusCode"] == 403 and "alice" not in response["body"]
    benign = handler(apigw_v1_event(query={"o": "'bob'"}), LambdaContext())
    assert benign["statusCode"] == 200 and json.loads(benign["body"]) == ["hi"]


@pytest.fixture
def mysql_notes() -> Iterator[tuple[object, str]]:
    require_server("127.0.0.1", 3306, "MariaDB")
    import pymysql

    table = f"notes_{uuid.uuid4().hex[:8]}"
    db = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                         charset="utf8mb4", autocommit=True)
    with db.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id INT, owner VARCHAR(20), body VARCHAR(40))")
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'bob', 'hi'), (2, 'alice', 'alice secret')")
    yield db, table
    with db.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    db.close()


def test_a_backquoted_name_where_a_value_belongs_is_blocked_in_mariadb(mysql_notes, records) -> None:
    db, table = mysql_notes

    def rows(statement: str) -> list[str]:
        with db.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(statement)
            return [row[0] for row in cursor.fetchall()]

    def build(q: dict) -> str:
        return f"SELECT body FROM {table} WHERE id IN ({q['ids']}) ORDER BY id"

    assert "alice secret" in rows(build({"ids": "9, `id`"}))

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(rows(build(event["queryStringParameters"])))}

    response = handler(apigw_v2_event(query={"ids": "9, `id`"}), LambdaContext())
    assert response["statusCode"] == 403 and "alice" not in response["body"]
    benign = handler(apigw_v2_event(query={"ids": "1, 2"}), LambdaContext())
    assert benign["statusCode"] == 200 and json.loads(benign["body"]) == ["hi", "alice secret"]
