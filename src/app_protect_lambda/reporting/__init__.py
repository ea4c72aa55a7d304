"""Reporting: every record is printed at once; metrics and EventBridge are flushed per invocation.

The record, CloudWatch and frame modules load with the first record: an
invocation without one, and the cold start, never pay for them.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext
    from ..findings import Action, Finding


def report(context: RequestContext, finding: Finding, action: Action, sink: str, argument: Any) -> None:
    from . import cloudwatch, record
    from .frames import user_frames

    entry = record.detection(context, finding, action, sink, argument, user_frames())
    context.records.append(entry)
    cloudwatch.emit(entry)


def internal_error(where: str, error: BaseException, context: RequestContext | None = None) -> None:
    """Log an error inside app-protect once per invocation and place; never raises."""
    try:
        if context is not None:
            key = (where, type(error).__name__)
            if key in context.internal_errors:
                return
            context.internal_errors.add(key)
        from . import cloudwatch, record

        entry = record.internal_error(where, error, context)
        if context is not None:
            context.records.append(entry)
        cloudwatch.emit(entry)
    except Exception:  # reporting must never break the function
        print(f"app-protect: internal error in {where}: {error!r}", file=sys.stderr)


def notice(context: RequestContext | None, what: str, detail: str) -> None:
    """Something inspection could not do (a cap, an untested driver); None outside an invocation."""
    from . import cloudwatch, record

    entry = record.notice(context, what, detail)
    if context is not None:
        context.records.append(entry)
    cloudwatch.emit(entry)


def flush(context: RequestContext) -> None:
    """At the end of an invocation: EMF metrics, then EventBridge. Nothing to do without records."""
    if not context.records:
        return
    from .. import config
    from . import cloudwatch, record

    function_name = record.function_info(context.lambda_context)["name"]
    for document in cloudwatch.metrics(context.records, function_name):
        cloudwatch.emit(document)
    event_bus = context.policy.reporting.event_bus or config.get("APP_PROTECT_EVENT_BUS")
    detections = [r for r in context.records if r["schema"] == record.DETECTION_SCHEMA]
    if not event_bus or not detections:
        return
    arn = getattr(context.lambda_context, "invoked_function_arn", None)
    try:
        from .eventbridge import ship

        failed = ship(detections, event_bus, [arn] if isinstance(arn, str) else [])
        if failed:
            raise RuntimeError(f"EventBridge rejected {failed} of {len(detections)} records")
    except Exception as error:
        internal_error("reporting.eventbridge", error, None)
