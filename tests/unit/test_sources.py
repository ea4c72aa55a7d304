"""Event kinds and the inputs flattened from each, on fixtures modelled on AWS's samples."""
from __future__ import annotations

import json

import pytest

from app_protect_lambda.policy import Limits
from app_protect_lambda.sources import Request, collect_inputs, event_kind
from tests.conftest import load_event


def inputs_of(event: dict, limits: Limits | None = None) -> dict[str, list[str]]:
    request = Request(event, event_kind(event))
    found: dict[str, list[str]] = {}
    for item in collect_inputs(request, limits or Limits()).raw:
        found.setdefault(item.location, []).append(item.value)
    return found


@pytest.mark.parametrize(("fixture", "kind"), [
    ("apigw-v1.json", "apigw-v1"),
    ("apigw-v2.json", "apigw-v2"),
    ("function-url.json", "function-url"),
    ("alb.json", "alb"),
    ("alb-multi-value.json", "alb"),
    ("websocket.json", "apigw-websocket"),
    ("sqs.json", "sqs"),
    ("sns.json", "sns"),
    ("s3.json", "s3"),
    ("eventbridge.json", "eventbridge"),
    ("dynamodb-stream.json", "dynamodb-stream"),
    ("kinesis.json", "kinesis"),
    ("direct.json", "direct"),
])
def test_event_kind(fixture: str, kind: str) -> None:
    assert event_kind(load_event(fixture)) == kind


@pytest.mark.parametrize("event", [None, [], "text", 42, {"Records": "nope"}, {"requestContext": None}])
def test_malformed_events_are_direct_invocations(event) -> None:
    assert event_kind(event) == "direct"
    request = Request(event, event_kind(event))
    collect_inputs(request, Limits())  # must not raise


def test_apigw_v1_request() -> None:
    request = Request(load_event("apigw-v1.json"), "apigw-v1")
    assert request.method == "GET"
    assert request.path == "/users/42"
    assert request.header("USER-AGENT").startswith("Mozilla/5.0")
    assert request.query == {"sort": ["name"], "tag": ["red", "blue"]}
    assert request.cookies == {"session": ["abc123"], "theme": ["dark"]}
    assert request.source_ip == "203.0.113.10"
    assert request.source_ip_behind(1) == "198.51.100.7"
    assert request.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_apigw_v1_inputs() -> None:
    found = inputs_of(load_event("apigw-v1.json"))
    assert found["path"] == ["/users/42"]
    assert found["path.id"] == ["42"]
    assert found["query.tag"] == ["red", "blue"]
    assert found["cookie.session"] == ["abc123"]
    assert found["header.x-forwarded-for"] == ["198.51.100.7, 203.0.113.10"]
    assert "header.cookie" not in found  # cookies are inputs one by one


def test_apigw_v2_inputs_and_json_body() -> None:
    event = load_event("apigw-v2.json")
    request = Request(event, "apigw-v2")
    assert request.method == "POST" and request.path == "/orders"
    assert request.source_ip == "198.51.100.7"
    found = inputs_of(event)
    assert found["query.item"] == ["a", "b"]  # from rawQueryString, not the comma-joined form
    assert found["cookie.theme"] == ["dark"]
    assert found["body.customer.name"] == ["Ada Lovelace"]
    assert found["body.customer.email"] == ["ada@example.com"]
    assert found["body.items[0].sku"] == ["X-1"]
    assert found["body.customer.name#key"] == ["name"]


def test_function_url() -> None:
    event = load_event("function-url.json")
    assert inputs_of(event)["query.q"] == ["hello world"]
    assert Request(event, "function-url").source_ip == "198.51.100.9"


def test_alb_decodes_query_and_takes_rightmost_forwarded_address() -> None:
    event = load_event("alb.json")
    request = Request(event, "alb")
    assert request.query == {"query": ["1234ABCD x"], "next": ["/home"]}
    assert request.source_ip == "203.0.113.44"
    assert request.source_ip_behind(1) == "198.51.100.7"
    assert request.request_id == "Root=1-5c536348-3d683b8b04734faae651f476"


def test_alb_multi_value_with_base64_form_body() -> None:
    event = load_event("alb-multi-value.json")
    request = Request(event, "alb")
    assert request.uses_multi_value_headers
    assert request.query == {"tag": ["a b", "c"]}
    found = inputs_of(event)
    assert found["body.name"] == ["O'Brien"]
    assert found["body.city"] == ["Tokyo"]


