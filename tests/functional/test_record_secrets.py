"""Secret inputs never reach a record, whichever part of it would show them (real sqlite, real handler)."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

PASSWORD = "hunter2-secret"
INJECTION = "alice', 'x'), ('mallory"


@protect(mode="block")
def sign_up(event: dict[str, Any], context: Any) -> dict[str, Any]:
    form = json.loads(event["body"])
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (name TEXT, password TEXT)")
    db.execute(f"INSERT INTO users VALUES ('{form['name']}', '{form['password']}')")
    return {"statusCode": 201}


@protect(mode="block")
def by_token(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event["headers"]["authorization"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE sessions (token TEXT)")
    db.execute(f"SELECT * FROM sessions WHERE token = '{token}'").fetchall()
    return {"statusCode": 200}


def detections(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"app-protect/detection/1"' in line]


def test_a_password_spliced_into_the_statement_is_not_recorded(capsys) -> None:
    event = apigw_v1_event(method="POST", body={"name": INJECTION, "password": PASSWORD})
    assert sign_up(event, LambdaContext())["statusCode"] == 403
    out = capsys.readouterr().out
    assert PASSWORD not in out and "hunter2" not in out
    [record] = detections(out)
    assert record["input"] == {"location": "body.name", "value": INJECTION}
    assert "'[REDACTED:secret-input]')" in record["sink"]["argument"]


def test_an_injection_through_the_password_field_keeps_the_verdict_not_the_value(capsys) -> None:
    attack = "' OR '1'='1' --secret"
    event = apigw_v1_event(method="POST", body={"name": "alice", "password": attack})
    assert sign_up(event, LambdaContext())["statusCode"] == 403
    out = capsys.readouterr().out
    assert "--secret" not in out
    [record] = detections(out)
    assert record["protection"] == "sql_injection" and record["action"] == "blocked"
    assert record["input"] == {"location": "body.password", "value": "[REDACTED:secret-input]"}


def test_an_authorization_header_is_recorded_without_its_credentials(capsys) -> None:
    token = "Token xyz-4242' OR '1'='1"
    event = apigw_v1_event(headers={"authorization": token})
    assert by_token(event, LambdaContext())["statusCode"] == 403
    out = capsys.readouterr().out
    assert "xyz-4242" not in out
    [record] = detections(out)
    assert record["input"] == {"location": "header.authorization", "value": "[REDACTED:secret-input]"}
    assert record["sink"]["argument"] == "SELECT * FROM sessions WHERE token = '[REDACTED:secret-input]'"
