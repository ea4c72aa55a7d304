"""Every attacker-controlled string of an event, with its location, within the caps."""
from __future__ import annotations

import binascii
import json

from . import kinds
from .inputs import Input, Inputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from ..policy import Limits
    from .http import Request


class _Budget:
    """Counts what flattening has taken and says why it stopped, if it did."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.count = 0
        self.size = 0
        self.truncated: str | None = None

    def take(self, value: str) -> bool:
        if self.truncated:
            return False
        if self.count >= self.limits.max_inputs:
            self.truncated = f"more than {self.limits.max_inputs} inputs"
            return False
        if self.size + len(value) > self.limits.max_bytes:
            self.truncated = f"inputs larger than {self.limits.max_bytes} characters in all"
            return False
        self.count += 1
        self.size += len(value)
        return True


def _maybe_json(text: str) -> Any:
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def _walk(value: Any, location: str, budget: _Budget, depth: int = 0) -> Iterator[Input]:
    """Leaves of a JSON-like value; object keys are inputs too; strings holding JSON are opened."""
    if budget.truncated:
        return
    if depth > budget.limits.max_depth:
        budget.truncated = f"nesting deeper than {budget.limits.max_depth} levels at {location}"
        return
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            child = f"{location}.{key}" if location else key
            if budget.take(key):
                yield Input(f"{child}#key", key)
            yield from _walk(item, child, budget, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{location}[{index}]", budget, depth + 1)
    elif isinstance(value, str):
        if budget.take(value):
            yield Input(location, value)
        nested = _maybe_json(value)
        if nested is not None and not isinstance(nested, (str, int, float)):
            yield from _walk(nested, location, budget, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 2 and budget.take(text):
            yield Input(location, text)


def _multi(prefix: str, values: dict[str, list[str]], budget: _Budget, names: bool = True) -> Iterator[Input]:
    for name, items in values.items():
        if names and budget.take(name):
            yield Input(f"{prefix}.{name}#key", name)
        for item in items:
            if budget.take(item):
                yield Input(f"{prefix}.{name}", item)


def _http(request: Request, budget: _Budget) -> Iterator[Input]:
    if request.path and budget.take(request.path):
        yield Input("path", request.path)
    for name, value in request.path_params.items():
        if budget.take(value):
            yield Input(f"path.{name}", value)
    yield from _multi("query", request.query, budget)
    headers = {name: values for name, values in request.headers.items() if name != "cookie"}
    # Header names are not inputs: code that builds a statement from a header's *name* is
    # vanishingly rare, and every sink call would pay for checking a dozen of them.
    yield from _multi("header", headers, budget, names=False)
    yield from _multi("cookie", request.cookies, budget)
    yield from _body(request, budget)


def _body(request: Request, budget: _Budget) -> Iterator[Input]:
    text = request.body
    if not text:
        return
    content_type = request.content_type
    if "multipart/form-data" in content_type:
        from .multipart import parse_multipart

        for part in parse_multipart(request.body_bytes or b"", request.header("content-type") or ""):
            if part.filename is not None:
                if budget.take(part.filename):
                    yield Input(f"body.{part.name}#filename", part.filename)
            elif budget.take(part.text):
                yield Input(f"body.{part.name}", part.text)
        return
    if "application/x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(text, keep_blank_values=True):
            if budget.take(name):
                yield Input(f"body.{name}#key", name)
            if budget.take(value):
                yield Input(f"body.{name}", value)
        return
    parsed = _maybe_json(text)
    if parsed is not None and not isinstance(parsed, str):
        yield from _walk(parsed, "body", budget)
        return
    if budget.take(text):
        yield Input("body", text)
    if "=" in text and len(text) <= budget.limits.max_decode_chars:
        # Handlers often parse `a=b&c=d` bodies whatever the content type says.
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(text, keep_blank_values=True):
            if value != text and budget.take(value):
                yield Input(f"body.{name}", value)


def _records(event: dict, kind: str, budget: _Budget) -> Iterator[Input]:
    records = event.get("Records")
    if not isinstance(records, list):
        return
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        prefix = f"records[{index}]"
        if kind == kinds.SQS:
            yield from _walk(record.get("body"), f"{prefix}.body", budget)
            for name, attribute in (record.get("messageAttributes") or {}).items():
                if isinstance(attribute, dict):
                    yield from _walk(attribute.get("stringValue"), f"{prefix}.messageAttributes.{name}", budget)
        elif kind == kinds.SNS:
            sns = record.get("Sns") or {}
            yield from _walk(sns.get("Subject"), f"{prefix}.sns.subject", budget)
            yield from _walk(sns.get("Message"), f"{prefix}.sns.message", budget)
            for name, attribute in (sns.get("MessageAttributes") or {}).items():
                if isinstance(attribute, dict):
                    yield from _walk(attribute.get("Value"), f"{prefix}.sns.messageAttributes.{name}", budget)
        elif kind == kinds.S3:
            key = ((record.get("s3") or {}).get("object") or {}).get("key")
            if isinstance(key, str) and budget.take(key):
                from urllib.parse import unquote_plus

                yield Input(f"{prefix}.s3.object.key", unquote_plus(key))
        elif kind == kinds.DYNAMODB:
            stream = record.get("dynamodb") or {}
            for image in ("Keys", "NewImage"):
                yield from _walk(_undynamo(stream.get(image)), f"{prefix}.dynamodb.{image}", budget)
        elif kind == kinds.KINESIS:
            data = (record.get("kinesis") or {}).get("data")
            if isinstance(data, str):
                try:
                    text = binascii.a2b_base64(data).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    text = data
                yield from _walk(text, f"{prefix}.kinesis.data", budget)


_DYNAMO_SCALARS = ("S", "N", "B", "BOOL", "NULL")


def _undynamo(value: Any) -> Any:
    """DynamoDB's typed attribute values (``{"S": "x"}``) as plain JSON values."""
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag in _DYNAMO_SCALARS:
            return inner
        if tag == "M":
            return {k: _undynamo(v) for k, v in (inner or {}).items()}
        if tag == "L":
            return [_undynamo(v) for v in inner or []]
        if tag in ("SS", "NS", "BS"):
            return list(inner or [])
    return {k: _undynamo(v) for k, v in value.items()}


def collect_inputs(request: Request, limits: Limits,
                   on_truncated: Callable[[str], None] | None = None) -> Inputs:
    """The invocation's inputs, flattened from the event behind ``request`` on first use."""
    def load() -> tuple[list[Input], str | None]:
        budget = _Budget(limits)
        event = request.event
        if request.is_http:
            items = list(_http(request, budget))
        elif request.kind == kinds.EVENTBRIDGE:
            items = list(_walk(event.get("detail"), "detail", budget))
        elif request.kind == kinds.DIRECT:
            items = list(_walk(event, "event", budget))
        else:
            items = list(_records(event, request.kind, budget))
        if budget.truncated and on_truncated is not None:
            on_truncated(budget.truncated)
        return items, budget.truncated

    return Inputs(load=load, max_decode_chars=limits.max_decode_chars)
