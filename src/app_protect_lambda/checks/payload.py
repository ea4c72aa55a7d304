"""Malicious payloads: the perimeter runs the payload rules over the request's inputs, before any user code.

The rules (``payload_rules``: the shipped pack ``rules/payload.json`` and the policy's ``rules_files``)
each name their targets (query, path, headers or one header, cookies, body, or every input) and the
transforms their text goes through. Rules that share targets and transforms form a *view*: its inputs
are joined into one text (a line each), transformed once, and scanned once by one pattern of every
literal its rules need (``payload_regex.anchors``); only rules whose literals occur run their own
pattern, first on the joined text, then on each input to find which one (so a match never spans two
inputs). A benign 10 kB JSON request costs ~40 µs here with the whole pack in report mode, and with
the protection off ~0.5 µs (``python -m bench.payload``).

Modes: the protection's own mode when the policy sets one; otherwise ``report`` (``off`` when the
policy's default is ``off``): a rule pack answers 403 only where its owner said so, by the protection's
``mode: block`` or per rule (``rules: {payload.log4shell: block}``); per-rule modes beat the
protection's, and ``disabled_rules`` removes rules. Every matching rule is recorded (report mode
first); the first in block mode then blocks. Version-gated rules (``applies_to``) are looked up when
their literals first occur.

The engine is built once per policy version (the compiled rules kept beside the options they came
from, as the IP filter keeps its tables); each rule's pattern is compiled the first time a request
holds its literals, so a cold start compiles one pattern per view, not one per rule.
"""
from __future__ import annotations

import re
from functools import cache

from ..findings import AttackKind, Finding
from ..guard import decide
from ..policy import Mode
from ..sources.inputs import Input
from . import payload_rules
from .payload_transforms import apply

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..context import RequestContext
    from ..policy import Policy
    from .payload_rules import Rule

KIND = AttackKind.MALICIOUS_PAYLOAD
SINK = "perimeter.malicious_payload"
MAX_HITS = 512  # literal occurrences looked at per text; past them every rule of the view runs
MAX_FINDINGS = 16  # matching rules recorded per request
FRAGMENT = 200  # characters of the matched text kept in a record (then clipped and redacted as any value)
_MAX_ENGINES = 8
_JSON_ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])')
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

Entry = tuple["Rule", Mode]


def payload_mode(policy: Policy) -> Mode:
    """The protection's mode: the policy's setting, else ``report`` (``off`` under a default ``off``)."""
    explicit = policy.protections[KIND].mode
    if explicit is not None:
        return explicit
    return Mode.OFF if policy.mode is Mode.OFF else Mode.REPORT


class View:
    """Rules that share targets and transforms, and the one pattern of the literals they need."""

    __slots__ = ("_prefilter", "always", "anchored", "chain", "targets")

    def __init__(self, targets: tuple[str, ...], chain: tuple[str, ...]) -> None:
        self.targets = targets
        self.chain = chain
        self.anchored: dict[str, list[Entry]] = {}
        self.always: list[Entry] = []
        self._prefilter: re.Pattern[str] | None = None

    def add(self, rule: Rule, mode: Mode) -> None:
        anchors = rule.anchors
        if not anchors:
            self.always.append((rule, mode))
            return
        for anchor in anchors:
            self.anchored.setdefault(anchor, []).append((rule, mode))

    @property
    def prefilter(self) -> re.Pattern[str]:
        if self._prefilter is None:
            from .payload_regex import phrase_pattern

            self._prefilter = re.compile(phrase_pattern(self.anchored))
        return self._prefilter

    def candidates(self, text: str) -> list[Entry]:
        """The rules whose literals occur in ``text`` (all of them past ``MAX_HITS`` occurrences)."""
        found: dict[str, Entry] = {rule.id: (rule, mode) for rule, mode in self.always}
        if not self.anchored:
            return list(found.values())
        search = self.prefilter.search
        hits: set[str] = set()
        position = 0
        for _ in range(MAX_HITS):
            match = search(text, position)
            if match is None:
                break
            hits.add(match.group())
            position = match.start() + 1  # literals may overlap: look again from the next character
        else:
            hits = set(self.anchored)
        anchored = self.anchored
        for hit in hits:
            for end in range(1, len(hit) + 1):  # the trie gives the longest literal at a place; its prefixes too
                for rule, mode in anchored.get(hit[:end], ()):
                    found.setdefault(rule.id, (rule, mode))
        return list(found.values())


class Engine:
    """The active rules of one policy version, by view."""

    __slots__ = ("rules", "views")

    def __init__(self, entries: list[Entry]) -> None:
        self.rules = entries
        views: dict[tuple[tuple[str, ...], tuple[str, ...]], View] = {}
        for rule, mode in entries:
            key = (rule.targets, rule.transforms)
            view = views.get(key)
            if view is None:
                view = views[key] = View(*key)
            view.add(rule, mode)
        self.views = tuple(views.values())

    def matches(self, subjects: Subjects) -> list[tuple[Rule, Mode, Input, str]]:
        """(rule, mode, input, matched fragment) of each rule that matches, in pack order."""
        found: list[tuple[Rule, Mode, Input, str]] = []
        for view in self.views:
            items = subjects.of(view.targets)
            if not items:
                continue
            text = subjects.joined(view.targets, view.chain)
            for rule, mode in view.candidates(text):
                if len(found) >= MAX_FINDINGS:
                    return found
                if rule.applies_to is not None and payload_rules.why_active(rule) is None:
                    continue
                pattern = _compiled(rule.pattern)
                if pattern.search(text) is None:
                    continue
                for location, value in items:
                    transformed = apply(value, view.chain)
                    match = pattern.search(transformed)
                    if match is not None:
                        transform = "+".join(view.chain) if transformed != value else ""
                        found.append((rule, mode, Input(location, value, transform), _fragment(match.group())))
                        break
        return found


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _fragment(text: str) -> str:
    text = text[:FRAGMENT]
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def json_unescaped(text: str) -> str:
    r"""A JSON text with its string escapes undone (``\u0024{`` is ``${``), as the handler's parser sees them."""
    if "\\" not in text:
        return text

    def undo(match: re.Match[str]) -> str:
        if match[1] is not None:
            return chr(int(match[1], 16))
        return _SIMPLE_ESCAPES.get(match[2], match[2])

    return _JSON_ESCAPE.sub(undo, text)


