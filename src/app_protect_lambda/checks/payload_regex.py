"""Regular expressions for payload rules: the linear-time gate, the literals a rule needs, phrase sets.

**Why Python's ``re``, gated, and not google-re2.** re2 guarantees linear time, but it is native code:
its wheels are 0.52-0.59 MB zipped per Python version and architecture (google-re2 1.1 for cp310,
1.1.20251105 for cp313), so the one layer zip that serves 3.10-3.13 on both architectures would carry
eight of them, ~4.4 MB against the layer's 3 MiB budget; its current releases are manylinux_2_28 only
(the python3.10/3.11 runtimes are glibc 2.26), and ``import re2`` took ~7 ms here, more than the
engine's whole 5 ms cold-start budget. So rules use ``re``, restricted at load to a subset whose
backtracking is bounded per start position (``check_linear``): a search over n characters is then at
most n times that bound. Refused: backreferences, conditionals, unbounded repetition (``*``, ``+``,
``{n,}``: ``[^b]*b`` on a line without ``b`` rescans the rest of the text from every position, which is
quadratic), and patterns whose bound passes ``MAX_STEPS``: ``[^}]{0,64}j[^}]{0,64}n[^}]{0,64}d`` may try
64³ splits at each ``${``. A repetition of one character class that the next item cannot start with
(``\\s{0,8}\\(``) has one way to end, and counts once. tests/unit/test_payload_redos.py runs every
shipped rule on 64 KB of hostile text.

**Why literals.** Running ~20 rules' patterns over a 10 kB body would cost ~10 µs each (``re`` scans
from every position); instead each rule's patterns name literals every match must hold (``anchors``),
and one pattern of all of them (a trie: ``phrase_pattern``), scanned once per text, says which rules
can match at all. A rule whose pattern gives no literal runs on every text of its targets.
"""
from __future__ import annotations

import re

try:  # Python 3.11+
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants
    import sre_parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

# Backtracking steps a pattern may take from one start position, by the bound below. 64 KB of hostile
# text then costs at most 64K times this; measured costs are far lower (the test's budget).
MAX_STEPS = 4096
MAX_PATTERN = 4096  # characters of one pattern
_CAP = 1 << 40

_c = sre_constants
_POSSESSIVE = getattr(_c, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)
_REFS = tuple(op for op in (getattr(_c, name, None) for name in (
    "GROUPREF", "GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE", "GROUPREF_UNI_IGNORE")) if op is not None)


class UnsafePatternError(ValueError):
    """A pattern outside the linear-time subset; the message says which construct and why."""


# Characters above 255 that stand for the rest of Unicode when classes are compared: a digit, spaces, letters,
# a line separator, punctuation, an emoji. Each class is also tested on the pattern's own literals and range ends.
_WIDE = (0x660, 0x2003, 0x3000, 0x100, 0x4E00, 0x2028, 0x2010, 0xFF04, 0x1F600)
_CATEGORY_TEXT = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
                  "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
                  "CATEGORY_LINEBREAK": "\n", "CATEGORY_NOT_LINEBREAK": "[^\n]"}


class _Chars:
    """The characters a node may start with, among the pattern's universe (``_Analysis.universe``)."""

    __slots__ = ("codes",)

    def __init__(self, codes: frozenset[int]) -> None:
        self.codes = codes

    def disjoint(self, other: _Chars | None) -> bool:
        return other is not None and not (self.codes & other.codes)

    def __or__(self, other: _Chars) -> _Chars:
        return _Chars(self.codes | other.codes)


def _matches(item_op: Any, item: Any, char: str) -> bool:
    if item_op is _c.LITERAL:
        return ord(char) == item
    if item_op is _c.RANGE:
        return item[0] <= ord(char) <= item[1]
    if item_op is _c.CATEGORY:
        text = _CATEGORY_TEXT.get(str(item))
        return True if text is None else re.fullmatch(text, char) is not None
    return True  # a casing variant of a range (3.11+): anything, to be safe


