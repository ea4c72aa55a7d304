"""The detection record of DESIGN.md, the internal-error, notice and unshipped records, and their JSON line.

Building and serialising a record never fails, whatever the inputs hold. A lone surrogate
(``"\\udcff"``, from a JSON escape) once made the stdout write raise under a strict UTF-8
stdout, and the sink's fail-open wrapper turned the block into a pass. Every value is
therefore made plain here: strings are redacted and cut, anything else becomes a bounded
description (non-string keys, cycles, objects whose repr raises, huge or non-finite numbers),
and the line is valid UTF-8 JSON: a lone surrogate is written as the six characters ``\\udcff``
and valid text, Japanese included, stays readable.
"""
from __future__ import annotations

import json
import os
import re
import time
from functools import cache

from .redaction import SECRET_INPUT, clip, describe, is_secret_location, secret_values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..context import RequestContext
    from ..findings import Action, Finding

DETECTION_SCHEMA = "app-protect/detection/1"
INTERNAL_ERROR_SCHEMA = "app-protect/internal-error/1"
NOTICE_SCHEMA = "app-protect/notice/1"
UNSHIPPED_SCHEMA = "app-protect/unshipped/1"

# What a value of unknown shape may take in a record: a record is a log line, not a dump.
_MAX_DEPTH = 6
_MAX_ITEMS = 64
_TEXT_LIMIT = 1024


def from_log_line(line: str) -> dict[str, Any] | None:
    """The app-protect record a log line holds (any schema; a prefix such as a timestamp is allowed)."""
    start = line.find('{"schema": "app-protect/')
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


# --- the JSON line ---------------------------------------------------------------------------

@cache
def _surrogate() -> re.Pattern[str]:
    return re.compile("[\ud800-\udfff]")


@cache
def _non_ascii() -> re.Pattern[str]:
    return re.compile(r"[^\x00-\x7f]")


def _escape_surrogate(match: re.Match[str]) -> str:
    # Inside a JSON string: an escaped backslash, then "udcff". The record reads \udcff as text,
    # which every JSON parser accepts (a \udcff escape proper is a lone surrogate that many refuse).
    return f"\\\\u{ord(match.group()):04x}"


def _escape_non_ascii(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def to_json(record: Any) -> str:
    """``record`` as one line of valid UTF-8 JSON; never raises."""
    try:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=_unknown)
    except Exception:  # a non-string key, a cycle, a NaN, a mapping that fails to iterate ...
        line = json.dumps(plain(record), ensure_ascii=False, allow_nan=False)
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = _surrogate().sub(_escape_surrogate, line)
    return line


def to_ascii(line: str) -> str:
    """A JSON line from ``to_json`` with every non-ASCII character escaped, for an ASCII stdout."""
    return _non_ascii().sub(_escape_non_ascii, line)


