"""The few package internals the split rows need, in one place, so a refactor under src/ changes one file.

Everything else in bench/ goes through the public surface (``protect``, ``testing``).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app_protect_lambda.context import RequestContext, activate, deactivate
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.testing import LambdaContext

BLOCK = Policy(mode=Mode.BLOCK)
_LAMBDA_CONTEXT = LambdaContext()


def new_context(event: dict[str, Any], policy: Policy = BLOCK) -> RequestContext:
    """The per-invocation context as ``@protect`` builds it, inputs not yet flattened."""
    return RequestContext(event, _LAMBDA_CONTEXT, policy)


def input_count(event: dict[str, Any]) -> int:
    """How many inputs flattening finds in ``event``."""
    return len(new_context(event).inputs.raw)


def raw_inputs(context: RequestContext) -> object:
    """Flatten the event: every attacker-controlled string with its location."""
    return context.inputs.raw


def decoded_inputs(context: RequestContext) -> object:
    """Flatten and decode: every input plus its decoded forms, as the first sink call needs them."""
    return context.inputs.forms


@contextmanager
def active(context: RequestContext) -> Iterator[RequestContext]:
    """``context`` bound as the invocation in progress, as ``@protect`` binds it around the handler."""
    token = activate(context)
    try:
        yield context
    finally:
        deactivate(token)


def run_response_checks(context: RequestContext, response: Any) -> Any:
    from app_protect_lambda import checkpoints

    return checkpoints.run_response(context, response)
