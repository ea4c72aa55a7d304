"""Bad input gets a clear answer and loses nothing: the handler still sees the event as sent."""
from __future__ import annotations

import copy
import sqlite3

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event

MALFORMED = [
    None,
    [],
    "a plain string",
    12345,
    {"Records": None},
    {"Records": [None, "x", {"eventSource": "aws:sqs", "body": None}]},
    {"requestContext": {"http": None}, "version": "2.0", "headers": None, "body": None},
    {"httpMethod": "GET", "requestContext": {"resourcePath": "/"}, "headers": {"x": None},
     "multiValueHeaders": {"y": None}, "queryStringParameters": {"q": None}, "body": 42},
    {"version": "2.0", "requestContext": {"http": {"method": "POST"}}, "isBase64Encoded": True,
     "body": "%%% not base64 %%%"},
    {"version": "2.0", "requestContext": {"http": {"method": "POST"}},
     "headers": {"content-type": "application/json"}, "body": "{\"unterminated\": "},
    {"version": "2.0", "requestContext": {"http": {"method": "POST"}},
     "headers": {"content-type": "multipart/form-data; boundary=zz"}, "body": "--zz\r\ngarbage without end"},
    {"detail-type": "x", "source": "y", "detail": "not an object"},
]


@pytest.mark.parametrize("event", MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
def test_malformed_events_reach_the_handler_unchanged(event, records) -> None:
    received = []
    original = copy.deepcopy(event)

    @protect(mode="block")
    def handler(event, context):
        received.append(event)
        sqlite3.connect(":memory:").execute("SELECT 'a b', 1").fetchall()  # a sink call inspects the inputs
        return "ok"

    assert handler(event, LambdaContext()) == "ok"
    assert received == [original]
    assert records.internal_errors() == []


def test_huge_header_and_deep_body_are_bounded_and_recorded(records) -> None:
    deep: object = "x' OR '1'='1"
    for _ in range(200):
        deep = [deep]
    event = apigw_v2_event("POST", headers={"x-big": "A" * 2_000_000}, body={"deep": deep})

    @protect(mode="block")
    def handler(event, context):
        sqlite3.connect(":memory:").execute("SELECT 1").fetchall()
        return {"statusCode": 200, "body": str(len(event["headers"]["x-big"]))}

    response = handler(event, LambdaContext())
    assert response["body"] == "2000000"
    # Bounded, and nothing left unread: past the depth cap the values are still inputs (test_caps.py).
    assert [r for r in records.all() if r.get("schema") == "app-protect/notice/1"] == []
    assert records.detections() == []


def test_text_body_is_an_input_and_its_pairs_too(records) -> None:
    event = apigw_v1_event("POST", body="name=' OR '1'='1", headers={"content-type": "text/plain"})

    @protect(mode="block")
    def handler(event, context):
        value = event["body"].partition("=")[2]
        sqlite3.connect(":memory:").execute(f"SELECT '{value}'")
        return {"statusCode": 200}

    assert handler(event, LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["input"]["location"] == "body.name"
