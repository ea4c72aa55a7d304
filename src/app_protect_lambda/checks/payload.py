"""Malicious payloads: the perimeter runs the payload rules over the request's inputs, before any user code.

The rules (``payload_rules``: the shipped pack ``rules/payload.json`` and the policy's ``rules_files``)
each name their targets (query, path, headers or one header, cookies, body, or every input) and the
transforms their text goes through. Rules that share targets and transforms form a *view*. Each text a
view looks at is scanned lower-cased (its chain, then ``lowercase``; a transform that changes nothing
gives the same object, so a body without ``%`` or ``&`` is one text for every view) by one scanner of
every literal its views need (``payload_regex.anchors``, lower-cased; ``Scanner``); only rules whose
literals occur run their own pattern, on the view's own text (case kept), first joined, then on each
input to find which one (so a match never spans two inputs). A view that ends with base64 scans for its
literals' base64 forms only in a text with a run to decode (``has_base64_run``, ~3-8 µs for 10 kB).

Cost, measured on a loaded 2-core machine (``python -m bench.payload``; CPU time, medians, which moved
by up to 40% between runs): with the protection off the perimeter adds ~1.3-2 µs; the whole pack
~110-145 µs on a benign 10 kB JSON body (of which ~40 µs are the body's one scan: 11 keys at ~3-5 µs
each; ~6 µs the headers' ~250 literals, tested one by one but for those holding a character the text
lacks; the rest Python per view) and ~100-165 µs on a browser's request; the first request of a cold
start ~3-5 ms more than with the pack off (reading the pack ~0.6 ms, building the views ~0.9 ms,
compiling ~13 small patterns ~1-2 ms), with the package compiled to byte code as the layer ships it. The
version a gated rule names is looked up (``importlib.metadata``, ~10 ms) only once its pattern has
matched, never on benign traffic. Before this design the figures were ~270 µs and ~18 ms: the body was
scanned twice (raw and lower-cased) for ~20 keys each, most of them letters every text holds.

Modes: the protection's own mode when the policy sets one; otherwise ``off`` (``payload_mode`` says why):
a rule pack answers 403 only where its owner said so, by the protection's ``mode: block`` or per rule
(``rules: {payload.log4shell: block}``, beside the protection's mode); per-rule modes beat the
protection's, and ``disabled_rules`` removes rules. Every matching rule is recorded (report mode
first); the first in block mode then blocks. Version-gated rules (``applies_to``) are looked up when
their pattern first matches.

The engine is built once per policy version (the compiled rules kept beside the options they came
from, as the IP filter keeps its tables); each rule's pattern is compiled the first time a request
holds its literals, and a scanner's patterns when it first meets a text longer than ``SHORT``.
"""
from __future__ import annotations

import re
from functools import cache

from ..findings import AttackKind, Finding
from ..guard import decide
from ..policy import Mode
from ..sources.inputs import Input
from . import payload_regex, payload_rules
from .payload_transforms import TRANSFORMS, apply, has_base64_run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..context import RequestContext
    from ..policy import Policy
    from .payload_rules import Rule

KIND = AttackKind.MALICIOUS_PAYLOAD
SINK = "perimeter.malicious_payload"
SHORT = 512  # characters of a text below which each literal is tested on its own (~40 ns each)
MAX_HITS = 512  # literal occurrences looked at per text; past them every rule of the view runs
MAX_FINDINGS = 16  # matching rules recorded per request
FRAGMENT = 200  # characters of the matched text kept in a record (then clipped and redacted as any value)
_MAX_ENGINES = 8
_JSON_ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])')
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

Entry = tuple["Rule", Mode]
_NOTHING: frozenset[str] = frozenset()


def payload_mode(policy: Policy) -> Mode:
    """The protection's mode: the policy's setting, else ``off``. The pack is within its own budgets
    (150 µs on a 10 kB JSON request, 5 ms of cold start; ~110-145 µs and ~3-5 ms here, with no margin
    under load), but on by default it would add that to every invocation of every function, where an
    empty invocation costs ~8 µs today: opt-in until that trade is decided."""
    explicit = policy.protections[KIND].mode
    return Mode.OFF if explicit is None else explicit


