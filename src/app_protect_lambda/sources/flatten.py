"""Every attacker-controlled string of an event, with its location, within the caps.

Flattening is total: whatever the event holds, it returns inputs and never
raises. A shape that matches no trigger is walked as a direct invocation (every
string is an input); a trigger's adapter that meets a part in the wrong shape
walks that part the same way instead of dropping it. The walk keeps its own
stack rather than recursing, so neither a deep event nor a deep caller's stack
can exhaust Python's.
"""
from __future__ import annotations

import json
from functools import cache

from . import kinds
from .decoders import unquoting
from .http import decode_base64, form_pairs
from .inputs import Input, Inputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..policy import Limits
    from .http import Request

# The envelope of an EventBridge event; any other top-level field is walked.
_EVENTBRIDGE_FIELDS = frozenset({"version", "id", "detail-type", "source", "account", "time", "region",
                                 "resources", "detail", "replay-name"})
_DYNAMO_SCALARS = frozenset({"S", "N", "B", "BOOL", "NULL"})
_DYNAMO_SETS = frozenset({"SS", "NS", "BS"})
# Unwrapping DynamoDB's types recurses; past this depth the typed rest is walked as it is (iteratively).
_UNDYNAMO_DEPTH = 64


_new_tuple = tuple.__new__
_JSON_OPENERS = frozenset("{[")


