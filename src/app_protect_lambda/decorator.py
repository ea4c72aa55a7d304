"""``@protect``: the per-invocation pipeline around a Lambda handler."""
from __future__ import annotations

import functools
from functools import cache

from . import checkpoints, reporting, sinks
from .context import RequestContext, activate, deactivate
from .errors import AttackBlocked
from .guard import failed
from .policy_store import PolicyStore
from .sources.kinds import DIRECT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextvars import Token
    from types import ModuleType
    from typing import Any, TypeVar

    from .policy import Mode, Policy

    Handler = TypeVar("Handler", bound=Callable[..., Any])
    Failure = tuple[str, Exception]  # where, and our own error
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
        checkpoints.warm(store.last_good)
        sinks.instrument()
        sinks.rebind(function)  # `from os import system` bound before this line

        if _is_coroutine_function(function):
            @functools.wraps(function)
            async def protected_async(event: Any, context: Any = None) -> Any:
                return await invoke_async(function, store, event, context)

            protected_async.__app_protect__ = True  # type: ignore[attr-defined]
            return protected_async  # type: ignore[return-value]

        @functools.wraps(function)
        def protected(event: Any, context: Any = None) -> Any:
            return invoke(function, store, event, context)

        protected.__app_protect__ = True  # type: ignore[attr-defined]
        return protected  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate


def invoke(handler: Callable[..., Any], store: PolicyStore, event: Any, lambda_context: Any) -> Any:
    """Run one invocation: context -> perimeter -> handler -> response checks -> end checks -> flush.

    Our own failure at any step fails open (recorded once), or blocks when the policy
    says ``fail: closed``; the handler's own exceptions pass through unchanged, unless one carries
    the function's credentials to the caller (``_leaking``).
    """
    context, failure = _start(store, event, lambda_context)
    token = activate(context)
    try:
        try:
            _before(context, failure)
            return _after(context, handler(event, lambda_context))
        except BaseException as error:
            if _is_block(context, error):
                return _blocked(context, error)
            leak = _leaking(context, error)
            if leak is None:
                raise  # the handler's own exception, unchanged
        return _blocked(context, leak)  # outside the except: the original is not the new error's context
    finally:
        _end(context, token)


async def invoke_async(handler: Callable[..., Any], store: PolicyStore, event: Any, lambda_context: Any) -> Any:
    """``invoke`` for an ``async def`` handler: the checks run while it is awaited, not after."""
    context, failure = _start(store, event, lambda_context)
    token = activate(context)
    try:
        try:
            _before(context, failure)
            return _after(context, await handler(event, lambda_context))
        except BaseException as error:
            if _is_block(context, error):
                return _blocked(context, error)
            leak = _leaking(context, error)
            if leak is None:
                raise  # the handler's own exception, unchanged
        return _blocked(context, leak)  # outside the except: the original is not the new error's context
    finally:
        _end(context, token)


def _before(context: RequestContext, failure: Failure | None) -> None:
    if failure is not None:
        failed(None, failure[0], failure[1], context)
    checkpoints.run_perimeter(context)


def _after(context: RequestContext, response: Any) -> Any:
    if context.blocked is not None:  # the handler caught the block and carried on
        raise AttackBlocked(context.blocked)
    checkpoints.run_response(context, response)
    context.finished = True
    checkpoints.run_finish(context)
    return response


def _blocked(context: RequestContext, error: BaseException) -> Any:
    """The answer of a blocked invocation (``error`` is the block, or a group holding one)."""
    blocked = error if isinstance(error, AttackBlocked) else AttackBlocked(context.blocked)  # type: ignore[arg-type]
    if not context.finished:
        context.finished = True
        checkpoints.run_finish(context, may_block=False)
    return _responses().blocked_response(context, blocked)


def _leaking(context: RequestContext, error: BaseException) -> AttackBlocked | None:
    """The block when the handler's own exception would carry the function's credentials out.

    The runtime sends a synchronous caller the exception's type name and message (errorType,
    errorMessage); ``checkpoints.run_error`` judges them, only on this path, so a handler that
    returns pays nothing. In block mode the invocation then ends as blocked (the 403, or
    RequestBlocked) and the original is not chained to what leaves: its type and raising line are
    in the record, its message is not. Only an ``Exception``: anything else ends the runtime
    process and reaches no caller.
    """
    if not isinstance(error, Exception):
        return None
    try:
        checkpoints.run_error(context, error)
    except AttackBlocked as blocked:
        blocked.__context__ = None  # the frames and chain of the original stay behind
        blocked.__suppress_context__ = True
        return blocked.with_traceback(None)
    return None


def _end(context: RequestContext, token: Token) -> None:
    deactivate(token)
    if not context.finished:  # the handler's own exception is on its way out
        context.finished = True
        checkpoints.run_finish(context, may_block=False)
    reporting.flush(context)  # never raises: a record that cannot be written is itself recorded


def _is_block(context: RequestContext, error: BaseException) -> bool:
    """Whether ``error`` is a block, or an exception group (asyncio.TaskGroup, anyio) that holds one:
    that answers as blocked too, never as a BaseExceptionGroup the runtime client cannot handle."""
    if isinstance(error, AttackBlocked):
        return True
    if context.blocked is not None and isinstance(error, Exception):
        # A hook that cannot raise through a driver's C code stops the statement there (sqlite3's trace
        # hook interrupts it) and the driver raises its own error: the invocation was blocked all the same.
        return True
    subgroup = getattr(error, "subgroup", None)
    return context.blocked is not None and subgroup is not None and \
        subgroup(lambda inner: isinstance(inner, AttackBlocked)) is not None


def _is_coroutine_function(function: Any) -> bool:
    # The flag inspect.iscoroutinefunction reads, without importing inspect (~10 ms of cold start).
    code = getattr(function, "__code__", None)
    return code is not None and bool(code.co_flags & 0x80)


def _start(store: PolicyStore, event: Any, lambda_context: Any) -> tuple[RequestContext, Failure | None]:
    """The invocation's context, and our own failure while getting it; never raises.

    These two steps come before any check exists, so they catch for themselves and hand the
    failure to ``guard.failed`` once the context is there. A policy that cannot be reloaded
    leaves the last good one in force; a context that cannot be built from the event's shape
    is built as for a direct invocation, where every string of the event is an input.
    """
    failure: Failure | None = None
    try:
        policy = store.current()
    except Exception as error:
        policy, failure = store.last_good, ("policy.reload", error)
    try:
        return RequestContext(event, lambda_context, policy), failure
    except Exception as error:
        return RequestContext(event, lambda_context, policy, kind=DIRECT), failure or ("invocation.context", error)


@cache
def _responses() -> ModuleType:
    """The 403 and RequestBlocked, loaded with the first block (json is not on the cold-start path)."""
    from . import responses

    return responses


