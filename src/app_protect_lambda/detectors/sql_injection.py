"""SQL injection: an input that adds tokens to the statement.

Every occurrence of an input (in any decoded form) in the statement must lie
strictly inside one quoted literal (string, quoted name, dollar-quoted body, a
comment the code opened), or be all of one literal's text with one or both of
its quotes (a whole literal; a bound value that only coincides with the code's
own 'memo'), or be a list or sort of the kind apps splice: numbers, whole
literals and names, comma-separated, each with an optional ASC/DESC and NULLS
FIRST/LAST. An occurrence that closes or opens a quote or a comment, spans from
a literal into the statement, or stands outside any literal as anything else
adds tokens to the statement: that is the attack.

Only the literal regions are tokenized, by one regular expression that the
regex engine runs in C over the rest of the statement; a full SQL lexer
(sqlparse's took about 500 µs for a 200-character statement) is not needed to
tell literals from structure. Each statement is read in its driver's dialect
(``Statement``; the sinks name it): MySQL escapes with a backslash in '...' and
"..." and comments with #, unless the session's sql_mode has
NO_BACKSLASH_ESCAPES; sqlite3 and PostgreSQL know no backslash escape (a doubled
text ending in a backslash is one literal there, and judging it as MySQL too blocked it);
only PostgreSQL has $tag$...$tag$. A statement of unknown dialect (the RDS Data
API's Aurora is MySQL or PostgreSQL) must be safe in both readings.

The reading is linear in the statement (1 MB in well under a second): every
pattern has one way to match a run of characters, and the closer of a dollar
quote is searched for only when the tag occurs again after its opener, where
the regular expression used to search for it from every opener again (a
200 kB statement of distinct ``$tN$`` tags took 99 s here). Every occurrence of
every input is judged, the characters looked at bounded by a multiple of the
statement's length.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import namedtuple
from functools import cache, lru_cache

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

# What carries SQL structure in a fragment an input left after the code transformed it: a quote,
# a statement separator, an operator, a parenthesis, a comment (sources/fragments.py).
FRAGMENTS = Family("sql", ("--", "/*", *"'\"`;=<>()|&#"), quotes="'\"`")

# The dialects the sinks name; a statement of unknown dialect is read as MySQL and as PostgreSQL.
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
MYSQL = "mysql"
MYSQL_NO_BACKSLASH_ESCAPES = "mysql, sql_mode NO_BACKSLASH_ESCAPES"
PARTIQL = "partiql"

# The characters of occurrences judged per statement character (and at least): linear time, and
# a budget no input's ordinary repetition reaches (10,000 rows of ('a b') use a third of one per character).
WORK_PER_CHARACTER = 8
MIN_WORK = 1 << 16

_COMMENT = "comment"
_DOLLAR = "dollar"
_UNTERMINATED = "unterminated"
_DOUBLED = r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""
_ESCAPED = r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\""
_BACKTICK = r"`(?:[^`]|``)*`"
_DOLLAR_OPENER = r"(?P<dollar>\$(?:[A-Za-z_]\w*)?\$)"

# What each dialect quotes: MySQL (and MariaDB) escape with a backslash in '...' and "..." alike,
# and start a comment with #; sqlite3 and PostgreSQL know no backslash escape (a correctly doubled
# text ending in \ is one literal there); only PostgreSQL has $tag$ quotes, only MySQL and SQLite
# backticks.
_DIALECTS: dict[str, tuple[str, ...]] = {
    MYSQL: (_ESCAPED, _BACKTICK, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"`]|/\*)"),
    MYSQL_NO_BACKSLASH_ESCAPES: (_DOUBLED, _BACKTICK, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)",
                                 r"(?P<unterminated>['\"`]|/\*)"),
    POSTGRESQL: (_DOUBLED, _DOLLAR_OPENER, r"(?P<comment>--[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"]|/\*)"),
    SQLITE: (_DOUBLED, _BACKTICK, r"(?P<comment>--[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"`]|/\*)"),
    PARTIQL: (_DOUBLED, r"(?P<comment>--[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"]|/\*)"),
}
# Unknown dialect (RDS Data API: Aurora MySQL or PostgreSQL): every quote and comment either reads.
_UNKNOWN = "unknown"
_PERMISSIVE = (_DOUBLED, _BACKTICK, _DOLLAR_OPENER, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)",
               r"(?P<unterminated>['\"`]|/\*)")
_UNKNOWN_ESCAPED = "unknown, backslash escapes"
_DIALECTS[_UNKNOWN_ESCAPED] = (_ESCAPED, *_PERMISSIVE[1:])
_READINGS = {SQLITE: (SQLITE,), POSTGRESQL: (POSTGRESQL,), MYSQL: (MYSQL,), PARTIQL: (PARTIQL,),
             MYSQL_NO_BACKSLASH_ESCAPES: (MYSQL_NO_BACKSLASH_ESCAPES,), None: (_UNKNOWN_ESCAPED, _UNKNOWN)}


class Statement(namedtuple("Statement", "text dialect", defaults=(None,))):
    """A statement with the dialect of the driver that runs it (a plain str: dialect unknown)."""

    __slots__ = ()
    text: str
    dialect: str | None

    def __str__(self) -> str:
        return self.text


@cache
def _regions_pattern(dialect: str) -> re.Pattern[str]:
    # A dollar quote is matched by its opener only: the regex engine would look for the closer
    # from every opener again (26 s for 200 kB of distinct $tN$ tags); _regions finds it by index.
    return re.compile("|".join(_DIALECTS.get(dialect, _PERMISSIVE)), re.DOTALL)


@cache
def _list_pattern(dialect: str) -> re.Pattern[str]:
    """What an app splices as a list or a sort: ``1, 2``, ``'a','b'``, ``price DESC NULLS LAST, name``.

    Each item is one number, one complete literal or one (dotted or quoted) name, with an optional
    direction: no operator, call, parenthesis, comment or second statement fits.
    """
    literal = _ESCAPED if dialect == MYSQL else _DOUBLED
    name = r"[^\W\d]\w*(?:\.[^\W\d]\w*)*|" + _BACKTICK
    number = r"[+-]?(?:0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    item = (rf"(?:{number}|{literal}|{name})(?:\s+(?i:ASC|DESC))?(?:\s+(?i:NULLS)\s+(?i:FIRST|LAST))?")
    return re.compile(rf"\s*{item}(?:\s*,\s*{item})*\s*", re.DOTALL)


@cache
def _dollar_tag_pattern() -> re.Pattern[str]:
    # Every position where a $tag$ starts, overlapping ones included ($a$b$ holds $a$ and $b$).
    return re.compile(r"(?=(\$(?:[A-Za-z_]\w*)?\$))")


def relevant(value: str) -> bool:
    """Inputs made only of letters, digits and underscores cannot change SQL structure (but see
    ``names_a_column``)."""
    return not value.replace("_", "a").isalnum() and not value.isspace()


# A value standing bare is a keyword of the language, not a column.
_VALUE_KEYWORDS = frozenset({"true", "false", "null", "default", "unknown"})


@cache
def _compared_word_pattern() -> re.Pattern[str]:
    # A bare word where a value belongs: after a comparison, LIKE, IS [NOT] or IN (; not a qualified
    # name's head or a call's name, which only the code's text spells.
    return re.compile(r"(?:[=<>]|\b(?i:like|is(?:\s+not)?|in)\b)\s*(?:\(\s*)?([^\W\d]\w*)\b(?![.(])")


@cache
def _operator_word_pattern() -> re.Pattern[str]:
    # The same after an operator only: 0.8 µs for a 180-character statement, where the keywords'
    # alternation tried at every position took 5 µs; the keywords are looked for first, in C.
    return re.compile(r"[=<>]\s*(?:\(\s*)?([^\W\d]\w*)\b(?![.(])")


def _compared_words(statement: str) -> tuple[str, ...]:
    # An application runs the same few statement texts again and again (parameterised ones above all).
    return _compared_words_of(statement) if len(statement) <= CACHED_STATEMENT else _scan_compared_words(statement)


CACHED_STATEMENT = 2048


@lru_cache(maxsize=256)
def _compared_words_of(statement: str) -> tuple[str, ...]:
    return _scan_compared_words(statement)


def _scan_compared_words(statement: str) -> tuple[str, ...]:
    lowered = statement.lower()
    keywords = " like" in lowered or " in" in lowered or " is" in lowered or ")in" in lowered
    return tuple((_compared_word_pattern() if keywords else _operator_word_pattern()).findall(statement))


def _is_word(value: str) -> bool:
    """An input that could name a column: letters, digits and underscores, not a number or a keyword."""
    return value.replace("_", "a").isalnum() and not value[0].isdigit() and value.lower() not in _VALUE_KEYWORDS


def names_a_column(statement: str, inputs: Inputs) -> bool:
    """The sinks' fast path for inputs of letters and digits: whether one stands bare where a value
    belongs, naming a column (``WHERE id = id`` is true of every row). Only a statement that holds
    such an input pays for the scan of its comparisons."""
    words = _compared_words(statement)
    if not words or not inputs.any_in(statement, _is_word):
        return False
    values = inputs.values
    return any(word in values for word in words if _is_word(word))


def _last_dollar_tags(statement: str) -> dict[str, int]:
    """Where each ``$tag$`` of the statement occurs last: an opener has a closer only when its tag
    occurs again after it, and an opener without one then costs no scan."""
    return {match[1]: match.start() for match in _dollar_tag_pattern().finditer(statement)}


def _regions(statement: str, stop: int, dialect: str) -> list[Region]:
    """(start, end, content_start, content_end, kind) of each literal or comment up to ``stop``.

    A comment's content starts after its opener: an input that opens a comment is not inside it.
    """
    pattern = _regions_pattern(dialect)
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
            if statement.startswith("/*", start):
                regions.append((start, end, start + 2, end - 2, _COMMENT))
            else:
                regions.append((start, end, start + (1 if statement[start] == "#" else 2), end, _COMMENT))
        else:
            regions.append((start, end, start + 1, end - 1, None))
        if end >= stop:
            break
        position = end
    return regions


def _breaks_structure(statement: str, value: str, start: int, regions: list[Region], starts: list[int],
                      dialect: str) -> str | None:
    """Why the occurrence at ``start`` is not inert, or None when it adds no token to the statement."""
    end = start + len(value)
    index = bisect_right(starts, start) - 1
    if index >= 0 and regions[index][1] > start:
        region_start, region_end, content_start, content_end, kind = regions[index]
        if kind == _UNTERMINATED:
            return "leaves a quote or comment unterminated"
        if content_start <= start and end <= content_end:
            if kind == _COMMENT and "*/" in value:  # a line comment holds no newline; a block comment may
                return "ends a comment"
            return None
        if kind is None and start <= content_start and content_end <= end <= region_end \
                and not _doubles_a_quote(statement, region_start, region_end):
            # All of one literal's text and one or both of its quotes: the input adds no token, and a
            # value that only coincides with the code's own literal ('memo' for the bound value memo') is no attack.
            return None
        if kind is None and _is_list(statement, value, start, end, regions, index, dialect):
            return None
        if kind is not None:
            return "opens a comment" if start < content_start else "reaches into a comment"
        return "breaks out of a quoted literal"
    nxt = index + 1
    if _is_list(statement, value, start, end, regions, nxt, dialect):
        return None
    if nxt < len(regions) and regions[nxt][0] < end:
        return "opens a quoted literal or comment"
    return "adds tokens outside any literal"


def _doubles_a_quote(statement: str, start: int, end: int) -> bool:
    """Whether the quote just before or after the literal is its own kind: the literal would have
    swallowed it as an escape, had the statement held a quote there before the input came."""
    quote = statement[start]
    return statement[end:end + 1] == quote or statement[start - 1:start] == quote


def _is_list(statement: str, value: str, start: int, end: int, regions: list[Region], index: int,
             dialect: str) -> bool:
    """Whether the occurrence is whole tokens that only list literals, numbers and names (``_list_pattern``),
    its quotes being the statement's own literals."""
    if _word_at(statement, start - 1) or _word_at(statement, end):
        return False
    while index < len(regions) and regions[index][0] < end:
        region_start, region_end, _, _, kind = regions[index]
        if kind is not None or region_start < start or region_end > end:
            return False
        index += 1
    return _is_list_text(value, dialect)