# Characters from the most to the least frequent in benign requests (JSON, text, headers; "\n" joins the inputs
# of a part). Each literal is looked for at its rarest character: a scan stops at a rare character only.
_FREQUENT = ('\n "etaoinsr:,hldcum0123456789.fpg{}wyb-_v/k[]xjqzETAOINSRHLDCUMFPGWYBVKXJQZ'
             "=&?%+;()<>$#@!*\\'|^~`")
_RANK = {char: rank for rank, char in enumerate(_FREQUENT)}
_PUNCTUATION = frozenset(' \t\n":,./-')  # in nearly every JSON body or header
_DENSE = frozenset(' \t\n":,')  # so dense (a few in every ten characters of JSON) that a key needs a neighbour


def _rank(char: str) -> int:
    return _RANK.get(char, len(_FREQUENT))


def _candidates(literal: str) -> list[str]:
    """The keys a literal may be looked for at: a character absent from most benign texts (``$``, ``<``, ``_``,
    ...); else ``.``, ``-`` or ``/`` (present, but a few times in a hundred characters: ``.`` of every
    ``class.module`` and ``oast.fun``, one scan for all); else a pair around denser punctuation (``o:`` of
    ``O:8``); else its first two characters (a letters-only word: ``on`` of ``onerror``, ``onload``, ...)."""
    rare = [char for char in literal if not char.isalnum() and char not in _PUNCTUATION]
    if rare:
        return list(dict.fromkeys(rare))
    sparse = [char for char in literal if char in _PUNCTUATION and char not in _DENSE]
    if sparse:
        return list(dict.fromkeys(sparse))
    pairs = [literal[index:index + 2] for index in range(len(literal) - 1)
             if literal[index] in _PUNCTUATION or literal[index + 1] in _PUNCTUATION]
    return list(dict.fromkeys(pairs)) or [literal[:2]]


def _keys(literals: frozenset[str]) -> dict[str, str]:
    """The key each literal is looked for at (``_candidates``), with as few distinct keys as may be, since each
    key a text holds costs one scan of it (~3-5 µs for 10 kB here, whatever the key): the literals with the
    fewest candidates choose first; each takes a key chosen already when it can, else the candidate most
    literals share (the rarest character on a tie)."""
    options = {literal: _candidates(literal) for literal in literals}
    shared: dict[str, int] = {}
    for keys in options.values():
        for key in keys:
            shared[key] = shared.get(key, 0) + 1
    chosen: dict[str, str] = {}
    picked: set[str] = set()
    for literal in sorted(literals, key=lambda literal: (len(options[literal]), literal)):
        keys = options[literal]
        key = next((key for key in keys if key in picked), None) or max(
            keys, key=lambda key: (shared[key], max(map(_rank, key))))
        picked.add(key)
        chosen[literal] = key
    return chosen


