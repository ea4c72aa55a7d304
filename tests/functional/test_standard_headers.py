"""A client's standard header values are its constants, not inputs: they coincide with the code's own
text (a numbered placeholder) without anyone choosing them (issue 10, item 9, in part)."""
from __future__ import annotations

import sqlite3
from typing import Any

from app_protect_lambda import protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

BROWSER = {"Accept": "*/*", "Sec-Fetch-User": "?1", "Sec-Ch-Ua-Mobile": "?0", "Accept-Encoding": "gzip, deflate, br",
           "Upgrade-Insecure-Requests": "1", "Cache-Control": "max-age=0"}


def numbered_placeholder_handler() -> Any:
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE users (id INTEGER, name TEXT)")
        db.execute("INSERT INTO users VALUES (1, 'alice')")
        rows = db.execute("SELECT name FROM users WHERE id = ?1", (1,)).fetchall()
        return {"statusCode": 200, "body": str(rows)}

    return handler


def test_a_browsers_headers_do_not_make_a_numbered_placeholder_an_attack(records) -> None:
    answer = numbered_placeholder_handler()(apigw_v1_event(headers=BROWSER), LambdaContext())
    assert answer == {"statusCode": 200, "body": "[('alice',)]"}
    assert records.detections() == []


def test_any_other_value_of_those_headers_is_still_an_input(records) -> None:
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute(f"SELECT * FROM t WHERE v = '{event['headers']['Accept']}'")
        return {"statusCode": 200}

    answer = handler(apigw_v1_event(headers={"Accept": "x' OR '1'='1"}), LambdaContext())
    assert answer["statusCode"] == 403
    assert records.detections()[0]["input"]["location"] == "header.accept"
