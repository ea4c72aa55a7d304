"""Property-based fuzzing of events through the real ``@protect``: the gate on "sources never raise".

Events are the fixtures of tests/events (every kind) with fields replaced, deleted or
added: wrong types, attack strings, lone surrogates, invalid base64 and UTF-8, deep
nesting, huge values; and events that are not objects at all. The handler reads the
event and calls real sinks (a parameterised sqlite query, an escaped literal, a read of
a fixed file). Two properties, the second in both modes:

- report mode changes nothing: the handler's result, or its own exception, is exactly
  what the unprotected handler gives, and app-protect records no internal error (an
  internal error while building the context is an invocation that ran unprotected);
- block mode lets nothing of ours escape but a block: the result is the handler's or a
  403, an exception is the handler's own or ``RequestBlocked``.

Deterministic (derandomized, no example database) and bounded to well under a minute.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Policy
from app_protect_lambda.testing import LambdaContext

EVENTS = Path(__file__).parent.parent / "events"
FIXTURES = {path.stem: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}
FIXED_FILE = Path(__file__)  # what the handler reads: the same bytes protected or not
EXAMPLES: Counter[str] = Counter()
FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

ATTACKS = ["' OR '1'='1' --", "1; DROP TABLE users", "$(cat /etc/passwd)", "; id", "../../../../etc/passwd",
           "/proc/self/environ", "http://169.254.169.254/latest/meta-data/", "${jndi:ldap://x/a}",
           "<script>alert(1)</script>", "\udcff", "\ud800' OR 1=1 --", "%27%20OR%201%3D1", "JyBPUiAxPTEgLS0="]
# The fields classification and the adapters read: half the mutations aim at one of them or at a container.
FIELDS = frozenset({
    "Records", "eventSource", "EventSource", "body", "messageAttributes", "stringValue", "Sns", "Message",
    "Subject", "MessageAttributes", "Value", "s3", "object", "key", "dynamodb", "Keys", "NewImage", "kinesis",
    "data", "detail", "detail-type", "source", "version", "requestContext", "elb", "connectionId", "eventType",
    "http", "domainName", "identity", "sourceIp", "requestId", "httpMethod", "method", "resourcePath", "path",
    "rawPath", "routeKey", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "rawQueryString", "pathParameters", "cookies", "isBase64Encoded",
    "records", "deliveryStreamArn", "kinesisRecordMetadata", "partitionKey", "value", "awslogs", "arguments",
    "info", "fieldName", "parentTypeName", "prev", "result", "triggerSource", "userPoolId", "userName", "request",
    "userAttributes", "raw_path", "query_string_parameters", "is_base64_encoded", "serviceArn", "cf", "uri",
    "querystring", "encoding", "clientIp",
})
EVENT_SOURCES = ["aws:sqs", "aws:sns", "aws:s3", "aws:dynamodb", "aws:kinesis", "aws:other"]


def _deep(depth: int) -> Any:
    value: Any = ATTACKS[0]
    for level in range(depth):
        value = [value] if level % 2 else {"d": value}
    return value


texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(ATTACKS + EVENT_SOURCES),
    st.text(alphabet=st.sampled_from("\udcff\ud800\udfffa'\"\\%=&;+/"), max_size=12),  # lone surrogates
    st.sampled_from(["%%% not base64 %%%", "A", "AAAAA", "==", "QUJD!", "é", ""]),  # invalid base64
    st.binary(max_size=24).map(lambda raw: base64.b64encode(b"\xff\xfe" + raw).decode()),  # invalid UTF-8 inside
    st.sampled_from([5_000, 100_000, 1_000_000]).map(lambda size: "A=" * (size // 2)),  # huge
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=10)
# An event comes from json.loads, which cannot read one nested much deeper than Python's recursion limit.
values = st.one_of(json_values, json_values.map(json.dumps), st.integers(1, 700).map(_deep))


def fresh(value: Any) -> Any:
    """A deep copy that keeps its own stack (copy.deepcopy recurses twice per level)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        target, key, item = stack.pop()
        if isinstance(item, dict):
            target[key] = {}
            stack.extend((target[key], name, child) for name, child in item.items())
        elif isinstance(item, list):
            target[key] = [None] * len(item)
            stack.extend((target[key], index, child) for index, child in enumerate(item))
        else:
            target[key] = item
    return root[0]


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) of a JSON value, the containers themselves included."""
    stack = [value]
    while stack:
        container = stack.pop()
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            yield container, key
            if isinstance(container[key], (dict, list)):
                stack.append(container[key])


any_type = st.one_of(st.none(), st.booleans(), st.integers(), texts, st.lists(texts, max_size=2),
                    st.dictionaries(st.text(max_size=5), texts, max_size=2))


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    event = fresh(FIXTURES[draw(st.sampled_from(sorted(FIXTURES)))])
    slots = list(_slots(event))
    aimed = [(container, key) for container, key in slots if key in FIELDS or isinstance(container[key], (dict, list))]
    # First a field the adapters read, given another type: the shape that switched protection off.
    container, key = draw(st.sampled_from(aimed))
    original = type(container[key])
    container[key] = draw(any_type.filter(lambda value: type(value) is not original))
    for _ in range(draw(st.integers(0, 3))):
        slots = list(_slots(event))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            container[key] = draw(values)
        elif action == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.text(max_size=12))] = draw(values)
        else:
            container.append(draw(values))
    if isinstance(event, dict) and draw(st.booleans()):
        event["isBase64Encoded"] = draw(st.sampled_from([True, False, "true", 1, None]))
    return event


events = st.one_of(mutated_events(), mutated_events(), mutated_events(), mutated_events(), json_values)


class HandlerError(Exception):
    """The handler's own failure: it must reach the caller unchanged."""