def _maybe_json(text: str) -> Any:
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def _number_text(value: int | float) -> str | None:
    try:
        return str(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() (a Python caller's, never JSON's)
        return None


class _Collector:
    """The inputs found so far, within the caps; says why it stopped, if it did."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_inputs = limits.max_inputs
        self.max_bytes = limits.max_bytes
        self.items: list[Input] = []
        self.size = 0
        self.truncated: str | None = None

    def add(self, location: str, value: str) -> None:
        # The hot loop of flattening (75 calls for a 30-field JSON body): the checks in one line, the
        # tuple built without namedtuple's Python-level __new__ (0.3 µs of 0.6).
        if self.truncated is None and len(self.items) < self.max_inputs and self.size + len(value) <= self.max_bytes:
            self.size += len(value)
            self.items.append(_new_tuple(Input, (location, value, "")))
        elif self.truncated is None:
            self.truncated = f"more than {self.max_inputs} inputs" if len(self.items) >= self.max_inputs \
                else f"inputs larger than {self.max_bytes} characters in all"

    def walk(self, value: Any, location: str) -> None:
        """Leaves of a JSON-like value; object keys are inputs too; strings holding JSON are opened.

        The hot loop of an invocation's first check (about 100 nodes for a 30-field JSON body): the
        common cases are tested by exact type and ``add`` is inlined, about half the cost of a
        call per node; subclasses of str, dict and list take the slower branches below.
        """
        max_depth = self.limits.max_depth
        items = self.items
        append = items.append
        max_inputs, max_bytes = self.max_inputs, self.max_bytes
        # (value, location, depth, key): a key is added as its own input just before its value is walked.
        stack: list[tuple[Any, str, int, str | None]] = [(value, location, 0, None)]
        pop, push = stack.pop, stack.append
        while stack and self.truncated is None:
            value, location, depth, key = pop()
            if key is not None:
                if len(items) >= max_inputs or self.size + len(key) > max_bytes:
                    self.add(location + "#key", key)  # says why flattening stops
                    return
                self.size += len(key)
                append(_new_tuple(Input, (location + "#key", key, "")))
            if depth > max_depth:
                self.truncated = f"nesting deeper than {max_depth} levels at {location}"
                return
            kind = type(value)
            if kind is str or (kind is not dict and kind is not list and isinstance(value, str)):
                if len(items) >= max_inputs or self.size + len(value) > max_bytes:
                    self.add(location, value)
                    return
                self.size += len(value)
                append(_new_tuple(Input, (location, value, "")))
                if value[:1] in _JSON_OPENERS or value[:1].isspace():
                    nested = _maybe_json(value)
                    if isinstance(nested, (dict, list)):
                        push((nested, location, depth + 1, None))
            elif kind is dict or isinstance(value, dict):
                child_depth = depth + 1
                prefix = location + "." if location else ""
                for name, item in reversed(value.items()):
                    name = name if type(name) is str else str(name)
                    push((item, prefix + name, child_depth, name))
            elif kind is list or isinstance(value, list):
                child_depth = depth + 1
                for index in range(len(value) - 1, -1, -1):
                    push((value[index], f"{location}[{index}]", child_depth, None))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                text = _number_text(value)
                if text is not None and len(text) >= 2:
                    self.add(location, text)

    def walk_fields(self, event: dict[Any, Any], known: frozenset[str]) -> None:
        """Top-level fields that are not the trigger's own: only a direct or custom invoker sends them."""
        for name, value in event.items():
            if name not in known:
                self.walk(value, f"event.{name}")

    def multi(self, prefix: str, values: dict[str, list[str]], names: bool = True) -> None:
        for name, items in values.items():
            if names:
                self.add(f"{prefix}.{name}#key", name)
            for item in items:
                self.add(f"{prefix}.{name}", item)

    def http(self, request: Request) -> None:
        if request.path:
            self.add("path", request.path)
            for index, segment in enumerate(path_segments(request.path)):
                self.add(f"path[{index}]", segment)
        for name, value in request.path_params.items():
            self.add(f"path.{name}", value)
        self.multi("query", request.query)
        headers = header_inputs(request.headers)
        # Header names are not inputs: code that builds a statement from a header's *name* is
        # vanishingly rare, and every sink call would pay for checking a dozen of them.
        self.multi("header", headers, names=False)
        self.multi("cookie", request.cookies)
        self.body(request)
        self.walk(request.authorizer, "authorizer")
        for location, value in request.stray:  # complete now: every accessor above has run
            self.walk(value, location)
        self.walk_fields(request.event, request.fields)
        if request.truncated and not self.truncated:
            self.truncated = request.truncated

    def body(self, request: Request) -> None:
        text = request.body
        if not text:
            return
        content_type = request.content_type
        if "multipart/form-data" in content_type:
            from .multipart import parse_multipart

            for part in parse_multipart(request.body_bytes or b"", request.header("content-type") or ""):
                if part.filename is not None:
                    self.add(f"body.{part.name}#filename", part.filename)
                    content = part.file_text  # a text file's content is input; a binary one's is not
                    if content is not None:
                        self.add(f"body.{part.name}#content", content)
                else:
                    self.add(f"body.{part.name}", part.text)
            return
        if "application/x-www-form-urlencoded" in content_type:
            for name, value in form_pairs(text.split("&")):
                self.add(f"body.{name}#key", name)
                self.add(f"body.{name}", value)
                if self.truncated:
                    return
            return
        parsed = _maybe_json(text)
        if isinstance(parsed, (dict, list)):
            self.walk(parsed, "body")
            return
        self.add("body", text)
        if "=" in text and len(text) <= self.limits.max_decode_chars:
            # Handlers often parse `a=b&c=d` bodies whatever the content type says.
            for name, value in form_pairs(text.split("&")):
                if value != text:
                    self.add(f"body.{name}", value)

    def records(self, event: dict[Any, Any]) -> None:
        """Each record by the service it names: one batch may mix them when a custom invoker built it."""
        records = event.get("Records")
        for index, record in enumerate(records if isinstance(records, list) else ()):
            prefix = f"records[{index}]"
            adapter = _RECORD_ADAPTERS.get(kinds.record_kind(record))
            if adapter is None:
                self.walk(record, prefix)
            else:
                adapter(self, record, prefix)
        self.walk_fields(event, frozenset({"Records"}))

    def _attributes(self, attributes: Any, value_key: str, location: str) -> None:
        if not isinstance(attributes, dict):
            self.walk(attributes, location)
            return
        for name, attribute in attributes.items():
            value = attribute.get(value_key) if isinstance(attribute, dict) else attribute
            self.walk(value, f"{location}.{name}")

    def _sqs(self, record: dict[Any, Any], prefix: str) -> None:
        self.walk(record.get("body"), f"{prefix}.body")
        self._attributes(record.get("messageAttributes"), "stringValue", f"{prefix}.messageAttributes")
        # Binary attributes arrive base64-encoded; their decoded forms follow as for any input.
        self._binary_attributes(record.get("messageAttributes"), f"{prefix}.messageAttributes")

    def _binary_attributes(self, attributes: Any, location: str) -> None:
        if isinstance(attributes, dict):
            for name, attribute in attributes.items():
                if isinstance(attribute, dict) and attribute.get("binaryValue") is not None:
                    self.walk(attribute.get("binaryValue"), f"{location}.{name}#binary")

    def _sns(self, record: dict[Any, Any], prefix: str) -> None:
        sns = record.get("Sns")
        if not isinstance(sns, dict):
            self.walk(sns, f"{prefix}.sns")
            return
        self.walk(sns.get("Subject"), f"{prefix}.sns.subject")
        self.walk(sns.get("Message"), f"{prefix}.sns.message")
        self._attributes(sns.get("MessageAttributes"), "Value", f"{prefix}.sns.messageAttributes")

    def _s3(self, record: dict[Any, Any], prefix: str) -> None:
        s3 = record.get("s3")
        if not isinstance(s3, dict):
            self.walk(s3, f"{prefix}.s3")
            return
        target = s3.get("object")
        key = target.get("key") if isinstance(target, dict) else None
        if not isinstance(key, str):
            self.walk(target, f"{prefix}.s3.object")
            return
        decoded = unquoting()[1](key)
        self.add(f"{prefix}.s3.object.key", decoded)
        if decoded != key:  # as sent too: its forms hold what `unquote` (which keeps a `+`) makes of it
            self.add(f"{prefix}.s3.object.key", key)

    def _dynamodb(self, record: dict[Any, Any], prefix: str) -> None:
        stream = record.get("dynamodb")
        if not isinstance(stream, dict):
            self.walk(stream, f"{prefix}.dynamodb")
            return
        depth = min(self.limits.max_depth, _UNDYNAMO_DEPTH)
        for image in ("Keys", "NewImage", "OldImage"):  # an update's old image is the writer's too
            self.walk(_undynamo(stream.get(image), depth), f"{prefix}.dynamodb.{image}")

    def _kinesis(self, record: dict[Any, Any], prefix: str) -> None:
        stream = record.get("kinesis")
        if isinstance(stream, dict):
            self.walk(stream.get("partitionKey"), f"{prefix}.kinesis.partitionKey")  # the producer's choice
        data = stream.get("data") if isinstance(stream, dict) else None
        if not isinstance(data, str):
            self.walk(stream, f"{prefix}.kinesis")
            return
        decoded, clean = decode_base64(data)
        if not clean:  # not base64 as sent: what a lenient decoder makes of it is not the whole story
            self.walk(data, f"{prefix}.kinesis.data")
        if decoded is not None:
            self.walk(decoded.decode("utf-8", "replace"), f"{prefix}.kinesis.data")


_RECORD_ADAPTERS: dict[str | None, Callable[[_Collector, dict[Any, Any], str], None]] = {
    kinds.SQS: _Collector._sqs,
    kinds.SNS: _Collector._sns,
    kinds.S3: _Collector._s3,
    kinds.DYNAMODB: _Collector._dynamodb,
    kinds.KINESIS: _Collector._kinesis,
}


def _undynamo(value: Any, depth: int) -> Any:
    """DynamoDB's typed attribute values (``{"S": "x"}``) as plain JSON values.

    A value in another shape is kept as it is, tags and all, so the walk still sees its strings.
    Past ``depth`` levels the rest is left typed: the walk stops there anyway, at the same cap.
    """
    if not isinstance(value, dict) or depth <= 0:
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag in _DYNAMO_SCALARS:
            return inner
        if tag == "M" and isinstance(inner, dict):
            return {name: _undynamo(item, depth - 1) for name, item in inner.items()}
        if tag == "L" and isinstance(inner, list):
            return [_undynamo(item, depth - 1) for item in inner]
        if tag in _DYNAMO_SETS and isinstance(inner, list):
            return inner
    return {name: _undynamo(item, depth - 1) for name, item in value.items()}


# What browsers and HTTP clients send on their own, value for value. Such a value is the client's
# constant, not a choice: as an "input" it only coincided with the code's own text (`?1` with a
# numbered SQL placeholder, `*/*` with a glob) and made detections of nothing. Any other value of
# these headers is an input as usual.
_STANDARD_HEADER_VALUES: dict[str, frozenset[str]] = {
    "accept": frozenset({"*/*"}),
    "accept-encoding": frozenset({"gzip, deflate, br, zstd", "gzip, deflate, br", "gzip, deflate", "gzip", "br",
                                  "identity", "*"}),
    "sec-fetch-user": frozenset({"?1"}),
    "sec-ch-ua-mobile": frozenset({"?0", "?1"}),
    "upgrade-insecure-requests": frozenset({"1"}),
    "cache-control": frozenset({"no-cache", "max-age=0", "no-store"}),
    "pragma": frozenset({"no-cache"}),
    "connection": frozenset({"keep-alive", "close"}),
    "dnt": frozenset({"0", "1"}),
}


def header_inputs(headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """The header values that are inputs: all but the cookie header (its values are read as cookies)
    and a client's standard constants (``_STANDARD_HEADER_VALUES``)."""
    inputs: dict[str, list[str]] = {}
    for name, values in headers.items():
        if name == "cookie":
            continue
        standard = _STANDARD_HEADER_VALUES.get(name)
        kept = values if standard is None else [value for value in values if value.lower() not in standard]
        if kept:
            inputs[name] = kept
    return inputs


def path_segments(path: str) -> list[str]:
    """The segments of a request path, each an input of its own.

    Behind a proxy route (``/{proxy+}``, an HTTP API ``$default`` route, an ALB or a Function URL)
    the function cuts its route parameters out of the path itself (``/users/<name>``), so no
    ``pathParameters`` entry holds them, and the whole path never occurs in a statement. The
    decoded forms (``%27``, ``..%2F``) follow from each segment as from any input.
    """
    return [segment for segment in path.split("/") if segment and segment != path]


def http_values(request: Request, limits: Limits) -> list[str] | None:
    """Every string the walk of an HTTP event finds, without locations; None where only the walk will do.

    The sinks' fast paths need only the values: whether any occurs in an argument. Building a
    location per value cost ~2.5 µs an input here (a 30-field JSON body: ~230 µs); this reads the
    same parts through the same accessors and walks the JSON body bare (~50 µs), and the walk with
    locations runs only when a value does occur. It must find every value the walk finds, so it
    gives up (None) on whatever it does not read the walk's way: a body that is not JSON, stray or
    unknown parts, nesting past the depth cap, or an event past the size caps.
    """
    if not request.is_http or any(name not in request.fields for name in request.event):
        return None
    values: list[str] = []
    add, extend = values.append, values.extend
    if request.path:
        add(request.path)
        extend(path_segments(request.path))
    extend(request.path_params.values())
    for name, items in request.query.items():
        add(name)
        extend(items)
    for items in header_inputs(request.headers).values():
        extend(items)
    for name, items in request.cookies.items():
        add(name)
        extend(items)
    authorizer = request.authorizer
    if authorizer is not None and (not isinstance(authorizer, (dict, list))
                                   or not _json_values(authorizer, values, limits.max_depth)):
        return None
    text = request.body
    if text:
        content_type = request.content_type
        if "multipart/form-data" in content_type or "application/x-www-form-urlencoded" in content_type:
            return None
        parsed = _maybe_json(text)
        if not isinstance(parsed, (dict, list)) or not _json_values(parsed, values, limits.max_depth):
            return None
    if request.stray or request.truncated or len(values) > limits.max_inputs \
            or sum(map(len, values)) > limits.max_bytes:
        return None
    return values


def _json_values(value: dict[Any, Any] | list[Any], values: list[str], max_depth: int) -> bool:
    """The strings, keys and numbers of a parsed JSON value, and of JSON held in its strings, as ``walk``
    reads them; False when the nesting goes past ``max_depth``."""
    add = values.append
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > max_depth:
            return False
        depth += 1  # the depth of what this container holds, as the walk counts it
        if depth > max_depth and value:
            return False  # the walk stops at the first node past the cap: its values are its own
        if type(value) is dict:
            items: Any = value.values()
            for name in value:
                add(name if type(name) is str else str(name))
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                add(item)
                if item[:1] in _JSON_OPENERS or item[:1].isspace():
                    nested = _maybe_json(item)
                    if isinstance(nested, (dict, list)):
                        push((nested, depth + 1))  # a string's JSON is one level below the string
            elif kind is dict or kind is list:
                push((item, depth))
            elif kind is int or kind is float:
                number = _number_text(item)
                if number is not None and len(number) >= 2:
                    add(number)
            elif item is not None and kind is not bool:
                return False  # a type json.loads never makes: the walk's way or nothing
    return True


def collect_inputs(request: Request, limits: Limits,
                   on_truncated: Callable[[str], None] | None = None, trusted: frozenset[str] = frozenset()) -> Inputs:
    """The invocation's inputs, flattened from the event behind ``request`` on first use; none at all
    when the policy trusts the event's trigger (``trusted``, the policy's ``sources``)."""
    if trusted and _is_trusted(request, trusted):
        return Inputs(values=list)

    def load() -> tuple[list[Input], str | None]:
        collector = _Collector(limits)
        event = request.event
        if request.kind in kinds.TRIGGER_KINDS:
            _trigger_adapters()[request.kind](collector, event)
        elif request.is_http:
            collector.http(request)
        elif request.kind == kinds.EVENTBRIDGE:
            collector.walk(event.get("detail"), "detail")
            collector.walk(event.get("resources"), "resources")  # ARNs a custom producer names
            collector.walk_fields(event, _EVENTBRIDGE_FIELDS)
        elif request.kind in kinds.RECORD_KINDS:
            collector.records(event)
        else:
            collector.walk(event, "event")
        if collector.truncated and on_truncated is not None:
            on_truncated(collector.truncated)
        return collector.items, collector.truncated

    def values() -> list[str] | None:
        return http_values(request, limits)

    return Inputs(load=load, max_decode_chars=limits.max_decode_chars, values=values)


def _is_trusted(request: Request, trusted: frozenset[str]) -> bool:
    """Whether the policy trusts the event's trigger; a batch of records only if it trusts every record's."""
    if request.kind not in trusted:
        return False
    if request.kind not in kinds.RECORD_KINDS:
        return True
    records = request.event.get("Records")
    return all(kinds.record_kind(record) in trusted for record in records)


@cache
def _trigger_adapters() -> dict[str, Callable[[_Collector, Any], None]]:
    from .triggers import adapters  # the rarer triggers' adapters, loaded by the first such event

    return adapters()
