"""Attacker-controlled strings: their locations, their decoded forms, and the caps.

An ``Input`` is one string from the event with where it came from
(``query.id``, ``body.user.name``, ``records[0].s3.object.key``). Code rarely
passes such a string to a sink verbatim, so ``Inputs.forms`` adds the forms code
commonly turns it into (URL-decoded, base64, hex, JSON-unescaped, NFKC). The
forms are computed on first use and memoised: an invocation that reaches no sink
never pays for them.

A large event is read whole (the caps bound cost, not what is checked), so what
each value costs decides what an attacker's padding costs the owner. Reading a
value is ~0.2 µs; decoding one 1-9 µs, which for 131,000 keys was 870 ms. So
the values no decoder applies to are sorted out in C first (``_decodable``), and
past ``max_decoded`` values that need it the policy decides. A sink call tests
each value against its argument in C (~0.04 µs a value); for 20,000 values and
more, from the third call or for a long argument, the argument's substrings are
looked up instead (``_ByLength``).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import namedtuple
from functools import cache
from itertools import accumulate, compress, filterfalse, islice, repeat
from operator import add, and_, contains, itemgetter, le, ne, not_

from .decoders import BUDGET_SPENT, JWT_HINT, REMEMBERED_LENGTH, forms_of, remembered_forms

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# Inputs shorter than this are not matched against sink arguments: a one-character value occurs in
# almost every argument. The few single characters that can be structure on their own (a quote, a
# backslash, ``;``, ``#``, a glob) are kept aside (``Inputs.singles``) for the detectors that judge them.
MIN_LENGTH = 2
# The location of an input found by its value alone, before the event was walked: this, then the value.
UNLOCATED = "\x00unlocated:"
# The location of a value the walk for locations did not reach (it stops at max_inputs or max_bytes).
PAST_CAP = "event (past the inspection cap)"
_new_tuple = tuple.__new__


class Input(namedtuple("Input", "location value transform", defaults=("",))):
    """One attacker-controlled string; ``transform`` is "" as received, else how it was decoded."""

    __slots__ = ()
    location: str
    value: str
    transform: str

    def describe(self) -> str:
        return f"{self.location} ({self.transform})" if self.transform else self.location


_value_of = itemgetter(1)  # Input.value, read in C
# From this many distinct values on, those no decoder can apply to are sorted out in C first.
BATCHED = 2048


@cache
def _special() -> re.Pattern[str]:
    """What only some decoders read (``decoders.may_decode``): percent (URL), backslash (JSON, SQL
    quoting), a line break (MIME base64), a JSON opener first (JSON in a string), a JWT one of whose
    segments may hold a JSON object (``decoders.JWT_HINT``). A plus is ``_pluses``'s."""
    return re.compile(rf'[%\\\r\n]|^\s*(?:{JWT_HINT})\s*\Z|^\s*[{{\["]')


@cache
def _special_runs() -> tuple[re.Pattern[str], ...]:
    """``_special`` in the values, each after a newline of its own (no value holds a newline there), one
    pattern each that starts with a character or literal re can scan for: patterns that could start
    anywhere (alternatives, ``^``) took 24-34 ms on 2 MB of values, these ~14 ms together. A match of
    the JSON opener or of a JWT starts at the newline before its value."""
    return (re.compile(r"[%\\\r][^\n]*"), re.compile(rf"\n[^\S\n]*(?:{JWT_HINT})[^\S\n]*(?=\n|\Z)"),
            re.compile(r'\n[^\S\n]*[{\["]'))


@cache
def _nfkc() -> Callable[[str], str]:
    from functools import partial
    from unicodedata import normalize

    return partial(normalize, "NFKC")


@cache
def _word() -> re.Pattern[str]:
    """A whole value of the base64 or hex alphabets, long enough for either (``decoders.may_decode``)."""
    return re.compile(r"[A-Za-z0-9+/_-]{6,}={0,2}")


