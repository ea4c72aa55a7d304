"""Detectors: one pure module per attack kind.

Each exposes ``detect(argument, inputs, options) -> Finding | None``; it
imports nothing from the sinks. Modules are imported on first use.
"""
from __future__ import annotations

import importlib
from functools import cache

from ..findings import AttackKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType
    from typing import Any

    from ..findings import Finding
    from ..sources import Inputs

    Detector = Callable[[Any, Inputs | None, Mapping[str, Any]], Finding | None]

# The kinds with a detector module here (the others have none yet: asking for one is a KeyError).
MODULES: dict[AttackKind, str] = {
    AttackKind.SQL_INJECTION: "sql_injection",
    AttackKind.COMMAND_INJECTION: "command_injection",
    AttackKind.FILE_ACCESS: "file_access",
    AttackKind.SSRF: "ssrf",
    AttackKind.OPEN_REDIRECT: "open_redirect",
    AttackKind.CREDENTIAL_EXFILTRATION: "credential_exfiltration",
    AttackKind.SANDBOX_PERSISTENCE: "sandbox_persistence",
}

@cache
def _module(kind: AttackKind) -> ModuleType:
    """The kind's detector module, imported on its first check."""
    return importlib.import_module(f"{__name__}.{MODULES[kind]}")


def detector_for(kind: AttackKind) -> Detector:
    return _module(kind).detect
