"""Every attacker-controlled string of an event, with its location, within the caps.

Flattening is total: whatever the event holds, it returns inputs and never
raises. A cap bounds the cost, never what is checked: past the depth cap the
walk goes on with the location frozen (``body.a.b (past the depth cap)``: each
location growing by a segment a level would make a deep event quadratic), and
the values-only reader (``collect_values``) reads every value whatever the
count or size; only what a reader had to drop (query parameters or multipart
parts past their caps, JSON nested in strings past ``max_bytes`` of parsing) is
left to the policy's ``limits.on_exceeded``. A shape that matches no trigger is walked as a direct invocation (every
string is an input); a trigger's adapter that meets a part in the wrong shape
walks that part the same way instead of dropping it. The walk keeps its own
stack rather than recursing, so neither a deep event nor a deep caller's stack
can exhaust Python's.
"""
from __future__ import annotations

import json
import re
from contextlib import suppress
from functools import cache

from . import kinds
from .decoders import unquoting
from .http import decode_base64, form_pairs, form_values
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
PAST_DEPTH = " (past the depth cap)"


class _Literals(list[str]):
    """The string literals of a JSON text too deep for ``json.loads``, unescaped."""


@cache
def _string_literal() -> re.Pattern[str]:
    # The unrolled form (runs of plain characters between escapes), and a literal left open runs to the
    # end of the text: then no match can fail and restart inside a string. The closed form alone took
    # minutes on a megabyte of escaped quotes never closed, from each of which a match was tried again.
    return re.compile(r'"([^"\\]*(?:\\.?[^"\\]*)*)(?:"|\Z)', re.DOTALL)


def _literals(text: str) -> _Literals:
    """Every string literal of ``text``, keys included, in one C-speed scan: what a JSON text nested
    deeper than the parser's recursion limit holds (its numbers are left out: a number changes no
    statement's structure). An escaped literal is unescaped as JSON does; one that is not valid
    JSON stays as written."""
    found = _Literals(_string_literal().findall(text))
    for index, literal in enumerate(found):
        if "\\" in literal:
            with suppress(ValueError):
                found[index] = json.loads(f'"{literal}"')
    return found


def _maybe_json(text: str) -> Any:
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return None
    try:
        return json.loads(stripped)
    except RecursionError:
        return _literals(stripped)
    except ValueError:
        return None


def _past_depth(location: str) -> str:
    return location if location.endswith(PAST_DEPTH) else location + PAST_DEPTH