def _decodable(values: list[str], enough: int) -> list[str]:
    """The values some decoder might turn into text: a superset of those ``decoders.decoded_forms`` gives
    forms for, found in C (0.2-0.3 µs a value, where asking each costs 1-9 µs); once ``enough`` are
    found, the rest are not looked for (only that there are more: the caller decodes ``enough``).

    A character only some decoders read (``_special``) sends a value on: found by one scan of the
    values joined by newlines, where no value holds one (else value by value). Text in most scripts
    is its own NFKC form, the only decoder of non-ASCII without those characters: normalised in C,
    only the values it changes (full-width letters, ligatures) are sent on. Words of the base64 or
    hex alphabet (``SKU-0000123``, ``field123``, hashes) are common in large events and rarely
    decode to text: those of a length base64 or hex may apply to are decoded here, through ``map``,
    and sent on only if the bytes are text (``_text_when_decoded``).
    """
    lined = "\n" + "\n".join(values)  # each value after a newline of its own
    if lined.count("\n") == len(values):  # a line is a value
        found = [match.start() for pattern in _special_runs()
                 for match in islice(pattern.finditer(lined), enough + 1)]
        if found:
            after = list(accumulate(map(add, map(len, values), repeat(1))))  # where each value's line ends
            special = [values[bisect_right(after, start)] for start in found]
        else:
            special = []
    else:
        special = list(islice(filter(_special().search, values), enough + 1))
    wanted = dict.fromkeys(special)
    if len(wanted) <= enough:
        _pluses(values, wanted)
    wide = list(filterfalse(str.isascii, values)) if len(wanted) <= enough else []
    for start in range(0, len(wide), CHUNK):
        if len(wanted) > enough:
            break
        chunk = wide[start:start + CHUNK]
        wanted.update(dict.fromkeys(compress(chunk, map(ne, map(_nfkc(), chunk), chunk))))
    if len(wanted) > enough:
        return list(wanted)
    # By length first (base64: 8 or more, not 4n+1; hex: 6 or more, even), then by alphabet: most words
    # of a large event fail the length rules, and a length test in C is cheaper than a match.
    long = list(compress(values, map(le, repeat(6), map(len, values))))
    sizes = list(map(len, long))
    words = list(filter(_word().fullmatch, compress(long, map(and_, map(le, repeat(8), sizes),
                                                               map(ne, map(and_, sizes, repeat(3)), repeat(1))))))
    hexes = list(filter(_hex_pairs().fullmatch, compress(long, map(not_, map(and_, sizes, repeat(1))))))
    for start in range(0, max(len(words), len(hexes)), CHUNK):
        if len(wanted) > enough:
            break
        wanted.update(dict.fromkeys(_text_when_decoded(words[start:start + CHUNK], hexes[start:start + CHUNK])))
    return list(wanted)


# The one-character values kept aside (``Inputs.singles``): ASCII's punctuation, where the quotes, the
# backslash, ``;``, ``#`` and the shell's globs are. Looked up in the values' dict: 31 look-ups, whatever
# the size of the event.
_PUNCTUATION = tuple("!\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~")
_PUNCTUATION_SET = frozenset(_PUNCTUATION)


def _singles(values: dict[str, None], forms: Iterable[str]) -> frozenset[str]:
    """The punctuation characters among ``values`` and the decoded ``forms``."""
    found = [char for char in _PUNCTUATION if char in values]
    found += [text for text in forms if text in _PUNCTUATION_SET]
    return frozenset(found)


def _pluses(values: list[str], wanted: dict[str, None]) -> None:
    """Add to ``wanted`` the values whose plus may mean something new: URL-decoding makes a ``+`` a space,
    and where that reading is a value already (both readings of a form field or query parameter are),
    the plus adds nothing but what base64 makes of it, which the words' batch decides. A 1 MB form
    of 26,000 fields like ``Leave+parcel+by+the+door`` sent every one on, and past ``max_decoded``."""
    pluses = list(compress(values, map(contains, values, repeat("+"))))
    if pluses:
        present = set(values)
        for value in pluses:
            if value not in wanted and value.replace("+", " ") not in present:
                wanted[value] = None


# The decoders' prefilters run on this many values at a time, to stop soon after ``enough`` are found.
CHUNK = 4096


@cache
def _hex_pairs() -> re.Pattern[str]:
    return re.compile(r"(?:[0-9a-fA-F]{2})+")


@cache
def _unusable() -> re.Pattern[str]:
    """What no decoded form may hold: undecodable UTF-8 (kept as surrogates). Control characters may
    be kept (``decoders._printable`` weighs them): a value that decodes to any UTF-8 is sent on."""
    return re.compile("[\udc80-\udcff]")


_URL_SAFE = str.maketrans("-_", "+/")
_PADDING = ("", "===", "==", "=")  # by length % 4: what makes a base64 text whole (a 4n+1 one never is)


