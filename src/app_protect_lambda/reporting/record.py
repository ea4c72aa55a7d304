"""The detection record of DESIGN.md, and the internal-error and notice records."""
from __future__ import annotations

import os
import time

from ..errors import protection_name
from .redaction import clip

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext
    from ..findings import Action, Finding

DETECTION_SCHEMA = "app-protect/detection/1"
INTERNAL_ERROR_SCHEMA = "app-protect/internal-error/1"
NOTICE_SCHEMA = "app-protect/notice/1"


def from_log_line(line: str) -> dict[str, Any] | None:
    """The app-protect record a log line holds (any schema; a prefix such as a timestamp is allowed)."""
    import json

    start = line.find('{"schema": "app-protect/')
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _now() -> str:
    now = time.time()
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now % 1 * 1000):03d}Z"


def _new_id() -> str:
    import uuid  # only records need it, and uuid costs milliseconds to import

    return str(uuid.uuid4())


def function_info(lambda_context: Any) -> dict[str, Any]:
    return {
        "name": getattr(lambda_context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "version": getattr(lambda_context, "function_version", None)
        or os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
        "aws_request_id": getattr(lambda_context, "aws_request_id", None),
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    }


def _request(context: RequestContext | None) -> dict[str, Any] | None:
    if context is None:
        return None
    summary = context.request.summary()
    return {key: clip(value, 256) if isinstance(value, str) else value for key, value in summary.items()}


def detection(context: RequestContext, finding: Finding, action: Action, sink: str, argument: Any,
              frames: list[str]) -> dict[str, Any]:
    limit = context.policy.reporting.max_value_chars
    record: dict[str, Any] = {
        "schema": DETECTION_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "protection": protection_name(finding),
        "rule": finding.rule,
        "action": action.value,
        "message": clip(finding.message, limit),
        "input": None,
        "sink": {"name": sink, "argument": clip(argument, limit), "frame": frames[0] if frames else None},
        "request": _request(context),
        "function": function_info(context.lambda_context),
    }
    if finding.input is not None:
        record["input"] = {"location": finding.input.location, "value": clip(finding.input.value, limit)}
        if finding.input.transform:
            record["input"]["decoded"] = finding.input.transform
    if finding.evidence:
        record["evidence"] = clip(finding.evidence, limit)
    if context.policy.reporting.include_stack and len(frames) > 1:
        record["sink"]["stack"] = frames
    return record


def internal_error(where: str, error: BaseException, context: RequestContext | None) -> dict[str, Any]:
    return {
        "schema": INTERNAL_ERROR_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "where": where,
        "error": clip(f"{type(error).__name__}: {error}", 512),
        "request": _request(context),
        "function": function_info(context.lambda_context if context else None),
    }


def notice(context: RequestContext | None, what: str, detail: str) -> dict[str, Any]:
    return {
        "schema": NOTICE_SCHEMA,
        "id": _new_id(),
        "time": _now(),
        "notice": what,
        "detail": detail,
        "request": _request(context),
        "function": function_info(context.lambda_context if context else None),
    }