def _number_text(value: int | float) -> str | None:
    try:
        return str(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() (a Python caller's, never JSON's)
        return None


class _Collector:
    """The inputs found so far, within the caps; says why it stopped, if it did.

    ``truncated`` says why the walk stopped early (the values-only reader read on); ``dropped``
    says what no reader could read (on_exceeded decides); ``passed`` names the parts read past
    the depth cap, located with ``PAST_DEPTH``.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_inputs = limits.max_inputs
        self.max_bytes = limits.max_bytes
        self.items: list[Input] = []
        self.size = 0
        self.parsed = 0  # characters of strings opened as JSON: each level of JSON in a string is parsed again
        self.truncated: str | None = None
        self.dropped: str | None = None
        self.passed: str | None = None
        self.opened_texts: set[str] = set()  # strings walked as JSON: their members are inputs of their own

    def add(self, location: str, value: str) -> None:
        # The hot loop of flattening (75 calls for a 30-field JSON body): the checks in one line, the
        # tuple built without namedtuple's Python-level __new__ (0.3 µs of 0.6).
        if self.truncated is None and len(self.items) < self.max_inputs and self.size + len(value) <= self.max_bytes:
            self.size += len(value)
            self.items.append(_new_tuple(Input, (location, value, "")))
        elif self.truncated is None:
            self.truncated = f"more than {self.max_inputs} inputs" if len(self.items) >= self.max_inputs \
                else f"inputs larger than {self.max_bytes} characters in all"

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason

    def opened(self, text: str) -> Any:
        """``text`` parsed as JSON if it holds some, within ``max_bytes`` of parsing in all, else None.

        A string opened as JSON counts by its values, not its own length as well (a 6 MB SQS batch
        of JSON bodies is 6 MB of inputs, not 12). Each level of JSON in a string is parsed again,
        so the parsing has its own bound, past which the rest is dropped.
        """
        if self.parsed + len(text) > self.max_bytes:
            self.drop(f"JSON nested in strings, more than {self.max_bytes} characters to parse in all")
            return None
        nested = _maybe_json(text)
        if isinstance(nested, (dict, list)):
            self.parsed += len(text)
            self.size -= len(text)
            self.opened_texts.add(text)
            return nested
        return None

    def walk(self, value: Any, location: str) -> None:
        """Leaves of a JSON-like value; object keys are inputs too; strings holding JSON are opened.

        The hot loop of an invocation's first check (about 100 nodes for a 30-field JSON body): the
        common cases are tested by exact type and ``add`` is inlined, about half the cost of a
        call per node; subclasses of str, dict and list take the slower branches below. Past
        ``max_depth`` the location stops growing (``PAST_DEPTH``) and the walk goes on.
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
            kind = type(value)
            if kind is str or (kind is not dict and kind is not list and isinstance(value, str)):
                if len(items) >= max_inputs or self.size + len(value) > max_bytes:
                    self.add(location, value)
                    return
                self.size += len(value)
                append(_new_tuple(Input, (location, value, "")))
                if value[:1] in _JSON_OPENERS or value[:1].isspace():
                    nested = self.opened(value)
                    if type(nested) is _Literals:
                        past = _past_depth(location)
                        self.passed = self.passed or past
                        for literal in reversed(nested):
                            push((literal, past, depth + 1, None))
                    elif nested is not None:
                        push((nested, location, depth + 1, None))
            elif kind is dict or isinstance(value, dict):
                child_depth = depth + 1
                if child_depth > max_depth:
                    past = _past_depth(location)
                    self.passed = self.passed or past
                    for name, item in reversed(value.items()):
                        push((item, past, child_depth, name if type(name) is str else str(name)))
                    continue
                prefix = location + "." if location else ""
                for name, item in reversed(value.items()):
                    name = name if type(name) is str else str(name)
                    push((item, prefix + name, child_depth, name))
            elif kind is list or isinstance(value, list):
                child_depth = depth + 1
                if child_depth > max_depth:
                    past = _past_depth(location)
                    self.passed = self.passed or past
                    for index in range(len(value) - 1, -1, -1):
                        push((value[index], past, child_depth, None))
                    continue
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
        if request.truncated:  # the query accessor read only part of the parameters
            self.drop(request.truncated)

    def body(self, request: Request) -> None:
        text = request.body
        if not text:
            return
        content_type = request.content_type
        if "multipart/form-data" in content_type:
            from .multipart import MAX_PARTS, header_parameters, parse_multipart

            raw = request.body_bytes or b""
            parts = parse_multipart(raw, request.header("content-type") or "")
            for part in parts:
                if part.filename is not None:
                    self.add(f"body.{part.name}#filename", part.filename)
                    self.add(f"body.{part.name}#content", part.file_text)  # text or binary, as read
                else:
                    self.add(f"body.{part.name}", part.text)
            if len(parts) >= MAX_PARTS:  # the reader stops there: were there more? (the last delimiter closes)
                boundary = header_parameters(request.header("content-type") or "").get("boundary", "").strip()
                if raw.count(b"--" + boundary.encode("utf-8", "surrogatepass")) > MAX_PARTS + 1:
                    self.drop(f"more than {MAX_PARTS} multipart parts")
            return
        if "application/x-www-form-urlencoded" in content_type:
            self.form(text)
            return
        parsed = _maybe_json(text)
        if type(parsed) is _Literals:  # nested deeper than json.loads goes: the text, and its strings all the same
            self.add("body", text)
            self.passed = self.passed or "body" + PAST_DEPTH
            for literal in parsed:
                self.walk(literal, "body" + PAST_DEPTH)
            return
        if isinstance(parsed, (dict, list)):
            self.walk(parsed, "body")
            return
        self.add("body", text)
        if "=" in text and len(text) <= self.limits.max_decode_chars:
            # Handlers often parse `a=b&c=d` bodies whatever the content type says.
            for name, value in form_pairs(text.split("&")):
                if value != text:
                    self.add(f"body.{name}", value)

    def form(self, text: str) -> None:
        for name, value in form_pairs(text.split("&")):
            self.add(f"body.{name}#key", name)
            self.add(f"body.{name}", value)
            if self.truncated:
                return

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


def http_values(request: Request, limits: Limits, opened: set[str] | None = None) -> list[str] | None:
    """Every string the walk of an HTTP event finds, without locations; None where only the walk will do.

    The sinks' fast paths need only the values: whether any occurs in an argument. Building a
    location per value cost ~2.5 µs an input here (a 30-field JSON body: ~230 µs); this reads the
    same parts through the same accessors and walks the JSON body bare (~50 µs), and the walk with
    locations runs only when a value does occur. It must find every value the walk finds, so it
    gives up (None) on whatever it does not read the walk's way: a body that is not JSON, stray or
    unknown parts. Like the walk, it reads past the depth cap, and past the count and size caps.
    """
    opened = set() if opened is None else opened
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
                                   or not _json_values(authorizer, values, limits, opened)):
        return None
    text = request.body
    if text:
        content_type = request.content_type
        if "multipart/form-data" in content_type or "application/x-www-form-urlencoded" in content_type:
            return None
        parsed = _maybe_json(text)
        if type(parsed) is _Literals or not isinstance(parsed, (dict, list)) \
                or not _json_values(parsed, values, limits, opened):
            return None  # not JSON, too deep for json.loads, or past the parsing cap: collect_values reads it
    if request.stray or request.truncated:
        return None
    return values


