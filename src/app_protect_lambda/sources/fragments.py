"""Fragments of a sink argument that came from an input the code transformed on the way.

Code rarely hands an input to a sink untouched: it strips it, lower-cases it, collapses its
blanks, cuts it (``x[:40]``, ``x.split(",")[1]``), unescapes HTML, folds it to ASCII, or runs a
naive sanitiser over it (``x.replace("<", "")``). Verbatim containment, the sinks' fast path,
then finds nothing, and the structure the input carries goes unjudged. This module finds the
pieces of the argument that carry structure (what a ``Family`` calls an anchor: a quote, an
operator, ``..``, a scheme) and occur in some input once both are normalised alike, and hands
them to the detector as inputs: the detector's own span judgement then applies unchanged.

Normal form: HTML-unescaped (inputs only: the argument is what runs), folded to ASCII
(typographic quotes and dashes to their ASCII forms, as unidecode or a table of smart quotes
would, then NFKD and the rest dropped), lower-cased, runs of blanks as one space. Around each
anchor of the argument the window grows, inside one input at a time, to the longest text both
share: strip, case, collapse, truncation and split parts leave the window whole; a sanitiser's
removal stops it where the character went, and the part with the anchor remains. Repeating
the deleted character between all the others leaves no part long enough (``x<'< <O<R<``), so
each input is also indexed with each of its ``MAX_REMOVED`` most repeated punctuation
characters deleted. An input past ``MAX_INPUT`` (an upload, a CSV) is indexed by its distinct
lines that hold an anchor, as code reads it.

Precision. Coincidences between the code's own text and a piece of a benign input are the
risk, so a window counts only when:
- it is the whole input (blanks aside) and at least ``Family.minimum`` characters long (4 for
  most: ``'--`` alone, ``), (`` or ``a=b`` are too common to be anyone's), or it is a piece of
  the input and at least ``PIECE_MINIMUM`` (8): a prefix (a truncation), a suffix, or a piece
  bounded on both sides by a non-word character (a split part, a removed character). A
  piece is where chance lives: ``name=`` of a value ``name=bob`` next to the code's
  ``WHERE name=?``, ``', '`` of ``'hi', 'bye'`` (not bounded: never). ``Family.whole`` asks
  for the whole input, where even a prefix is too loose (a Location that begins like the
  Referer);
- a quote at the window's edge is not the input's when another one stands next to it
  outside the window, or when the window's edge is inside the input: shlex
  reopens its quote next to the input's own (``'"'"'``), SQL doubles it (``''``);
- the input is not a JSON object or array (it parses as one; the shape alone is not enough):
  its fields are inputs of their own, and its punctuation (``"name":``) matches the code's
  quoting everywhere.
So an input of 8 characters or more is a candidate only where it shares the 8-gram around an
anchor, a shorter one the 4-gram: junk that shares the payload's 4-grams and nothing longer
never stands in its way.

Who calls. A detector judges the fragments whenever the inputs that occur verbatim were
judged harmless (a benign input in the statement must not hide a transformed one beside it;
the shell judges both together), and a sink's
fast path asks only when no input occurs verbatim: both through ``transformed``, which
remembers its last answer, so the detector's question after the fast path's costs nothing.

Cost, measured on the realistic route (``python -m bench.transformations``: the route
protected with the correlation on against off, in alternating rounds; 84 inputs, of which
the User-Agent and Accept-Language headers hold a SQL anchor). The first statement of an
invocation builds the index (the normalised inputs that hold an anchor and their forms
without a repeated character: the values holding a needle are found by ``str.find`` over all
of them joined) and costs 21-24 µs (13-16 without the forms, measured in the same runs); each
later one 3.2 µs (2.8 before 8-grams) (its normal form, a pass for the anchors some input holds, four 4-gram
tests per anchor, 8-gram look-ups only where one is shared); a statement with none of those
anchors a few ``in`` tests; the SSRF view 3 µs. Timed inside whole protected invocations of
the route (cold caches, a loaded machine: every figure there 2-3 times the above) the
correlation took 89-128 µs of CPU per invocation, of a protected invocation of 1.4-2 ms.
A statement carrying a 1 MB document and one transformed payload: 5-6 ms ASCII, 16-18 ms
non-ASCII, 20-22 ms with runs of blanks, a few ms over what its normal form alone costs (1,
11-12 and 17-22 ms); the window is mapped back to the argument a 4096-character chunk at a time (the whole
argument in Python took 180-430 ms).

Bounds, each one told: inputs are indexed smallest first up to ``MAX_INDEXED`` characters;
an input that did not fit is looked for only where an argument's 8-gram is in no indexed
one, at most ``MAX_PROBES`` times per invocation (0.4-1 ms each on 720 kB); a gram keeps
``MAX_CANDIDATES`` inputs; per argument ``MAX_WINDOWS`` windows grow (in ``MAX_GROWN``
characters of inputs, about 2 log n substring tests each) and the first ``MAX_ANCHORS``
anchors outside the windows found are looked at (1 MB of ``'='`` against an input of 60,000
took 200 ms). A search stopped by any of them asks ``limits.on_exceeded`` (``inspection.exceeded``,
as for the event's own caps; blocked by default when a protection blocks) rather than answering
with what it found so far. Known limits, not told: an input with more than ``MAX_REMOVED``
punctuation characters repeated more often than the one a sanitiser deleted is indexed
without the others only, and a deletion of several different characters at once is not
undone; such a payload is judged on its windows of 8 or more that remain.

``Transformed`` serves the detectors that look for a value inside the inputs (SSRF: the
host) rather than an input inside the argument.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache, lru_cache, partial
from itertools import accumulate

from .inputs import UNLOCATED, Input

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from .inputs import Inputs

GRAM = 4
PIECE_MINIMUM = 8
SMALL_INDEX = 4096
MAX_INPUT = 65536
MAX_INDEXED = 1 << 18
MAX_WINDOWS = 1024
MAX_GROWN = 1 << 22  # per argument, characters of the inputs windows grow in
MAX_ANCHORS = 50000
MAX_CANDIDATES = 256
MAX_OCCURRENCES = 8
MAX_REMOVED = 3  # per input, the punctuation characters a sanitiser may have deleted between the others
MAX_SEGMENTS = 4096  # per input past MAX_INPUT, its lines holding an anchor
MAX_PROBES = 64  # per invocation, pieces of an argument looked for in the inputs that did not fit
CHUNK = 4096  # the argument is mapped back to its characters a chunk at a time, around the windows
TRANSFORM = "transformed"
_BLANKS = " \t\n\r\f\v"


class Family:
    """What carries structure for one detector.

    ``needles``: the texts that carry it (a quote, ``--``, ``..``), each an anchor wherever it
    occurs in an argument; none holds a letter, so case never makes or hides one.
    ``quotes``: the characters an escaping of the code's own may put next to the input's (a
    quote reopened or doubled), never taken as the input's at a window's edge;
    ``minimum``: the shortest window that counts; ``whole``: the window must be the whole
    input, blanks aside; ``removed``: texts a naive sanitiser deletes in one pass
    (``x.replace("../", "")``), each giving the input a second indexed form without them;
    ``leading``: only an input in which a needle starts a word (at its start or after any character
    but a letter, digit, ``_`` or ``-``: a blank, a list separator, ``=``, ``:``, ``/`` a split or
    strip takes off) is indexed, as an option's dash must (``ord-2026-1``, ``en-US`` never start one).
    """

    __slots__ = ("anchors", "leading", "minimum", "name", "needles", "quotes", "removed", "spread", "whole")

    def __init__(self, name: str, needles: Iterable[str], *, quotes: str = "", minimum: int = GRAM,
                 whole: bool = False, removed: tuple[str, ...] = (), leading: bool = False) -> None:
        self.needles = tuple(sorted(needles, key=len, reverse=True))
        if minimum < GRAM or any(len(needle) > GRAM or not needle or any(map(str.isalpha, needle))
                                 for needle in self.needles):
            raise ValueError(f"needles of 1 to {GRAM} characters without letters, windows of {GRAM} or more")
        self.name, self.quotes = name, quotes
        self.anchors = self.pattern(self.needles)
        # A needle of two characters with others between them (``.|.``) that a sanitiser may delete,
        # where no needle of one character makes the input indexed anyway (6 µs a request for SQL).
        self.spread = "" if any(len(needle) == 1 for needle in self.needles) else "|".join(
            r"[^\w\s]{1,4}".join(map(re.escape, needle)) for needle in self.needles)
        self.minimum, self.whole, self.removed, self.leading = minimum, whole, removed, leading

    @staticmethod
    def pattern(needles: tuple[str, ...]) -> str:
        """A regular expression for any of ``needles`` (longest first; single characters as a class,
        which the engine scans faster than an alternation)."""
        single = "".join(re.escape(needle) for needle in needles if len(needle) == 1)
        longer = [re.escape(needle) for needle in needles if len(needle) > 1]
        return "|".join(longer + ([f"[{single}]"] if single else []))

    def __repr__(self) -> str:
        return f"Family({self.name!r})"


# ---------------------------------------------------------------- the normal form

@cache
def _unescape() -> Callable[[str], str]:
    from html import unescape
    return unescape


@cache
def _decompose() -> Callable[[str], str]:
    from unicodedata import normalize
    return partial(normalize, "NFKD")


@cache
def _blank_run() -> re.Pattern[str]:
    return re.compile(f"[{_BLANKS}]+")


# Typographic quotes and dashes that code folding to ASCII (unidecode, a table of smart quotes)
# turns into their ASCII forms, where NFKD has no decomposition and would drop them.
_TYPOGRAPHIC = str.maketrans({**dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
                              **dict.fromkeys("\u201c\u201d\u201e\u2033", '"'),
                              **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015", "-")})


@cache
def _typographic() -> re.Pattern[str]:
    return re.compile("[\u2010-\u201e\u2032\u2033]")


def _ascii(text: str) -> str:
    if _typographic().search(text) is not None:  # str.translate runs in Python past ASCII: 83 ms on 1 MB
        text = text.translate(_TYPOGRAPHIC)
    return _decompose()(text).encode("ascii", "ignore").decode("ascii")


def normal(text: str, *, unescape: bool = False) -> str:
    """``text`` in the normal form; ``unescape`` for an input (HTML entities decoded first)."""
    if unescape and "&" in text:
        text = _unescape()(text)
    if not text.isascii():
        text = _ascii(text)
    text = text.lower()
    return _blank_run().sub(" ", text) if _blanks_change(text) else text


def _blanks_change(text: str) -> bool:
    """Whether the normal form changes blanks of ``text``: two in a row, or one that is not a space
    (str.find is memchr; a regular expression for the same took 1 µs on a 70-character statement)."""
    return "  " in text or "\n" in text or "\t" in text or "\r" in text or "\f" in text or "\v" in text


def _positions(text: str, blank: bool = False) -> tuple[str, list[int]]:
    """``normal(text)`` built one character at a time, with the index in ``text`` of each character;
    ``blank``: the text follows a blank (a leading one is then dropped)."""
    out: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        for folded in (char if char < "\x80" else _ascii(char)).lower():
            if folded in _BLANKS:
                if blank:
                    continue
                folded, blank = " ", True
            else:
                blank = False
            out.append(folded)
            index.append(i)
    return "".join(out), index


# ---------------------------------------------------------------- the index of one invocation

@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=64)
def _anchors(needles: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(Family.pattern(needles))


@cache
def _json_loads() -> Callable[[str], object]:
    from json import loads
    return loads


def _container(text: str) -> bool:
    """A JSON object or array: its fields are inputs of their own. The shape alone is not enough
    (``{x' OR 1=1 OR '}`` is no document): it must parse."""
    text = text.strip()
    if len(text) < 2 or not ((text[0] == "{" and text[-1] == "}") or (text[0] == "[" and text[-1] == "]")):
        return False
    try:
        _json_loads()(text)
    except ValueError:
        return False
    return True


class _Index:
    """The normalised inputs that hold an anchor, and which of them hold a given gram.

    An input shorter than ``PIECE_MINIMUM`` counts only whole, so it is found by a 4-gram
    around an anchor; a longer one only by a window of 8 or more, so by an 8-gram around the
    anchor: junk inputs that share the payload's 4-grams (and nothing longer) are never
    candidates. Few and short (under ``SMALL_INDEX`` characters in all, as in most requests),
    the texts are searched joined, in C; more, and a table of their grams that hold an anchor
    answers. Building that table for the realistic route's two header values cost more than
    all the searches a request makes (about 26 µs there), hence the threshold. The index is
    filled smallest text first, so padding cannot push a payload out; what does not fit, or a
    gram held by more than ``MAX_CANDIDATES`` inputs, sets ``capped``.
    """

    __slots__ = ("anchors", "capped", "every", "full", "grams", "needles", "probed", "rest", "short", "shorts",
                 "sources", "texts")

    def __init__(self, values: tuple[str, ...], family: Family) -> None:
        anchors = _compiled(family.anchors)
        leading = _compiled(f"(?:^|[^\\w-])(?:{family.anchors})") if family.leading else None
        self.texts: list[str] = []
        self.sources: list[str] = []
        self.capped: str | None = None
        total = 0
        # Only a value with an anchor, an ``&`` (an HTML entity may hide one) or a character past
        # ASCII (folding may make one) can hold an anchor once normalised.
        pieces: dict[str, str] = {}  # each text to index, and the value it came from
        matching = _matching(values, (*family.needles, "&"), non_ascii=True)
        if family.spread and _compiled(family.spread).search(_joined(values)[0]) is not None:
            spread, held = _compiled(family.spread).search, set(matching)
            matching += [value for value in values if value not in held and spread(value) is not None]
        for value in matching:
            if len(value) < family.minimum or _container(value):
                continue
            for piece in [value] if len(value) <= MAX_INPUT else _segments(value, anchors):
                if leading is not None and leading.search(piece) is None and piece.isascii() and "&" not in piece:
                    continue  # normalising cannot make a needle start a word here
                text = normal(piece, unescape=True)
                if leading is not None and leading.search(text) is None:
                    continue
                for form in _forms(text, family):
                    if len(form) >= family.minimum and form not in pieces and anchors.search(form) is not None:
                        pieces[form] = value
        ordered = sorted(pieces, key=len)
        for form in ordered:
            if total + len(form) > MAX_INDEXED:
                break
            total += len(form)
            self.texts.append(form)
            self.sources.append(pieces[form])
        # What did not fit is only looked for, piece by piece, when an argument's anchor has no window.
        self.rest = "\x00".join(ordered[len(self.texts):])
        self.probed: dict[str, bool] = {}
        self.every = "\x00".join(self.texts)
        self.short = [number for number, text in enumerate(self.texts) if len(text.strip()) < PIECE_MINIMUM]
        self.shorts = frozenset(self.short)
        self.grams: dict[str, list[int]] | None = None
        self.full: set[str] = set()  # the grams held by more texts than their list keeps
        if total > SMALL_INDEX:
            grams: dict[str, list[int]] = {}
            self.grams = grams
            overlapping = _compiled(f"(?=({family.anchors}))")
            for number, text in enumerate(self.texts):
                _add_grams(grams, self.full, number, text, overlapping,
                           GRAM if number in self.shorts else PIECE_MINIMUM)
        # The anchors an argument is searched for: only those some indexed input holds.
        self.needles = tuple(needle for needle in family.needles if needle in self.every)
        self.anchors = _anchors(self.needles) if self.needles else None

    def holding(self, gram: str) -> Iterable[int]:
        """The numbers of the texts that hold ``gram`` (with an anchor; 4 characters: the short
        texts, 8: the others), at most ``MAX_CANDIDATES``; past it ``capped``."""
        if self.grams is not None:
            numbers = self.grams.get(gram, ())
            if numbers and gram in self.full:
                self.capped = f"transformed inputs: more than {len(numbers)} share a piece"
            return numbers
        if gram not in self.every:
            return ()
        short = len(gram) == GRAM
        most = MAX_CANDIDATES
        texts = self.texts
        numbers = [number for number in (self.short if short else range(len(texts))) if gram in texts[number]]
        if len(numbers) > most:
            self.capped = f"transformed inputs: more than {most} share a piece"
        return numbers[:most]


    def dropped(self, gram: str) -> bool:
        """Whether an input that did not fit in the index holds ``gram`` (an 8-gram with an anchor):
        if so, or past ``MAX_PROBES`` such questions, ``capped`` is set (0.4-1 ms each on 720 kB)."""
        held = self.probed.get(gram)
        if held is None:
            if len(self.probed) >= MAX_PROBES:
                self.capped = f"transformed inputs: more than {MAX_INDEXED} characters to index"
                return True
            held = self.probed[gram] = gram in self.rest
            if held:
                self.capped = f"transformed inputs: more than {MAX_INDEXED} characters to index"
        return held


def _segments(value: str, anchors: re.Pattern[str]) -> list[str]:
    """The lines of an input past ``MAX_INPUT`` (a file, a CSV) that hold an anchor, each at most
    ``MAX_INPUT`` long, at most ``MAX_SEGMENTS`` of them and then the rest whole (too long to
    index: it is only looked for): code handles such an input a line or a field at a time, and a
    line is where its payload sits."""
    found: dict[str, None] = {}  # distinct lines, in order
    anchor = anchors.search(value)
    while anchor is not None:
        at = anchor.start()
        if len(found) >= MAX_SEGMENTS:
            found[value[at:]] = None
            break
        low = max(0, at - MAX_INPUT // 2)
        start = value.rfind("\n", low, at) + 1 or low
        end = value.find("\n", at, start + MAX_INPUT)
        end = min(len(value), start + MAX_INPUT) if end == -1 else end
        found[value[start:end].strip("\r")] = None
        anchor = anchors.search(value, end)
    return list(found)


def _forms(text: str, family: Family) -> list[str]:
    """``text``, and what a sanitiser that deletes characters may have left of it: the family's
    ``removed`` texts gone, or one repeated punctuation character gone (``x<'< <O<R<`` without
    ``<`` is ``x' or``: interleaving beats a window that stops where a character went). The
    ``MAX_REMOVED`` most repeated are tried, each alone."""
    forms = [text, *[text.replace(removed, "") for removed in family.removed if removed in text]] \
        if family.removed else [text]
    punctuation = _words().sub("", text)  # in C: a Python loop over the characters cost 8 µs a value
    if len(punctuation) < 2:
        return forms
    repeated = sorted(((punctuation.count(char), char) for char in set(punctuation)), reverse=True)
    for count, char in repeated[:MAX_REMOVED]:
        if count < 2:
            break
        form = text.replace(char, "")
        forms.append(_blank_run().sub(" ", form) if "  " in form else form)
    return forms


@cache
def _words() -> re.Pattern[str]:
    return re.compile(r"[\w\s]+")


def _add_grams(grams: dict[str, list[int]], full: set[str], number: int, text: str,
               overlapping: re.Pattern[str], size: int) -> None:
    """Record text ``number`` under each of its grams of ``size`` that holds a whole anchor; a gram
    held by ``MAX_CANDIDATES`` texts already goes in ``full``."""
    last = len(text) - size
    found = [match.span(1) for match in overlapping.finditer(text)]  # every anchor, overlapping too
    if len(found) * size >= last:  # dense: every gram, once each
        starts: Iterable[int] = range(last + 1)
    else:  # the grams that hold a whole anchor, as an argument's are looked up
        starts = sorted({start for first, after in found
                         for start in range(max(0, after - size), min(first, last) + 1)})
    most = MAX_CANDIDATES
    for start in starts:
        gram = text[start:start + size]
        owners = grams.setdefault(gram, [])
        if owners[-1:] != [number]:
            if len(owners) < most:
                owners.append(number)
            else:
                full.add(gram)


def _matching(values: tuple[str, ...], needles: Iterable[str], *, non_ascii: bool = False) -> list[str]:
    """The values that hold one of ``needles`` (or, with ``non_ascii``, a character past ASCII).

    Most values of a request hold none, so the values are joined once and each needle is looked
    for with ``str.find`` (memchr speed): a regular expression over the joined values cost 42 µs
    on the realistic route's 84 values, these finds about 2. A value may hold any character, NUL
    too, so the joined text has no separator and a hit is placed by the values' ends.
    """
    joined, ends = _joined(values)
    hits: set[int] = set()
    for needle in needles:
        at = joined.find(needle)
        while at != -1:
            number = bisect_right(ends, at)
            hits.add(number)
            at = joined.find(needle, ends[number])
    if non_ascii and not joined.isascii():
        hits.update(number for number, value in enumerate(values) if not value.isascii())
    return [values[number] for number in sorted(hits)]


_last_joined: list[tuple[tuple[str, ...], str, list[int]]] = []


def _joined(values: tuple[str, ...]) -> tuple[str, list[int]]:
    """The values joined (a needle across two values only makes one more hit; none is missed)
    and where each ends, shared by the families of one invocation."""
    if _last_joined and _last_joined[0][0] is values:
        return _last_joined[0][1], _last_joined[0][2]
    joined, ends = "".join(values), list(accumulate(map(len, values)))
    _last_joined[:] = [(values, joined, ends)]
    return joined, ends


_indexes: dict[str, tuple[Inputs, _Index]] = {}  # per family, the last invocation's


def _index(inputs: Inputs, family: Family) -> _Index:
    """The index of ``inputs`` for ``family``, built on the first argument of the invocation that asks."""
    entry = _indexes.get(family.name)
    if entry is not None and entry[0] is inputs:
        return entry[1]
    index = _Index(inputs.values, family)
    _indexes[family.name] = (inputs, index)
    return index


# ---------------------------------------------------------------- windows

def _grow(argument: str, start: int, end: int, text: str) -> tuple[int, int]:
    """The longest window around [start, end) of ``argument`` that occurs in ``text``, of two
    maximal ones: grown rightwards first, or leftwards first."""
    right_end = _rightwards(argument, start, end, text)
    right = (_leftwards(argument, start, right_end, text), right_end)
    left_start = _leftwards(argument, start, end, text)
    left = (left_start, _rightwards(argument, left_start, end, text))
    return right if right[1] - right[0] >= left[1] - left[0] else left


def _rightwards(argument: str, start: int, end: int, text: str) -> int:
    """The last end such that ``argument[start:end]`` occurs in ``text`` (it does at ``end``):
    the step doubles while the window keeps occurring, then halves, about 2 log n substring tests."""
    step, limit, doubling = 1, len(argument), True
    while step and end < limit:
        probe = min(end + step, limit)
        if argument[start:probe] in text:
            end = probe
            if doubling:
                step *= 2
        else:
            doubling = False
            step //= 2
    return end


def _leftwards(argument: str, start: int, end: int, text: str) -> int:
    """The first start such that ``argument[start:end]`` occurs in ``text``, as ``_rightwards``."""
    step, doubling = 1, True
    while step and start > 0:
        probe = max(start - step, 0)
        if argument[probe:end] in text:
            start = probe
            if doubling:
                step *= 2
        else:
            doubling = False
            step //= 2
    return start


def _placed(text: str, window: str, family: Family) -> tuple[int, int] | None:
    """Where, inside ``window``, a piece of the input ``text`` lies that a transformation could
    have left, or None.

    Away from the input's own start and end, a structural character at the window's edge may be
    the code's (the quote shlex or a doubled ``''`` reopens next to the input's quote): it is cut
    off, and what remains must still be long enough and carry an anchor.
    """
    size = len(window)
    at = text.find(window)
    seen = 0
    quotes = family.quotes
    while at != -1 and seen < MAX_OCCURRENCES:
        seen += 1
        end = at + size
        if family.whole:
            if not text[:at].strip() and not text[end:].strip():
                return 0, size
        else:
            lead = 0
            if at:
                while lead < size and window[lead] in quotes:
                    lead += 1
            tail = size
            if end < len(text):
                while tail > lead and window[tail - 1] in quotes:
                    tail -= 1
            first, last = at + lead, at + tail
            whole = not text[:first].strip() and not text[last:].strip()
            if tail - lead >= (family.minimum if whole else max(family.minimum, PIECE_MINIMUM)) and (
                    whole or first == 0 or last == len(text) or
                    (not text[first - 1].isalnum() and not text[last].isalnum())
            ) and _compiled(family.anchors).search(window, lead, tail) is not None:
                return lead, tail
        at = text.find(window, at + 1)
    return None


def _windows(norm: str, index: _Index, family: Family) -> tuple[list[tuple[int, int, int]], str | None]:
    """(start, end, input number) of each window of the normalised argument that counts, and
    which cap stopped the search short, if one did."""
    found: list[tuple[int, int, int]] = []
    texts = index.texts
    covered = grown = grown_in = 0
    size = len(norm)
    holding = index.holding
    shorts = index.shorts
    long = len(shorts) < len(texts)
    short = bool(shorts)
    every = index.every if index.grams is None else None  # the small index: searched joined
    table, rest, probed = index.grams, index.rest, index.probed
    quotes = family.quotes
    looked = 0
    for anchor in index.anchors.finditer(norm):  # type: ignore[union-attr]
        first, after = anchor.span()
        if first < covered:
            continue  # inside a window found: not counted
        looked += 1
        if looked > MAX_ANCHORS:
            return found, f"transformed inputs: more than {MAX_ANCHORS} anchors in one argument"
        owners: dict[int, None] = {}  # the inputs that share a gram around the anchor, in order
        fours = range(max(0, after - GRAM), min(first, size - GRAM) + 1)
        # Searched joined, the small index is asked for 8-grams only where it shares a 4-gram (most
        # anchors of a statement share none: half the look-ups).
        if every is not None:
            for start in fours:
                if norm[start:start + GRAM] in every:
                    break
            else:
                continue
        eights = range(max(0, after - PIECE_MINIMUM), min(first, size - PIECE_MINIMUM) + 1)
        for start in eights if long or rest else ():  # a window of 8 or more holds an 8-gram with the anchor
            gram = norm[start:start + PIECE_MINIMUM]
            numbers = holding(gram) if table is None or gram in table else None  # the table inline: 50,000 anchors
            if numbers:
                owners.update(dict.fromkeys(numbers))
            elif rest and (probed[gram] if gram in probed else index.dropped(gram)):
                return found, index.capped  # an input that did not fit may hold the window
        for start in fours if short else ():  # a shorter one is a whole short input
            gram = norm[start:start + GRAM]
            numbers = holding(gram) if table is None or gram in table else None
            if numbers:
                owners.update(dict.fromkeys(numbers))
        if not owners:
            continue
        best: tuple[int, int, int] | None = None
        for number in owners:
            text = texts[number]
            grown += 1
            grown_in += len(text)
            if grown > MAX_WINDOWS or grown_in > MAX_GROWN:
                return found, f"transformed inputs: more than {MAX_WINDOWS} windows in one argument"
            start, end = _grow(norm, first, after, text)
            # A structural character at the edge next to another one outside: who wrote it is unknown
            # (shlex reopens its quote next to the input's, SQL doubles it), so it is not the input's.
            if start and norm[start] in quotes and norm[start - 1] in quotes:
                start += 1
            if end < size and norm[end - 1] in quotes and norm[end] in quotes:
                end -= 1
            if end - start < family.minimum or (best is not None and end - start <= best[1] - best[0]):
                continue
            placed = _placed(text, norm[start:end], family)
            if placed is not None:
                best = (start + placed[0], start + placed[1], number)
        if best is not None:
            found.append(best)
            covered = best[1]
    return found, None


_last: list[tuple[Inputs, str, str, list[Input]]] = []


def transformed(argument: str, inputs: Inputs, family: Family) -> list[Input]:
    """The fragments of ``argument`` that carry ``family``'s structure and come from an input
    the code transformed, each as an input: the fragment as it is in the argument, located by
    the input it came from (``Inputs.locate`` finds where), ``transform`` "transformed".

    A search stopped short by a cap (``capped``) is not a silent answer: ``limits.on_exceeded``
    decides, once per invocation, as for the event's own caps (a block raises here)."""
    if _last and _last[0][0] is inputs and _last[0][1] == family.name and _last[0][2] == argument:
        return _last[0][3]  # the sink's fast path asked for this argument a moment ago
    index = _index(inputs, family)
    found: list[Input] = []
    capped = index.capped
    if index.needles:
        chunks: tuple[list[int], list[int]] | None = None
        if len(argument) <= 2 * CHUNK or (argument.isascii() and not _blanks_change(argument)):
            norm = normal(argument)
        else:  # normalised a chunk at a time, once: the chunks map a window back
            norm, chunks = _chunked(argument)
        if any(map(norm.__contains__, index.needles)):
            windows, stopped = _windows(norm, index, family)
            capped = capped or stopped or index.capped
            if windows:
                found = _fragments(argument, norm, windows, index, chunks)
    if capped is not None:
        _exceeded(inputs, capped)
    _last[:] = [(inputs, family.name, argument, found)]
    return found


