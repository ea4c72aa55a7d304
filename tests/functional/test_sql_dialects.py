"""Issue 11, SQL through a real sqlite3 database: each statement read in sqlite's dialect, inputs that
open comments, decoys, lists and sorts, bound values that coincide with the code's text, and a database
file an input chose. Every attack is blocked before the statement runs (the rows are all there);
every benign request gets its rows."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event
from tests.functional.sql_app import count_users, create_database


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = create_database(tmp_path / "app.db")
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE notes (id INTEGER, owner TEXT, kind TEXT, note TEXT);
            INSERT INTO notes VALUES (1, 'me', 'memo', 'memo'''), (2, 'other', 'memo', 'theirs');
            INSERT INTO notes VALUES (3, 'me', 'path', 'C:\\temp\\');
        """)
    db.close()
    return path


def query(database: Path, statement: str, params: tuple = ()) -> list:
    db = sqlite3.connect(database)
    try:
        rows = db.execute(statement, params).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


def body(response: dict) -> list:
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def notes_left(database: Path) -> int:
    return query(database, "SELECT count(*) FROM notes")[0][0]


def test_a_correctly_escaped_text_ending_in_a_backslash_passes(database: Path, records) -> None:
    # sqlite3 knows no backslash escape: 'C:\temp\' is one literal, and the next input stays in its own
    # (read as MySQL, the first literal ran on to the second quote and left 'john smith' outside: blocked)
    @protect(mode="block")
    def handler(event, context):
        params = {key: value.replace("'", "''") for key, value in event["queryStringParameters"].items()}
        rows = query(database, f"SELECT id FROM notes WHERE note = '{params['note']}' AND owner = 'me' "
                               f"UNION SELECT id FROM users WHERE name = '{params['name']}'")
        return {"statusCode": 200, "body": json.dumps(sorted(rows))}

    event = apigw_v1_event(query={"note": "C:\\temp\\", "name": "john smith"})
    assert body(handler(event, LambdaContext())) == [[3], [4]]
    assert records.detections() == []


