"""The policy: a mode per protection, their options, reporting and inspection limits.

Policies are plain mappings (from YAML, JSON or code) validated into immutable
named tuples (not dataclasses: importing ``dataclasses`` costs ~10 ms of cold
start). Unknown keys and bad values raise ``PolicyError`` naming the key
path and the value; the loaders add the source and the line.

A policy tells the truth: a protection this build does not enforce (not in
``ENFORCED``) can be ``off`` and nothing else. Accepting ``malicious_upload: block``
would validate, print as ``block`` in ``app-protect validate`` and stop nothing;
an owner who reads that policy believes in a wall that is not there. Such a
protection is pinned to ``off`` at validation, so ``Policy.mode_for`` stays one
dict lookup on the hot path and the default ``mode: block`` never reaches it.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from enum import Enum
from functools import cache
from types import MappingProxyType

from .errors import PolicyError
from .findings import AttackKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


class Mode(str, Enum):
    OFF = "off"
    REPORT = "report"
    BLOCK = "block"


# The protections this build enforces. A protection joins with the change that enforces it, one line;
# until then it may only be `off` (see the module docstring).
ENFORCED: frozenset[AttackKind] = frozenset({
    AttackKind.SQL_INJECTION,
    AttackKind.COMMAND_INJECTION,
    AttackKind.FILE_ACCESS,
    AttackKind.SSRF,
    AttackKind.OPEN_REDIRECT,
    AttackKind.CREDENTIAL_EXFILTRATION,
    AttackKind.SANDBOX_PERSISTENCE,
    AttackKind.IP_FILTER,
    AttackKind.MALICIOUS_PAYLOAD,
})


if TYPE_CHECKING:
    Validator = Callable[[str, Any], Any]


def _string_list(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"expected a list of strings, got {value!r}", key_path=path)
    return tuple(value)


@cache
def _ipaddress() -> ModuleType:
    import ipaddress  # ~2.5 ms of import here, and only a policy with address lists needs it

    return ipaddress


def _cidr_list(path: str, value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for index, item in enumerate(_string_list(path, value)):
        try:
            networks.append(_ipaddress().ip_network(item.strip(), strict=False))
        except ValueError:
            raise PolicyError(f"{item!r} is not an IP address or CIDR block",
                              key_path=f"{path}[{index}]") from None
    return tuple(networks)


def _list_sources(path: str, value: Any) -> tuple[str, ...]:
    """Address list sources: ``file:/path`` (or a bare path), ``ssm:/name``, ``appconfig:a/e/p``, ``s3://bucket/key``."""
    sources = _string_list(path, value)
    for index, source in enumerate(sources):
        if source.startswith("s3://"):
            bucket, _, key = source[len("s3://"):].partition("/")
            if not bucket or not key:
                raise PolicyError(f"{source!r} is not s3://bucket/key", key_path=f"{path}[{index}]")
        elif not source.strip() or (source.startswith(("ssm:", "appconfig:", "file:"))
                                    and not source.partition(":")[2].strip()):
            raise PolicyError(f"{source!r} names no list (file:/path, ssm:/name, appconfig:a/e/p or s3://bucket/key)",
                              key_path=f"{path}[{index}]")
    return sources


def _header_name(path: str, value: Any) -> str:
    """A request header's name, lower-cased as requests hold them; empty: none."""
    if not isinstance(value, str) or any(not (char.isascii() and (char.isalnum() or char in "-_")) for char in value):
        raise PolicyError(f"expected a header name, got {value!r}", key_path=path)
    return value.lower()


def _non_negative_int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"expected a whole number >= 0, got {value!r}", key_path=path)
    return value


def _positive_int(path: str, value: Any) -> int:
    number = _non_negative_int(path, value)
    if number == 0:
        raise PolicyError(f"expected a whole number > 0, got {value!r}", key_path=path)
    return number


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


