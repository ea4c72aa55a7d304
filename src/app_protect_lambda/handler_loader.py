"""From a handler string (``app.handler``, ``src/app.handler``, ``pkg.module.handler``) to the function.

One loader for the two places that need one: the exec wrapper's bootstrap, at init, and
``app-protect replay``. They used to parse the string each their own way: replay ran
``sys.exit`` as a handler, which the init refuses, and answered ``app.handler-v2`` with an
``AttributeError`` traceback. The forms are the Lambda runtime's: the last dot separates
the function, slashes in the module part are package separators.

Every failure is a ``HandlerImportError`` (an ``ImportError``) whose message starts with
``app-protect:`` and names the handler and the cause; raised at init, the runtime reports
it as ``Runtime.ImportModuleError``. Errors other than ``ImportError`` raised by the
module's own code propagate unchanged: they are the function's, not ours to rename.
"""
from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` stays off the init path (bootstrap.py says what it costs)
    from collections.abc import Callable
    from typing import Any


class HandlerImportError(ImportError):
    """The function's handler cannot be found; the runtime reports it as Runtime.ImportModuleError."""


def _is_module_part(part: str) -> bool:
    # Not str.isidentifier(): the runtime imports `my-function.py` as the module `my-function`, and a
    # function that works without the layer must not fail its init with it.
    return part.isprintable() and part != "" and not any(character.isspace() for character in part)


def split_handler(name: str) -> tuple[str, str]:
    """``"src/app.handler"`` -> ``("src.app", "handler")``; raise HandlerImportError when malformed."""
    module, _, function = name.strip().rpartition(".")
    module = module.replace("/", ".").strip(".")
    if not module or not function.isidentifier() or not all(_is_module_part(part) for part in module.split(".")):
        raise HandlerImportError(
            f"app-protect: bad handler {name!r}: expected module.function, for example app.handler or "
            "src/app.handler")
    # The runtime refuses these too: `sys.exit` or `os.system` is never a function's handler.
    if module.split(".")[0] in sys.builtin_module_names:
        raise HandlerImportError(f"app-protect: cannot use the built-in module {module!r} as a handler module")
    return module, function


def load_handler(name: str) -> Callable[..., Any]:
    """Import the module named by ``name`` and return its handler function.

    Callers that protect the handler instrument the sinks first, so that the names the
    module binds on import are already the protected ones.
    """
    module_name, function_name = split_handler(name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        # A missing handler module, or an ImportError raised by the module's own code (a
        # dependency left out of the package): the cause keeps its message, prefixed with
        # the handler it came from.
        raise HandlerImportError(
            f"app-protect: unable to import module {module_name!r} for handler {name!r}: {error}") from error
    try:
        function: object = getattr(module, function_name)
    except AttributeError:
        raise HandlerImportError(
            f"app-protect: handler {function_name!r} missing on module {module_name!r}") from None
    if not callable(function):
        raise HandlerImportError(f"app-protect: {name!r} is not callable")
    return function
