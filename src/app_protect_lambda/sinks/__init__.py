"""Sinks: one instrumentor module per sink family; ``instrument()`` installs them all, once.

Installing also reaches what was made before it: connections of C types get their driver's
hook (``live_objects``), and ``rebind`` points the names a handler's code bound by value
(``from os import system``) at the protected functions (``rebinding``).
"""
from __future__ import annotations

import importlib
import threading

from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Sink families, by module; each module exposes INSTRUMENTORS, a list of Instrumentor classes.
FAMILIES: tuple[str, ...] = ("sql", "shell", "child_stdin", "filesystem", "network", "threads")

_lock = threading.Lock()
_instrumentors: list[Instrumentor] | None = None


def instrument() -> None:
    """Install every sink hook; safe to call again and from several threads."""
    global _instrumentors
    with _lock:
        if _instrumentors is None:
            _instrumentors = []
            for family in FAMILIES:
                module = importlib.import_module(f"{__name__}.{family}")
                _instrumentors.extend(cls() for cls in module.INSTRUMENTORS)
        waiting = [instrumentor for instrumentor in _instrumentors if not instrumentor.installed]
        for instrumentor in _instrumentors:
            instrumentor.instrument()
        _adopt_live_objects([instrumentor for instrumentor in waiting if instrumentor.installed])


def _adopt_live_objects(installed: list[Instrumentor]) -> None:
    hooks: dict[type, Any] = {}
    for instrumentor in installed:
        hooks.update(instrumentor.live_object_hooks())
    if hooks:
        from .live_objects import adopt

        try:
            adopt(hooks)
        except Exception as error:  # a connection left without its hook must not fail the function's init
            from .. import reporting

            reporting.internal_error("instrument.live_objects", error)


def rebind(function: Any) -> int:
    """Point the sink functions ``function``'s code bound by value before instrumentation at the protected ones."""
    with _lock:
        replacements: dict[int, tuple[Any, Any]] = {}
        for instrumentor in _instrumentors or []:
            replacements.update(instrumentor.patched_functions())
    from .rebinding import rebind as rebind_names

    try:
        return rebind_names(function, replacements)
    except Exception as error:  # a name left unrebound must not fail the function's init
        from .. import reporting

        reporting.internal_error("instrument.rebind", error)
        return 0


def uninstrument() -> None:
    """Put every original back (tests, benchmarks)."""
    with _lock:
        from .rebinding import restore

        restore()
        for instrumentor in _instrumentors or []:
            instrumentor.uninstrument()
