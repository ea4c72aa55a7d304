"""Reporting: every record is printed at once; metrics and EventBridge are flushed per invocation.

No function here raises, whatever a record holds and whatever stdout does: a verdict must
never depend on its record. A reporting failure is itself recorded, once per invocation and
place, by ``internal_error``, which never calls itself: when even its own line cannot be
written, a last line goes to stderr.

The record, CloudWatch and frame modules load with the first record: an
invocation without one, and the cold start, never pay for them.
"""
from __future__ import annotations

import sys

# Ids of detections not shipped, per stdout line: a CloudWatch Logs event holds at most 256 KB.
_UNSHIPPED_PER_LINE = 100

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext
    from ..findings import Action, Finding


def report(context: RequestContext, finding: Finding, action: Action, sink: str, argument: Any) -> None:
    """Record a detection: a line on stdout now, and in the invocation's records for flush()."""
    try:
        from . import record

        try:
            from .frames import user_frames

            entry = record.detection(context, finding, action, sink, argument, user_frames())
        except Exception as error:
            internal_error("reporting.detection", error, context)
            entry = record.bare_detection(context, finding, action, sink)
        _publish(context, entry)
    except Exception as error:  # reporting must never break the function
        internal_error("reporting.detection", error, context)


def notice(context: RequestContext | None, what: str, detail: str) -> None:
    """Record that inspection was limited (a cap reached, a driver version left unpatched)."""
    try:
        from . import record

        _publish(context, record.notice(context, what, detail))
    except Exception as error:
        internal_error("reporting.notice", error, context)


def internal_error(where: str, error: BaseException, context: RequestContext | None = None) -> None:
    """Record an error inside app-protect, once per invocation and place; never raises, never recurses."""
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
        failure = cloudwatch.emit(entry)
    except Exception as unexpected:
        failure = unexpected
    if failure is not None:
        _last_resort(where, error, failure)


def flush(context: RequestContext) -> None:
    """At the end of an invocation: EventBridge, then EMF metrics. Nothing to do without records."""
    try:
        if context.records:
            _ship(context)
            _metrics(context)
    except Exception as error:
        internal_error("reporting.flush", error, context)


def _publish(context: RequestContext | None, entry: dict[str, Any], *, keep: bool = True) -> None:
    """``entry`` on stdout, and in the invocation's records when ``keep``; a failed write is recorded once."""
    from . import cloudwatch

    if context is not None and keep:
        context.records.append(entry)
    failure = cloudwatch.emit(entry)
    if failure is not None:
        internal_error("reporting.write", failure, context)


def _metrics(context: RequestContext) -> None:
    from . import cloudwatch, record

    function_name = record.function_info(context.lambda_context)["name"]
    for document in cloudwatch.metrics(context.records, function_name):
        _publish(context, document, keep=False)


def _ship(context: RequestContext) -> None:
    """Detections to EventBridge; those it did not take are listed on stdout and make one internal error."""
    from .. import config
    from . import record

    event_bus = context.policy.reporting.event_bus or config.get("APP_PROTECT_EVENT_BUS")
    detections = [r for r in context.records if r.get("schema") == record.DETECTION_SCHEMA]
    if not event_bus or not detections:
        return
    from . import eventbridge

    arn = getattr(context.lambda_context, "invoked_function_arn", None)
    unshipped = eventbridge.ship(detections, event_bus, [arn] if isinstance(arn, str) else [],
                                 eventbridge.budget_for(context.lambda_context))
    if unshipped:
        for start in range(0, len(unshipped), _UNSHIPPED_PER_LINE):
            line = record.unshipped(context, event_bus, unshipped[start:start + _UNSHIPPED_PER_LINE])
            _publish(context, line, keep=False)
        reasons = sorted({reason for _, reason in unshipped})
        internal_error("reporting.eventbridge", RuntimeError(
            f"EventBridge did not take {len(unshipped)} of {len(detections)} records: {'; '.join(reasons)}"), context)


def _last_resort(where: str, error: BaseException, failure: BaseException) -> None:
    stream = sys.stderr or sys.__stderr__
    try:
        if stream is not None:
            stream.write(f"app-protect: internal error in {where!a}: {_ascii_error(error)}; "
                         f"its record could not be written: {_ascii_error(failure)}\n")
    except Exception:  # nowhere left to write to
        pass


def _ascii_error(error: BaseException) -> str:
    try:
        return ascii(error)
    except Exception:
        return type(error).__name__
