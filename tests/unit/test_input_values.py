"""The sinks' fast path reads the values without their locations: it must find every value the walk finds.

A value the fast path missed would be an input no sink ever judges, so every fixture, the shapes
the walk treats specially, and the cases where the fast path must give up are checked against
the walk itself.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Limits, Policy
from app_protect_lambda.sources.flatten import http_values
from app_protect_lambda.testing import alb_event, apigw_v1_event, apigw_v2_event, function_url_event

EVENTS = sorted((Path(__file__).parent.parent / "events").glob("*.json"))

NESTED = {
    "user": {"name": "O'Brien", "tags": ["a;b", "ls -la", {"deep": "../../etc/passwd"}], "age": 42, "ok": True},
    "note": '{"inner": "x\\u0027 OR 1=1", "n": [12, 3.5]}',
    "blob": base64.b64encode(b"' OR '1'='1").decode(),
    "encoded": "%27%20OR%201%3D1",
    "wide": "ＳＥＬＥＣＴ",
    "7": None,
}

HTTP_EVENTS = {
    "v1 json": apigw_v1_event("POST", "/users/1", query={"id": ["1", "2"], "q": "x y"}, body=NESTED,
                              headers={"Cookie": "session=abc; theme=dark", "X-Token": "tok-1"},
                              path_parameters={"id": "1"}),
    "v2 json": apigw_v2_event("POST", "/orders", query={"expand": "items"}, body=NESTED,
                              cookies=["session=3f9a8b7c", "theme=dark"]),
    "function url": function_url_event("POST", "/", body=NESTED),
    "alb json": alb_event("POST", "/", query={"a": "b%20c"}, body=NESTED),
    "base64 json body": apigw_v1_event("POST", "/", body=json.dumps(NESTED), base64_body=True),
    "v1 no body": apigw_v1_event("GET", "/", query={"name": "alice"}),
}


def values_and_forms(event: dict) -> tuple[tuple[str, ...], set[str]]:
    fast = RequestContext(event, None, Policy()).inputs.values
    walked = {item.value for item in RequestContext(event, None, Policy()).inputs.forms}
    return fast, walked


@pytest.mark.parametrize("name", [*HTTP_EVENTS, *(path.name for path in EVENTS)])
def test_the_fast_values_hold_every_value_of_the_walk(name: str) -> None:
    event = HTTP_EVENTS.get(name) or json.loads((Path(__file__).parent.parent / "events" / name).read_text())
    fast, walked = values_and_forms(event)
    assert walked <= set(fast)


@pytest.mark.parametrize("name", list(HTTP_EVENTS))
def test_json_bodies_are_read_without_the_walk(name: str) -> None:
    from app_protect_lambda.sources import Request, event_kind

    event = HTTP_EVENTS[name]
    assert http_values(Request(event, event_kind(event)), Limits()) is not None


GIVE_UP = {
    "form body": apigw_v1_event("POST", "/", body="a=1&b=2",
                                headers={"Content-Type": "application/x-www-form-urlencoded"}),
    "text body": apigw_v1_event("POST", "/", body="plain text with = sign&x=y"),
    "unknown top-level field": {**apigw_v1_event("GET", "/"), "extra": {"a": "b"}},
}


def test_the_fast_reader_reads_a_json_body_past_the_depth_cap() -> None:
    from app_protect_lambda.sources import Request, event_kind

    event = apigw_v1_event("POST", "/", body=json.loads("[" * 40 + '"deep value"' + "]" * 40))
    assert "deep value" in (http_values(Request(event, event_kind(event)), Limits(max_depth=32)) or ())


@pytest.mark.parametrize("name", list(GIVE_UP))
def test_what_the_fast_path_cannot_read_the_walks_way_goes_to_the_walk(name: str) -> None:
    from app_protect_lambda.sources import Request, event_kind

    event = GIVE_UP[name]
    limits = Limits(max_depth=32, max_inputs=30)
    assert http_values(Request(event, event_kind(event)), limits) is None
    fast, walked = values_and_forms(event)
    assert walked <= set(fast)


@pytest.mark.parametrize("depth", [30, 31, 32, 33, 34, 2000])
def test_the_values_past_the_depth_cap_are_inputs_to_every_reader(depth: int) -> None:
    """A value past the depth cap used to be one the walk never saw: a bypass. Both readers now read
    it, so no verdict depends on which sink asked first, and the walk locates it past the cap."""
    body = "[" * depth + json.dumps("x' OR '1'='1") + "]" * depth  # 2000 is past json.loads's own recursion
    event = apigw_v1_event("POST", "/", body=body, headers={"content-type": "application/json"})
    walked = RequestContext(event, None, Policy()).inputs
    fast = RequestContext(event, None, Policy()).inputs.values
    assert "x' OR '1'='1" in fast
    assert set(fast) >= {item.value for item in walked.forms}
    attack = [item for item in walked.raw if item.value == "x' OR '1'='1"]
    assert len(attack) == 1
    assert attack[0].location.endswith("(past the depth cap)") is (depth > 32)
