"""Malformed and unknown event shapes: classification and flattening never raise and lose no attacker string.

Each row is a shape a direct or custom invoker can send: the reliability run found
1,279 of 100,196 fuzzed invocations running unprotected because one of them raised.
"""
from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest

from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Limits, Mode, Policy
from app_protect_lambda.sources import Request, collect_inputs, event_kind
from app_protect_lambda.sources.multipart import header_parameters, parse_multipart
from app_protect_lambda.testing import LambdaContext, alb_event, apigw_v2_event, function_url_event

ATTACK = "x' OR '1'='1"
APIGW_V1 = {"httpMethod": "GET", "requestContext": {"resourcePath": "/"}}
APIGW_V2 = {"version": "2.0", "requestContext": {"http": {"method": "POST"}}}


def record(source: str, **fields: Any) -> dict[str, Any]:
    return {"Records": [{"eventSource": source, **fields}]}


def inspect(event: Any) -> dict[str, list[str]]:
    """Every accessor of the request and the flattened inputs, by location: what a sink and a record read."""
    request = Request(event, event_kind(event), "aws-request-id")
    for accessor in ("headers", "query", "cookies", "body", "body_bytes", "source_ip", "method", "path",
                     "path_params", "user_agent", "request_id", "content_type", "uses_multi_value_headers"):
        getattr(request, accessor)
    assert json.dumps(request.summary())  # the record's request object is plain JSON
    request.header("content-type")
    request.source_ip_behind(3)
    found: dict[str, list[str]] = {}
    for item in collect_inputs(request, Limits()).raw:
        assert isinstance(item.value, str) and isinstance(item.location, str)
        found.setdefault(item.location, []).append(item.value)
    return found