def _json_values(value: dict[Any, Any] | list[Any], values: list[str], limits: Limits,
                 opened: set[str]) -> bool:
    """The strings, keys and numbers of a parsed JSON value, and of JSON held in its strings, as ``walk``
    reads them, at any depth (the strings opened as JSON into ``opened``); False when the JSON in strings
    goes past ``max_bytes`` of parsing (``collect_values`` then reads it, and says what it could not)."""
    room = limits.max_bytes
    add = values.append
    stack: list[Any] = [value]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
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
                    room -= len(item)
                    if room < 0:
                        return False
                    nested = _maybe_json(item)
                    if type(nested) is _Literals:
                        return False  # the walk reads it by its literals: collect_values does the same
                    if isinstance(nested, (dict, list)):
                        opened.add(item)
                        push(nested)
            elif kind is dict or kind is list:
                push(item)
            elif kind is int or kind is float:
                number = _number_text(item)
                if number is not None and len(number) >= 2:
                    add(number)
            elif item is not None and kind is not bool:
                return False  # a type json.loads never makes: the walk's way or nothing
    return True


class _ValueCollector(_Collector):
    """The walk's reading, values only and never stopped by a count or size: what the sinks' fast
    paths test, for every kind of event.

    The adapters are the walk's own (they call ``add``, ``walk``, ``multi`` and ``form``), so a
    value an adapter decodes is read here too. Locations cost ~2.5 µs an input, so this builds
    none; the walk with locations runs only when a value does occur in a sink's argument.
    """

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.found: list[str] = []
        self.deepest = 0

    def add(self, location: str, value: str) -> None:
        self.found.append(value)

    def multi(self, prefix: str, values: dict[str, list[str]], names: bool = True) -> None:
        found = self.found
        for name, items in values.items():
            if names:
                found.append(name)
            found.extend(items)

    def form(self, text: str) -> None:
        self.found.extend(form_values(text))

    def walk(self, value: Any, location: str) -> None:
        """Every string, key and number as ``_Collector.walk`` reads them, at any depth.

        Only containers go through the stack; the strings of a container are taken in its own
        loop, which makes a flat object of 100,000 keys a few milliseconds.
        """
        found = self.found
        append = found.append
        stack: list[tuple[Any, int]] = [(value, 0)]
        pop, push = stack.pop, stack.append
        deepest = self.deepest
        while stack:
            value, depth = pop()
            deepest = depth if depth > deepest else deepest
            kind = type(value)
            if kind is dict or (kind is not str and isinstance(value, dict)):
                for name in value:
                    append(name if type(name) is str else str(name))
                items: Any = value.values()
            elif kind is list or (kind is not str and isinstance(value, list)):
                items = value
            else:
                items = (value,)
                depth -= 1
            depth += 1
            for item in items:
                kind = type(item)
                if kind is str or (kind is not dict and kind is not list and isinstance(item, str)):
                    append(item)
                    if item[:1] in _JSON_OPENERS or item[:1].isspace():
                        nested = self.opened(item)
                        if nested is not None:
                            push((nested, depth + 1))
                elif kind is dict or kind is list or isinstance(item, (dict, list)):
                    push((item, depth))
                elif (kind is int or kind is float or isinstance(item, (int, float))) and not isinstance(item, bool):
                    text = _number_text(item)
                    if text is not None and len(text) >= 2:
                        append(text)
        self.deepest = deepest

    def verdict(self) -> tuple[str, bool] | None:
        """What the policy must hear of this event's caps: (what happened, whether a part went unread)."""
        limits = self.limits
        if self.dropped is not None:
            return f"{self.dropped}: the rest is not inspected", True
        over = []
        if len(self.found) > limits.max_inputs:
            over.append(f"more than {limits.max_inputs} inputs")
        if sum(map(len, self.found)) + self.size > limits.max_bytes:
            over.append(f"inputs larger than {limits.max_bytes} characters in all")
        if self.deepest > limits.max_depth or self.passed is not None:
            over.append(f"nesting deeper than {limits.max_depth} levels")
        if not over:
            return None
        return (f"{', '.join(over)}: every value is still an input (those the walk for locations did not reach "
                f"are located as past the cap, or{PAST_DEPTH})"), False


