"""app-protect-lambda: runtime application self-protection for Python AWS Lambda functions.

Importing the package does nothing else: the public names load on first use.
"""
from __future__ import annotations

TYPE_CHECKING = False

__version__ = "0.1.0"
__all__ = ["AttackBlocked", "AttackKind", "Mode", "Policy", "RequestBlocked", "__version__", "protect"]

if TYPE_CHECKING:
    from .decorator import protect
    from .errors import AttackBlocked, RequestBlocked
    from .findings import AttackKind
    from .policy import Mode, Policy

_PUBLIC = {
    "protect": ".decorator",
    "AttackBlocked": ".errors",
    "RequestBlocked": ".errors",
    "AttackKind": ".findings",
    "Mode": ".policy",
    "Policy": ".policy",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
