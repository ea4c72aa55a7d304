"""The one decision point: every sink, perimeter, response and end-of-invocation check decides here.

    policy mode -> detector -> fail open/closed -> verdict -> record -> raise

Two entry points share that path, and nothing else in the package decides:

- ``inspect(kind, operation, subject)`` judges ``subject`` with the kind's detector;
- ``failsafe(kind)`` is the one wrapper around a hook's own work (finding the argument,
  per-invocation memos), a decorator of the hook's ``check(context, sink, ...)``: an
  AttackBlocked goes through it; any other exception is ours, is recorded once per invocation
  and place, and fails open, or blocks when the policy says ``fail: closed`` (at the
  protection's own mode: a protection in report mode reports it). A decorator rather than a
  ``with`` block: on the path without an error it costs one call (~0.1 µs on a Lambda core),
  where a context manager's ``__enter__``/``__exit__`` cost twice that.

A block is decided before anything can fail: the verdict is noted on the context and raised
whether or not its record could be written; a reporting error is itself recorded once. The
exception is raised without a local name bound to it, so that its traceback, which holds the
handler's frames, makes no reference cycle with this frame.
"""
from __future__ import annotations

from . import reporting
from .context import current
from .detectors import detector_for
from .errors import AttackBlocked
from .findings import Action, Finding
from .policy import Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from .context import RequestContext
    from .findings import AttackKind

    Check = TypeVar("Check", bound=Callable[..., Any])

FAIL_CLOSED_RULE = "internal.fail-closed"


def active(context: RequestContext, kind: AttackKind) -> bool:
    """Whether ``kind`` is checked in this invocation: hooks ask before they prepare a subject."""
    return context.policy.mode_for(kind) is not Mode.OFF


def inspect(kind: AttackKind, operation: str, subject: Any, *, argument: Any = None,
            describe: Callable[[], str] | None = None, uses_inputs: bool = True,
            context: RequestContext | None = None) -> Finding | None:
    """Judge ``subject``, about to reach ``operation``; raise AttackBlocked to stop it.

    Returns the finding when one was recorded and not blocked (report mode), else None.
    The record shows ``argument`` as the sink's argument (default: ``describe()``, else
    ``subject``). ``uses_inputs=False`` spares detectors that need no input (credentials in a
    response) the flattening of the event; otherwise the event is flattened only if the
    detector looks. Does nothing outside an invocation, while suppressed, or when the
    protection is off.
    """
    if context is None:
        context = current()
        if context is None:
            return None
    policy = context.policy
    mode = policy.mode_for(kind)
    if mode is Mode.OFF:
        return None
    try:
        inputs = context.inputs if uses_inputs else None
        finding = detector_for(kind)(subject, inputs, policy.options(kind))
    except Exception as error:
        failed(kind, f"detector.{kind.value}", error, context)
        return None
    if finding is None:
        return None
    if argument is None and describe is None:
        argument = subject
    return decide(context, finding, operation, argument, mode, describe=describe)


def decide(context: RequestContext, finding: Finding, sink: str, argument: Any, mode: Mode | None = None,
           on_block: Callable[[Finding], Finding] | None = None,
           describe: Callable[[], str] | None = None) -> Finding:
    """Act on ``finding`` as the policy says: nothing (off), record (report), record and raise (block).

    The verdict is settled first: in block mode the finding is noted on the context before
    anything else runs, and AttackBlocked is raised whatever happens while its record is
    prepared (finding where an input came from, ``on_block``, ``describe()`` for the argument).
    ``on_block`` returns the finding with what it did (the end-of-invocation check terminates
    the processes left running). Returns the finding as recorded.
    """
    if mode is None:
        mode = context.policy.mode_for(finding.kind) if finding.kind is not None else context.policy.mode
    if mode is Mode.OFF:
        return finding
    first_block = mode is Mode.BLOCK and context.blocked is None
    if first_block:
        context.blocked = finding
    try:
        finding = _located(context, finding)
        if mode is Mode.BLOCK and on_block is not None:
            finding = on_block(finding)
        if describe is not None:
            argument = describe()
    except Exception as error:  # preparing the record must not cost the verdict
        reporting.internal_error("guard.record", error, context)
    if first_block:
        context.blocked = finding
    reporting.report(context, finding, Action.BLOCKED if mode is Mode.BLOCK else Action.REPORTED, sink,
                     argument)  # never raises
    if mode is Mode.BLOCK:
        raise AttackBlocked(finding)
    return finding


def _located(context: RequestContext, finding: Finding) -> Finding:
    """The finding with where its input came from, for an input a detector found by its value alone.

    Detectors judge values before the event is walked for locations (most judgements find
    nothing); the walk runs here, for the one input a finding names, and its message is told too.
    """
    item = finding.input
    if item is None:
        return finding
    located = context.inputs.locate(item)
    if located is item:
        return finding
    return finding._replace(input=located, message=finding.message.replace(item.describe(), located.describe()))


def failed(kind: AttackKind | None, where: str, error: BaseException, context: RequestContext | None) -> None:
    """Our own code failed at ``where``: record it once; block only when the policy fails closed.

    ``kind`` None is a failure that belongs to no single protection (building the context,
    loading the policy): it blocks when the policy's default mode is block.
    """
    reporting.internal_error(where, error, context)
    if context is not None and context.policy.fail == "closed":
        name = kind.value if kind is not None else "app-protect"
        finding = Finding(kind, FAIL_CLOSED_RULE, f"the {name} check at {where} failed and the policy fails closed",
                          None, f"{type(error).__name__}")
        decide(context, finding, where, "")


def failsafe(kind: AttackKind | None, fallback: Any = None) -> Callable[[Check], Check]:
    """Decorate ``check(context, sink, ...)`` of a hook: our errors fail open, a block goes through.

    On our own error the check returns ``fallback`` (fail open) after the error is recorded,
    or raises AttackBlocked when the policy fails closed. ``context`` may be None (the error is
    then recorded without an invocation, and never blocks).
    """
    def decorate(check: Check) -> Check:
        def guarded(*args: Any) -> Any:
            try:
                return check(*args)
            except Exception as error:
                failed(kind, args[1], error, args[0])
                return fallback

        guarded.__name__ = guarded.__qualname__ = check.__name__
        guarded.__doc__ = check.__doc__
        guarded.__wrapped__ = check  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
    return decorate