class _Analysis:
    """The backtracking bound of a parsed pattern, per start position (``check_linear``)."""

    def __init__(self, ignore_case: bool, universe: frozenset[int]) -> None:
        self.ignore_case = ignore_case
        self.universe = sorted(universe)

    def chars(self, node: tuple[Any, Any]) -> _Chars | None:
        """The characters of the universe a one-character node matches; None for other nodes."""
        op, av = node
        if op is _c.LITERAL:
            test = [(_c.LITERAL, av)]
            negate = False
        elif op is _c.NOT_LITERAL:
            test, negate = [(_c.LITERAL, av)], True
        elif op is _c.ANY:
            return _Chars(frozenset(self.universe))
        elif op is _c.IN:
            negate = any(item_op is _c.NEGATE for item_op, _ in av)
            test = [(item_op, item) for item_op, item in av if item_op is not _c.NEGATE]
        else:
            return None
        found = []
        for code in self.universe:
            variants = {chr(code), chr(code).lower(), chr(code).upper()} if self.ignore_case else {chr(code)}
            hit = any(len(char) == 1 and _matches(item_op, item, char)
                      for char in variants for item_op, item in test)
            if hit != negate:
                found.append(code)
        return _Chars(frozenset(found))

    def first(self, items: list[tuple[Any, Any]], after: _Chars | None = None) -> _Chars | None:
        """What a match of ``items`` may start with, ``after`` (what follows them) included where they may
        be empty; None when unknown."""
        found: _Chars | None = None
        for node in items:
            chars, nullable = self.node_first(node)
            if chars is None:
                return None
            found = chars if found is None else found | chars
            if not nullable:
                return found
        if after is None or found is None:
            return after if found is None else None
        return found | after

    def node_first(self, node: tuple[Any, Any]) -> tuple[_Chars | None, bool]:
        op, av = node
        chars = self.chars(node)
        if chars is not None:
            return chars, False
        if op is _c.AT or op is _c.ASSERT or op is _c.ASSERT_NOT:
            return _Chars(frozenset()), True
        if op is _c.SUBPATTERN:
            inner = list(av[-1])
            return self.first(inner), self.nullable(inner)
        if op is _c.BRANCH:
            union = _Chars(frozenset())
            nullable = False
            for alternative in av[1]:
                first = self.first(list(alternative))
                if first is None:
                    return None, True
                union = union | first
                nullable = nullable or self.nullable(list(alternative))
            return union, nullable
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _POSSESSIVE):
            low, _, item = av
            inner = list(item)
            return self.first(inner), low == 0 or self.nullable(inner)
        return None, True

    def nullable(self, items: list[tuple[Any, Any]]) -> bool:
        return all(self.node_first(node)[1] for node in items)

    def sequence(self, items: list[tuple[Any, Any]], after: _Chars | None = None) -> tuple[int, int]:
        """(steps, ways to end) of a sequence followed by ``after``: each way the first item ends runs the rest."""
        cost, paths = 0, 1
        for index in range(len(items) - 1, -1, -1):
            follow = self.first(items[index + 1:], after)
            node_cost, node_paths = self.node(items[index], follow)
            cost = min(_CAP, node_cost + node_paths * cost)
            paths = min(_CAP, node_paths * paths)
        return cost, paths

    def node(self, node: tuple[Any, Any], follow: _Chars | None) -> tuple[int, int]:
        op, av = node
        if self.chars(node) is not None or op is _c.AT:
            return 1, 1
        if op is _c.SUBPATTERN:
            return self.sequence(list(av[-1]), follow)
        if op is _c.BRANCH:
            alternatives = [list(alternative) for alternative in av[1]]
            costs = [self.sequence(alternative, follow) for alternative in alternatives]
            firsts = [self.first(alternative) for alternative in alternatives]
            if all(first is not None for first in firsts) and all(
                    a.disjoint(b) for i, a in enumerate(firsts) for b in firsts[i + 1:]):  # type: ignore[union-attr]
                # At most one alternative gets past its first character.
                return len(costs) + max(cost for cost, _ in costs), max(paths for _, paths in costs)
            return min(_CAP, sum(cost for cost, _ in costs)), min(_CAP, sum(paths for _, paths in costs))
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _POSSESSIVE):
            low, high, item = av
            if high == _c.MAXREPEAT:
                raise UnsafePatternError("unbounded repetition (*, +, {n,}): write a bound, such as {0,64}; "
                                         "an unbounded run rescans the rest of the text from every position")
            inner = list(item)
            item_first = self.first(inner)
            # An iteration is followed by another one or by what follows the repetition.
            item_cost, item_paths = self.sequence(inner, item_first | follow if item_first and follow else None)
            if op is _POSSESSIVE:
                return min(_CAP, high * item_cost), 1
            ends = 1 if item_first is not None and item_first.disjoint(follow) else high - low + 1
            if item_paths == 1:
                return min(_CAP, high * item_cost + high), ends
            ways = sum(min(_CAP, item_paths ** count) for count in range(low, min(high, 64) + 1))
            return min(_CAP, item_cost * ways), min(_CAP, ways)
        if op is _ATOMIC:
            return self.sequence(list(av))[0], 1
        if op is _c.ASSERT or op is _c.ASSERT_NOT:
            return self.sequence(list(av[1]))[0], 1
        if op in _REFS:
            raise UnsafePatternError("a backreference: matching one can take time quadratic in the text")
        if op is _c.GROUPREF_EXISTS:
            raise UnsafePatternError("a conditional group (?(id)...): not in the linear-time subset")
        raise UnsafePatternError(f"the construct {op} is not in the linear-time subset")


