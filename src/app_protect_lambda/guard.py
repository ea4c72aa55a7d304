"""The one call every sink makes: context -> policy -> detector -> verdict -> record -> raise."""
from __future__ import annotations

from . import reporting
from .context import current
from .detectors import detector_for
from .errors import AttackBlocked
from .findings import Action, Finding
from .policy import Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .context import RequestContext
    from .findings import AttackKind


def inspect(kind: AttackKind, operation: str, value: Any, *, argument: Any = None) -> Finding | None:
    """Judge ``value`` about to reach the sink ``operation``; raise AttackBlocked to stop it.

    Returns the finding when one was recorded and not blocked (report mode), else None.
    ``argument`` is what the record shows as the sink's argument (default: ``value``).
    The inputs reach the detector unflattened; the event is flattened only if it looks.
    Does nothing outside an invocation, while suppressed, or when the protection is off.
    Any error inside the detector is recorded and swallowed (fail open) unless the
    policy says ``fail: closed``.
    """
    context = current()
    if context is None:
        return None
    policy = context.policy
    mode = policy.mode_for(kind)
    if mode is Mode.OFF:
        return None
    try:
        finding = detector_for(kind)(value, context.inputs, policy.options(kind))
    except Exception as error:
        reporting.internal_error(f"detector.{kind.value}", error, context)
        if policy.fail != "closed":
            return None
        finding = Finding(kind, "internal.fail-closed",
                          f"the {kind.value} check failed and the policy fails closed")
    if finding is not None:
        enforce(context, finding, operation, value if argument is None else argument, mode)
    return finding


def enforce(context: RequestContext, finding: Finding, sink: str, argument: Any,
            mode: Mode | None = None) -> None:
    """Record ``finding`` and raise AttackBlocked when its protection is in block mode."""
    mode = mode or context.policy.mode_for(finding.kind)
    if mode is Mode.OFF:
        return
    action = Action.BLOCKED if mode is Mode.BLOCK else Action.REPORTED
    reporting.report(context, finding, action, sink, argument)
    if action is Action.BLOCKED:
        blocked = AttackBlocked(finding)
        if context.blocked is None:
            context.blocked = blocked
        raise blocked