class Scanner:
    """Which of a set of literals occur in a text.

    ``re`` scans slowly for a set of characters (~9 ns a character here, 89 µs for a 10 kB body) and
    fast for a literal prefix (a tight loop in C, ~3 µs for 10 kB): so the literals are grouped by a key
    (``_keys``: one rare character, or two characters), a group is skipped when the key's rarest character
    is absent (``in``: memchr, ~0.1 µs), and otherwise one pattern that starts with the key, with each
    literal checked behind it, finds the places where one occurs.
    """

    __slots__ = ("_groups", "literals", "plain", "rare")

    def __init__(self, literals: frozenset[str]) -> None:
        self.literals = tuple(literals)
        self._groups: list[tuple[str, str, list[tuple[int, str]]]] | None = None
        # For short texts: the literals holding a character most texts lack, by that character (skipped for
        # one memchr when the text lacks it), and the others, each tested.
        by_char: dict[str, list[str]] = {}
        plain = []
        for literal in self.literals:
            rare = [char for char in literal if not char.isalnum() and char not in _PUNCTUATION]
            if rare:
                by_char.setdefault(rare[0], []).append(literal)
            else:
                plain.append(literal)
        self.plain = tuple(plain)
        self.rare = tuple((char, tuple(items)) for char, items in by_char.items())

    @property
    def groups(self) -> list[tuple[str, str, list[tuple[int, str]]]]:
        """(gate character, pattern, [(index of the key, literal)]) by key; built for the first text longer
        than ``SHORT`` (~1-2 ms for the pack's ~250 literals: a request of headers and small parameters never
        pays it)."""
        if self._groups is not None:
            return self._groups
        by_key: dict[str, list[tuple[int, str]]] = {}
        for literal, key in _keys(frozenset(self.literals)).items():
            by_key.setdefault(key, []).append((literal.index(key), literal))
        groups = []
        for key, items in by_key.items():
            # The key, then what follows it in one of the literals (a trie), or what precedes it for a
            # literal that ends with it; the rest is checked on each place found (``found``). Small
            # patterns: compiled when a text first holds the key's gate, ~0.1 ms each, on a cold start.
            if any(literal == key for _, literal in items):
                rest = ""
            else:
                rests = {literal[index + len(key):] for index, literal in items} - {""}
                pieces = [payload_regex.phrase_pattern(rests)] if rests else []
                pieces += sorted(f"(?<={re.escape(literal)})" for index, literal in items
                                 if index + len(key) == len(literal))
                rest = f"(?:{'|'.join(pieces)})"
            # The key's character a text is least likely to hold: punctuation first (the "\n" of "cos\n" is
            # in no one-line body, though it joins a part's inputs), then the rarest letter.
            gate = max(key, key=lambda char: (not char.isalnum(), _rank(char)))
            groups.append((gate, re.escape(key) + rest, items))
        self._groups = groups
        return groups

    def found(self, text: str) -> set[str] | None:
        """The literals that occur in ``text``; None past ``MAX_HITS`` places (then every rule runs)."""
        hits: set[str] = set()
        if len(text) <= SHORT:  # a header, a parameter: testing each literal in C is cheaper than any scan
            hits.update(filter(text.__contains__, self.plain))
            for char, literals in self.rare:
                if char in text:
                    hits.update(filter(text.__contains__, literals))
            return hits
        places = 0
        for char, pattern, items in self.groups:
            if char not in text:
                continue
            search = _compiled(pattern).search
            position = 0
            while True:
                match = search(text, position)
                if match is None:
                    break
                places += 1
                if places > MAX_HITS:
                    return None
                place = match.start()
                for index, literal in items:
                    if place >= index and text.startswith(literal, place - index):
                        hits.add(literal)
                position = place + 1
        return hits