def _rule_modes(path: str, value: Any) -> Mapping[str, Mode]:
    """``rules: {payload.log4shell: block}``: a payload rule's mode by its id."""
    if not isinstance(value, Mapping):
        raise PolicyError(f"expected a mapping of rule id to off, report or block, got {value!r}", key_path=path)
    return MappingProxyType({str(rule): _mode(f"{path}.{rule}", mode) for rule, mode in value.items()})


def _rules_files(path: str, value: Any) -> tuple[str, ...]:
    """Users' payload rules files, read and validated now: a bad rule fails the policy with its file and line."""
    files = _string_list(path, value)
    if files:
        from .checks.payload_rules import rule_set

        rule_set(files)
    return files


def _known_rules(path: str, options: Mapping[str, Any]) -> None:
    """The payload rule ids a policy names must exist (the shipped pack and the policy's rules files)."""
    from .checks.payload_rules import rule_set

    known = {rule.id for rule in rule_set(options["rules_files"])}
    for key in ("rules", "disabled_rules"):
        for rule in options[key]:
            if rule not in known:
                raise PolicyError(f"no payload rule has the id {rule!r} (`app-protect rules` lists them)",
                                  key_path=f"{path}.{key}")


def _on_exceeded(path: str, value: Any) -> Mode:
    mode = _mode(path, value)
    if mode is Mode.OFF:  # an event past the caps unchecked is the bypass the caps must not be
        raise PolicyError(f"{value!r} is not one of block, report", key_path=path)
    return mode


def _fail(path: str, value: Any) -> str:
    if value not in ("open", "closed"):
        raise PolicyError(f"{value!r} is not one of open, closed", key_path=path)
    return str(value)


# The options each protection accepts, with their validators and defaults.
# Sink families add their options here.
PROTECTION_OPTIONS: dict[AttackKind, dict[str, tuple[Validator, Any]]] = {
    AttackKind.SQL_INJECTION: {},
    # dangerous_options: "program:--option" entries added to the built-in table of options that run
    # commands or write files; allow_programs: programs an input may name (code that dispatches on a value).
    AttackKind.COMMAND_INJECTION: {
        "dangerous_options": (_string_list, ()),
        "allow_programs": (_string_list, ()),
    },
    # Path globs (detectors/file_access.py): deny_* apply to every read/write during an invocation,
    # input or not; allow_* exempt paths from every file_access rule; *_paths apply to both.
    # sensitive_paths extends the built-in locations an input must not bring a path into.
    AttackKind.FILE_ACCESS: {
        "deny_paths": (_string_list, ()),
        "deny_read": (_string_list, ("/proc/*/environ", "/proc/*/task/*/environ")),
        "deny_write": (_string_list, ()),
        "allow_paths": (_string_list, ()),
        "allow_read": (_string_list, ()),
        "allow_write": (_string_list, ()),
        "sensitive_paths": (_string_list, ()),
    },
    AttackKind.SSRF: {"allow_hosts": (_string_list, ())},
    AttackKind.OPEN_REDIRECT: {"allow_domains": (_string_list, ())},
    AttackKind.MALICIOUS_UPLOAD: {"max_bytes": (_positive_int, 10 * 1024 * 1024)},
    # checks/payload.py: the mode of each rule by id (beats the protection's), rules removed, users' rules files.
    AttackKind.MALICIOUS_PAYLOAD: {
        "rules": (_rule_modes, MappingProxyType({})),
        "disabled_rules": (_string_list, ()),
        "rules_files": (_rules_files, ()),
    },
    # checks/ip_filter.py: deny wins; with any allow entry or list, everything outside them is refused.
    # lists/allow_lists: remote deny/allow lists; trusted_proxies: X-Forwarded-For hops from the right that
    # the owner's proxies appended; client_header: a header the proxy in front sets to the client's address.
    AttackKind.IP_FILTER: {
        "allow": (_cidr_list, ()),
        "deny": (_cidr_list, ()),
        "lists": (_list_sources, ()),
        "allow_lists": (_list_sources, ()),
        "trusted_proxies": (_non_negative_int, 0),
        "client_header": (_header_name, ""),
    },
    AttackKind.CREDENTIAL_EXFILTRATION: {"outbound": (_boolean, True)},
    # Programs run from exec_deny_paths during an invocation are dropped binaries (exec_allow_paths exempt);
    # child_processes: report (block: terminate) processes an invocation started that outlive it;
    # subreaper: adopt orphaned descendants (prctl), so a setsid double fork is seen too (sinks/processes.py).
    AttackKind.SANDBOX_PERSISTENCE: {
        "exec_deny_paths": (_string_list, ("/tmp", "/dev/shm")),
        "exec_allow_paths": (_string_list, ()),
        "child_processes": (_boolean, True),
        "subreaper": (_boolean, False),
    },
    AttackKind.CODE_INJECTION: {},
    AttackKind.UNSAFE_DESERIALIZATION: {"pickle_allow_globals": (_string_list, ())},
}