def _text_when_decoded(words: list[str], hexes: list[str]) -> list[str]:
    """The ``words`` whose base64 decoding is text and the ``hexes`` whose hex decoding is; all of them if
    the batch cannot be decoded."""
    import binascii

    try:
        padded = map(add, map(str.translate, words, repeat(_URL_SAFE)),
                     map(_PADDING.__getitem__, map(and_, map(len, words), repeat(3))))
        as_base64 = list(map(binascii.a2b_base64, padded))
    except (binascii.Error, ValueError):  # a padding a2b_base64 refuses: ask decoders of each
        return words + hexes
    unusable = _unusable().search
    texts = map(bytes.decode, as_base64, repeat("utf-8"), repeat("surrogateescape"))
    kept = [word for word, text in zip(words, texts, strict=True) if text and unusable(text) is None]
    texts = map(bytes.decode, map(bytes.fromhex, hexes), repeat("utf-8"), repeat("surrogateescape"))
    kept += [word for word, text in zip(hexes, texts, strict=True) if text and unusable(text) is None]
    return kept


# From this many distinct values on, a sink's argument is looked up in them rather than scanned for each:
# 131,000 values took 5.6 ms a sink call to scan, and narrowing them to a detector's relevant ones 40 ms.
INDEXED = 20_000
SCANS_BEFORE_INDEX = 3
# A scan tests each value against the whole argument: past this many characters the first call builds.
LONG_ARGUMENT = 2048


