"""Where the policy comes from, and its cache.

Sources: built-in defaults, ``file:/path`` (or a bare path), ``ssm:/name`` and
``appconfig:application/environment/profile``; the format (YAML or JSON) is
read from the text. The first load happens at init and raises on any problem;
later reloads (after the TTL) keep the last good policy when they fail and log
an internal error instead.

A remote read (SSM, AppConfig) answers or fails within ``FETCH_BUDGET``, 3 s: with the
SDK's defaults a non-answering SSM took 180 s at init, far past Lambda's 10 s init limit.
Each call is bounded by short timeouts and retried once only while the budget holds a
whole attempt (``aws``).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from functools import cache

from . import aws, config
from .errors import PolicyError
from .policy import Mode, Policy

FETCH_BUDGET = 3.0  # seconds for one remote policy read, init or reload

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable
    from typing import Any


def parse_text(text: str, source: str) -> Mapping[str, Any]:
    """Parse policy text (JSON or YAML) into a mapping; syntax errors carry the line."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyError(f"invalid JSON: {error.msg}", source=source, line=error.lineno) from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise PolicyError(f"invalid YAML: {problem}", source=source,
                          line=mark.line + 1 if mark else None) from None
    return {} if data is None else data


@cache
def _key_path_part() -> re.Pattern[str]:
    """One step of a key path: ``name`` or ``[2]``."""
    import re

    return re.compile(r"[^.\[\]]+|\[\d+\]")


def _line_of(text: str, key_path: str | None) -> int | None:
    """The 1-based line of ``key_path`` (``a.b[2].c``) in YAML/JSON text, if it can be found."""
    if not key_path:
        return None
    import yaml

    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in _key_path_part().findall(key_path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and part.startswith("["):
            index = int(part[1:-1])
            if index >= len(node.value):
                return line
            node = node.value[index]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def policy_from_text(text: str, source: str, default_mode: Mode | str | None = None,
                     default_fail: str = "open") -> Policy:
    data = parse_text(text, source)
    try:
        return Policy.from_dict(data, source=source, default_mode=default_mode, default_fail=default_fail)
    except PolicyError as error:
        if error.source is not None:
            raise
        message = str(error)
        if error.key_path and message.startswith(f"{error.key_path}: "):
            message = message[len(error.key_path) + 2:]
        raise PolicyError(message, source=source, line=_line_of(text, error.key_path),
                          key_path=error.key_path) from None


def _read_file(location: str) -> str:
    try:
        with open(location, encoding="utf-8") as policy_file:
            return policy_file.read()
    except OSError as error:
        raise PolicyError(f"cannot read the policy file: {error.strerror or error}", source=location) from None


@cache
def _ssm_client() -> Any:
    return aws.client("ssm")


@cache
def _appconfig_client() -> Any:
    return aws.client("appconfigdata")


def _read_ssm(name: str) -> str:
    from .context import suppressed
    deadline = aws.Deadline(FETCH_BUDGET)
    with suppressed():
        try:
            response = aws.call(deadline, lambda: _ssm_client().get_parameter(Name=name, WithDecryption=True))
            return response["Parameter"]["Value"]
        except Exception as error:
            raise PolicyError(f"cannot read the SSM parameter: {error}", source=f"ssm:{name}") from None


def _read_appconfig(location: str) -> str:
    from .context import suppressed
    parts = location.strip("/").split("/")
    if len(parts) != 3:
        raise PolicyError("expected appconfig:application/environment/profile",
                          source=f"appconfig:{location}")
    application, environment, profile = parts
    deadline = aws.Deadline(FETCH_BUDGET)
    with suppressed():
        try:
            client = _appconfig_client()
            token = aws.call(deadline, lambda: client.start_configuration_session(
                ApplicationIdentifier=application, EnvironmentIdentifier=environment,
                ConfigurationProfileIdentifier=profile))["InitialConfigurationToken"]
            if not deadline.holds_an_attempt():
                raise TimeoutError(f"no time left of the {FETCH_BUDGET:g} s budget for the second call")
            body = aws.call(deadline, lambda: client.get_latest_configuration(ConfigurationToken=token))
            text = body["Configuration"].read()
        except Exception as error:
            raise PolicyError(f"cannot read the AppConfig configuration: {error}",
                              source=f"appconfig:{location}") from None
    return text.decode("utf-8")


READERS: dict[str, Callable[[str], str]] = {
    "file": _read_file,
    "ssm": _read_ssm,
    "appconfig": _read_appconfig,
}


def split_source(spec: str) -> tuple[str, str]:
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in READERS:
        return scheme, rest
    return "file", spec


def load(spec: str | None, default_mode: Mode | str | None = None, default_fail: str = "open") -> Policy:
    """Load a policy from a source spec (None: the built-in defaults)."""
    if spec is None:
        return Policy(mode=Mode(default_mode or "report"), fail=default_fail)
    scheme, location = split_source(spec)
    text = READERS[scheme](location)
    source = location if scheme == "file" else f"{scheme}:{location}"
    return policy_from_text(text, source, default_mode, default_fail)


class PolicyStore:
    """Holds the current policy; reloads remote and file policies after the TTL.

    ``mode``/``policy`` are the decorator's explicit arguments: they beat the
    environment. The first load happens in the constructor, so a bad policy
    fails at init.
    """

    def __init__(self, policy: Policy | Mapping[str, Any] | str | None = None,
                 mode: Mode | str | None = None) -> None:
        self._explicit_mode = Mode(mode) if mode is not None else None
        self._lock = threading.Lock()
        self._spec: str | None = None
        if isinstance(policy, Policy):
            self._policy = policy if mode is None else policy.with_default_mode(mode)
            self._ttl = None
        elif isinstance(policy, Mapping):
            self._policy = Policy.from_dict(policy, default_mode=self._default_mode(),
                                            default_fail=config.get("APP_PROTECT_FAIL"))
            self._ttl = None
        else:
            self._spec = policy if policy is not None else config.get("APP_PROTECT_POLICY")
            self._ttl = config.get("APP_PROTECT_POLICY_TTL") if self._spec else None
            self._policy = self._load()
        self._loaded_at = time.monotonic()

    def _default_mode(self) -> Mode:
        return self._explicit_mode or Mode(config.get("APP_PROTECT_MODE"))

    def _load(self) -> Policy:
        policy = load(self._spec, self._default_mode(), config.get("APP_PROTECT_FAIL"))
        if self._explicit_mode is not None:
            policy = policy.with_default_mode(self._explicit_mode)
        return policy

    @property
    def last_good(self) -> Policy:
        """The policy in force: the first one loaded, or the newest reload that succeeded."""
        return self._policy

    def current(self) -> Policy:
        """The policy for the next invocation, reloaded once the TTL has passed.

        A source that cannot be read or a new text that is not valid (PolicyError) keeps the
        last good policy, recorded once: it still protects as the owner last configured it.
        Any other exception is our own failure and is raised, once per TTL, for the caller to
        fail open or closed on (``last_good`` is still in force).
        """
        if self._ttl is None or time.monotonic() - self._loaded_at < self._ttl:
            return self._policy
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl:
                self._loaded_at = time.monotonic()
                try:
                    self._policy = self._load()
                except PolicyError as error:
                    from .reporting import internal_error

                    internal_error("policy.reload", error)
        return self._policy
