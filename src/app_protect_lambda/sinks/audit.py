"""One audit hook for the process, shared by the sinks that read audit events.

``sys.addaudithook`` cannot be undone, and every hook runs on every audit event of the process
(each ``open``, import and ``compile``): ~0.2 µs a hook and event here. So there is one hook,
installed by the first sink that needs it, and it looks the event's name up in the handlers of
the sinks instrumented now (child command lines in ``sinks.sends``, Python code run from the
writable space in ``sinks.native``, sqlite3 connections in ``sinks.early_connections``);
``uninstrument`` takes a sink's handlers out again.
"""
from __future__ import annotations

import sys

from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_handlers: dict[str, Callable[[str, tuple], None]] = {}
_installed = False


def listen(event: str, handler: Callable[[str, tuple], None]) -> None:
    """Call ``handler(event, args)`` on every audit event of that name, from now on."""
    global _installed
    if not _installed:
        sys.addaudithook(_on_audit_event)
        _installed = True
    _handlers[event] = handler


def _on_audit_event(event: str, args: tuple) -> None:
    handler = _handlers.get(event)
    if handler is not None:
        handler(event, args)


class AuditEvents(Instrumentor):
    """A sink that reads audit events: ``handlers()`` maps event names to ``handler(event, args)``."""

    module = "sys"

    def handlers(self) -> dict[str, Callable[[str, tuple], None]]:
        raise NotImplementedError

    def patch(self, module: Any) -> None:
        for event, handler in self.handlers().items():
            listen(event, handler)

    def uninstrument(self) -> None:
        for event in self.handlers():
            _handlers.pop(event, None)
        super().uninstrument()
