"""``@protect``: the per-invocation pipeline around a Lambda handler."""
from __future__ import annotations

import functools

from . import checkpoints, reporting, sinks
from .context import RequestContext, activate, deactivate
from .errors import AttackBlocked
from .policy_store import PolicyStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    from .policy import Mode, Policy

    Handler = TypeVar("Handler", bound=Callable[..., Any])
    PolicyArgument = Policy | Mapping[str, Any] | str | None


def protect(handler: Any = None, *, mode: Mode | str | None = None, policy: PolicyArgument = None) -> Any:
    """Protect a Lambda handler: ``@protect`` or ``@protect(mode="block", policy="file:policy.yaml")``.

    ``mode`` is the default for every protection the policy does not set; it beats
    ``APP_PROTECT_MODE``. ``policy`` is a ``Policy``, a mapping, or a source spec
    (``file:``, ``ssm:``, ``appconfig:``); it beats ``APP_PROTECT_POLICY``. The policy
    is loaded here, at init, so a bad one fails before the first request. Applying
    the decorator instruments the sinks if nothing did before; wrapping twice is harmless.
    """
    def decorate(function: Handler) -> Handler:
        if getattr(function, "__app_protect__", False):
            return function
        store = PolicyStore(policy, mode)
        sinks.instrument()

        @functools.wraps(function)
        def protected(event: Any, context: Any = None) -> Any:
            return invoke(function, store.current(), event, context)

        protected.__app_protect__ = True  # type: ignore[attr-defined]
        return protected  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate


def invoke(handler: Callable[..., Any], policy: Policy, event: Any, lambda_context: Any) -> Any:
    """Run one invocation: context -> perimeter -> handler -> response checks -> flush."""
    try:
        context = RequestContext(event, lambda_context, policy)
    except Exception as error:  # never let our own failure stop the function
        reporting.internal_error("invocation.context", error)
        return handler(event, lambda_context)
    token = activate(context)
    try:
        try:
            checkpoints.run_perimeter(context)
            response = handler(event, lambda_context)
            if context.blocked is not None:  # the handler caught the block and carried on
                raise context.blocked
            return checkpoints.run_response(context, response)
        except AttackBlocked as blocked:
            from .responses import blocked_response

            return blocked_response(context, blocked)
    finally:
        deactivate(token)
        _finish(context)


def _finish(context: RequestContext) -> None:
    checkpoints.run_finalizers(context)
    try:
        reporting.flush(context)
    except Exception as error:
        reporting.internal_error("reporting.flush", error)
