"""Sinks: one instrumentor module per sink family; ``instrument()`` installs them all, once."""
from __future__ import annotations

import importlib
import threading

from .base import Instrumentor

# Sink families, by module; each module exposes INSTRUMENTORS, a list of Instrumentor classes.
FAMILIES: tuple[str, ...] = ("sql", "shell", "filesystem", "network", "threads")

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
        for instrumentor in _instrumentors:
            instrumentor.instrument()


def uninstrument() -> None:
    """Put every original back (tests, benchmarks)."""
    with _lock:
        for instrumentor in _instrumentors or []:
            instrumentor.uninstrument()
