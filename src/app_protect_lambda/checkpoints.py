"""Checks that run around the handler rather than at a sink.

Each entry names a module, imported on first use:
- PERIMETER modules expose ``check(context)``, run before the handler (IP filter, payload rules, uploads);
- RESPONSE modules expose ``check(context, response) -> response``, run on the handler's result;
- FINALIZERS modules expose ``finish(context)``, run when the invocation ends, blocked or not.
A check raises AttackBlocked (through ``guard.enforce``) to block; any other error is
recorded and the invocation goes on.
"""
from __future__ import annotations

import importlib

from . import reporting
from .errors import AttackBlocked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .context import RequestContext

PERIMETER: list[str] = []
RESPONSE: list[str] = ["app_protect_lambda.sinks.response"]
FINALIZERS: list[str] = ["app_protect_lambda.sinks.shell"]

_modules: dict[str, Any] = {}


def _load(name: str) -> Any:
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = importlib.import_module(name)
    return module


def run_perimeter(context: RequestContext) -> None:
    for name in PERIMETER:
        try:
            _load(name).check(context)
        except AttackBlocked:
            raise
        except Exception as error:
            reporting.internal_error(f"perimeter.{name.rsplit('.', 1)[-1]}", error, context)


def run_response(context: RequestContext, response: Any) -> Any:
    for name in RESPONSE:
        try:
            response = _load(name).check(context, response)
        except AttackBlocked:
            raise
        except Exception as error:
            reporting.internal_error(f"response.{name.rsplit('.', 1)[-1]}", error, context)
    return response


def run_finalizers(context: RequestContext) -> None:
    for name in FINALIZERS:
        try:
            _load(name).finish(context)
        except AttackBlocked:
            pass  # the invocation is over; the record says what the finalizer did
        except Exception as error:
            reporting.internal_error(f"finalizer.{name.rsplit('.', 1)[-1]}", error, context)