_told: list[Inputs] = []  # the invocation whose caps were told already


def _exceeded(inputs: Inputs, what: str) -> None:
    if _told and _told[0] is inputs:
        return
    _told[:] = [inputs]
    _context().exceeded(what)


@cache
def _context() -> Any:
    from .. import context
    return context


def _fragments(argument: str, norm: str, windows: list[tuple[int, int, int]], index: _Index,
               chunks: tuple[list[int], list[int]] | None) -> list[Input]:
    fragments: list[Input] = []
    if argument.isascii() and len(norm) == len(argument):  # only lower-cased: the same places
        for start, end, number in windows:
            fragments.append(Input(UNLOCATED + index.sources[number], argument[start:end], TRANSFORM))
        return fragments
    bounds, offsets = chunks if chunks is not None else _chunked(argument)[1]
    if offsets[-1] != len(norm):  # cannot happen (normal is per character): map it all
        bounds, offsets = [0, len(argument)], [0, len(norm)]
    mapped: dict[int, list[int]] = {}  # per chunk, where each of its normal characters is in it

    def place(at: int) -> int:
        """Where the character ``at`` of the normal form is in ``argument`` (each chunk mapped once)."""
        chunk = bisect_right(offsets, at) - 1
        positions = mapped.get(chunk)
        if positions is None:
            after_blank = norm[offsets[chunk] - 1:offsets[chunk]] == " "
            positions = mapped[chunk] = _positions(argument[bounds[chunk]:bounds[chunk + 1]], after_blank)[1]
        return bounds[chunk] + positions[at - offsets[chunk]]

    for start, end, number in windows:
        fragment = argument[place(start):place(end - 1) + 1]
        fragments.append(Input(UNLOCATED + index.sources[number], fragment, TRANSFORM))
    return fragments


