"""Encodings inside encodings through the exec wrapper (issue 10, items 3 and 4): the bootstrap handler
with ``APP_PROTECT_HANDLER`` naming a module in a task root that decodes its inputs as handlers do."""
from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event, sqs_event
from tests.bootstrap_support import wrapping

HANDLER_MODULE = '''
import base64
import json
import os
import sqlite3
from http.cookies import SimpleCookie


def cursor_value(cursor):
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"]


def visit(name):
    with sqlite3.connect(os.environ["VISITS_DB"]) as db:
        changed = db.execute(f"UPDATE users SET visits = visits + 1 WHERE name = '{name}'").rowcount
    db.close()
    return changed


def handler(event, context):
    if "Records" in event:
        return [visit(cursor_value(json.loads(record["body"])["cursor"])) for record in event["Records"]]
    query = event.get("queryStringParameters") or {}
    if "cursor" in query:
        name = cursor_value(query["cursor"])
    elif "Cookie" in (event.get("headers") or {}):
        name = SimpleCookie(event["headers"]["Cookie"])["name"].value
    else:
        name = json.loads(base64.b64decode(event["body"]))["name"]
    return {"statusCode": 200, "body": str(visit(name))}
'''
ATTACK = "x' OR '1'='1"


def cursor(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name, "limit": 20}).encode()).decode().rstrip("=")


def utf16_body(name: str) -> dict[str, Any]:
    event = apigw_v2_event("POST", "/", headers={"content-type": "application/json"})
    return {**event, "body": base64.b64encode(json.dumps({"name": name}).encode("utf-16")).decode(),
            "isBase64Encoded": True}


def octal_cookie(name: str) -> dict[str, Any]:
    escaped = "".join(f"\\{ord(c):03o}" if c in "' ;=" else c for c in name)
    return apigw_v1_event("GET", "/", headers={"Cookie": f'theme=dark; name="{escaped}"'})


HTTP_EVENTS = {
    "base64 cursor of json in a query": lambda name: apigw_v1_event("GET", "/", query={"cursor": cursor(name)}),
    "utf-16 json body": utf16_body,
    "cookie with octal escapes": octal_cookie,
}


@pytest.fixture
def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = f"nested_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(HANDLER_MODULE)
    database = tmp_path / "visits.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (name TEXT, visits INTEGER)")
        db.executemany("INSERT INTO users VALUES (?, 0)", [("alice",), ("bob",)])
    db.close()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("VISITS_DB", str(database))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap


def visits(tmp_path: Path) -> dict[str, int]:
    with sqlite3.connect(tmp_path / "visits.db") as db:
        rows = dict(db.execute("SELECT name, visits FROM users").fetchall())
    db.close()
    return rows


@pytest.mark.parametrize("build", HTTP_EVENTS.values(), ids=HTTP_EVENTS.keys())
def test_an_encoded_attack_over_http_is_blocked_by_the_wrapper(build: Any, bootstrap: ModuleType, tmp_path: Path,
                                                                records) -> None:
    assert bootstrap.handler(build(ATTACK), LambdaContext())["statusCode"] == 403
    assert visits(tmp_path) == {"alice": 0, "bob": 0}
    assert records.detections()[0]["protection"] == "sql_injection"


@pytest.mark.parametrize("build", HTTP_EVENTS.values(), ids=HTTP_EVENTS.keys())
def test_a_benign_encoded_value_over_http_passes_the_wrapper(build: Any, bootstrap: ModuleType, tmp_path: Path,
                                                             records) -> None:
    assert bootstrap.handler(build("alice"), LambdaContext()) == {"statusCode": 200, "body": "1"}
    assert bootstrap.handler(build("Zoë+👍"), LambdaContext()) == {"statusCode": 200, "body": "0"}
    assert visits(tmp_path) == {"alice": 1, "bob": 0}
    assert records.detections() == []


def test_an_encoded_attack_in_an_sqs_message_is_blocked_by_the_wrapper(bootstrap: ModuleType, tmp_path: Path,
                                                                        records) -> None:
    with pytest.raises(RequestBlocked):
        bootstrap.handler(sqs_event({"cursor": cursor("bob")}, {"cursor": cursor(ATTACK)}), LambdaContext())
    assert visits(tmp_path) == {"alice": 0, "bob": 1}  # the first message ran; the attack did not
    assert records.detections()[0]["input"]["location"].startswith("records[1]")


def test_benign_encoded_sqs_messages_pass_the_wrapper(bootstrap: ModuleType, tmp_path: Path, records) -> None:
    event = sqs_event({"cursor": cursor("alice")}, {"cursor": cursor("C++ fans")})
    assert bootstrap.handler(event, LambdaContext()) == [1, 0]
    assert visits(tmp_path) == {"alice": 1, "bob": 0}
    assert records.detections() == []
