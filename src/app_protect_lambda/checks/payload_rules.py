"""The payload rule format: reading, validating and gating rules (the shipped pack and users' files).

A rules file is YAML or JSON (the policy's parser, so a bad rule names its file, line and key)::

    version: 1
    rules:
      - id: payload.log4shell              # lower case, digits, . _ -; unique across every file
        name: Log4Shell JNDI lookup
        severity: critical                 # low, medium, high, critical
        tags: [CVE-2021-44228, rce]        # CVE ids, attack class: in the record's message
        targets: [all]                     # query, path, headers, header:NAME, cookies, body, all
        transforms: [url-decode, lowercase]
        regex: '\\$\\{\\s{0,8}jndi'           # or phrases: [...] (one pass, longest first); words: true
        applies_to: {distribution: PyYAML, versions: "<5.4"}   # optional: a virtual patch

Transforms run in order on each input: ``url-decode`` (percent-decoding, repeated while it changes
the text, three times at most: double encoding), ``html-entity-decode``, ``lowercase``,
``compress-whitespace`` (runs of white space to one space), ``nfkc``, ``base64`` (the text becomes its
runs of 16 or more base64 characters, decoded, one a line, each byte one character: binary
signatures stay visible).

Users' patterns must be in the linear-time subset (``payload_regex.check_linear``); one outside it
is refused at load with the reason. The shipped pack is checked by the tests, not at each cold start
(the check parses every pattern, ~40 µs each). ``applies_to`` makes a rule active only when the
function ships an affected version of the distribution it names, read once per process with
``importlib.metadata`` when a request first needs that rule (its literals occur), so a function
never pays for the look-up on benign traffic (``import importlib.metadata`` is ~5 ms).
"""
from __future__ import annotations

import json
import os
import re
from collections import namedtuple
from functools import cache

from ..errors import PolicyError
from . import payload_regex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules", "payload.json")
TARGETS = ("query", "path", "headers", "cookies", "body", "all")
TRANSFORMS = ("url-decode", "html-entity-decode", "lowercase", "compress-whitespace", "nfkc", "base64")
SEVERITIES = ("low", "medium", "high", "critical")
_RULE_KEYS = {"id", "name", "severity", "tags", "targets", "transforms", "regex", "phrases", "words",
              "applies_to", "description", "literals"}
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HEADER = re.compile(r"[a-z0-9_-]{1,64}")
_CLAUSE = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*(\d{1,9}(?:\.\d{1,9}){0,5})\s*")
MAX_PHRASES = 10_000


