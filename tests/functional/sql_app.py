"""A deliberately vulnerable handler over a real sqlite3 database, shared by the SQL tests."""
from __future__ import annotations

import base64
import json
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, unquote_plus, urlencode

from app_protect_lambda import testing


def create_database(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, password TEXT);
            INSERT INTO users VALUES (1, 'alice', 'alice@example.com', 'alice-pw');
            INSERT INTO users VALUES (2, 'bob', 'bob@example.com', 'bob-pw');
            INSERT INTO users VALUES (3, 'O''Brien', 'obrien@example.com', 'ob-pw');
            INSERT INTO users VALUES (4, 'john smith', 'john.smith+news@example.com', 'js-pw');
            INSERT INTO users VALUES (5, '山田太郎', 'yamada@example.jp', 'ym-pw');
            CREATE TABLE secrets (id INTEGER, secret TEXT);
            INSERT INTO secrets VALUES (1, 'the-crown-jewels');
            CREATE TABLE products (id INTEGER, title TEXT, discount TEXT);
            INSERT INTO products VALUES (1, 'Paper', '50%'), (2, 'Pens', '10%');
        """)
    db.close()
    return path


def count_users(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM users").fetchone()[0]
    finally:
        db.close()


@dataclass(frozen=True)
class Location:
    """Where an attacker's string travels: how to put it in an event and how the handler reads it."""

    name: str
    build: Callable[[str], dict]
    read: Callable[[dict], str]
    http: bool = True


def _json_body(event: dict) -> Any:
    body = event["body"]
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


LOCATIONS = [
    Location("query", lambda v: testing.apigw_v1_event(query={"name": v}),
             lambda e: e["queryStringParameters"]["name"]),
    Location("multi-value query", lambda v: testing.apigw_v1_event(query={"name": ["nobody", v]}),
             lambda e: e["multiValueQueryStringParameters"]["name"][1]),
    Location("path", lambda v: testing.apigw_v1_event(path=f"/users/{quote(v)}", path_parameters={"name": v}),
             lambda e: e["pathParameters"]["name"]),
    Location("header", lambda v: testing.apigw_v1_event(headers={"x-user-name": v}),
             lambda e: e["headers"]["x-user-name"]),
    Location("cookie", lambda v: testing.apigw_v2_event(cookies=[f"name={v}"]),
             lambda e: e["cookies"][0].partition("=")[2]),
    Location("json body", lambda v: testing.apigw_v2_event("POST", body={"user": {"name": v}}),
             lambda e: _json_body(e)["user"]["name"]),
    Location("form body", lambda v: testing.apigw_v1_event(
        "POST", body=urlencode({"name": v}), headers={"content-type": "application/x-www-form-urlencoded"}),
        lambda e: parse_qs(e["body"])["name"][0]),
    Location("base64 body", lambda v: testing.apigw_v2_event("POST", body={"name": v}, base64_body=True),
             lambda e: _json_body(e)["name"]),
    Location("alb query", lambda v: testing.alb_event(query={"name": v}),
             lambda e: unquote_plus(e["queryStringParameters"]["name"])),
    Location("function url", lambda v: testing.function_url_event(query={"name": v}),
             lambda e: parse_qs(e["rawQueryString"])["name"][0]),
    Location("sqs body", lambda v: testing.sqs_event({"name": v}),
             lambda e: json.loads(e["Records"][0]["body"])["name"], http=False),
    Location("sns message", lambda v: testing.sns_event({"name": v}),
             lambda e: json.loads(e["Records"][0]["Sns"]["Message"])["name"], http=False),
    Location("s3 key", lambda v: testing.s3_event(v),
             lambda e: unquote_plus(e["Records"][0]["s3"]["object"]["key"]), http=False),
    Location("eventbridge detail", lambda v: testing.eventbridge_event({"name": v}),
             lambda e: e["detail"]["name"], http=False),
    Location("dynamodb stream", lambda v: testing.dynamodb_event({"name": v}),
             lambda e: e["Records"][0]["dynamodb"]["NewImage"]["name"]["S"], http=False),
    Location("kinesis data", lambda v: testing.kinesis_event({"name": v}),
             lambda e: json.loads(base64.b64decode(e["Records"][0]["kinesis"]["data"]))["name"], http=False),
]

DECODERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    # name: (how the client encodes, how the handler decodes)
    "base64": (lambda v: base64.b64encode(v.encode()).decode(), lambda v: base64.b64decode(v).decode()),
    "urlsafe base64": (lambda v: base64.urlsafe_b64encode(v.encode()).decode(),
                       lambda v: base64.urlsafe_b64decode(v).decode()),
    "hex": (lambda v: v.encode().hex(), lambda v: bytes.fromhex(v).decode()),
    "twice url-encoded": (lambda v: quote(quote(v, safe=""), safe=""), lambda v: unquote(unquote(v))),
    "fullwidth (NFKC)": (lambda v: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in v),
                         lambda v: unicodedata.normalize("NFKC", v)),
}


class Trace:
    """The statements the sqlite engine actually ran."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, statement: str) -> None:
        self.statements.append(statement)


def run_sql(database: Path, trace: Trace, method: str, statement: str, params: tuple = ()) -> list:
    db = sqlite3.connect(database)
    db.set_trace_callback(trace)
    try:
        if method == "executescript":
            db.executescript(statement)
            return []
        if method == "cursor.execute":
            return [list(row) for row in db.cursor().execute(statement, params).fetchall()]
        return [list(row) for row in db.execute(statement, params).fetchall()]
    finally:
        db.close()


def http_ok(rows: list) -> dict:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(rows, ensure_ascii=False)}
