"""The per-invocation context, held in a ContextVar.

Each invocation gets its own ``RequestContext``; the ContextVar keeps
concurrent invocations on threads (Lambda's multi-concurrency mode) apart.
Outside an invocation ``current()`` is None and the sinks do nothing.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from weakref import ref

from .sources import Request, collect_inputs, event_kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextvars import Token
    from typing import Any, Literal
    from weakref import ReferenceType

    from .detectors.file_access import Gate
    from .findings import Finding
    from .policy import Mode, Policy
    from .sinks.network import NetworkState
    from .sinks.shell import ShellState
    from .sources import Input, Inputs

_current: ContextVar[RequestContext | None] = ContextVar("app_protect_context", default=None)
_suppressed: ContextVar[bool] = ContextVar("app_protect_suppressed", default=False)


class RequestContext:
    """What the checks need to know about the invocation in progress.

    ``blocked`` is the finding of the first block, kept so that a handler which caught the
    AttackBlocked still answers as blocked; it is the finding, not the exception, whose
    traceback would hold the handler's frames. ``files``, ``network`` and ``shell`` are the
    sink families' per-invocation memos, built by each family on its first call.
    """

    __slots__ = ("__weakref__", "_inputs", "blocked", "event", "files", "finished", "internal_errors",
                 "lambda_context", "network", "policy", "records", "request", "shell")

    def __init__(self, event: Any, lambda_context: Any, policy: Policy, kind: str | None = None) -> None:
        self.event = event
        self.lambda_context = lambda_context
        self.policy = policy
        self.request = Request(event, event_kind(event) if kind is None else kind,
                               getattr(lambda_context, "aws_request_id", None))
        self.records: list[dict[str, Any]] = []
        self.internal_errors: set[tuple[str, str]] = set()
        self.blocked: Finding | None = None
        self.finished = False  # the end-of-invocation checks have run
        self.files: Gate | Literal[False] | None = None  # False: the protection is off
        self.network: NetworkState | None = None
        self.shell: ShellState | None = None
        self._inputs: Inputs | None = None

    @property
    def flattened(self) -> tuple[Input, ...]:
        """The inputs if a check flattened the event already, else none: a record never forces it."""
        return self._inputs.loaded or () if self._inputs is not None else ()

    @property
    def inputs(self) -> Inputs:
        """Every attacker-controlled string of the event; the event is flattened on first use."""
        if self._inputs is None:
            # The inputs keep their loader, which must not hold the context: that would make a
            # reference cycle of every invocation, freed only by the cycle collector.
            self._inputs = collect_inputs(self.request, self.policy.limits, partial(_truncated, ref(self)),
                                          self.policy.trusted_sources)
        return self._inputs


def _truncated(context: ReferenceType[RequestContext], what: str, unread: bool) -> None:
    """An event past an inspection cap: a notice when every value was still read, else the policy's
    ``limits.on_exceeded`` decides, through the guard like any finding (a record saying blocked or reported)."""
    alive = context()
    if alive is None:
        return
    if not unread:
        from .reporting import notice

        notice(alive, "inspection_truncated", what)
        return
    from .findings import Finding
    from .guard import decide

    mode = exceeded_mode(alive.policy)
    finding = Finding(None, EXCEEDED_RULE, f"the event is past an inspection cap ({what}); "
                      f"limits.on_exceeded: {mode.value}", None, what)
    decide(alive, finding, "inspection", what, mode)


EXCEEDED_RULE = "inspection.exceeded"


def exceeded(what: str) -> None:
    """A check of the invocation in progress stopped short at one of its caps (``what``): as for the
    event's caps, ``limits.on_exceeded`` decides through the guard (blocking raises AttackBlocked)."""
    alive = current()
    if alive is not None:
        _truncated(ref(alive), what, True)


def exceeded_mode(policy: Policy) -> Mode:
    """``limits.on_exceeded``, or block when any protection blocks (an event past the caps is theirs to stop)."""
    from .policy import ENFORCED, Mode

    if policy.limits.on_exceeded is not None:
        return policy.limits.on_exceeded
    return Mode.BLOCK if any(policy.mode_for(kind) is Mode.BLOCK for kind in ENFORCED) else Mode.REPORT


def current() -> RequestContext | None:
    """The context of the invocation in progress, or None (also while suppressed)."""
    if _suppressed.get():
        return None
    return _current.get()


def activate(context: RequestContext) -> Token:
    return _current.set(context)


def deactivate(token: Token) -> None:
    _current.reset(token)


@contextmanager
def suppressed() -> Iterator[None]:
    """Our own calls (EventBridge, SSM, AppConfig) run with the sinks switched off."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)