def test_an_input_that_opens_a_comment_is_blocked(database: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        params = event["queryStringParameters"]
        query(database, f"DELETE FROM notes WHERE id = {params['id']}{params['and']} AND owner = 'me'")
        return {"statusCode": 200, "body": "[]"}

    response = handler(apigw_v1_event(query={"id": "2 ", "and": "--mine only"}), LambdaContext())
    assert response["statusCode"] == 403
    assert notes_left(database) == 3  # the other owner's note is still there
    assert records.detections()[0]["input"]["location"] == "query.and"


def test_a_decoy_repeated_in_the_statement_does_not_hide_the_attack(database: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        params = event["queryStringParameters"]
        tags = ", ".join(f"'{params['tag']}'" for _ in range(50))
        query(database, f"DELETE FROM notes WHERE kind IN ({tags}) AND owner = '{params['owner']}'")
        return {"statusCode": 200, "body": "[]"}

    attack = {"tag": "a b", "owner": "me' OR owner <> 'me"}
    assert handler(apigw_v1_event(query=attack), LambdaContext())["statusCode"] == 403
    assert notes_left(database) == 3
    assert records.detections()[0]["input"]["location"] == "query.owner"
    assert body(handler(apigw_v1_event(query={"tag": "a b", "owner": "me"}), LambdaContext())) == []


def test_a_bound_value_that_coincides_with_the_codes_literal_passes(database: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        rows = query(database, "SELECT id FROM notes WHERE kind = 'memo' AND note = ?",
                     (event["queryStringParameters"]["note"],))
        return {"statusCode": 200, "body": json.dumps(rows)}

    assert body(handler(apigw_v1_event(query={"note": "memo'"}), LambdaContext())) == [[1]]
    assert records.detections() == []


def test_one_complete_quoted_literal_passes(database: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        rows = query(database, f"SELECT id FROM users WHERE name = {event['queryStringParameters']['name']}")
        return {"statusCode": 200, "body": json.dumps(rows)}

    assert body(handler(apigw_v1_event(query={"name": "'O''Brien'"}), LambdaContext())) == [[3]]
    assert records.detections() == []
    assert handler(apigw_v1_event(query={"name": "'x' OR 1=1"}), LambdaContext())["statusCode"] == 403


@pytest.mark.parametrize(("ids", "sort", "expected"), [
    ("1,2,4", "name DESC, id", [[4, "john smith"], [2, "bob"], [1, "alice"]]),
    ("1, 2", "id ASC NULLS LAST", [[1, "alice"], [2, "bob"]]),
    ("'1','2'", "users.name", [[1, "alice"], [2, "bob"]]),
])
def test_lists_and_sorts_an_app_splices_pass(database: Path, records, ids: str, sort: str, expected) -> None:
    handler = protect(mode="block")(_list_handler(database))
    event = apigw_v2_event(query={"ids": ids, "sort": sort})
    assert body(handler(event, LambdaContext())) == expected
    assert records.detections() == []


@pytest.mark.parametrize(("ids", "sort"), [
    ("1) OR (1=1", "id"),
    ("1, (SELECT id FROM secrets)", "id"),
    ("1", "id, (SELECT secret FROM secrets)"),
    ("1", "CASE WHEN (SELECT substr(secret,1,1) FROM secrets)='t' THEN name ELSE id END"),
    ("1", "id; DELETE FROM users"),
    ("1", "id -- "),
])
def test_lists_and_sorts_with_structure_are_blocked(database: Path, records, ids: str, sort: str) -> None:
    handler = protect(mode="block")(_list_handler(database))
    assert handler(apigw_v2_event(query={"ids": ids, "sort": sort}), LambdaContext())["statusCode"] == 403
    assert count_users(database) == 5
    assert records.detections()[0]["protection"] == "sql_injection"


def _list_handler(database: Path):
    def handler(event, context):
        params = event["queryStringParameters"]
        db = sqlite3.connect(database)
        try:
            rows = db.executescript if ";" in params["sort"] else None
            statement = f"SELECT id, name FROM users WHERE id IN ({params['ids']}) ORDER BY {params['sort']}"
            if rows is not None:
                db.executescript(statement)
                return {"statusCode": 200, "body": "[]"}
            return {"statusCode": 200, "body": json.dumps(db.execute(statement).fetchall())}
        finally:
            db.close()
    return handler


def test_a_database_file_an_input_chose_is_a_file_access(tmp_path: Path, records) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    create_database(tenants / "acme.db")
    create_database(tmp_path / "other.db")

    @protect(mode="block")
    def handler(event, context):
        tenant = event["queryStringParameters"]["tenant"]
        db = sqlite3.connect(f"{tenants}/{tenant}.db")
        try:
            rows = db.execute("SELECT count(*) FROM users").fetchall()
        finally:
            db.close()
        return {"statusCode": 200, "body": json.dumps(rows)}

    assert body(handler(apigw_v1_event(query={"tenant": "acme"}), LambdaContext())) == [[5]]
    assert handler(apigw_v1_event(query={"tenant": "../other"}), LambdaContext())["statusCode"] == 403
    [record] = records.detections()
    assert record["protection"] == "file_access" and record["sink"]["name"] == "sqlite3.connect"


def test_an_input_of_letters_that_names_a_column_is_blocked(database: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        params = event["queryStringParameters"]
        rows = query(database, f"SELECT id FROM users WHERE name = {params['name']} AND password = {params['pw']}")
        return {"statusCode": 200, "body": json.dumps(rows)}

    response = handler(apigw_v1_event(query={"name": "'alice'", "pw": "password"}), LambdaContext())
    assert response["statusCode"] == 403  # password = password would log in as alice without hers
    assert records.detections()[0]["input"]["location"] == "query.pw"
    assert body(handler(apigw_v1_event(query={"name": "'alice'", "pw": "'alice-pw'"}), LambdaContext())) == [[1]]