def _read(collector: _Collector, request: Request) -> None:
    """Flatten the event behind ``request`` into ``collector``, by its kind."""
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


def collect_values(request: Request, limits: Limits,
                   opened: set[str] | None = None) -> tuple[list[str], tuple[str, bool] | None]:
    """Every value of the event (a superset of the walk's), and what the policy must hear of its caps;
    the strings it opened as JSON go into ``opened``."""
    collector = _ValueCollector(limits)
    if opened is not None:
        collector.opened_texts = opened
    _read(collector, request)
    return collector.found, collector.verdict()


def collect_inputs(request: Request, limits: Limits,
                   on_truncated: Callable[[str, bool], None] | None = None,
                   trusted: frozenset[str] = frozenset()) -> Inputs:
    """The invocation's inputs, flattened from the event behind ``request`` on first use; none at all
    when the policy trusts the event's trigger (``trusted``, the policy's ``sources``).

    ``on_truncated(what, unread)`` hears once of an event past a cap: ``unread`` when a part
    could not be read at all (the policy's ``on_exceeded`` decides), else only that the values
    past the cap were read without their locations.
    """
    if trusted and _is_trusted(request, trusted):
        return Inputs(values=list)

    # The strings the readers opened as JSON: their members are inputs with forms of their own, so
    # decoding the whole text again (decoders open JSON in any string) finds nothing new; it cost
    # ~65 µs for a 2.5 kB SQS body.
    opened: set[str] = set()

    def load() -> tuple[list[Input], str | None]:
        collector = _Collector(limits)
        collector.opened_texts = opened
        _read(collector, request)
        return collector.items, collector.truncated or collector.dropped

    heard: list[tuple[str, bool]] = []

    def values() -> list[str]:
        found = http_values(request, limits, opened)
        verdict: tuple[str, bool] | None = None
        if found is None:
            found, verdict = collect_values(request, limits, opened)
        elif len(found) > limits.max_inputs or sum(map(len, found)) > limits.max_bytes:
            # read all the same: the walk for locations is what stops
            verdict = (f"more than {limits.max_inputs} inputs or {limits.max_bytes} characters: every value is "
                       f"still an input (those the walk for locations did not reach are located as past the cap)"),\
                False
        if verdict is not None and on_truncated is not None and not heard:
            heard.append(verdict)
            on_truncated(*verdict)
        return found

    def decoding_exceeded(what: str) -> None:
        if on_truncated is not None:
            on_truncated(what, True)

    return Inputs(load=load, max_decode_chars=limits.max_decode_chars, values=values,
                  max_decoded=limits.max_decoded, on_exceeded=decoding_exceeded, opened=opened)


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
