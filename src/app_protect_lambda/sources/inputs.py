"""Attacker-controlled strings: their locations, their decoded forms, and the caps.

An ``Input`` is one string from the event with where it came from
(``query.id``, ``body.user.name``, ``records[0].s3.object.key``). Code rarely
passes such a string to a sink verbatim, so ``Inputs.forms`` adds the forms code
commonly turns it into (URL-decoded, base64, hex, JSON-unescaped, NFKC). The
forms are computed on first use and memoised: an invocation that reaches no sink
never pays for them.
"""
from __future__ import annotations

from collections import namedtuple
from operator import itemgetter

from .decoders import REMEMBERED_LENGTH, forms_of, remembered_forms

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# Inputs that are empty or a single character cannot carry structure worth a check.
MIN_LENGTH = 2
# The location of an input found by its value alone, before the event was walked: this, then the value.
UNLOCATED = "\x00unlocated:"
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


class Inputs:
    """The invocation's inputs, with decoded forms and per-detector views, memoised.

    Built from a list, or from ``load``, a function returning ``(inputs, truncated)``
    that runs on first use: a check that never looks at the inputs never pays for them.
    """

    __slots__ = ("_decoded", "_fast_values", "_forms", "_load", "_narrowed", "_raw", "_truncated", "_values",
                 "_views", "max_decode_chars")

    def __init__(self, raw: Iterable[Input] = (), *, max_decode_chars: int = 65536,
                 load: Callable[[], tuple[Iterable[Input], str | None]] | None = None,
                 values: Callable[[], list[str] | None] | None = None) -> None:
        """``values``, if given, returns every value ``load`` would find, without locations (or None
        where it cannot): the sinks' fast paths then never pay for the locations."""
        self._load = load
        self._fast_values = values
        self._raw: tuple[Input, ...] | None = None if load is not None else tuple(raw)
        self._truncated: str | None = None
        self.max_decode_chars = max_decode_chars
        self._decoded: dict[str, tuple[tuple[str, str], ...]] = {}
        self._forms: tuple[Input, ...] | None = None
        self._values: tuple[str, ...] | None = None
        self._views: dict[Callable[[str], bool], tuple[Input, ...]] = {}
        self._narrowed: dict[Callable[[str], bool], tuple[str, ...] | None] = {}  # None: asked once

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
        answered by the C memory of ``remembered_forms`` without a Python frame.
        """
        decoded = self._decoded
        remembered = min(REMEMBERED_LENGTH, self.max_decode_chars)
        limit = self.max_decode_chars
        for value in values:
            if value not in decoded:
                size = len(value)
                decoded[value] = remembered_forms(value) if MIN_LENGTH <= size <= remembered else \
                    forms_of(value) if remembered < size <= limit else ()
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
                for transform, text in decoded[item.value]:
                    if len(text) >= MIN_LENGTH and (item.location, text) not in seen:
                        seen.add((item.location, text))
                        forms.append(Input(item.location, text, transform))
            self._forms = tuple(forms)
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
            else:
                distinct = list(dict.fromkeys(found))
                decoded = self._decode(distinct)
                every = [value for value in distinct if len(value) >= MIN_LENGTH]
                for value in distinct:
                    forms = decoded[value]
                    if forms:
                        every += [text for _, text in forms if len(text) >= MIN_LENGTH]
                self._values = tuple(dict.fromkeys(every))
        return self._values

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
            if relevant not in self._narrowed:
                self._narrowed[relevant] = None
                return any(map(relevant, filter(argument.__contains__, self.values)))
            narrowed = self._narrowed[relevant] = tuple(filter(relevant, self.values))
        return any(map(argument.__contains__, narrowed))

    def occurring_in(self, argument: str, relevant: Callable[[str], bool]) -> list[Input]:
        """The relevant forms that occur verbatim in ``argument``, in the order of ``forms``.

        Before the event has been walked, they come unlocated (``UNLOCATED`` + the value as their
        location): a detector judges values, and most judgements find nothing; ``locate`` walks
        the event for the one a finding names.
        """
        occurring = [value for value in filter(argument.__contains__, self.values) if relevant(value)]
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
        return Input("unknown", item.value, item.transform)