class _ByLength:
    """The values by length: which of them occur in an argument, by looking up its substrings.

    An argument of n characters has n - L + 1 substrings of length L. Looking one up (C-speed slicing
    and set intersection) cost ~0.2 µs here; testing a value against the argument ~0.1 µs plus 0.4 ns
    a character. The cheaper way is taken per call, exact either way: a 1 MB argument against 50,000
    values took 23 s to scan, and a second to look up.
    """

    __slots__ = ("lengths", "members")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.members = frozenset(values)
        self.lengths = sorted(set(map(len, values)))

    def occurring(self, argument: str, values: tuple[str, ...]) -> Iterable[str]:
        size = len(argument)
        lengths = self.lengths[:bisect_right(self.lengths, size)]
        if 2 * sum(size - length + 1 for length in lengths) >= len(values) * (1 + size // 250):
            return filter(argument.__contains__, values)
        found: set[str] = set()
        members = self.members
        for length in lengths:
            found.update(members.intersection(
                map(argument.__getitem__, map(slice, range(size - length + 1), range(length, size + 1)))))
        return sorted(found, key=len, reverse=True)


class Inputs:
    """The invocation's inputs, with decoded forms and per-detector views, memoised.

    Built from a list, or from ``load``, a function returning ``(inputs, truncated)``
    that runs on first use: a check that never looks at the inputs never pays for them.
    """

    __slots__ = ("_capped", "_decoded", "_fast_values", "_forms", "_index", "_load", "_max_decoded", "_narrowed",
                 "_on_exceeded", "_opened", "_raw", "_scans", "_singles", "_truncated", "_values", "_views",
                 "max_decode_chars")

    def __init__(self, raw: Iterable[Input] = (), *, max_decode_chars: int = 65536,
                 load: Callable[[], tuple[Iterable[Input], str | None]] | None = None,
                 values: Callable[[], list[str] | None] | None = None,
                 max_decoded: int | None = None, on_exceeded: Callable[[str], None] | None = None,
                 opened: set[str] | None = None) -> None:
        """``values``, if given, returns every value ``load`` would find, without locations (or None
        where it cannot): the sinks' fast paths then never pay for the locations. Past ``max_decoded``
        distinct values that a decoder applies to (1-7 µs each), the rest are not decoded, and
        ``on_exceeded`` hears of it once (the policy's ``limits.on_exceeded`` decides). ``opened``
        (filled as the event is read) holds the strings read as JSON, whose members are values of
        their own: such a string is not decoded again."""
        self._load = load
        self._opened = opened if opened is not None else set()
        self._max_decoded = max_decoded
        self._on_exceeded = on_exceeded
        self._capped: str | None = None  # why decoding stopped short, if it did
        self._fast_values = values
        self._raw: tuple[Input, ...] | None = None if load is not None else tuple(raw)
        self._truncated: str | None = None
        self.max_decode_chars = max_decode_chars
        self._decoded: dict[str, tuple[tuple[str, str], ...]] = {}
        self._forms: tuple[Input, ...] | None = None
        self._values: tuple[str, ...] | None = None
        self._singles: frozenset[str] = frozenset()  # set with _values
        self._views: dict[Callable[[str], bool], tuple[Input, ...]] = {}
        self._narrowed: dict[Callable[[str], bool], tuple[str, ...] | None] = {}  # None: asked once
        self._index: _ByLength | None = None
        self._scans = 0  # sink calls that scanned every value

    @property
    def raw(self) -> tuple[Input, ...]:
        """Every input as received."""
        if self._raw is None:
            items, self._truncated = self._load()  # type: ignore[misc]
            self._raw = tuple(items)
        return self._raw

    @property
    def loaded(self) -> tuple[Input, ...] | None:
        """The inputs if the event was flattened already, else None (never flattens)."""
        return self._raw

    @property
    def truncated(self) -> str | None:
        """Why flattening stopped early, if a cap cut it short."""
        _ = self.raw
        return self._truncated

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[Input]:
        return iter(self.raw)

    def _decode(self, values: list[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        """The decoded forms of ``values`` (distinct), each value asked once per invocation.

        One pass: short values (JSON keys, header values, words) recur in every request and are
        answered by the C memory of ``remembered_forms`` without a Python frame. A large event's
        values are sorted first by two tests in C (``_decodable``): asking ``forms_of`` of 131,000
        distinct keys cost 870 ms here, where most meet no decoder's precondition; only the
        values that might are asked, and the rest have no forms (``decoded.get(value, ())``).
        """
        decoded = self._decoded
        if len(values) >= BATCHED:
            cap = self._max_decoded
            values = _decodable(values, len(values) if cap is None else cap)
            if cap is not None and len(values) > cap:
                values = values[:cap]
                self._capped = (f"more than {cap} distinct values to decode: the decoded forms of the rest "
                                f"are not inspected, the values themselves are")
        remembered = min(REMEMBERED_LENGTH, self.max_decode_chars)
        limit = self.max_decode_chars
        opened = self._opened
        for value in values:
            if value not in decoded:
                size = len(value)
                forms = decoded[value] = remembered_forms(value) if MIN_LENGTH <= size <= remembered else \
                    forms_of(value) if remembered < size <= limit and value not in opened else ()
                if forms and forms[-1][0] == BUDGET_SPENT and self._capped is None:
                    self._capped = (f"the decoded forms of a value of {size} characters passed their budget: "
                                    f"the rest of its forms are not inspected, the value itself is")
        return decoded

    @property
    def forms(self) -> tuple[Input, ...]:
        """Every input as received, then the distinct decoded forms of each."""
        if self._forms is None:
            raw = self.raw
            decoded = self._decode(list(dict.fromkeys(map(_value_of, raw))))
            forms = [item for item in raw if len(item.value) >= MIN_LENGTH]
            seen: set[tuple[str, str]] = set()
            for item in raw:
                for transform, text in decoded.get(item.value, ()):
                    if len(text) >= MIN_LENGTH and (item.location, text) not in seen:
                        seen.add((item.location, text))
                        forms.append(Input(item.location, text, transform))
            if self._truncated is not None and (self._values is not None or self._fast_values is not None):
                # The walk stopped at a cap; the values reader did not: what it read beyond is input too.
                known = {item.value for item in forms}
                forms += [_new_tuple(Input, (PAST_CAP, value, "")) for value in self.values if value not in known]
            self._forms = tuple(forms)
            self._tell()
        return self._forms

    @property
    def values(self) -> tuple[str, ...]:
        """The distinct values of ``forms``, or more: what the sinks' fast paths test, in one pass in C.

        Read without locations where the event allows it (``values`` given), else from ``forms``.
        """
        if self._values is None:
            fast = self._fast_values if self._forms is None else None  # walked already: no second read
            found = fast() if fast is not None else None
            self._fast_values = None  # it holds the event
            if found is None:
                self._values = tuple(dict.fromkeys(map(_value_of, self.forms)))
                received = dict.fromkeys(map(_value_of, self.raw))
                self._singles = _singles(received, (text for forms in filter(None, map(self._decoded.get, received))
                                                    for _, text in forms if len(text) == 1))
            else:
                unique = dict.fromkeys(found)
                distinct = list(unique)
                decoded = self._decode(distinct)
                # Values and their forms, in C: a 1.5 MB object of 131,000 keys took 25 ms in a Python loop.
                every = list(compress(distinct, map(MIN_LENGTH.__le__, map(len, distinct))))
                extra = [text for forms in filter(None, map(decoded.get, distinct)) for _, text in forms
                         if text not in unique]
                if len(every) < len(distinct) or extra:  # a short value, or a decoded form: any single?
                    self._singles = _singles(unique, extra)
                    extra = [text for text in extra if len(text) >= MIN_LENGTH]
                self._values = tuple(every + list(dict.fromkeys(extra)) if extra else every)
            self._tell()
        return self._values

    @property
    def singles(self) -> frozenset[str]:
        """The distinct one-character values (as received or decoded) of ASCII punctuation: ``?page=1``
        or ``?sort=a`` gives none, and a sink call then pays one attribute read."""
        if self._values is None:
            _ = self.values
        return self._singles

    def singles_in(self, argument: str, wanted: str) -> list[Input]:
        """The single-character inputs among ``wanted`` that occur in ``argument`` (unlocated, as in
        ``occurring_in``, until the event has been walked; ``locate`` finds them)."""
        return [_new_tuple(Input, (UNLOCATED + char, char, "")) for char in sorted(self.singles)
                if char in wanted and char in argument]

    def _tell(self) -> None:
        """Say that decoding was capped, once, after what was read is kept: the policy may block (raise)
        here, and a handler that swallows the block must not find the values gone at its next sink."""
        if self._capped is not None and self._on_exceeded is not None:
            heard, self._on_exceeded = self._on_exceeded, None
            heard(self._capped)

    def view(self, relevant: Callable[[str], bool]) -> tuple[Input, ...]:
        """The forms a detector cares about (``relevant`` is a module-level predicate)."""
        view = self._views.get(relevant)
        if view is None:
            wanted = set(filter(relevant, self.values))
            view = self._views[relevant] = tuple([item for item in self.forms if item.value in wanted])
        return view

    def any_in(self, argument: str, relevant: Callable[[str], bool]) -> bool:
        """Whether any relevant form occurs in ``argument``: the sinks' fast path.

        The first time a detector asks, every distinct value is tested for containment in one
        pass in C, and ``relevant`` (Python) only of the few that occur: an invocation that calls
        a sink once never pays for sorting every input. From the second time on, the values are
        narrowed to the relevant ones once, and each call tests only those (fewer, often none).
        """
        narrowed = self._narrowed.get(relevant)
        if narrowed is None:
            if relevant not in self._narrowed or len(self.values) >= INDEXED:
                self._narrowed[relevant] = None
                return any(map(relevant, self._occurring(argument)))
            narrowed = self._narrowed[relevant] = tuple(filter(relevant, self.values))
        return any(map(argument.__contains__, narrowed))

    def _occurring(self, argument: str) -> Iterable[str]:
        """The values that occur in ``argument``: one containment test per value, in C; for a large
        event, after the first calls, a look-up of each of the argument's substrings of a length some
        value has, where that makes fewer tests (``_ByLength``)."""
        values = self.values
        if len(values) < INDEXED and len(argument) < LONG_ARGUMENT:
            return filter(argument.__contains__, values)
        index = self._index
        if index is None:  # building costs about two scans: the first two calls scan, the third builds
            self._scans += 1
            if self._scans < SCANS_BEFORE_INDEX and len(argument) < LONG_ARGUMENT:
                return filter(argument.__contains__, values)
            index = self._index = _ByLength(values)
        return index.occurring(argument, values)

    def occurring_in(self, argument: str, relevant: Callable[[str], bool]) -> list[Input]:
        """The relevant forms that occur verbatim in ``argument``, in the order of ``forms``.

        Before the event has been walked, they come unlocated (``UNLOCATED`` + the value as their
        location): a detector judges values, and most judgements find nothing; ``locate`` walks
        the event for the one a finding names.
        """
        occurring = [value for value in self._occurring(argument) if relevant(value)]
        if not occurring:
            return []
        if self._forms is None and self._raw is None:
            return [_new_tuple(Input, (UNLOCATED + value, value, "")) for value in occurring]
        wanted = set(occurring)
        return [item for item in self.forms if item.value in wanted]

    def locate(self, item: Input) -> Input:
        """``item`` with the location (and decoding) of the input it came from, if it came unlocated."""
        if not item.location.startswith(UNLOCATED):
            return item
        value = item.location[len(UNLOCATED):]
        for form in self.forms:
            if form.value == value:
                transform = "+".join(filter(None, (form.transform, item.transform)))
                return Input(form.location, item.value, transform)
        if len(value) < MIN_LENGTH:  # a single character (``singles``): not among the forms
            for raw in self.raw:
                if raw.value == value:
                    return Input(raw.location, item.value, item.transform)
                for transform, text in self._decoded.get(raw.value, ()):
                    if text == value:
                        return Input(raw.location, item.value, "+".join(filter(None, (transform, item.transform))))
        return Input("unknown", item.value, item.transform)
