"""SQL injection: an input that does not stay inside one literal of the statement.

Every occurrence of an input (in any decoded form) in the statement must lie
strictly inside one quoted literal (string, quoted name, dollar-quoted body) or
be one whole number. An occurrence that closes or opens a quote, spans from a
literal into the statement, or stands outside any literal as anything but a
number adds tokens to the statement: that is the attack.

Only the literal regions are tokenized, by one regular expression that the
regex engine runs in C over the rest of the statement; a full SQL lexer
(sqlparse's took about 500 µs for a 200-character statement) is not needed to
tell literals from structure. The regions cover the quoting of the dialects our
drivers speak: '...' with '' and backslash escapes, "..." and `...`,
PostgreSQL $tag$...$tag$, and --, # and /* */ comments.

The reading is linear in the statement (1 MB in well under a second): every
pattern has one way to match a run of characters, and the closer of a dollar
quote is searched for only when the tag occurs again after its opener, where
the regular expression used to search for it from every opener again (a
200 kB statement of distinct ``$tN$`` tags took 99 s here).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache

from ..findings import AttackKind, Finding
from ..sources.fragments import Family, transformed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..sources import Inputs
    from ..sources.inputs import Input

    # (start, end, content start, content end, kind): kind None for a literal, else comment or unterminated
    Region = tuple[int, int, int, int, str | None]

MAX_OCCURRENCES = 16
# What carries SQL structure in a fragment an input left after the code transformed it: a quote,
# a statement separator, an operator, a parenthesis, a comment (sources/fragments.py).
FRAGMENTS = Family("sql", ("--", "/*", *"'\"`;=<>()|&#"), quotes="'\"`")

_COMMENT = "comment"
_DOLLAR = "dollar"
_UNTERMINATED = "unterminated"


@cache
def _regions_pattern() -> re.Pattern[str]:
    """The regions as MySQL reads them: ``\\'`` inside a string is a quote."""
    return _compile_regions(r"'(?:[^'\\]|''|\\.)*'")


@cache
def _regions_pattern_without_backslash_escapes() -> re.Pattern[str]:
    """The regions as PostgreSQL and SQLite read them: a backslash is an ordinary character."""
    return _compile_regions(r"'(?:[^']|'')*'")


def _compile_regions(single_quoted: str) -> re.Pattern[str]:
    # A dollar quote is matched by its opener only: the regex engine would look for the closer
    # from every opener again (26 s for 200 kB of distinct $tN$ tags); _regions finds it by index.
    return re.compile(single_quoted + r"""
        |"(?:[^"]|"")*"
        |`(?:[^`]|``)*`
        |(?P<dollar>\$(?:[A-Za-z_]\w*)?\$)
        |(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
        |(?P<unterminated>['"`]|/\*)
    """, re.VERBOSE | re.DOTALL)


@cache
def _dollar_tag_pattern() -> re.Pattern[str]:
    # Every position where a $tag$ starts, overlapping ones included ($a$b$ holds $a$ and $b$).
    return re.compile(r"(?=(\$(?:[A-Za-z_]\w*)?\$))")


@cache
def _number_pattern() -> re.Pattern[str]:
    # \d+(?:\.\d*)? rather than \d+\.?\d*: the same numbers, without the quadratic ways to split a run of digits.
    return re.compile(r"[+-]?(?:0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")


def relevant(value: str) -> bool:
    """Inputs made only of letters, digits and underscores cannot change SQL structure."""
    return not value.replace("_", "a").isalnum() and not value.isspace()


def _last_dollar_tags(statement: str) -> dict[str, int]:
    """Where each ``$tag$`` of the statement occurs last: an opener has a closer only when its tag
    occurs again after it, and an opener without one then costs no scan."""
    return {match[1]: match.start() for match in _dollar_tag_pattern().finditer(statement)}


def _regions(statement: str, stop: int, backslash_escapes: bool = True) -> list[Region]:
    """(start, end, content_start, content_end, kind) of each literal or comment up to ``stop``."""
    pattern = _regions_pattern() if backslash_escapes else _regions_pattern_without_backslash_escapes()
    regions: list[Region] = []
    length = len(statement)
    last_tag: dict[str, int] | None = None
    position = 0
    while (match := pattern.search(statement, position)) is not None:
        start, end = match.span()
        kind = match.lastgroup
        if kind == _UNTERMINATED:
            regions.append((start, length, start + 1, length, _UNTERMINATED))
            break
        if kind == _DOLLAR:
            opener = match.group()
            if last_tag is None:
                last_tag = _last_dollar_tags(statement)
            if last_tag[opener] < end:  # no closer: not a dollar quote, the $ is structure
                position = start + 1
                continue
            close = statement.find(opener, end)  # scans up to the closer, which the next search starts after
            regions.append((start, close + end - start, end, close, None))
            end = close + end - start
        elif kind == _COMMENT:
            regions.append((start, end, start, end, _COMMENT))
        else:
            regions.append((start, end, start + 1, end - 1, None))
        if end >= stop:
            break
        position = end
    return regions


def _breaks_structure(statement: str, value: str, start: int, regions: list[Region], starts: list[int]
                      ) -> str | None:
    """Why the occurrence at ``start`` is not inert, or None when it stays inside one literal."""
    end = start + len(value)
    index = bisect_right(starts, start) - 1
    if index >= 0 and regions[index][1] > start:
        _, _, content_start, content_end, kind = regions[index]
        if kind == _UNTERMINATED:
            return "leaves a quote or comment unterminated"
        if content_start <= start and end <= content_end:
            if kind == _COMMENT and "*/" in value:  # a line comment holds no newline; a block comment may
                return "ends a comment"
            return None
        return "breaks out of a quoted literal" if kind is None else "reaches into a comment"
    nxt = index + 1
    if nxt < len(regions) and regions[nxt][0] < end:
        return "opens a quoted literal or comment"
    if _number_pattern().fullmatch(value) and not _word_at(statement, start - 1) and not _word_at(statement, end):
        return None
    return "adds tokens outside any literal"


def _word_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] in "_.")


def detect(statement: str, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    candidates = inputs.occurring_in(statement, relevant)
    finding = _judge(statement, candidates) if candidates else None
    if finding is None:  # the pieces of inputs the code changed on the way (case, strip, cut, sanitiser)
        fragments = transformed(statement, inputs, FRAGMENTS)
        if fragments:
            finding = _judge(statement, fragments)
    return finding


def _judge(statement: str, candidates: list[Input]) -> Finding | None:
    spans: list[tuple[Input, int]] = []
    for item in candidates:
        index = statement.find(item.value)
        while index != -1 and len(spans) < MAX_OCCURRENCES * len(candidates):
            spans.append((item, index))
            index = statement.find(item.value, index + 1)
    stop = max(start + len(item.value) for item, start in spans)
    readings = [_regions(statement, stop)]
    if "\\" in statement:  # judge under both dialects' string escaping
        readings.append(_regions(statement, stop, backslash_escapes=False))
    for regions in readings:
        finding = _first_break(statement, spans, regions)
        if finding:
            return finding
    return None


def _first_break(statement: str, spans: list[tuple[Input, int]], regions: list[Region]) -> Finding | None:
    starts = [region[0] for region in regions]
    for item, start in spans:
        reason = _breaks_structure(statement, item.value, start, regions, starts)
        if reason:
            fragment = statement[max(0, start - 20): start + len(item.value) + 20]
            return Finding(
                AttackKind.SQL_INJECTION, "sqli.structure",
                f"input from {item.describe()} {reason} of the SQL statement", item, fragment)
    return None
