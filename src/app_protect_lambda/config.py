"""The APP_PROTECT_* environment variables, as one typed table resolved lazily.

Explicit arguments (``@protect(mode=...)``) beat the environment; the
environment beats the defaults. ``reset()`` forgets what was read, for tests.
"""
from __future__ import annotations

import os
from collections import namedtuple
from functools import cache

from .errors import ConfigurationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_MODES = ("off", "report", "block")


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ConfigurationError(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
        return value
    return parse


def _positive_number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r}: expected a number of seconds") from None
    if value < 0:
        raise ConfigurationError(f"{name}={raw!r}: must not be negative")
    return value


def _text(name: str, raw: str) -> str | None:
    return raw.strip() or None


class Variable(namedtuple("Variable", "name parse default help")):
    __slots__ = ()
    name: str
    parse: Callable[[str, str], Any]
    default: Any
    help: str


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("APP_PROTECT_MODE", _choice(*_MODES), "report",
             "off / report / block for every protection the policy does not set"),
    Variable("APP_PROTECT_POLICY", _text, None,
             "file:/path.yaml (or a bare path), ssm:/param/name, appconfig:app/env/profile"),
    Variable("APP_PROTECT_POLICY_TTL", _positive_number, 60.0, "seconds a fetched policy is cached"),
    Variable("APP_PROTECT_EVENT_BUS", _text, None, "EventBridge bus name or ARN; unset: no shipping"),
    Variable("APP_PROTECT_FAIL", _choice("open", "closed"), "open", "open / closed on internal errors"),
    Variable("APP_PROTECT_HANDLER", _text, None, "the user's handler, set by the exec wrapper"),
    Variable("APP_PROTECT_METRICS_NAMESPACE", _text, "AppProtect", "CloudWatch metrics namespace"),
)}


@cache
def get(name: str) -> Any:
    """The parsed value of one variable, read once; raises ConfigurationError on a bad value."""
    variable = VARIABLES[name]
    raw = os.environ.get(name)
    value = variable.default if raw is None or raw.strip() == "" else variable.parse(name, raw)
    if value is None and name == "APP_PROTECT_HANDLER":
        value = os.environ.get("_HANDLER")
    return value


def reset() -> None:
    """Forget every value read so far (tests change the environment)."""
    get.cache_clear()
