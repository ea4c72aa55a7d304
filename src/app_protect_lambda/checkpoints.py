"""Checks that run around the handler rather than at a sink, each through the guard.

- PERIMETER checks run before the handler (IP filter, payload rules, uploads);
- RESPONSE checks run on the handler's result (credential exfiltration, open redirect);
- ERROR checks run on the handler's own exception on its way to the caller (credentials in it);
- FINISH checks run when the handler is done, blocked or not (children left running).

Each entry names the protection it belongs to, the module and the function
``check(context, where, *subject)`` (``where`` names the checkpoint in records of our own
errors); the module is imported on first use. A check blocks by
raising AttackBlocked through the guard; any other error of ours goes through
``guard.failsafe`` under the entry's protection: recorded, then fail open, or a
block when the policy fails closed. The response is never replaced by a check: it
is either returned as the handler gave it, or answered as blocked.
"""
from __future__ import annotations

import importlib
from collections import namedtuple
from contextlib import suppress
from functools import cache

from .errors import AttackBlocked
from .findings import AttackKind
from .guard import failsafe
from .policy import Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .context import RequestContext
    from .policy import Policy


class Checkpoint(namedtuple("Checkpoint", "kind module function")):
    __slots__ = ()
    kind: AttackKind
    module: str
    function: str

    @property
    def where(self) -> str:
        return f"{self.module.rsplit('.', 1)[-1]}.{self.function}"


PERIMETER: list[Checkpoint] = [
    Checkpoint(AttackKind.IP_FILTER, "app_protect_lambda.checks.ip_filter", "check"),
    Checkpoint(AttackKind.MALICIOUS_PAYLOAD, "app_protect_lambda.checks.payload", "check"),
]
RESPONSE: list[Checkpoint] = [
    Checkpoint(AttackKind.CREDENTIAL_EXFILTRATION, "app_protect_lambda.sinks.response", "check_credentials"),
    Checkpoint(AttackKind.OPEN_REDIRECT, "app_protect_lambda.sinks.response", "check_redirect"),
]
ERROR: list[Checkpoint] = [
    Checkpoint(AttackKind.CREDENTIAL_EXFILTRATION, "app_protect_lambda.sinks.response", "check_exception"),
]
FINISH: list[Checkpoint] = [
    Checkpoint(AttackKind.SANDBOX_PERSISTENCE, "app_protect_lambda.sinks.shell", "finish"),
]


@cache
def _function(point: Checkpoint) -> Callable[..., None]:
    """The entry's function, imported on its first run."""
    function: Callable[..., None] = getattr(importlib.import_module(point.module), point.function)
    return function


@cache
def _guarded(point: Checkpoint) -> Callable[..., None]:
    """The entry behind the one fail-safe wrapper, import included: a module that fails to load is
    our error like any other, never the function's."""
    @failsafe(point.kind)
    def run(context: RequestContext, where: str, *subject: Any) -> None:
        _function(point)(context, where, *subject)

    return run


@cache
def _prepared(points: tuple[Checkpoint, ...], stage: str) -> tuple[tuple[Callable[..., None], str], ...]:
    """(guarded check, where) for each entry of a stage, built once: invocations only call them."""
    return tuple((_guarded(point), f"{stage}.{point.where}") for point in points)


def warm(policy: Policy) -> None:
    """At init (``@protect``): what the first request would otherwise wait for, the IP filter's remote lists
    (an S3 read and ~0.25 s of building for 100,000 lines). Never raises; a failure is the first request's."""
    try:
        options = policy.options(AttackKind.IP_FILTER)
        if policy.mode_for(AttackKind.IP_FILTER) is not Mode.OFF and (options["lists"] or options["allow_lists"]):
            from .checks import ip_filter

            ip_filter.warm(options)
    except Exception as error:
        from .reporting import internal_error

        internal_error("init.ip_filter", error)


def run_perimeter(context: RequestContext) -> None:
    for check, where in _prepared(tuple(PERIMETER), "perimeter"):
        check(context, where)


def run_response(context: RequestContext, response: Any) -> None:
    for check, where in _prepared(tuple(RESPONSE), "response"):
        check(context, where, response)


def run_error(context: RequestContext, error: BaseException) -> None:
    for check, where in _prepared(tuple(ERROR), "error"):
        check(context, where, error)


def run_finish(context: RequestContext, *, may_block: bool = True) -> None:
    """The end-of-invocation checks, once.

    ``may_block`` False: the invocation already ended as blocked or with the handler's own
    error, which a fail-closed block here must not replace.
    """
    for check, where in _prepared(tuple(FINISH), "finish"):
        if may_block:
            check(context, where)
        else:
            with suppress(AttackBlocked):
                check(context, where)