class Protection(namedtuple("Protection", "mode options")):
    """A protection's mode (None: the policy's default; always OFF when this build does not enforce it), options."""

    __slots__ = ()
    mode: Mode | None
    options: Mapping[str, Any]


class Reporting(namedtuple("Reporting", "event_bus include_stack max_value_chars", defaults=(None, True, 256))):
    __slots__ = ()
    event_bus: str | None
    include_stack: bool
    max_value_chars: int


class Limits(namedtuple("Limits", "max_depth max_inputs max_bytes max_decode_chars on_exceeded max_decoded",
                        defaults=(32, 100_000, 8 * 1024 * 1024, 65536, None, 20_000))):
    """Bounds that keep a hostile event's inspection cheap, never a way around it. Hitting one is recorded.

    Past ``max_depth`` locations stop growing and the walk goes on; past ``max_inputs`` or
    ``max_bytes`` the values are still read, without locations (a Lambda event is at most 6 MB,
    so ``max_bytes`` bounds the work). What no reader can read (query parameters or multipart
    parts past their caps, JSON in strings past ``max_bytes`` of parsing, the decoded forms of more
    than ``max_decoded`` distinct values) is ``on_exceeded``'s: ``block`` or ``report``; None blocks
    when a protection is in block mode. Decoding is the one cost per value that matters (1-9 µs
    where reading a value costs 0.2): 20,000 such values are ~0.15 s, a hostile 6 MB of them 5 s.
    """

    __slots__ = ()
    max_depth: int
    max_inputs: int
    max_bytes: int
    max_decode_chars: int
    on_exceeded: Mode | None
    max_decoded: int


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
    "on_exceeded": _on_exceeded,
    "max_decoded": _positive_int,
}


def _default_protection(kind: AttackKind) -> Protection:
    defaults = {name: default for name, (_, default) in PROTECTION_OPTIONS[kind].items()}
    return Protection(None if kind in ENFORCED else Mode.OFF, MappingProxyType(defaults))


def _default_protections() -> Mapping[AttackKind, Protection]:
    return MappingProxyType({kind: _default_protection(kind) for kind in AttackKind})