def _encoded(literal: str) -> set[str]:
    """What base64 text holding ``literal`` (bytes as latin-1) holds, at each of the three alignments and in
    both alphabets: the characters only the literal's bits decide. Empty when one alignment decides fewer
    than three (a text must then be decoded to know)."""
    import binascii  # not base64: its import (struct, ...) was ~0.6 ms more of a cold start

    data = literal.encode("latin-1")
    found = set()
    for offset in range(3):
        text = binascii.b2a_base64(bytes(offset) + data, newline=False).decode("ascii")
        low, high = -(-8 * offset // 6), (8 * offset + 8 * len(data)) // 6
        if high - low < 3:
            return set()
        found.add(text[low:high])
    return found | {text.replace("+", "-").replace("/", "_") for text in found}


def _fewer(anchors: frozenset[str] | None) -> frozenset[str] | None:
    """The literals, where more than four share a beginning of three characters or more (``class.module``,
    ``class[module``, ... -> ``class``), as that beginning: a text holding one holds it, and each literal
    costs a test on every request. Two characters were too few: ``"$`` (of ``"$where"``, ``"$ne"``, ...)
    begins every price in a JSON body, and the rule's pattern then ran on all of it (+180 µs for 10 kB)."""
    if not anchors or len(anchors) <= 4:
        return anchors
    groups: dict[str, list[str]] = {}
    for anchor in anchors:
        groups.setdefault(anchor[:2], []).append(anchor)
    fewer = set()
    for members in groups.values():
        common = members[0]
        for member in members[1:]:
            while not member.startswith(common):
                common = common[:-1]
        if len(members) > 4 and len(common) >= 3 and not common.isalnum():
            fewer.add(common)
        else:
            fewer.update(members)
    return frozenset(fewer)


class View:
    """Rules that share targets and transforms: the literals they need, and the rules each one admits."""

    __slots__ = ("always", "anchored", "before", "chain", "encoded", "event_parts", "http_parts", "http_scanned",
                 "scan", "targets")

    def __init__(self, targets: tuple[str, ...], chain: tuple[str, ...]) -> None:
        self.targets = targets
        self.chain = chain
        self.anchored: dict[str, list[Entry]] = {}
        self.always: list[Entry] = []
        # A chain that ends with base64 is looked at before it: its literals' base64 forms must be there.
        self.before = chain[:-1] if chain and chain[-1] == "base64" else None
        self.encoded: dict[str, str] | None = {} if self.before is not None else None
        self.http_parts = PARTS if "all" in targets else targets
        # Scanned for literals: the head (path, query, headers, cookies: small, one text) and the body.
        self.http_scanned = tuple(dict.fromkeys("body" if part == "body" else "head" for part in self.http_parts))
        self.event_parts = ("all",) if "all" in targets else ()
        self.scan = chain  # the chain of the texts scanned for literals: ``finish`` sets it

    def finish(self) -> None:
        """Once every rule is added: the texts are scanned before a last base64 (for the literals' base64
        forms, when each has them), and lower-cased."""
        looked = self.before if self.before is not None and self.encoded is not None else self.chain
        self.scan = looked if looked[-1:] == ("lowercase",) else (*looked, "lowercase")

    def add(self, rule: Rule, mode: Mode) -> None:
        anchors = _fewer(rule.anchors)
        if not anchors or any(len(anchor) < 2 for anchor in anchors):
            self.always.append((rule, mode))
            return
        for anchor in anchors:
            # Keyed lower-case: every view's text is scanned lower-cased (``scan_chain``), so that a body's
            # views share one scan; the rule's own pattern then runs on the view's text, case and all.
            key = anchor.lower()
            self.anchored.setdefault(key, []).append((rule, mode))
            if self.encoded is not None:
                forms = _encoded(anchor)
                if not forms:
                    self.encoded = None  # a literal base64 cannot show: decode every text
                else:
                    self.encoded.update(dict.fromkeys({form.lower() for form in forms}, key))


PARTS = ("path", "query", "headers", "cookies", "body")


class Engine:
    """The active rules of one policy version, by view, and the scanners of their literals."""

    __slots__ = ("rules", "scanners", "views")

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
        for view in self.views:
            view.finish()
        self.scanners: dict[tuple[int, ...], Scanner] = {}

    def _scanner(self, views: tuple[int, ...]) -> Scanner:
        """The scanner of the literals of these views (by index), built once."""
        scanner = self.scanners.get(views)
        if scanner is None:
            if len(self.scanners) >= 64:
                self.scanners.clear()
            literals: set[str] = set()
            for index in views:
                view = self.views[index]
                literals.update(view.encoded if view.encoded is not None else view.anchored)
            scanner = self.scanners[views] = Scanner(frozenset(literals))
        return scanner

    def matches(self, subjects: Subjects) -> list[tuple[Rule, Mode, Input, str]]:
        """(rule, mode, input, matched fragment) of each rule that matches."""
        is_http = subjects.context.request.is_http
        # Each distinct text (a part through a chain; a transform that changes nothing gives the same
        # object) is scanned once for the literals of every view that looks at it.
        wanted: dict[int, tuple[str, list[int]]] = {}
        runs: dict[int, bool] = {}  # id(text) -> whether base64 finds a run in it
        plans = []
        part, text_of = subjects.part, subjects.text
        for number, view in enumerate(self.views):
            parts = [name for name in (view.http_parts if is_http else view.event_parts) if part(name)]
            if not parts:
                continue
            scan = view.scan
            texts = [text_of(name, scan) for name in (view.http_scanned if is_http else parts)]
            if view.anchored:
                for text in texts:
                    if view.encoded is not None:
                        if id(text) not in runs:
                            runs[id(text)] = has_base64_run(text)
                        if not runs[id(text)]:
                            continue  # no run to decode: the view's rules cannot match, its literals need no scan
                    group = wanted.get(id(text))
                    if group is None:
                        wanted[id(text)] = (text, [number])
                    elif group[1][-1] != number:
                        group[1].append(number)
            plans.append((view, parts, texts))
        hits: dict[int, set[str] | frozenset[str] | None] = {
            key: self._scanner(tuple(views)).found(text) for key, (text, views) in wanted.items()}
        found: list[tuple[Rule, Mode, Input, str]] = []
        done: set[str] = set()
        for view, parts, texts in plans:
            candidates = {rule.id: (rule, mode) for rule, mode in view.always}
            for text in texts:
                seen = hits.get(id(text), _NOTHING)  # not scanned: nothing to look up
                if not seen and seen is not None:
                    continue
                if seen is None:
                    for entries in view.anchored.values():
                        candidates.update((rule.id, (rule, mode)) for rule, mode in entries)
                    continue
                for literal in seen:
                    anchor = view.encoded.get(literal) if view.encoded is not None else literal
                    for rule, mode in view.anchored.get(anchor or "", ()):
                        candidates.setdefault(rule.id, (rule, mode))
            for rule, mode in candidates.values():
                if rule.id in done or len(found) >= MAX_FINDINGS:
                    continue
                hit = self._confirm(rule, view, parts, subjects)
                # The version gate is looked up only for a match: ``importlib.metadata`` costs ~5 ms of a
                # cold start, and a gated rule without literals (python-multipart's) runs on every request.
                if hit is not None and (rule.applies_to is None or payload_rules.why_active(rule) is not None):
                    done.add(rule.id)
                    found.append((rule, mode, *hit))
        return found

    @staticmethod
    def _confirm(rule: Rule, view: View, parts: list[str], subjects: Subjects) -> tuple[Input, str] | None:
        """The first input the rule's pattern matches, checked on each part's text first."""
        pattern = _compiled(rule.pattern)
        for part in parts:
            if pattern.search(subjects.text(part, view.chain)) is None:
                continue
            for location, value in subjects.part(part):
                transformed = apply(value, view.chain)
                match = pattern.search(transformed)
                if match is not None:
                    transform = "+".join(view.chain) if transformed != value else ""
                    return Input(location, value, transform), _fragment(match.group())
        return None


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

    __slots__ = ("_applied", "_by_target", "_joined", "context")

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self._by_target: dict[str, list[tuple[str, str]]] = {}
        self._joined: dict[tuple[str, tuple[str, ...]], str] = {}
        self._applied: dict[tuple[int, str], str] = {}  # the texts stay in _joined: their ids are not reused

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
            return [item for part in PARTS for item in self.target(part)]
        if name == "head":
            return [item for part in PARTS[:-1] for item in self.target(part)]
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

    # The inputs of one part: ``path``, ``query``, ``headers``, ``header:NAME``, ``cookies``, ``body``, ``head``
    # (the first four), or ``all`` (every input; of a non-HTTP event, its flattened inputs).
    part = target

    def text(self, part: str, chain: tuple[str, ...]) -> str:
        """The part's inputs, a line each, through ``chain`` (memoised by chain prefix, so views share work)."""
        key = (part, chain)
        text = self._joined.get(key)
        if text is None:
            if chain:
                before = self.text(part, chain[:-1])
                # One text through one transform once: (url-decode, lowercase) and (lowercase) of a body
                # without a % are then the same object, scanned once.
                applied = (id(before), chain[-1])
                text = self._applied.get(applied)
                if text is None:
                    text = self._applied[applied] = TRANSFORMS[chain[-1]](before)
            else:
                text = "\n".join(value for _, value in self.target(part))
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
