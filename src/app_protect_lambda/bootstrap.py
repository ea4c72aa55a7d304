"""The exec wrapper's handler: ``_HANDLER=app_protect_lambda.bootstrap.handler``.

The layer's ``/opt/app-protect`` wrapper moves the function's own handler into
``APP_PROTECT_HANDLER`` and points ``_HANDLER`` here. When the runtime imports this
module (at init), it instruments every sink first, so that the names the user's
module binds on import are already the protected ones; then it imports the user's
handler the way the runtime would (``app.handler``, ``src/app.handler``,
``pkg.module.handler``) and wraps it with ``@protect``.

A handler that is missing, malformed or cannot be imported fails the init with an
``ImportError`` whose message names the handler and the cause; the runtime reports it
as ``Runtime.ImportModuleError``, as it would without the layer. Errors raised by the
user's own module code propagate unchanged.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from . import config, sinks
from .decorator import protect

OWN_HANDLER = f"{__name__}.handler"


class HandlerImportError(ImportError):
    """The function's handler cannot be found; the runtime reports it as Runtime.ImportModuleError."""


def handler_name() -> str:
    """The user's handler as the exec wrapper left it (``APP_PROTECT_HANDLER``, else ``_HANDLER``)."""
    name = config.get("APP_PROTECT_HANDLER")
    if not name or name == OWN_HANDLER:
        raise HandlerImportError(
            "app-protect: APP_PROTECT_HANDLER is not set. The /opt/app-protect exec wrapper sets it from the "
            "function's handler; set AWS_LAMBDA_EXEC_WRAPPER=/opt/app-protect and keep the function's own "
            "handler (for example app.handler), or set APP_PROTECT_HANDLER yourself.")
    return name


def split_handler(name: str) -> tuple[str, str]:
    """``"src/app.handler"`` -> ``("src.app", "handler")``; raise HandlerImportError when malformed."""
    module, _, function = name.strip().rpartition(".")
    module = module.replace("/", ".").strip(".")
    if not module or not function or not all(part.isidentifier() for part in (*module.split("."), function)):
        raise HandlerImportError(
            f"app-protect: bad handler {name!r} in APP_PROTECT_HANDLER: expected module.function, for example "
            "app.handler or src/app.handler")
    if module.split(".")[0] in sys.builtin_module_names:
        raise HandlerImportError(f"app-protect: cannot use the built-in module {module!r} as a handler module")
    return module, function


def load_handler(name: str) -> Callable[..., Any]:
    """Import the user's handler function; the sinks must already be instrumented."""
    module_name, function_name = split_handler(name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        # Only a missing handler module is ours to explain; an ImportError raised inside the
        # module's own code keeps its message, prefixed with the handler it came from.
        raise HandlerImportError(
            f"app-protect: unable to import module {module_name!r} for handler {name!r}: {error}") from error
    function = getattr(module, function_name, None)
    if function is None:
        raise HandlerImportError(f"app-protect: handler {function_name!r} missing on module {module_name!r}")
    if not callable(function):
        raise HandlerImportError(f"app-protect: {name!r} is not callable")
    return function


def _init() -> Callable[..., Any]:
    name = handler_name()
    sinks.instrument()  # before the user's module binds anything
    return protect(load_handler(name))


handler = _init()