def _strings(event: Any, limit: int = 40) -> list[str]:
    """The first strings of the event, as a handler that reads its fields would meet them."""
    found: list[str] = []
    stack = [event]
    while stack and len(found) < limit:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def handler(event: Any, context: Any) -> dict[str, Any]:
    strings = _strings(event)
    db = sqlite3.connect(":memory:")
    try:
        lengths = [db.execute("SELECT length(?)", (text,)).fetchone()[0] for text in strings[:5]]
        first = strings[0] if strings else ""
        echoed = db.execute("SELECT '" + first[:200].replace("'", "''") + "'").fetchone()[0]
    finally:
        db.close()
    with open(FIXED_FILE, "rb") as file:
        size = len(file.read())
    if any(text.startswith("raise") for text in strings):
        raise HandlerError("asked to")
    return {"statusCode": 200, "body": json.dumps({"lengths": lengths, "echoed": echoed, "size": size})}


def outcome(function: Callable[..., Any], event: Any) -> tuple[str, Any]:
    try:
        return "returned", function(event, LambdaContext())
    except Exception as error:  # the handler's own (HandlerError, sqlite3's UnicodeEncodeError) or ours
        return "raised", (type(error), str(error))


@contextlib.contextmanager
def internal_errors() -> Iterator[list[dict[str, Any]]]:
    """The internal-error records written while the block runs (stdout, as CloudWatch gets it)."""
    found: list[dict[str, Any]] = []
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield found
    for line in out.getvalue().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("schema") == "app-protect/internal-error/1":
                found.append(record)


def is_forbidden(result: Any) -> bool:
    return isinstance(result, dict) and (result.get("statusCode") == 403 or result.get("status") == "403")


@FUZZ
@given(event=events)
def _report_mode_changes_nothing(event: Any) -> None:
    EXAMPLES["report"] += 1
    expected = outcome(handler, fresh(event))
    sent = fresh(event)
    with internal_errors() as errors:
        actual = outcome(REPORTING(), sent)
    assert actual == expected
    assert sent == event  # the handler saw the event as sent
    assert errors == []


@FUZZ
@given(event=events)
def _block_mode_lets_only_a_block_escape(event: Any) -> None:
    EXAMPLES["block"] += 1
    expected = outcome(handler, fresh(event))
    with internal_errors() as errors:
        kind, value = outcome(BLOCKING(), fresh(event))
    if kind == "raised":
        assert value[0] is RequestBlocked or (kind, value) == expected, value
    else:
        assert (kind, value) == expected or is_forbidden(value), value
    assert errors == []


def _once(mode: str) -> Callable[[], Callable[..., Any]]:
    protected: list[Callable[..., Any]] = []

    def get() -> Callable[..., Any]:
        if not protected:
            protected.append(protect(handler, mode=mode))
        return protected[0]
    return get


REPORTING = _once("report")
BLOCKING = _once("block")


def test_report_mode_changes_nothing_for_any_event() -> None:
    before = EXAMPLES["report"]
    _report_mode_changes_nothing()
    assert EXAMPLES["report"] - before >= FUZZ.max_examples


def test_block_mode_lets_only_a_block_escape_for_any_event() -> None:
    before = EXAMPLES["block"]
    _block_mode_lets_only_a_block_escape()
    assert EXAMPLES["block"] - before >= FUZZ.max_examples


@FUZZ
@given(event=events)
def _fast_values_hold_every_walked_value(event: Any) -> None:
    EXAMPLES["values"] += 1
    fast = RequestContext(fresh(event), None, Policy()).inputs.values
    walked = {item.value for item in RequestContext(fresh(event), None, Policy()).inputs.forms}
    assert walked <= set(fast), sorted(walked - set(fast))[:5]


def test_the_sinks_fast_path_misses_no_input_for_any_event() -> None:
    """The fast path reads values without locations: a value it missed is an input no sink would judge."""
    before = EXAMPLES["values"]
    _fast_values_hold_every_walked_value()
    assert EXAMPLES["values"] - before >= FUZZ.max_examples