class Subjects:
    """The request's inputs by target, read on first use; joined and transformed texts, memoised."""

    __slots__ = ("_by_target", "_joined", "context")

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self._by_target: dict[str, list[tuple[str, str]]] = {}
        self._joined: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def target(self, name: str) -> list[tuple[str, str]]:
        items = self._by_target.get(name)
        if items is None:
            items = self._by_target[name] = self._read(name)
        return items

    def _read(self, name: str) -> list[tuple[str, str]]:
        request = self.context.request
        if not request.is_http:
            if name != "all":
                return []
            return [(item.location, item.value) for item in self.context.inputs.raw]
        if name == "all":
            return [item for part in ("path", "query", "headers", "cookies", "body") for item in self.target(part)]
        if name.startswith("header:"):
            header = name[len("header:"):]
            return [(f"header.{header}", value) for value in request.headers.get(header, ())]
        items: list[tuple[str, str]] = []
        if name == "query":
            raw = request.event.get("rawQueryString") if isinstance(request.event, dict) else None
            if isinstance(raw, str) and raw:
                items.append(("query", raw))
            for key, values in request.query.items():
                items.append((f"query.{key}#key", key))
                items.extend((f"query.{key}", value) for value in values)
        elif name == "path":
            if request.path:
                items.append(("path", request.path))
            items.extend((f"path.{key}", value) for key, value in request.path_params.items())
        elif name == "headers":
            for key, values in request.headers.items():
                items.extend((f"header.{key}", value) for value in values)
        elif name == "cookies":
            for key, values in request.cookies.items():
                items.extend((f"cookie.{key}", value) for value in values)
        elif name == "body":
            body = request.body
            if body:
                items.append(("body", json_unescaped(body) if body.lstrip()[:1] in ("{", "[", '"') else body))
        return items

    def of(self, targets: tuple[str, ...]) -> list[tuple[str, str]]:
        if len(targets) == 1:
            return self.target(targets[0])
        if "all" in targets:
            return self.target("all")
        return [item for name in targets for item in self.target(name)]

    def joined(self, targets: tuple[str, ...], chain: tuple[str, ...]) -> str:
        key = (targets, chain)
        text = self._joined.get(key)
        if text is None:
            text = "\n".join(value for _, value in self.of(targets)) if not chain else \
                apply(self.joined(targets, ()), chain)
            self._joined[key] = text
        return text


# id(options) -> (options, default mode, rule files' identity, engine): the options are kept so that no id is reused.
_engines: dict[int, tuple[Mapping[str, Any], Mode, tuple[Rule, ...], Engine]] = {}


def engine_for(options: Mapping[str, Any], default: Mode) -> Engine:
    """The engine of these options; users' rules files are read again when they change (one stat each)."""
    files = options["rules_files"]
    kept = _engines.get(id(options))
    rules = payload_rules.rule_set(files) if files or kept is None else kept[2]
    if kept is not None and kept[0] is options and kept[1] is default and kept[2] == rules:
        return kept[3]
    overrides: Mapping[str, Mode] = options["rules"]
    disabled = set(options["disabled_rules"])
    entries: list[Entry] = []
    for rule in rules:
        mode = overrides.get(rule.id, default)
        if rule.id not in disabled and mode is not Mode.OFF:
            entries.append((rule, mode))
    engine = Engine(entries)
    if len(_engines) >= _MAX_ENGINES:
        _engines.clear()
    _engines[id(options)] = (options, default, rules, engine)
    return engine


def check(context: RequestContext, where: str) -> None:
    policy = context.policy
    options = policy.options(KIND)
    default = payload_mode(policy)
    if default is Mode.OFF and not options["rules"]:
        return
    engine = engine_for(options, default)
    if not engine.views:
        return
    found = engine.matches(Subjects(context))
    if not found:
        return
    blocking = None
    for rule, mode, item, fragment in found:
        finding = _finding(context, rule, item, fragment)
        if mode is Mode.BLOCK:
            blocking = blocking or finding
        else:
            decide(context, finding, SINK, fragment, Mode.REPORT)
    if blocking is not None:
        decide(context, blocking, SINK, blocking.evidence, Mode.BLOCK)


def _finding(context: RequestContext, rule: Rule, item: Input, fragment: str) -> Finding:
    item = _field(context, rule, item)
    tags = f" [{', '.join(rule.tags)}]" if rule.tags else ""
    message = f"{rule.name} ({rule.severity}){tags} in {item.describe()}"
    return Finding(KIND, rule.id, message, item, fragment)


def _field(context: RequestContext, rule: Rule, item: Input) -> Input:
    """For a match in the body, the body field it is in, when the walk of the event finds one."""
    if item.location != "body" or not context.request.is_http:
        return item
    try:
        pattern = _compiled(rule.pattern)
        chain = rule.transforms
        for candidate in context.inputs.raw:
            if candidate.location.startswith("body") and candidate.location != "body" and \
                    pattern.search(apply(candidate.value, chain)):
                return Input(candidate.location, candidate.value, item.transform)
    except Exception:  # the location is a courtesy: the finding stands without it
        return item
    return item