def _chunked(argument: str) -> tuple[str, tuple[list[int], list[int]]]:
    """``normal(argument)``, and where ``argument`` is cut into chunks of ``CHUNK`` characters with
    where each starts in the normal form: a window is then mapped back a chunk or two at a time,
    not the whole argument in Python (1 MB of non-ASCII text took 428 ms that way). The normal
    form works a character at a time (NFKD reorders only marks, which folding drops) except for
    a run of blanks, which may straddle a cut: the later chunk's leading space is dropped then."""
    bounds, offsets = [0], [0]
    parts: list[str] = []
    size = len(argument)
    at = 0
    while at < size:
        cut = min(at + CHUNK, size)
        part = normal(argument[at:cut])
        if part[:1] == " " and parts and parts[-1][-1:] == " ":
            part = part[1:]
        parts.append(part)
        offsets.append(offsets[-1] + len(part))
        bounds.append(cut)
        at = cut
    return "".join(parts), (bounds, offsets)


# ---------------------------------------------------------------- whole inputs, transformed

class Transformed:
    """The inputs as code commonly transforms them whole: HTML-unescaped, and cut into the parts a
    ``split`` on commas, semicolons or bars gives (not on blanks: a host named in prose did not
    choose the connection, and the SSRF detector tells the two apart by what surrounds the
    name). Case and NFKC are the detector's own folding; dropping what is not ASCII is not done
    here: it would cut a host out of the prose around it. For detectors that look for a value
    inside the inputs (SSRF: the host a connection goes to) rather than an input inside the
    argument; ``values`` and ``forms`` as ``Inputs`` has them, each form located by its input."""

    __slots__ = ("forms", "values")

    def __init__(self, values: Iterable[str], host: str = "") -> None:
        forms: dict[str, Input] = {}
        total = 0
        for value in values:
            if len(value) > MAX_INPUT or total > MAX_INDEXED:
                continue
            text = _unescape()(value) if "&" in value else value
            for piece in map(str.strip, [text, *_separators().split(text)]):
                # A host is one word with a dot or a colon, or the single-label host asked about
                # (``local&#104;ost``); a piece of prose is not worth a look.
                if piece != value and len(piece) >= 2 and piece not in forms and (
                        "." in piece or ":" in piece or piece.lower() == host) and len(piece.split()) == 1:
                    total += len(piece)
                    forms[piece] = Input(UNLOCATED + value, piece, TRANSFORM)
        self.forms = tuple(forms.values())
        self.values = tuple(forms)


@cache
def _separators() -> re.Pattern[str]:
    return re.compile(r"[,;|]")


_transformed: list[tuple[Inputs, str, Transformed]] = []
_NOTHING = Transformed(())


def transformed_inputs(inputs: Inputs, host: str) -> Transformed:
    """``Transformed`` over the inputs that may name ``host`` (lower-case) once transformed: those
    that hold it (a list it is a part of) or an ``&`` (an entity may spell it). Most requests
    hold neither: two substring tests over the values joined, about 2 µs on the realistic route
    (the view of all its values cost 21 µs)."""
    if _transformed and _transformed[0][0] is inputs and _transformed[0][1] == host:
        return _transformed[0][2]
    values = inputs.values
    joined = "\x00".join(values)
    if "&" not in joined and host not in joined.lower():
        view = _NOTHING
    else:
        view = Transformed((value for value in values if "&" in value or host in value.lower()), host)
    _transformed[:] = [(inputs, host, view)]
    return view
