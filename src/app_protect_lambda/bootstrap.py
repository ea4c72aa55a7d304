"""The exec wrapper's handler: ``_HANDLER=app_protect_lambda.bootstrap.handler``.

The layer's ``/opt/app-protect`` wrapper moves the function's own handler into
``APP_PROTECT_HANDLER`` and points ``_HANDLER`` here. When the runtime imports this
module (at init), it instruments every sink first, so that the names the user's
module binds on import are already the protected ones; then it imports the user's
handler the way the runtime would (``handler_loader.py``) and wraps it with ``@protect``.

A handler that is missing, malformed or cannot be imported fails the init with an
``ImportError`` whose message names the handler and the cause; the runtime reports it
as ``Runtime.ImportModuleError``, as it would without the layer. Errors raised by the
user's own module code propagate unchanged.
"""
from __future__ import annotations

from . import config, sinks
from .decorator import protect
from .handler_loader import HandlerImportError, load_handler

TYPE_CHECKING = False
# Annotations only: importing `typing` here made the exec-wrapper init ~13 ms slower (median 67 -> 53 ms on
# a busy 2-core machine, Python 3.12, after awslambdaric); neither the runtime client nor our hooks import it.
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

OWN_HANDLER = f"{__name__}.handler"


def handler_name() -> str:
    """The user's handler as the exec wrapper left it (``APP_PROTECT_HANDLER``, else ``_HANDLER``)."""
    name: str | None = config.get("APP_PROTECT_HANDLER")
    if not name or name == OWN_HANDLER:
        raise HandlerImportError(
            "app-protect: APP_PROTECT_HANDLER is not set. The /opt/app-protect exec wrapper sets it from the "
            "function's handler; set AWS_LAMBDA_EXEC_WRAPPER=/opt/app-protect and keep the function's own "
            "handler (for example app.handler), or set APP_PROTECT_HANDLER yourself.")
    return name


def _init() -> Callable[..., Any]:
    name = handler_name()
    sinks.instrument()  # before the user's module binds anything
    protected: Callable[..., Any] = protect(load_handler(name))
    return protected


handler = _init()