def _universe(parsed: Any) -> frozenset[int]:
    """Latin-1, ``_WIDE``, and every literal and range end of the pattern."""
    codes = set(range(256)) | set(_WIDE)
    stack = [parsed]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)) or hasattr(item, "data"):
            for part in (item.data if hasattr(item, "data") else item):
                if isinstance(part, tuple) and len(part) == 2 and part[0] in (_c.LITERAL, _c.NOT_LITERAL):
                    codes.add(part[1])
                elif isinstance(part, tuple) and len(part) == 2 and part[0] is _c.RANGE:
                    codes.update(part[1])
                stack.append(part)
    return frozenset(codes)


def _any_scoped_case(parsed: Any) -> bool:
    stack = [parsed]
    while stack:
        item = stack.pop()
        for part in (item.data if hasattr(item, "data") else item):
            if isinstance(part, tuple) and len(part) == 2 and part[0] is _c.SUBPATTERN and _scoped_case(part[1]):
                return True
            if isinstance(part, (list, tuple)) or hasattr(part, "data"):
                stack.append(part)
    return False


def parse(pattern: str, flags: int = 0) -> Any:
    return sre_parse.parse(pattern, flags)


def check_linear(pattern: str, flags: int = 0) -> int:
    """The bound on backtracking steps per start position; UnsafePatternError when outside the subset."""
    if len(pattern) > MAX_PATTERN:
        raise UnsafePatternError(f"longer than {MAX_PATTERN} characters")
    try:
        parsed = parse(pattern, flags)
    except re.error as error:
        raise UnsafePatternError(f"not a regular expression: {error}") from None
    # A scoped (?i:...) anywhere: every class is compared with its other cases (conservative).
    ignore_case = bool(parsed.state.flags & re.IGNORECASE) or _any_scoped_case(parsed)
    steps, _ = _Analysis(ignore_case, _universe(parsed)).sequence(list(parsed))
    if steps > MAX_STEPS:
        shown = f"{steps:,}" if steps < _CAP else "more than 10^12"
        raise UnsafePatternError(f"it may backtrack {shown} steps from one position (at most {MAX_STEPS:,}): "
                                 f"bound the repetitions more tightly, or make what follows a repetition "
                                 f"unable to start with a character the repetition takes")
    return steps


# Literals: the strings one of which every match holds.
_MAX_SET = 64  # strings in one set of alternatives


def _product(left: set[str], right: set[str]) -> set[str] | None:
    if len(left) * len(right) > _MAX_SET:
        return None
    return {a + b for a in left for b in right}


def _scoped_case(av: Any) -> bool:
    """Whether a group sets (?i:...) on its own."""
    return len(av) == 4 and bool(av[1] & re.IGNORECASE)


def _exact(node: tuple[Any, Any]) -> set[str] | None:
    """The strings a node matches, when they are few."""
    op, av = node
    if op is _c.LITERAL:
        return {chr(av)}
    if op is _c.AT or op is _c.ASSERT or op is _c.ASSERT_NOT:
        return {""}  # zero-width: the literals either side stay adjacent
    if op is _c.IN:
        found: set[str] = set()
        for item_op, item in av:
            if item_op is _c.LITERAL:
                found.add(chr(item))
            elif item_op is _c.RANGE and item[1] - item[0] < 10:
                found.update(chr(code) for code in range(item[0], item[1] + 1))
            else:
                return None
        return found if len(found) <= 10 else None
    if op is _c.SUBPATTERN:
        return None if _scoped_case(av) else _exact_sequence(list(av[-1]))
    if op is _c.BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            exact = _exact_sequence(list(alternative))
            if exact is None:
                return None
            union |= exact
        return union if len(union) <= _MAX_SET else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _POSSESSIVE) and av[1] <= 3:  # x?, x{2}, x{1,3}
        item = _exact_sequence(list(av[2]))
        if item is None:
            return None
        union, power = ({""} if av[0] == 0 else set()), {""}
        for count in range(1, av[1] + 1):
            product = _product(power, item)
            if product is None:
                return None
            power = product
            if count >= av[0]:
                union |= power
        return union if len(union) <= _MAX_SET else None
    return None


