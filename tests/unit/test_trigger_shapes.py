"""A field the adapters read, met in the wrong shape, is walked whole, never dropped: a custom invoker
or a future payload version must not be a way around the inputs."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Policy

EVENTS = Path(__file__).parent.parent / "events"
ATTACK = "x' OR '1'='1"
# The fields each new trigger's adapter reads; the rest of its shape is its service's own (ARNs, offsets).
READ = {
    "firehose": {"records", "data", "kinesisRecordMetadata", "partitionKey"},
    "msk": {"records", "orders-0", "key", "value", "headers", "traceparent"},
    "self-managed-kafka": {"records", "orders-0", "value", "headers"},
    "cloudwatch-logs": {"awslogs", "data"},
    "appsync": {"arguments", "identity", "source", "request", "headers", "prev", "stash", "variables", "claims"},
    "appsync-batch": {"arguments", "identity", "source", "request", "headers", "authorId"},
    "cognito": {"userName", "request", "userAttributes", "clientMetadata", "validationData", "email"},
    "vpc-lattice-v1": {"raw_path", "headers", "query_string_parameters", "body", "user-agent", "expand"},
    "vpc-lattice-v2": {"path", "headers", "queryStringParameters", "user-agent", "expand"},
    "lambda-edge-viewer-request": {"Records", "cf", "request", "headers", "uri", "querystring", "body", "data",
                                   "cookie", "host"},
    "lambda-edge-origin-response": {"Records", "cf", "request", "headers", "uri", "querystring", "host"},
}
SHAPES = [ATTACK, [ATTACK], {"k": ATTACK}, 7]


def slots(value: Any) -> Iterator[tuple[Any, Any]]:
    stack = [value]
    while stack:
        container = stack.pop()
        for key in list(container) if isinstance(container, dict) else range(len(container)):
            yield container, key
            if isinstance(container[key], (dict, list)):
                stack.append(container[key])


def cases() -> Iterator[Any]:
    for name, read in READ.items():
        original = json.loads((EVENTS / f"{name}.json").read_text())
        count = sum(1 for _ in slots(original))
        for index in range(count):
            for shape_index, shape in enumerate(SHAPES):
                event = json.loads((EVENTS / f"{name}.json").read_text())
                container, key = list(slots(event))[index]
                if "status" in container:  # a Lambda@Edge response: the origin's, not input by design
                    continue
                if key in read and type(container[key]) is not type(shape):
                    if shape == 7 and not isinstance(container[key], (dict, list)):
                        continue
                    yield pytest.param(event, container, key, shape, id=f"{name}-{key}-{index}-{shape_index}")


@pytest.mark.parametrize(("event", "container", "key", "shape"), list(cases()))
def test_a_read_field_in_the_wrong_shape_is_walked(event: Any, container: Any, key: Any, shape: Any) -> None:
    container[key] = shape
    inputs = RequestContext(event, None, Policy()).inputs
    values = {item.value for item in inputs.forms}
    if shape == 7:
        assert inputs.raw is not None  # nothing to find; it must not raise
    else:
        assert ATTACK in values, sorted(values)[:20]