MALFORMED: list[tuple[str, Any, str]] = [
    # (what is wrong, the event, where the attacker string must be found)
    ("eventSource is a list", {"Records": [{"eventSource": ["aws:sqs"], "body": ATTACK}]},
     "event.Records[0].body"),
    ("EventSource is a dict", {"Records": [{"EventSource": {"a": 1}, "Sns": {"Message": ATTACK}}]},
     "event.Records[0].Sns.Message"),
    ("domainName is a number", {**APIGW_V2, "requestContext": {"http": {}, "domainName": 5}, "rawPath": ATTACK},
     "path"),
    ("domainName is a list", {**APIGW_V2, "requestContext": {"http": {}, "domainName": [".lambda-url."]},
                              "body": ATTACK}, "body"),
    ("path is a list", {**APIGW_V1, "path": [ATTACK]}, "path[0]"),
    ("path is a dict", {**APIGW_V1, "path": {"p": ATTACK}}, "path.p"),
    ("rawPath is a number and path a list", {**APIGW_V2, "rawPath": 7, "path": [ATTACK]}, "path[0]"),
    ("httpMethod is a list", {**APIGW_V1, "httpMethod": [ATTACK], "body": ATTACK}, "body"),
    ("Sns is a list", record("aws:sns", Sns=[ATTACK]), "records[0].sns[0]"),
    ("Sns is a string", record("aws:sns", Sns=ATTACK), "records[0].sns"),
    ("Sns.MessageAttributes is a list", record("aws:sns", Sns={"MessageAttributes": [ATTACK]}),
     "records[0].sns.messageAttributes[0]"),
    ("an SNS attribute is a string", record("aws:sns", Sns={"MessageAttributes": {"a": ATTACK}}),
     "records[0].sns.messageAttributes.a"),
    ("s3 is a list", record("aws:s3", s3=[ATTACK]), "records[0].s3[0]"),
    ("s3.object is a string", record("aws:s3", s3={"object": ATTACK}), "records[0].s3.object"),
    ("s3.object.key is a list", record("aws:s3", s3={"object": {"key": [ATTACK]}}), "records[0].s3.object.key[0]"),
    ("kinesis is a string", record("aws:kinesis", kinesis=ATTACK), "records[0].kinesis"),
    ("kinesis.data is a dict", record("aws:kinesis", kinesis={"data": {"d": ATTACK}}),
     "records[0].kinesis.data.d"),
    ("kinesis.data is not base64", record("aws:kinesis", kinesis={"data": ATTACK}), "records[0].kinesis.data"),
    ("dynamodb is a list", record("aws:dynamodb", dynamodb=[ATTACK]), "records[0].dynamodb[0]"),
    ("a DynamoDB map holds a list", record("aws:dynamodb", dynamodb={"NewImage": {"a": {"M": [ATTACK]}}}),
     "records[0].dynamodb.NewImage.a.M[0]"),
    ("a DynamoDB list holds a string", record("aws:dynamodb", dynamodb={"NewImage": {"a": {"L": ATTACK}}}),
     "records[0].dynamodb.NewImage.a.L"),
    ("a DynamoDB string set is a number", record("aws:dynamodb", dynamodb={"Keys": {"k": {"SS": 12},
                                                                                       "j": {"S": ATTACK}}}),
     "records[0].dynamodb.Keys.j"),
    ("messageAttributes is a list", record("aws:sqs", messageAttributes=[ATTACK]),
     "records[0].messageAttributes[0]"),
    ("an SQS attribute is a list", record("aws:sqs", messageAttributes={"a": [ATTACK]}),
     "records[0].messageAttributes.a[0]"),
    ("an SQS body is a dict", record("aws:sqs", body={"q": ATTACK}), "records[0].body.q"),
    ("a record is a string", {"Records": [{"eventSource": "aws:sqs", "body": "ok"}, ATTACK]}, "records[1]"),
    ("a batch mixes services", {"Records": [{"eventSource": "aws:sqs", "body": "ok"},
                                            {"eventSource": "aws:s3", "s3": {"object": {"key": ATTACK}}}]},
     "records[1].s3.object.key"),
    ("a record names no service", {"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "x", "y": ATTACK}]},
     "records[1].y"),
    ("a batch has a field beside Records", {**record("aws:sqs", body="ok"), "extra": ATTACK}, "event.extra"),
    ("headers is a list", {**APIGW_V1, "headers": [["x-a", ATTACK]]}, "header[0][1]"),
    ("a header value is a dict", {**APIGW_V1, "headers": {"x-a": {"v": ATTACK}}}, "header.x-a.v"),
    ("a multi-value header is a string", {**APIGW_V1, "multiValueHeaders": {"x-a": ATTACK}}, "header.x-a"),
    ("a multi-value header holds a dict", {**APIGW_V1, "multiValueHeaders": {"x-a": [{"v": ATTACK}]}},
     "header.x-a.v"),
    ("multiValueHeaders is a string", {**APIGW_V1, "multiValueHeaders": ATTACK}, "header"),
    ("queryStringParameters is a list", {**APIGW_V1, "queryStringParameters": [ATTACK]}, "query[0]"),
    ("a query value is a list", {**APIGW_V1, "queryStringParameters": {"q": [ATTACK]}}, "query.q[0]"),
    ("a multi-value query item is a dict", {**APIGW_V1, "multiValueQueryStringParameters": {"q": [{"v": ATTACK}]}},
     "query.q.v"),
    ("rawQueryString is a list", {**APIGW_V2, "rawQueryString": [ATTACK]}, "query[0]"),
    ("an ALB query key is a number", {"requestContext": {"elb": {}}, "queryStringParameters": {1: ATTACK}},
     "query.1"),
    ("pathParameters is a list", {**APIGW_V1, "pathParameters": [ATTACK]}, "path[0]"),
    ("a path parameter is a dict", {**APIGW_V1, "pathParameters": {"id": {"v": ATTACK}}}, "path.id.v"),
    ("cookies is a number, the body the attack", {**APIGW_V2, "cookies": 5, "body": ATTACK}, "body"),
    ("cookies is a string", {**APIGW_V2, "cookies": ATTACK}, "cookie"),
    ("a cookie is a dict", {**APIGW_V2, "cookies": [{"c": ATTACK}]}, "cookie.c"),
    ("body is a dict", {**APIGW_V1, "body": {"q": ATTACK}}, "body.q"),
    ("body is a list", {**APIGW_V1, "body": [ATTACK]}, "body[0]"),
    ("a base64 body is not base64", {**APIGW_V1, "isBase64Encoded": True, "body": ATTACK}, "body"),
    ("a base64 body is not ASCII", {**APIGW_V1, "isBase64Encoded": True, "body": ATTACK + "é"}, "body"),
    ("requestContext fields are of the wrong types",
     {**APIGW_V1, "requestContext": {"resourcePath": "/", "identity": "x", "requestId": 5,
                                     "http": {"sourceIp": 7}}, "body": ATTACK}, "body"),
    ("http context is a string", {**APIGW_V2, "requestContext": {"http": ATTACK}, "version": "2.0",
                                  "body": ATTACK}, "body"),
    ("an HTTP event has a field of its own", {**APIGW_V1, "extra": {"q": ATTACK}}, "event.extra.q"),
    ("EventBridge detail is a string", {"detail-type": "x", "source": "y", "detail": ATTACK}, "detail"),
    ("EventBridge has a field of its own", {"detail-type": "x", "source": "y", "detail": {}, "extra": ATTACK},
     "event.extra"),
    ("the event is a list", [{"q": ATTACK}], "event[0].q"),
    ("the event is a string", ATTACK, "event"),
    ("the event is JSON text", json.dumps({"q": ATTACK}), "event.q"),
]


@pytest.mark.parametrize(("event", "location"), [row[1:] for row in MALFORMED], ids=[row[0] for row in MALFORMED])
def test_malformed_shape_never_raises_and_keeps_the_attacker_string(event: Any, location: str) -> None:
    found = inspect(event)
    assert any(ATTACK in value for value in found.get(location, [])), sorted(found)


@pytest.mark.parametrize("event", [None, 0, 12.5, True, b"bytes", [], {}, {"Records": []}, {"Records": [None]},
                                   {"requestContext": []}, {"requestContext": {"elb": None}},
                                   {"version": "2.0", "requestContext": {"http": None}},
                                   {"detail-type": None, "detail": None, "source": None}, 10 ** 5000],
                         ids=lambda event: type(event).__name__)
def test_empty_and_scalar_events_never_raise(event: Any) -> None:
    inspect(event)


def test_non_http_summary_is_kind_and_id() -> None:
    request = Request(record("aws:sqs", body=ATTACK), "sqs", "id-1")
    assert request.summary() == {"kind": "sqs", "id": "id-1"}


def test_wrong_typed_request_context_gives_no_address_rather_than_a_wrong_one() -> None:
    event = {**APIGW_V2, "requestContext": {"http": {"sourceIp": ["203.0.113.1"], "method": 3}}}
    request = Request(event, event_kind(event))
    assert request.source_ip is None and request.method is None
    assert request.summary()["source_ip"] is None


def test_an_unknown_shape_is_a_direct_invocation() -> None:
    for event in ({"Records": [{"eventSource": ["aws:sqs"]}]}, {"requestContext": {"stage": "x"}}, {"a": 1}):
        assert event_kind(event) == "direct"


def test_a_batch_is_named_by_its_first_record() -> None:
    assert event_kind({"Records": [{"eventSource": "aws:s3"}, {"eventSource": "aws:sqs"}]}) == "s3"


def test_clean_base64_body_is_inspected_decoded_only() -> None:
    event = {**APIGW_V1, "isBase64Encoded": True, "body": base64.b64encode(ATTACK.encode()).decode()}
    assert inspect(event)["body"] == [ATTACK]


def test_lenient_base64_decoding_is_inspected_too() -> None:
    # Python's b64decode skips what is not base64, so a handler decodes "!!" + base64 to the attack.
    event = {**APIGW_V1, "isBase64Encoded": True, "body": "!!" + base64.b64encode(ATTACK.encode()).decode()}
    assert ATTACK in inspect(event)["body"]


def test_kinesis_data_lenient_and_as_sent() -> None:
    data = "!!" + base64.b64encode(ATTACK.encode()).decode()
    found = inspect(record("aws:kinesis", kinesis={"data": data}))
    assert found["records[0].kinesis.data"] == [data, ATTACK]


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    deep: Any = ATTACK
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    inputs = collect_inputs(Request(deep, "direct"), Limits(max_depth=10 ** 6))
    assert [item.value for item in inputs.raw] == [ATTACK] and inputs.truncated is None
    capped = collect_inputs(Request(deep, "direct"), Limits())
    # Past the cap the walk goes on with the location frozen: linear, and no value left out.
    assert [item.value for item in capped.raw] == [ATTACK] and capped.truncated is None
    assert capped.raw[0].location == "event" + "[0]" * 32 + " (past the depth cap)"


def test_deep_dynamodb_image_does_not_exhaust_the_stack() -> None:
    image: Any = {"S": ATTACK}
    for _ in range(sys.getrecursionlimit() * 3):
        image = {"M": {"a": image}}
    found = collect_inputs(Request(record("aws:dynamodb", dynamodb={"NewImage": {"x": image}}), "dynamodb-stream"),
                           Limits(max_depth=10 ** 6, max_inputs=10 ** 6))
    assert ATTACK in [item.value for item in found.raw]


def test_lone_surrogates_and_invalid_utf8_are_inputs() -> None:
    event = {**APIGW_V2, "headers": {"x-a": "\udcff" + ATTACK}, "rawQueryString": "q=%ff%fe" + ATTACK,
             "queryStringParameters": {"q": "\udcff" + ATTACK}, "body": "{\"a\": \"\\udcff\"}"}
    found = inspect(event)
    assert found["header.x-a"] == ["\udcff" + ATTACK]
    assert "\udcff" + ATTACK in found["query.q"]  # the field the handler reads, beside the raw string's decoding
    assert found["body.a"] == ["\udcff"]
    binary = {**APIGW_V1, "isBase64Encoded": True, "body": base64.b64encode(b"\xff\xfe" + ATTACK.encode()).decode()}
    assert inspect(binary)["body"] == ["\ufffd\ufffd" + ATTACK]


def test_multipart_with_a_boundary_outside_latin1() -> None:
    body = f"--é€\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n{ATTACK}\r\n--é€--\r\n"
    event = {**APIGW_V2, "headers": {"content-type": "multipart/form-data; boundary=é€"}, "body": body}
    assert inspect(event)["body.q"] == [ATTACK]


@pytest.mark.parametrize(("header", "expected"), [
    ('form-data; name="title"', {"name": "title"}),
    ('form-data; name="file"; filename="a;b.pdf"', {"name": "file", "filename": "a;b.pdf"}),
    (r'form-data; name="a\"b"; filename="c\\d"', {"name": 'a"b', "filename": "c\\d"}),
    ("form-data; name=bare; filename=x.txt", {"name": "bare", "filename": "x.txt"}),
    ("form-data; FileName*=UTF-8''%E2%82%AC.pdf", {"filename": "€.pdf"}),  # RFC 2231, as frameworks decode it
    ('form-data; name="unterminated', {"name": "unterminated"}),
    ('form-data ; name = "x y" ;filename= "z"', {"name": "x y", "filename": "z"}),
    ("multipart/form-data; boundary=\"--b\"; charset=utf-8", {"boundary": "--b", "charset": "utf-8"}),
    ("", {}),
    ("form-data; ; =; ;", {}),
])
def test_header_parameters(header: str, expected: dict[str, str]) -> None:
    assert header_parameters(header) == expected


def test_multipart_part_count_is_capped() -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n" * 5000 + b"--b--"
    assert len(parse_multipart(body, "multipart/form-data; boundary=b")) == 1000


@pytest.mark.parametrize("build", [apigw_v2_event, function_url_event, alb_event])
def test_event_builders_take_a_lone_surrogate_in_the_query(build: Any) -> None:
    event = build("GET", "/", query={"q": "\udcff" + ATTACK, "\udcfe": "v"}, body="\udcff", base64_body=True)
    json.dumps(event)  # as the runtime would serialise it
    found = inspect(event)
    if build is alb_event:
        # The ALB passes the query as sent: percent-encoded, so the value is what a handler decodes it to.
        from urllib.parse import unquote_plus

        assert unquote_plus(event["queryStringParameters"]["q"]) in found["query.q"]
    else:
        assert event["queryStringParameters"]["q"] == "\udcff" + ATTACK
        assert "\udcff" + ATTACK in found["query.q"]
    assert base64.b64decode(event["body"]) == "\udcff".encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(("event", "location"), [row[1:] for row in MALFORMED], ids=[row[0] for row in MALFORMED])
def test_the_invocation_context_of_a_malformed_shape_holds_the_attacker_string(event: Any, location: str) -> None:
    context = RequestContext(event, LambdaContext(), Policy(mode=Mode.BLOCK))
    assert any(item.location == location and ATTACK in item.value for item in context.inputs.raw)
    assert json.dumps(context.request.summary())