def _unknown(value: Any) -> str:
    return clip(value, _TEXT_LIMIT)


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` made of JSON's own types only, bounded in depth and breadth; never raises."""
    try:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return clip(str.__str__(value), _TEXT_LIMIT)
        if isinstance(value, int):
            return int(value) if -(2 ** 63) <= value < 2 ** 64 else describe(value)[:64]
        if isinstance(value, float):
            return float(value) if value == value and value not in (float("inf"), float("-inf")) else str(value)
        if depth >= _MAX_DEPTH:
            return f"<{type(value).__name__} nested too deep>"
        if isinstance(value, dict):
            return {clip(key if isinstance(key, str) else describe(key), 256): plain(item, depth + 1)
                    for key, item in _first(value.items())}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [plain(item, depth + 1) for item in _first(value)]
        return clip(value, _TEXT_LIMIT)
    except Exception:
        return f"<{type(value).__name__} object>"


def _first(items: Iterable[Any]) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if len(found) == _MAX_ITEMS:
            break
        found.append(item)
    return found


# --- the records -----------------------------------------------------------------------------

def _now() -> str:
    now = time.time()
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now % 1 * 1000):03d}Z"


def _new_id() -> str:
    import uuid  # only records need it, and uuid costs milliseconds to import

    return str(uuid.uuid4())


def function_info(lambda_context: Any) -> dict[str, Any]:
    def attribute(name: str, variable: str | None = None) -> Any:
        try:
            value = getattr(lambda_context, name, None)
        except Exception:
            value = None
        if not value and variable:
            value = os.environ.get(variable)
        return plain(value)

    return {
        "name": attribute("function_name", "AWS_LAMBDA_FUNCTION_NAME"),
        "version": attribute("function_version", "AWS_LAMBDA_FUNCTION_VERSION"),
        "aws_request_id": attribute("aws_request_id"),
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    }


def _request(context: RequestContext | None, secrets: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if context is None:
        return None
    try:
        summary = context.request.summary()
        return {clip(key, 64): clip(value, 256, secrets) if isinstance(value, str) else plain(value)
                for key, value in summary.items()}
    except Exception:  # a malformed event must not cost the record
        return {"kind": plain(getattr(context.request, "kind", None))}


def _secrets(context: RequestContext | None, finding: Finding | None = None) -> tuple[str, ...]:
    """Values of secret inputs (passwords, tokens, Authorization) that no part of the record may show."""
    if context is None:
        return ()
    values = []
    if finding is not None and finding.input is not None and is_secret_location(str(finding.input.location)):
        values.append(finding.input.value)
    values += [item.value for item in context.flattened if is_secret_location(str(item.location))]
    return secret_values(values)


def detection(context: RequestContext, finding: Finding, action: Action, sink: str, argument: Any,
              frames: list[str]) -> dict[str, Any]:
    limit = context.policy.reporting.max_value_chars
    secrets = _secrets(context, finding)
    record: dict[str, Any] = {
        "schema": DETECTION_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "protection": finding.kind.value if finding.kind is not None else None,
        "rule": clip(finding.rule, 256),
        "action": action.value,
        "message": clip(finding.message, limit, secrets),
        "input": None,
        "sink": {"name": clip(sink, 256), "argument": clip(argument, limit, secrets),
                 "frame": clip(frames[0], 512) if frames else None},
        "request": _request(context, secrets),
        "function": function_info(context.lambda_context),
    }
    if finding.input is not None:
        location = str(finding.input.location)
        value = SECRET_INPUT if is_secret_location(location) else clip(finding.input.value, limit, secrets)
        record["input"] = {"location": clip(location, 256), "value": value}
        if finding.input.transform:
            record["input"]["decoded"] = clip(finding.input.transform, 256)
    if finding.evidence:
        record["evidence"] = clip(finding.evidence, limit, secrets)
    if context.policy.reporting.include_stack and len(frames) > 1:
        record["sink"]["stack"] = [clip(frame, 512) for frame in frames]
    return record


def bare_detection(context: RequestContext | None, finding: Finding, action: Action, sink: str) -> dict[str, Any]:
    """The detection without the values, when building the full record failed: the verdict is not lost."""
    kind = getattr(finding, "kind", None)
    return {
        "schema": DETECTION_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "protection": plain(getattr(kind, "value", None)),
        "rule": clip(getattr(finding, "rule", None), 256),
        "action": plain(getattr(action, "value", None)),
        "message": "the values of this record could not be written",
        "input": None,
        "sink": {"name": clip(sink, 256)},
        "request": None,
        "function": function_info(getattr(context, "lambda_context", None)),
    }


def _error_text(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose __str__ raises
        return type(error).__name__


def internal_error(where: str, error: BaseException, context: RequestContext | None) -> dict[str, Any]:
    secrets = _secrets(context)  # an error's message may quote an input
    return {
        "schema": INTERNAL_ERROR_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "where": clip(where, 256),
        "error": clip(_error_text(error), 512, secrets),
        "request": _request(context, secrets),
        "function": function_info(context.lambda_context if context else None),
    }


def notice(context: RequestContext | None, what: str, detail: str) -> dict[str, Any]:
    return {
        "schema": NOTICE_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "notice": clip(what, 256),
        "detail": clip(detail, _TEXT_LIMIT),
        "request": _request(context),
        "function": function_info(context.lambda_context if context else None),
    }


def unshipped(context: RequestContext | None, event_bus: str, failures: list[tuple[str, str]]) -> dict[str, Any]:
    """The detections EventBridge did not take, by id (each is on stdout already), with the reason."""
    return {
        "schema": UNSHIPPED_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "event_bus": clip(event_bus, 256),
        "detections": [{"id": plain(record_id), "reason": clip(reason, 256)} for record_id, reason in failures],
        "function": function_info(context.lambda_context if context else None),
    }
