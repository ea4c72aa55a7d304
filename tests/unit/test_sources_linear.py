"""Worst cases for every parser and pattern of sources/, at about 1 MB: each must stay linear.

The budget (2 s of CPU time, so that other jobs on a loaded 2-core CI box do not
count) is far below what a quadratic reader costs at that size: the multipart
parameter pattern this replaced took 13 s on 30 kB. Flattening runs with the
default caps, as in production. The figures of record live in ``make bench``;
this only catches a quadratic regression.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from app_protect_lambda.policy import Limits
from app_protect_lambda.sources import Request, collect_inputs, event_kind
from app_protect_lambda.sources.decoders import decoded_forms
from app_protect_lambda.sources.http import MAX_QUERY_FIELDS, decode_base64
from app_protect_lambda.sources.inputs import Input, Inputs
from app_protect_lambda.sources.multipart import header_parameters, parse_multipart

MB = 1_000_000
BUDGET_SECONDS = 2.0


def within_budget(work: Callable[[], Any]) -> Any:
    start = time.process_time()
    result = work()
    elapsed = time.process_time() - start
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.2f} s"
    return result


def http_event(body: str, content_type: str = "text/plain", **fields: Any) -> dict[str, Any]:
    return {"version": "2.0", "requestContext": {"http": {"method": "POST", "sourceIp": "198.51.100.7"}},
            "headers": {"content-type": content_type}, "body": body, **fields}


def flatten(event: Any) -> Inputs:
    inputs = collect_inputs(Request(event, event_kind(event)), Limits())
    _ = inputs.raw
    return inputs


DISPOSITIONS = {
    "one word": "a" * MB,
    "semicolons": ";" * MB,
    "bare tokens": "a;" * (MB // 2),
    "tokens then one equals sign": "a;" * (MB // 2) + "=",
    "equals signs": "a=" * (MB // 2),
    "escapes in a quoted value": 'a="' + "\\a" * (MB // 2),
    "escaped quotes, unterminated": 'a="' + '\\"' * (MB // 2),
    "quotes": '"' * MB,
    "many quoted parameters": 'a="b";' * (MB // 6),
    "backslashes in quoted parameters": ('x="' + "\\" * 1000) * 1000,
    "whitespace after equals": "a=" + " " * MB,
}


@pytest.mark.parametrize("header", DISPOSITIONS.values(), ids=DISPOSITIONS.keys())
def test_header_parameters_are_linear(header: str) -> None:
    within_budget(lambda: header_parameters(header))


def test_a_1mb_content_disposition_in_a_body_is_linear() -> None:
    body = b"--b\r\nContent-Disposition: form-data; " + b"a" * MB + b"\r\n\r\nvalue\r\n--b--\r\n"
    parts = within_budget(lambda: parse_multipart(body, "multipart/form-data; boundary=b"))
    assert [part.data for part in parts] == [b"value"]


MULTIPART_BODIES = {
    "tiny parts past the cap": b"--b\r\n\r\nx\r\n" * (MB // 10),
    "one part of header lines": b"--b\r\n" + b"h: v\r\n" * (MB // 6) + b"\r\nx\r\n--b--",
    "colons": b"--b\r\n" + b":" * MB + b"\r\n\r\nx",
    "no blank line": b"--b\r\n" + b"a" * MB,
    "delimiter prefixes": b"-" * MB,
}


@pytest.mark.parametrize("body", MULTIPART_BODIES.values(), ids=MULTIPART_BODIES.keys())
def test_multipart_bodies_are_linear(body: bytes) -> None:
    within_budget(lambda: parse_multipart(body, "multipart/form-data; boundary=b"))


def test_a_1mb_boundary_is_linear() -> None:
    within_budget(lambda: parse_multipart(b"--" + b"b" * MB, "multipart/form-data; boundary=" + "b" * MB))


EVENTS: dict[str, Callable[[], Any]] = {
    "flat JSON body": lambda: http_event(json.dumps({f"k{i}": "v" * 10 for i in range(MB // 20)})),
    "JSON body nested past the depth cap": lambda: http_event("[" * MB + "]" * MB),
    "JSON in JSON in JSON": lambda: http_event(_nested_json_text(MB)),
    "form body of empty pairs": lambda: http_event("&" * MB, "application/x-www-form-urlencoded"),
    "form body of pairs": lambda: http_event("a=b&" * (MB // 4), "application/x-www-form-urlencoded"),
    "text body with equals signs": lambda: http_event("a=" * (MB // 2)),
    "raw query string": lambda: http_event("", rawQueryString="a=%41&" * (MB // 6)),
    "cookies": lambda: http_event("", cookies=["a=b; " * (MB // 5)]),
    "forwarded-for hops": lambda: {"version": "2.0", "requestContext": {"http": {}},
                                   "headers": {"x-forwarded-for": "203.0.113.1," * (MB // 12)}},
    "base64 body, clean": lambda: http_event(base64.b64encode(b"\x00" * MB).decode(), isBase64Encoded=True),
    "base64 body, not base64 at the end": lambda: http_event("A" * MB + "!", isBase64Encoded=True),
    "base64 body of invalid UTF-8": lambda: http_event(base64.b64encode(b"\xff" * MB).decode(),
                                                      isBase64Encoded=True),
    "lone surrogates": lambda: http_event("\udcff" * MB),
    "multipart with a 1 MB Content-Disposition": lambda: http_event(
        "--b\r\nContent-Disposition: " + "a" * MB + "\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b"),
    "direct event, wide": lambda: {f"k{i}": [i, "v"] for i in range(MB // 20)},
    "SQS batch": lambda: {"Records": [{"eventSource": "aws:sqs", "body": "x" * 100} for _ in range(MB // 100)]},
    "Kinesis data, not base64": lambda: {"Records": [{"eventSource": "aws:kinesis",
                                                      "kinesis": {"data": "A" * MB + "!"}}]},
    "DynamoDB image, wide": lambda: {"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {
        "NewImage": {f"k{i}": {"L": [{"S": "v"}, {"N": "1"}]} for i in range(MB // 40)}}}]},
    "multipart text file of 1 MB": lambda: http_event(
        "--b\r\nContent-Disposition: form-data; name=f; filename=a.txt\r\n\r\n" + "x' " * (MB // 3) + "\r\n--b--",
        "multipart/form-data; boundary=b"),
    "multipart, 1000 text files": lambda: http_event(
        "".join(f"--b\r\nContent-Disposition: form-data; name=f{i}; filename=a\r\n\r\n{'y' * 1000}\r\n"
                for i in range(1000)) + "--b--", "multipart/form-data; boundary=b"),
    "Firehose batch": lambda: {"deliveryStreamArn": "arn", "records": [
        {"data": base64.b64encode(b'{"a": "b"}').decode()} for _ in range(MB // 40)]},
    "Kafka headers of many bytes": lambda: {"eventSource": "aws:kafka", "records": {"t-0": [
        {"value": "", "headers": [{"h": [120] * (MB // 4)}, {"g": [300, "x"] * 1000}]}]}},
    "CloudWatch Logs gzip bomb": lambda: {"awslogs": {"data": base64.b64encode(
        __import__("gzip").compress(b"{" + b" " * (64 * MB))).decode()}},
    "CloudWatch Logs, many gzip members": lambda: {"awslogs": {"data": base64.b64encode(
        __import__("gzip").compress(b"") * (MB // 20)).decode()}},
    "CloudWatch Logs, many log events": lambda: {"awslogs": {"data": base64.b64encode(__import__("gzip").compress(
        json.dumps({"logEvents": [{"id": str(i), "message": "m"} for i in range(MB // 40)]}).encode())).decode()}},
    "AppSync batch": lambda: [{"arguments": {"a": "b"}, "info": {"fieldName": "f", "parentTypeName": "Q"},
                               "request": {"headers": {"h": "v"}}} for _ in range(MB // 100)],
    "Lambda@Edge headers": lambda: {"Records": [{"cf": {"request": {"uri": "/", "headers": {
        f"h{i}": [{"key": f"H{i}", "value": "v"}] for i in range(MB // 40)}}}}]},
    "VPC Lattice query": lambda: {"raw_path": "/?" + "a=%41&" * (MB // 6), "method": "GET"},
}


def _nested_json_text(size: int) -> str:
    text = "x" * (size // 64)
    for _ in range(6):  # each level doubles the escapes: the inner strings are parsed again, a geometric sum
        text = json.dumps({"a": text})
    return text


@pytest.mark.parametrize("build", EVENTS.values(), ids=EVENTS.keys())
def test_flattening_is_linear(build: Callable[[], Any]) -> None:
    event = build()
    inputs = within_budget(lambda: flatten(event))
    within_budget(lambda: inputs.forms)


def test_flattening_a_deep_event_reports_the_cap_rather_than_recursing() -> None:
    inputs = within_budget(lambda: flatten(http_event("[" * MB + "]" * MB)))
    assert inputs.truncated is None  # json could not read it (too deep for its stack): the body is one input
    assert [item.location for item in inputs.raw if item.location.startswith("body")] == ["body"]


DECODER_INPUTS = {
    "base64 alphabet, broken at the end": "A" * 65535 + "!",
    "hex, odd": "ab" * 32767 + "a",
    "percent escapes": "%41" * 21845,
    "plus signs": "+" * 65536,
    "JSON escapes": "\\u0041" * 10922,
    "broken JSON escapes": "\\" * 65536,
    "full-width": "\uff21" * 65536,
    "lone surrogates": "\udcff" * 65536,
    "quotes and backslashes": "'\\" * 32768,
}


@pytest.mark.parametrize("value", DECODER_INPUTS.values(), ids=DECODER_INPUTS.keys())
def test_decoding_an_input_is_linear(value: str) -> None:
    within_budget(lambda: decoded_forms(value))
    within_budget(lambda: Inputs([Input("body", value)]).any_in("x" * MB, lambda _: True))


@pytest.mark.parametrize("text", ["A" * MB + "!", "A=" * (MB // 2), "AB==" * (MB // 4), "é" * MB])
def test_base64_check_is_linear(text: str) -> None:
    within_budget(lambda: decode_base64(text))


@pytest.mark.parametrize("field", ["rawQueryString", "queryStringParameters", "multiValueQueryStringParameters"])
def test_a_query_past_the_field_cap_is_read_in_part_and_reported(field: str) -> None:
    count = MAX_QUERY_FIELDS * 10
    value: Any = "&".join(f"k{i}=%41" for i in range(count)) if field == "rawQueryString" else \
        {f"k{i}": ["%41"] if field.startswith("multi") else "%41" for i in range(count)}
    event = {"requestContext": {"elb": {}}, "httpMethod": "GET", field: value}
    inputs = within_budget(lambda: collect_inputs(Request(event, event_kind(event)), Limits(max_inputs=10 ** 6)))
    assert len(inputs) == 2 * MAX_QUERY_FIELDS  # each parameter's name and value
    assert inputs.truncated == f"more than {MAX_QUERY_FIELDS} query parameters"