class RuleError(PolicyError):
    """A rules file that cannot be used: names the file, the line and the key."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 key_path: str | None = None) -> None:
        super().__init__(message, key_path=key_path)
        self.message = message
        self.source = source
        self.line = line
        where = f"rules {source}" if source else "rules"
        if line is not None:
            where += f", line {line}"
        self.args = (f"{where}: {key_path + ': ' if key_path else ''}{message}",)


class Gate(namedtuple("Gate", "distribution versions clauses")):
    """``applies_to``: the rule is active when ``distribution`` is installed at a version ``clauses`` admit."""

    __slots__ = ()
    distribution: str
    versions: str
    clauses: tuple[tuple[str, tuple[int, ...]], ...]


class Rule(namedtuple("Rule", "id name severity tags targets transforms regex phrases words applies_to source literals",
                      defaults=(None,))):
    __slots__ = ()
    id: str
    name: str
    severity: str
    tags: tuple[str, ...]
    targets: tuple[str, ...]
    transforms: tuple[str, ...]
    regex: str | None
    phrases: tuple[str, ...]
    words: bool
    applies_to: Gate | None
    source: str
    literals: tuple[str, ...] | None  # as the file states them (the shipped pack); None: found from the pattern

    @property
    def pattern(self) -> str:
        """The one pattern the rule matches with (a phrase set as its trie)."""
        if self.regex is not None:
            return self.regex
        body = payload_regex.phrase_pattern(self.phrases)
        return rf"(?<![^\W_])(?:{body})(?![^\W_])" if self.words else body

    @property
    def anchors(self) -> frozenset[str] | None:
        """Literals one of which every match holds (``payload_regex.anchors``); None: the rule runs on every text.

        The shipped pack states them (``literals``: parsing its 20 patterns cost ~2 ms of cold start), and
        tests/unit/test_payload_redos.py checks they are what the patterns give."""
        if self.regex is None:
            return frozenset(self.phrases)
        if self.literals is not None:
            return frozenset(self.literals) or None
        return payload_regex.anchors(self.regex, lowercased="lowercase" in self.transforms)


def _fail(message: str, path: str) -> RuleError:
    return RuleError(message, key_path=path)


def _strings(value: Any, path: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value) \
            or (not value and not allow_empty):
        raise _fail(f"expected a list of non-empty strings, got {value!r}", path)
    return tuple(value)


def _versions(value: Any, path: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"expected a version range such as '<5.4' or '>=0.0.1,<0.0.7', got {value!r}", path)
    clauses = []
    for clause in value.split(","):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise _fail(f"{clause.strip()!r} is not a version clause (<, <=, >, >=, ==, != and a version)", path)
        clauses.append((match[1], release(match[2])))
    return tuple(clauses)


def release(version: str) -> tuple[int, ...]:
    """The numeric release of a version (``5.3.1`` -> (5, 3, 1); ``0.0.7a1`` -> (0, 0, 7)), zeros dropped."""
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d{1,9}", part)
        if digits is None:
            break
        numbers.append(int(digits[0]))
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def admits(clauses: tuple[tuple[str, tuple[int, ...]], ...], version: str) -> bool:
    have = release(version)
    checks = {"<": have.__lt__, "<=": have.__le__, ">": have.__gt__, ">=": have.__ge__,
              "==": have.__eq__, "!=": have.__ne__}
    return all(checks[op](wanted) for op, wanted in clauses)


def _rule(data: Any, path: str, source: str, *, checked: bool) -> Rule:
    if not isinstance(data, dict):
        raise _fail(f"expected a mapping, got {data!r}", path)
    for key in data:
        if key not in _RULE_KEYS:
            raise _fail(f"unknown key (expected one of: {', '.join(sorted(_RULE_KEYS))})", f"{path}.{key}")
    for key in ("id", "name", "severity", "targets"):
        if key not in data:
            raise _fail(f"missing {key!r}", path)
    rule_id = data["id"]
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        raise _fail(f"{rule_id!r} is not an id (lower case letters, digits, '.', '_', '-'; 64 at most)", f"{path}.id")
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"expected a name, got {name!r}", f"{path}.name")
    if data["severity"] not in SEVERITIES:
        raise _fail(f"{data['severity']!r} is not one of {', '.join(SEVERITIES)}", f"{path}.severity")
    tags = _strings(data.get("tags", []), f"{path}.tags", allow_empty=True)
    targets = _strings(data["targets"], f"{path}.targets")
    for index, target in enumerate(targets):
        if target.startswith("header:"):
            if not _HEADER.fullmatch(target[len("header:"):]):
                raise _fail(f"{target!r} names no header (header:user-agent)", f"{path}.targets[{index}]")
        elif target not in TARGETS:
            raise _fail(f"{target!r} is not one of {', '.join(TARGETS)}, header:NAME", f"{path}.targets[{index}]")
    transforms = _strings(data.get("transforms", []), f"{path}.transforms", allow_empty=True)
    for index, transform in enumerate(transforms):
        if transform not in TRANSFORMS:
            raise _fail(f"{transform!r} is not one of {', '.join(TRANSFORMS)}", f"{path}.transforms[{index}]")
    if ("regex" in data) == ("phrases" in data):
        raise _fail("expected exactly one operator: regex or phrases", path)
    words = data.get("words", False)
    if not isinstance(words, bool) or (words and "phrases" not in data):
        raise _fail("words (true or false) applies to phrases only", f"{path}.words")
    lowercased = "lowercase" in transforms
    regex = None
    phrases: tuple[str, ...] = ()
    if "regex" in data:
        regex = data["regex"]
        if not isinstance(regex, str) or not regex:
            raise _fail(f"expected a regular expression, got {regex!r}", f"{path}.regex")
        if checked:
            _check_pattern(regex, lowercased, f"{path}.regex")
    else:
        phrases = _strings(data["phrases"], f"{path}.phrases")
        if len(phrases) > MAX_PHRASES or any(len(phrase) > 256 for phrase in phrases):
            raise _fail(f"at most {MAX_PHRASES} phrases of 256 characters", f"{path}.phrases")
        if checked and lowercased:
            for index, phrase in enumerate(phrases):
                if phrase != phrase.lower():
                    raise _fail(f"the text is lowercased before matching, so {phrase!r} can never match",
                                f"{path}.phrases[{index}]")
    gate = None
    if "applies_to" in data:
        applies = data["applies_to"]
        if not isinstance(applies, dict) or set(applies) != {"distribution", "versions"} \
                or not isinstance(applies["distribution"], str) or not applies["distribution"].strip():
            raise _fail("expected {distribution: NAME, versions: RANGE}", f"{path}.applies_to")
        gate = Gate(applies["distribution"].strip(), applies["versions"],
                    _versions(applies["versions"], f"{path}.applies_to.versions"))
    literals = None
    if "literals" in data:
        literals = _strings(data["literals"], f"{path}.literals", allow_empty=True)
        if checked:  # a user's file: the literals must be the pattern's own, else the rule could be skipped
            found = sorted(payload_regex.anchors(regex, lowercased=lowercased) or ()) if regex else sorted(phrases)
            if sorted(literals) != found:
                raise _fail(f"the pattern's literals are {found!r}: remove the key, or state those", f"{path}.literals")
    return Rule(rule_id, name.strip(), data["severity"], tags, targets, transforms, regex, phrases, words, gate,
                source, literals)


def _check_pattern(regex: str, lowercased: bool, path: str) -> None:
    try:
        re.compile(regex)
    except re.error as error:
        raise _fail(f"not a regular expression: {error}", path) from None
    try:
        payload_regex.check_linear(regex)
    except payload_regex.UnsafePatternError as error:
        raise _fail(f"refused, not linear-time: {error}", path) from None
    if lowercased:
        capital = payload_regex.uppercase_literal(regex)
        if capital is not None:
            raise _fail(f"the text is lowercased before matching, so the pattern's {capital!r} can never match",
                        path)


def parse_rules(data: Any, source: str, *, checked: bool = True) -> tuple[Rule, ...]:
    """Validate a parsed rules document; ``checked`` False skips the pattern checks (the shipped pack)."""
    if not isinstance(data, dict):
        raise _fail(f"expected a mapping at the top level, got {type(data).__name__}", "")
    for key in data:
        if key not in ("version", "rules"):
            raise _fail("unknown key (expected one of: rules, version)", str(key))
    if data.get("version", 1) != 1:
        raise _fail(f"unsupported version {data.get('version')!r} (this release reads version 1)", "version")
    items = data.get("rules")
    if not isinstance(items, list):
        raise _fail(f"expected a list of rules, got {items!r}", "rules")
    rules = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        rule = _rule(item, f"rules[{index}]", source, checked=checked)
        if rule.id in seen:
            raise _fail(f"the id {rule.id!r} is used twice", f"rules[{index}].id")
        seen.add(rule.id)
        rules.append(rule)
    return tuple(rules)


def rules_from_text(text: str, source: str, *, checked: bool = True) -> tuple[Rule, ...]:
    """Parse and validate a rules file's text; errors name ``source``, the line and the key."""
    from ..policy_store import _line_of, parse_text

    try:
        data = parse_text(text, source)
        return parse_rules(data, source, checked=checked)
    except RuleError as error:
        raise RuleError(error.message, source=source, line=_line_of(text, error.key_path),
                        key_path=error.key_path) from None
    except PolicyError as error:  # a syntax error, with its line
        raise RuleError(str(error).split(": ", 1)[-1], source=source, line=error.line) from None