def _exact_sequence(items: list[tuple[Any, Any]]) -> set[str] | None:
    found: set[str] | None = {""}
    for node in items:
        exact = _exact(node)
        if exact is None or found is None:
            return None
        found = _product(found, exact)
    return found


def _score(strings: set[str]) -> tuple[bool, int, int]:
    """Sets of two characters or more, none of them letters and digits alone, first (``{{`` before
    ``config``: the scanner looks for a letters-only literal by its first two letters, one scan of the
    text per pair, where ``{{`` costs a text without ``{`` one memchr), then the longest, then the fewest."""
    shortest = min(map(len, strings))
    return shortest >= 2 and not any(text.isalnum() for text in strings), shortest, -len(strings)


def _required(items: list[tuple[Any, Any]]) -> set[str] | None:
    """A set of strings one of which every match of ``items`` holds (the best found), or None."""
    candidates: list[set[str]] = []
    run: set[str] = {""}
    for node in items:
        exact = _exact(node)
        if exact is not None:
            joined = _product(run, exact)
            if joined is not None:
                run = joined
                continue
            candidates.append(run)
            run = exact
            continue
        candidates.append(run)
        run = {""}
        op, av = node
        inner: set[str] | None = None
        if op is _c.SUBPATTERN and _scoped_case(av):
            inner = None  # (?i:...): its literals in any case
        elif op is _c.SUBPATTERN or op is _ATOMIC:
            inner = _required(list(av[-1] if op is _c.SUBPATTERN else av))
        elif op is _c.BRANCH:
            inner = set()
            for alternative in av[1]:
                found = _required(list(alternative))
                if found is None:
                    inner = None
                    break
                inner |= found
            if inner is not None and len(inner) > _MAX_SET:
                inner = None
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _POSSESSIVE) and av[0] >= 1:
            inner = _required(list(av[2]))
        if inner:
            candidates.append(inner)
    candidates.append(run)
    usable = [_minimal(strings) for strings in candidates if strings and "" not in strings]
    return max(usable, key=_score) if usable else None


def _minimal(strings: set[str]) -> set[str]:
    """Without the strings that hold another of the set: a text holding ``;O:1`` holds ``O:1``."""
    return {text for text in strings if not any(other != text and other in text for other in strings)}


def anchors(pattern: str, flags: int = 0, *, lowercased: bool = False) -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` holds, or None when it names none.

    A case-insensitive pattern gives literals only for text that is lowercased first (``lowercased``).
    """
    parsed = parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        if not lowercased:
            return None
        found = _required(list(parsed))
        return frozenset(text.lower() for text in found) if found else None
    found = _required(list(parsed))
    return frozenset(found) if found else None


def phrase_pattern(phrases: Iterable[str]) -> str:
    """One pattern matching any of ``phrases``, the longest first at a position: a trie, so that each
    position costs at most the longest phrase's length, however many phrases there are."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(root)


def _emit(node: dict[str, Any]) -> str:
    branches = []
    for char in sorted(key for key in node if key):
        child = node[char]
        text = re.escape(char)
        while len(child) == 1 and "" not in child:  # a chain of single letters: one literal
            (char, child), = child.items()
            text += re.escape(char)
        branches.append(text + _emit(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def uppercase_literal(pattern: str, flags: int = 0) -> str | None:
    """An upper-case letter the pattern needs verbatim (for rules whose text is lowercased first), or None."""
    parsed = parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return None
    stack: list[Any] = [parsed]
    while stack:
        item = stack.pop()
        for part in (item.data if hasattr(item, "data") else item):
            if isinstance(part, tuple) and len(part) == 2 and part[0] is _c.LITERAL and chr(part[1]).isupper():
                return chr(part[1])
            if isinstance(part, tuple) and len(part) == 2 and part[0] is _c.IN:
                continue  # a class may name capitals it does not need (``[^J]``)
            if isinstance(part, (list, tuple)) or hasattr(part, "data"):
                stack.append(part)
    return None