@lru_cache(maxsize=16)
def _is_list_text(value: str, dialect: str) -> bool:
    # Once per value: the occurrences of one value all get the same answer.
    return _list_pattern(dialect).fullmatch(value) is not None


def _word_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] in "_.$")


def detect(statement: str | Statement, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    """Judge ``statement`` (a Statement names its dialect) against the inputs that occur in it."""
    if isinstance(statement, Statement):
        text, dialect = statement
    else:
        text, dialect = statement, None
    candidates = inputs.occurring_in(text, relevant)
    finding = _judge(text, candidates, dialect) if candidates else None
    if finding is None:  # the pieces of inputs the code changed on the way (case, strip, cut, sanitiser)
        fragments = transformed(text, inputs, FRAGMENTS)
        if fragments:
            finding = _judge(text, fragments, dialect)
    if finding is None and names_a_column(text, inputs):
        finding = _judge_words(text, inputs, dialect)
    return finding


def _judge_words(statement: str, inputs: Inputs, dialect: str | None) -> Finding | None:
    """An input of letters and digits that stands bare, outside every literal, where a value belongs."""
    matches = [match for match in _compared_word_pattern().finditer(statement) if _is_word(match[1])]
    words = {match[1] for match in matches}
    items = {item.value: item for item in reversed(inputs.occurring_in(statement, words.__contains__))}
    matches = [match for match in matches if match[1] in items]
    if not matches:
        return None
    for reading in _READINGS.get(dialect, _READINGS[None]):
        regions = _regions(statement, matches[-1].end(), reading)
        starts = [region[0] for region in regions]
        for match in matches:
            start = match.start(1)
            index = bisect_right(starts, start) - 1
            if index < 0 or regions[index][1] <= start:  # outside every literal and comment
                item = items[match[1]]
                return Finding(AttackKind.SQL_INJECTION, "sqli.structure",
                               f"input from {item.describe()} names a column where a value belongs in the SQL "
                               f"statement", item, statement[max(0, start - 20): match.end() + 20])
    return None


def _judge(statement: str, candidates: list[Input], dialect: str | None) -> Finding | None:
    # Every occurrence of every input is judged: a count shared by the inputs was one a decoy
    # repeated in the statement could spend. What is bounded is the work: the characters of the
    # occurrences looked at, a few times the statement's length. Only a value that overlaps itself
    # again and again gets past that (a run of 1 MB against a statement of it); it is then
    # judged an attack, never let through unread.
    distinct = list({item.value: item for item in reversed(candidates)}.values())[::-1]
    stop = max(statement.rfind(item.value) + len(item.value) for item in distinct)
    for reading in _READINGS.get(dialect, _READINGS[None]):
        regions = _regions(statement, stop, reading)
        starts = [region[0] for region in regions]
        work = WORK_PER_CHARACTER * len(statement) + MIN_WORK
        for item in distinct:
            index = statement.find(item.value)
            while index != -1:
                work -= len(item.value)
                reason = _breaks_structure(statement, item.value, index, regions, starts, reading) \
                    if work >= 0 else "occurs in the statement more often than can be judged"
                if reason:
                    fragment = statement[max(0, index - 20): index + len(item.value) + 20]
                    return Finding(
                        AttackKind.SQL_INJECTION, "sqli.structure",
                        f"input from {item.describe()} {reason} of the SQL statement", item, fragment)
                index = statement.find(item.value, index + 1)
    return None