def test_websocket_body() -> None:
    found = inputs_of(load_event("websocket.json"))
    assert found["body.message"] == ["hello"]


def test_sqs_bodies_json_and_plain_and_attributes() -> None:
    found = inputs_of(load_event("sqs.json"))
    assert found["records[0].body.note"] == ["leave at door"]
    assert found["records[1].body"] == ["plain text message"]
    assert found["records[0].messageAttributes.tenant"] == ["acme"]


def test_sns_message_parsed() -> None:
    found = inputs_of(load_event("sns.json"))
    assert found["records[0].sns.message.user.name"] == ["Grace"]
    assert found["records[0].sns.subject"] == ["New signup"]


def test_s3_key_is_url_decoded_as_s3_delivers_it() -> None:
    found = inputs_of(load_event("s3.json"))
    # decoded as S3 delivers it, then as sent (whose forms hold what `unquote` makes of it)
    assert found["records[0].s3.object.key"] == ["uploads/report v2.final.pdf", "uploads/report+v2.final.pdf"]
    assert not any("bucket" in location for location in found)  # the bucket is the owner's


def test_eventbridge_detail() -> None:
    found = inputs_of(load_event("eventbridge.json"))
    assert found["detail.order.customer"] == ["Ada"]
    assert found["detail.tags[1]"] == ["gift"]
    assert not any(location.startswith("source") for location in found)


def test_dynamodb_images_unwrapped() -> None:
    found = inputs_of(load_event("dynamodb-stream.json"))
    assert found["records[0].dynamodb.NewImage.Message"] == ["New item!"]
    assert found["records[0].dynamodb.NewImage.Profile.Nick"] == ["ada"]


def test_kinesis_data_decoded() -> None:
    found = inputs_of(load_event("kinesis.json"))
    assert found["records[0].kinesis.data.device"] == ["sensor-7"]


def test_direct_invocation_every_leaf() -> None:
    found = inputs_of(load_event("direct.json"))
    assert found["event.image.key"] == ["photos/cat.jpg"]
    assert found["event.image.width"] == ["640"]


def test_nested_json_inside_a_string_is_opened() -> None:
    envelope = {"Type": "Notification", "Message": json.dumps({"q": "x' OR 1=1 --"})}
    event = load_event("sqs.json")
    event["Records"][0]["body"] = json.dumps(envelope)
    assert inputs_of(event)["records[0].body.Message.q"] == ["x' OR 1=1 --"]


def test_non_json_body_with_json_content_type_is_one_input() -> None:
    event = load_event("apigw-v2.json")
    event["body"] = "{not json"
    assert inputs_of(event)["body"] == ["{not json"]


def test_multipart_fields_and_file_names() -> None:
    body = ("--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy report\r\n"
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.v2.final.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4 ...\r\n--XyZ--\r\n")
    event = load_event("apigw-v2.json")
    event["headers"]["content-type"] = "multipart/form-data; boundary=XyZ"
    event["body"] = body
    found = inputs_of(event)
    assert found["body.title"] == ["My report"]
    assert found["body.file#filename"] == ["report.v2.final.pdf"]


def test_caps_bound_a_hostile_event() -> None:
    event = load_event("apigw-v2.json")
    event["body"] = json.dumps({"items": [str(i) * 3 for i in range(20000)]})
    request = Request(event, "apigw-v2")
    inputs = collect_inputs(request, Limits(max_inputs=1000))
    assert len(inputs) == 1000
    assert inputs.truncated == "more than 1000 inputs"


def test_depth_cap() -> None:
    deep: dict = {"leaf": "x' OR 1=1"}
    for _ in range(100):
        deep = {"d": deep}
    request = Request({"version": "2.0", "requestContext": {"http": {"method": "POST"}},
                       "body": json.dumps(deep)}, "apigw-v2")
    inputs = collect_inputs(request, Limits(max_depth=10))
    # Past the cap the locations stop growing, and the walk goes on: the leaf is an input still.
    assert inputs.truncated is None
    leaf = [item for item in inputs.raw if item.value == "x' OR 1=1"]
    assert [item.location for item in leaf] == ["body" + ".d" * 10 + " (past the depth cap)"]


def test_size_cap() -> None:
    event = load_event("apigw-v2.json")
    event["body"] = json.dumps({"a": "x" * 5000, "b": "y" * 5000})
    inputs = collect_inputs(Request(event, "apigw-v2"), Limits(max_bytes=6000))
    assert inputs.truncated and "characters in all" in inputs.truncated
