"""Each trigger is told by its AWS shape, and only by it: look-alikes stay direct invocations."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app_protect_lambda.policy import Limits
from app_protect_lambda.sources import Request, event_kind
from app_protect_lambda.sources.flatten import http_values
from app_protect_lambda.sources.http import EdgeRequest, LatticeRequest, LatticeV1Request

EVENTS = Path(__file__).parent.parent / "events"
KINDS = {
    "firehose": "firehose", "msk": "msk", "self-managed-kafka": "self-managed-kafka",
    "cloudwatch-logs": "cloudwatch-logs", "appsync": "appsync", "appsync-batch": "appsync", "cognito": "cognito",
    "vpc-lattice-v1": "vpc-lattice-v1", "vpc-lattice-v2": "vpc-lattice-v2",
    "lambda-edge-viewer-request": "lambda-edge", "lambda-edge-origin-response": "lambda-edge",
}


@pytest.mark.parametrize("name", list(KINDS))
def test_the_sample_events_are_recognised(name: str) -> None:
    assert event_kind(json.loads((EVENTS / f"{name}.json").read_text())) == KINDS[name]


@pytest.mark.parametrize(("name", "adapter"), [("vpc-lattice-v1", LatticeV1Request), ("vpc-lattice-v2", LatticeRequest),
                                               ("lambda-edge-viewer-request", EdgeRequest)])
def test_http_triggers_get_their_own_adapter_and_the_fast_values_path(name: str, adapter: type) -> None:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    request = Request(event, event_kind(event))
    assert type(request) is adapter and request.is_http
    assert http_values(request, Limits()) is not None


@pytest.mark.parametrize("event", [
    {"arguments": {"id": "1"}},  # no info naming the field
    {"arguments": {}, "info": {"fieldName": "f"}},
    {"eventSource": "aws:kafka", "records": []},  # Kafka's records are a mapping
    {"eventSource": "Kafka", "records": {}},
    {"records": [], "invocationId": "1"},  # no delivery stream
    {"awslogs": "data"},
    {"triggerSource": "PreSignUp_SignUp"},  # no user pool
    {"raw_path": "/"},  # no method
    {"Records": [{"cf": "x"}]},
    [{"arguments": {}}],
    [],
])
def test_look_alikes_are_direct_invocations(event: object) -> None:
    assert event_kind(event) == "direct"


def test_an_api_gateway_v2_event_is_not_taken_for_lattice() -> None:
    event = json.loads((EVENTS / "apigw-v2.json").read_text())
    assert event_kind(event) == "apigw-v2"
    assert event_kind({**event, "requestContext": {**event["requestContext"], "serviceArn": "arn"}}) == \
        "vpc-lattice-v2"