class Policy(namedtuple("Policy", "mode fail protections reporting limits source trusted_sources",
                        defaults=(Mode.REPORT, "open", None, Reporting(), Limits(), "defaults", frozenset()))):
    """A validated policy. Build one with ``Policy.from_dict`` or ``Policy()``.

    ``trusted_sources`` are the triggers (``sources.kinds``) the policy's ``sources`` marks ``trusted``:
    their events contribute no inputs. The default trusts nothing.
    """

    __slots__ = ()
    mode: Mode
    fail: str
    protections: Mapping[AttackKind, Protection]
    reporting: Reporting
    limits: Limits
    source: str
    trusted_sources: frozenset[str]

    def __new__(cls, *args: Any, **kwargs: Any) -> Policy:
        policy = super().__new__(cls, *args, **kwargs)
        if policy.protections is None:  # the field's default: the built-in protections
            policy = policy._replace(protections=_default_protections())  # type: ignore[unreachable]
        return policy

    def mode_for(self, kind: AttackKind) -> Mode:
        # One dict lookup: a protection this build does not enforce holds OFF, never None.
        return self.protections[kind].mode or self.mode

    def options(self, kind: AttackKind) -> Mapping[str, Any]:
        return self.protections[kind].options

    def with_default_mode(self, mode: Mode | str) -> Policy:
        return self._replace(mode=_mode("mode", mode))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "code",
                  default_mode: Mode | str | None = None, default_fail: str = "open") -> Policy:
        """Validate a mapping. The defaults apply when the mapping has no ``mode``/``fail``."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"expected a mapping at the top level, got {type(data).__name__}")
        _reject_unknown("", data, {"version", "mode", "fail", "protections", "reporting", "limits", "sources"})
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
            trusted_sources=_trusted_sources(data.get("sources") or {}),
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


def _trusted_sources(data: Any) -> frozenset[str]:
    """``sources: {sqs: trusted, s3: untrusted}``: the triggers whose events carry no attacker's string."""
    from .sources.kinds import ALL_KINDS

    if not isinstance(data, Mapping):
        raise PolicyError(f"expected a mapping of trigger to trusted or untrusted, got {data!r}", key_path="sources")
    _reject_unknown("sources", data, ALL_KINDS)
    for name, value in data.items():
        if value not in ("trusted", "untrusted"):
            raise PolicyError(f"{value!r} is not one of trusted, untrusted", key_path=f"sources.{name}")
    return frozenset(name for name, value in data.items() if value == "trusted")


def _protections(data: Any) -> dict[AttackKind, Protection]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"expected a mapping, got {data!r}", key_path="protections")
    _reject_unknown("protections", data, {kind.value for kind in AttackKind})
    result = {kind: _default_protection(kind) for kind in AttackKind}
    for name, settings in data.items():
        kind = AttackKind(name)
        path = f"protections.{name}"
        mode_path = f"{path}.mode"
        if isinstance(settings, (str, bool)):  # shorthand: `sql_injection: block` (a bare YAML `off` is false)
            settings, mode_path = {"mode": settings}, path
        if not isinstance(settings, Mapping):
            raise PolicyError(f"expected a mapping or a mode, got {settings!r}", key_path=path)
        schema = PROTECTION_OPTIONS[kind]
        _reject_unknown(path, settings, {"mode", *schema})
        mode = _mode(mode_path, settings["mode"]) if "mode" in settings else None
        options = dict(result[kind].options)
        for key, value in settings.items():
            if key != "mode":
                options[key] = schema[key][0](f"{path}.{key}", value)
        if kind not in ENFORCED:
            _refuse_what_does_nothing(kind, path, mode_path, mode, settings)
            mode = Mode.OFF
        elif kind is AttackKind.MALICIOUS_PAYLOAD and (options["rules"] or options["disabled_rules"]):
            _known_rules(path, options)
        result[kind] = Protection(mode, MappingProxyType(options))
    return result


def _refuse_what_does_nothing(kind: AttackKind, path: str, mode_path: str, mode: Mode | None,
                              settings: Mapping[str, Any]) -> None:
    """An unenforced protection may be off, and nothing else.

    Its options are accepted (and validated) only beside an explicit ``mode: off``: that
    stages the configuration for the build that enforces it, and says in the file that it
    is off today. Options with an inherited mode read as a working check under
    ``mode: block``, so they are refused like ``mode: block`` itself.
    """
    if mode is not None and mode is not Mode.OFF:
        raise PolicyError(f"{kind.value} is not enforced by this build, so {mode.value!r} would do nothing; "
                          f"set it to off or remove it", key_path=mode_path)
    if mode is None and settings:
        raise PolicyError(f"{kind.value} is not enforced by this build, so its options do nothing; "
                          f"add `mode: off` to stage them, or remove them", key_path=f"{path}.{next(iter(settings))}")
