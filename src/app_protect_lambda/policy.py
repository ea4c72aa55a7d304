"""The policy: a mode per protection, their options, reporting and inspection limits.

Policies are plain mappings (from YAML, JSON or code) validated into frozen
dataclasses. Unknown keys and bad values raise ``PolicyError`` naming the key
path and the value; the loaders add the source and the line.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any

from .errors import PolicyError
from .findings import AttackKind


class Mode(str, Enum):
    OFF = "off"
    REPORT = "report"
    BLOCK = "block"


Validator = Callable[[str, Any], Any]


def _string_list(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"expected a list of strings, got {value!r}", key_path=path)
    return tuple(value)


def _cidr_list(path: str, value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for index, item in enumerate(_string_list(path, value)):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise PolicyError(f"{item!r} is not an IP address or CIDR block",
                              key_path=f"{path}[{index}]") from None
    return tuple(networks)


def _non_negative_int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"expected a whole number >= 0, got {value!r}", key_path=path)
    return value


def _positive_int(path: str, value: Any) -> int:
    if _non_negative_int(path, value) == 0:
        raise PolicyError(f"expected a whole number > 0, got {value!r}", key_path=path)
    return value


def _boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"expected true or false, got {value!r}", key_path=path)
    return value


def _optional_text(path: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PolicyError(f"expected a string, got {value!r}", key_path=path)
    return value


def _mode(path: str, value: Any) -> Mode:
    if isinstance(value, Mode):
        return value
    if value is False:  # YAML 1.1 reads a bare `off` as false
        return Mode.OFF
    try:
        return Mode(value.lower()) if isinstance(value, str) else Mode(value)
    except ValueError:
        raise PolicyError(f"{value!r} is not one of off, report, block", key_path=path) from None


def _fail(path: str, value: Any) -> str:
    if value not in ("open", "closed"):
        raise PolicyError(f"{value!r} is not one of open, closed", key_path=path)
    return value


# The options each protection accepts, with their validators and defaults.
# Sink families add their options here.
PROTECTION_OPTIONS: dict[AttackKind, dict[str, tuple[Validator, Any]]] = {
    AttackKind.SQL_INJECTION: {},
    AttackKind.COMMAND_INJECTION: {},
    AttackKind.FILE_ACCESS: {
        "deny_paths": (_string_list, ("/proc/self/environ",)),
        "allow_paths": (_string_list, ()),
        "deny_read": (_string_list, ()),
        "deny_write": (_string_list, ()),
        "sensitive_paths": (_string_list, ()),
    },
    AttackKind.SSRF: {"allow_hosts": (_string_list, ())},
    AttackKind.OPEN_REDIRECT: {"allow_domains": (_string_list, ())},
    AttackKind.MALICIOUS_UPLOAD: {"max_bytes": (_positive_int, 10 * 1024 * 1024)},
    AttackKind.MALICIOUS_PAYLOAD: {"disabled_rules": (_string_list, ())},
    AttackKind.IP_FILTER: {
        "allow": (_cidr_list, ()),
        "deny": (_cidr_list, ()),
        "trusted_proxies": (_non_negative_int, 0),
    },
    AttackKind.CREDENTIAL_EXFILTRATION: {},
    AttackKind.SANDBOX_PERSISTENCE: {},
    AttackKind.CODE_INJECTION: {},
    AttackKind.UNSAFE_DESERIALIZATION: {"pickle_allow_globals": (_string_list, ())},
}


@dataclass(frozen=True)
class Protection:
    """The mode of one protection (None: inherit the policy's default) and its options."""

    mode: Mode | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def option(self, name: str) -> Any:
        return self.options[name]


@dataclass(frozen=True)
class Reporting:
    event_bus: str | None = None
    include_stack: bool = True
    max_value_chars: int = 256


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile event's inspection cheap. Hitting one is recorded."""

    max_depth: int = 32
    max_inputs: int = 5000
    max_bytes: int = 8 * 1024 * 1024
    max_decode_chars: int = 65536


_REPORTING_KEYS: dict[str, Validator] = {
    "event_bus": _optional_text,
    "include_stack": _boolean,
    "max_value_chars": _positive_int,
}
_LIMIT_KEYS: dict[str, Validator] = {
    "max_depth": _positive_int,
    "max_inputs": _positive_int,
    "max_bytes": _positive_int,
    "max_decode_chars": _non_negative_int,
}


def _default_protection(kind: AttackKind) -> Protection:
    defaults = {name: default for name, (_, default) in PROTECTION_OPTIONS[kind].items()}
    return Protection(None, MappingProxyType(defaults))


@dataclass(frozen=True)
class Policy:
    """A validated policy. Build one with ``Policy.from_dict`` or ``Policy()``."""

    mode: Mode = Mode.REPORT
    fail: str = "open"
    protections: Mapping[AttackKind, Protection] = field(
        default_factory=lambda: MappingProxyType({kind: _default_protection(kind) for kind in AttackKind}))
    reporting: Reporting = field(default_factory=Reporting)
    limits: Limits = field(default_factory=Limits)
    source: str = "defaults"

    def mode_for(self, kind: AttackKind) -> Mode:
        return self.protections[kind].mode or self.mode

    def options(self, kind: AttackKind) -> Mapping[str, Any]:
        return self.protections[kind].options

    def with_default_mode(self, mode: Mode | str) -> Policy:
        return replace(self, mode=_mode("mode", mode))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "code",
                  default_mode: Mode | str | None = None, default_fail: str = "open") -> Policy:
        """Validate a mapping. The defaults apply when the mapping has no ``mode``/``fail``."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"expected a mapping at the top level, got {type(data).__name__}")
        _reject_unknown("", data, {"version", "mode", "fail", "protections", "reporting", "limits"})
        version = data.get("version", 1)
        if version != 1:
            raise PolicyError(f"unsupported version {version!r} (this release reads version 1)",
                              key_path="version")
        mode = _mode("mode", data.get("mode", default_mode or Mode.REPORT))
        fail = _fail("fail", data.get("fail", default_fail))
        return cls(
            mode=mode,
            fail=fail,
            protections=MappingProxyType(_protections(data.get("protections") or {})),
            reporting=Reporting(**_section("reporting", data.get("reporting") or {}, _REPORTING_KEYS)),
            limits=Limits(**_section("limits", data.get("limits") or {}, _LIMIT_KEYS)),
            source=source,
        )


def _reject_unknown(prefix: str, data: Mapping[str, Any], known: Any) -> None:
    for key in data:
        if key not in known:
            path = f"{prefix}.{key}" if prefix else str(key)
            choices = ", ".join(sorted(str(k) for k in known))
            raise PolicyError(f"unknown key (expected one of: {choices})", key_path=path)


def _section(name: str, data: Any, validators: Mapping[str, Validator]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"expected a mapping, got {data!r}", key_path=name)
    _reject_unknown(name, data, validators)
    return {key: validators[key](f"{name}.{key}", value) for key, value in data.items()}


def _protections(data: Any) -> dict[AttackKind, Protection]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"expected a mapping, got {data!r}", key_path="protections")
    _reject_unknown("protections", data, {kind.value for kind in AttackKind})
    result = {kind: _default_protection(kind) for kind in AttackKind}
    for name, settings in data.items():
        kind = AttackKind(name)
        path = f"protections.{name}"
        if isinstance(settings, str):  # shorthand: `sql_injection: block`
            settings = {"mode": settings}
        if not isinstance(settings, Mapping):
            raise PolicyError(f"expected a mapping or a mode, got {settings!r}", key_path=path)
        schema = PROTECTION_OPTIONS[kind]
        _reject_unknown(path, settings, {"mode", *schema})
        mode = _mode(f"{path}.mode", settings["mode"]) if "mode" in settings else None
        options = dict(result[kind].options)
        for key, value in settings.items():
            if key != "mode":
                options[key] = schema[key][0](f"{path}.{key}", value)
        result[kind] = Protection(mode, MappingProxyType(options))
    return result