def load_file(path: str) -> tuple[Rule, ...]:
    try:
        with open(path, encoding="utf-8") as rules_file:
            text = rules_file.read()
    except OSError as error:
        raise RuleError(f"cannot read the rules file: {error.strerror or error}", source=path) from None
    return rules_from_text(text, path)


@cache
def shipped() -> tuple[Rule, ...]:
    """The pack shipped with the package (JSON: ``json`` is loaded already, where YAML costs ~10 ms)."""
    with open(SHIPPED, encoding="utf-8") as pack:
        return parse_rules(json.load(pack), SHIPPED, checked=False)


def rule_set(files: tuple[str, ...]) -> tuple[Rule, ...]:
    """The shipped rules and those of ``files``; an id used twice is refused."""
    rules = list(shipped())
    ids = {rule.id for rule in rules}
    for path in files:
        for rule in _user_rules(path):
            if rule.id in ids:
                raise RuleError(f"the id {rule.id!r} is already a rule's (ids are unique across every file)",
                                source=path)
            ids.add(rule.id)
            rules.append(rule)
    return tuple(rules)


_user_cache: dict[str, tuple[float, tuple[Rule, ...]]] = {}


def _user_rules(path: str) -> tuple[Rule, ...]:
    """A user's rules file, read again when its modification time changes."""
    try:
        stamp = os.stat(path).st_mtime
    except OSError:
        stamp = -1.0
    kept = _user_cache.get(path)
    if kept is not None and kept[0] == stamp:
        return kept[1]
    rules = load_file(path)
    _user_cache[path] = (stamp, rules)
    return rules


_installed: dict[str, str | None] = {}


def installed_version(distribution: str) -> str | None:
    """The version of ``distribution`` the function ships, or None; looked up once per process."""
    if distribution not in _installed:
        import importlib.metadata

        try:
            _installed[distribution] = importlib.metadata.version(distribution)
        except Exception:  # PackageNotFoundError, or metadata without a version
            _installed[distribution] = None
    return _installed[distribution]


def why_active(rule: Rule) -> str | None:
    """Why a rule applies ("always", or the version found), or None when its gate says it does not."""
    gate = rule.applies_to
    if gate is None:
        return "always"
    version = installed_version(gate.distribution)
    if version is None:
        return None
    return f"{gate.distribution} {version} is installed ({gate.versions})" if admits(gate.clauses, version) else None


def why_inactive(rule: Rule) -> str:
    """What the function ships instead of the versions a gated rule is for."""
    gate = rule.applies_to
    if gate is None:
        return "never"
    version = installed_version(gate.distribution)
    shipped = f"{gate.distribution} {version} is installed" if version else f"{gate.distribution} is not installed"
    return f"{shipped}; the rule is for {gate.versions}"


def forget_versions() -> None:
    """Look the distributions up again (tests that install a throwaway one)."""
    _installed.clear()


def describe(rule: Rule) -> Mapping[str, Any]:
    return {"id": rule.id, "name": rule.name, "severity": rule.severity, "tags": list(rule.tags),
            "targets": list(rule.targets), "transforms": list(rule.transforms), "source": rule.source}
