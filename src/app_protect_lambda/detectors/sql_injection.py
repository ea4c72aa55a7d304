"""SQL injection: an input that adds tokens to the statement.

Every occurrence of an input (in any decoded form) in the statement must lie
strictly inside one quoted literal (string, quoted name, dollar-quoted body, a
comment the code opened), or be all of one literal's text with one or both of
its quotes (a whole literal; a bound value that only coincides with the code's
own 'memo'), or be a list or sort of the kind apps splice: numbers, whole
literals and names, comma-separated, each with an optional ASC/DESC and NULLS
FIRST/LAST. An occurrence that closes or opens a quote or a comment, spans from
a literal into the statement, ends in a backslash that escapes the literal's
closing quote, or stands outside any literal as anything else adds tokens to
the statement: that is the attack.

Two stages. The first tokenizes only the literal regions, by one regular
expression that the regex engine runs in C over the rest of the statement, and
decides every benign statement alone. Only an occurrence it judges structure
goes to the second (``sql_tokens``: sqlparse's lexer, imported then and never
on a benign run), which lets through the lists the first stage's pattern does
not spell (``"t"."Price" DESC``, ``X'41'``, ``E'a\\'b'``) and names the tokens the
input brought in the record's evidence. sqlparse's lexer costs about 2.3 µs a
character (290 µs for a 125-character statement) and its first use 30-120 ms
(the import, 22-25 ms on a quiet machine, and the compiling of its patterns),
which is why it is not the first stage.

Each statement is read in its driver's dialect (``Statement``; the sinks name
it): MySQL escapes with a backslash in '...' and "..." and comments with #,
unless the session's sql_mode has NO_BACKSLASH_ESCAPES; sqlite3 and PostgreSQL
know no backslash escape in '...' (a doubled text ending in a backslash is one
literal there, and judging it as MySQL too blocked it), but PostgreSQL's E'...'
(or e'...') does; only PostgreSQL has $tag$...$tag$. A statement of unknown
dialect (the RDS Data API's Aurora is MySQL or PostgreSQL) must be safe in both
readings. A word where a value belongs names a column when it stands bare, and
also when it is all of a quoted identifier: backticks, and "..." in SQLite,
PostgreSQL and PartiQL (``_NAME_QUOTES``: SQLite falls back to a string only
when no column has the name; the detector does not see the schema, so the
statement stands in for it, ``_named_elsewhere``).

A list is whole operands only where the code asked for a list: where a value belongs (after a
comparison, ``IN (``, ``LIKE``, ``IS``, ``BETWEEN``) a name is a column, and ``id IN (1, id)``,
``owner = notes.owner``, ``= `owner```, ``= [owner]`` compare a column with itself, true of every
row (``_names_a_value``); after an IN list's commas a bare word input counts as after ``=``
(``?id=9&id=id`` joined by the code). PostgreSQL nests block comments: an input's ``/*`` inside a
comment the code wrote (a route in an sqlcommenter tag) makes the code's ``*/`` close it, and the
comment runs on over the code's SQL to the next ``*/``, another input's in a literal.

One-character inputs (``Inputs.singles``: a quote, a backslash, ``;``, ``#``,
never a letter or a digit) occur wherever the code wrote the same character, so
they count only where the statement shows what one did (``_judge_singles``): a
quote left open, three quotes opening a literal, a backslash escaping a closing
quote, a ``;`` followed by the rest of a statement rather than a new one, a
``#`` opening a MySQL comment. A request that carries none costs a sink call
one attribute read (no change measurable in the bench's sqlite rows); one with
a lone quote 4-6 µs for a 178-character statement whose quotes pair off
(``_balanced``), and a reading of the whole statement (12-21 µs here, twice for
an unknown dialect) only where they may not.

The reading is linear in the statement (1 MB in well under a second): every
pattern has one way to match a run of characters, and the closer of a dollar
quote is searched for only when the tag occurs again after its opener, where
the regular expression used to search for it from every opener again (a
200 kB statement of distinct ``$tN$`` tags took 99 s here). Every occurrence of
every input is judged, the characters looked at bounded by a multiple of the
statement's length; the second stage looks at 16 occurrences of a statement at
most, 4,096 characters each.
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
# PostgreSQL's escape string: E'...' (or e'...') reads backslash escapes, standard '...' does not. The
# E must start a token (``type'x'`` is no E string). Not an alternative of the regions' pattern: one
# that starts with a look-behind (or a letter) costs the search its scan for a quote's first character
# (a 178-character statement took 28 µs to read, where it took 12); a '...' found after an E is read
# again with escapes (``_regions``).
_E_STRING_BODY = r"'(?:[^'\\]|''|\\.)*'"

# What each dialect quotes: MySQL (and MariaDB) escape with a backslash in '...' and "..." alike,
# and start a comment with #; sqlite3 and PostgreSQL know no backslash escape (a correctly doubled
# text ending in \ is one literal there); only PostgreSQL has $tag$ quotes, only MySQL and SQLite
# backticks.
_DIALECTS: dict[str, tuple[str, ...]] = {
    MYSQL: (_ESCAPED, _BACKTICK, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"`]|/\*)"),
    MYSQL_NO_BACKSLASH_ESCAPES: (_DOUBLED, _BACKTICK, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)",
                                 r"(?P<unterminated>['\"`]|/\*)"),
    POSTGRESQL: (_DOUBLED, _DOLLAR_OPENER, r"(?P<comment>--[^\n]*|/\*.*?\*/)",
                 r"(?P<unterminated>['\"]|/\*)"),
    SQLITE: (_DOUBLED, _BACKTICK, r"(?P<comment>--[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"`]|/\*)"),
    PARTIQL: (_DOUBLED, r"(?P<comment>--[^\n]*|/\*.*?\*/)", r"(?P<unterminated>['\"]|/\*)"),
}
# Unknown dialect (RDS Data API: Aurora MySQL or PostgreSQL): every quote and comment either reads.
_UNKNOWN = "unknown"
_PERMISSIVE = (_DOUBLED, _BACKTICK, _DOLLAR_OPENER, r"(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)",
               r"(?P<unterminated>['\"`]|/\*)")
_UNKNOWN_ESCAPED = "unknown, backslash escapes"
_DIALECTS[_UNKNOWN_ESCAPED] = (_ESCAPED, *_PERMISSIVE[1:])
_BACKSLASH_ESCAPES = frozenset((MYSQL, _UNKNOWN_ESCAPED))
_E_STRINGS = frozenset((POSTGRESQL, _UNKNOWN))  # the readings that look for E'...' (the escaped one reads it so)
# The readings whose block comments nest (PostgreSQL's; an unknown dialect may be PostgreSQL).
_NESTED_COMMENTS = frozenset((POSTGRESQL, _UNKNOWN, _UNKNOWN_ESCAPED))
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
def _e_string_body() -> re.Pattern[str]:
    return re.compile(_E_STRING_BODY, re.DOTALL)


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
    return re.compile(r"(?:[=<>]|\b(?i:like|is(?:\s+not)?|in)\b)\s*(?:\(\s*)?[\"`]?([^\W\d]\w*)\b(?![.(])")


@cache
def _operator_word_pattern() -> re.Pattern[str]:
    # The same after an operator only: 0.8 µs for a 180-character statement, where the keywords'
    # alternation tried at every position took 5 µs; the keywords are looked for first, in C.
    return re.compile(r"[=<>]\s*(?:\(\s*)?[\"`]?([^\W\d]\w*)\b(?![.(])")


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
    if not keywords:
        return tuple(_operator_word_pattern().findall(statement))
    return tuple(_compared_word_pattern().findall(statement)) + tuple(match[1] for match in _listed_words(statement))


@cache
def _in_list_pattern() -> re.Pattern[str]:
    return re.compile(r"\b(?i:in)\s*\(([^()]*)\)")


@cache
def _listed_word_pattern() -> re.Pattern[str]:
    # A bare (or backquoted, double-quoted) word after an IN list's comma: IN (1, id) with the
    # values of ?id=1&id=id joined by the code holds for every row, as id = id does.
    return re.compile(r"(?<=,)\s*[\"`]?([^\W\d]\w*)\b(?![.(])")


def _listed_words(statement: str) -> list[re.Match[str]]:
    """The words after the commas of each IN (...) list (the first item is ``_compared_word_pattern``'s)."""
    found: list[re.Match[str]] = []
    for listed in _in_list_pattern().finditer(statement):
        if "," in listed[1]:
            found.extend(_listed_word_pattern().finditer(statement, listed.start(1), listed.end(1)))
    return found


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
    e_strings = dialect in _E_STRINGS
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
        elif e_strings and statement[start] == "'" and start and statement[start - 1] in "Ee" \
                and not _word_at(statement, start - 2):
            escaped = _e_string_body().match(statement, start)  # E'...': read again, with escapes
            if escaped is None:
                regions.append((start - 1, length, start + 1, length, _UNTERMINATED))
                break
            end = escaped.end()
            regions.append((start - 1, end, start + 1, end - 1, None))
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
            if kind == _COMMENT and "/*" in value and dialect in _NESTED_COMMENTS \
                    and statement.startswith("/*", region_start):
                # PostgreSQL nests block comments: the code's */ then closes the input's, and its own
                # comment runs on over the code's SQL to the next */ (another input's, in a literal).
                return "opens a nested comment"
            if value[-1] == "\\" and kind is None and _escapes_the_quote(statement, region_start, content_start, end,
                                                                     dialect):
                return "escapes the closing quote"
            return None
        if kind is None and start <= content_start and content_end <= end <= region_end \
                and not _doubles_a_quote(statement, region_start, region_end):
            # All of one literal's text and one or both of its quotes: the input adds no token, and a
            # value that only coincides with the code's own literal ('memo' for the bound value memo') is no attack.
            # A quoted name (`id`) where a value belongs is a column, though: id = `id` holds for every row.
            if statement[region_start] in _NAME_QUOTES.get(dialect, "") and content_end > content_start:
                return _names_a_value(statement, statement[region_start:region_end], region_start, dialect)
            return None
        if kind is None and _is_list(statement, value, start, end, regions, index, dialect):
            return _names_a_value(statement, value, start, dialect)
        if kind is not None:
            return "opens a comment" if start < content_start else "reaches into a comment"
        return "breaks out of a quoted literal"
    nxt = index + 1
    if _is_list(statement, value, start, end, regions, nxt, dialect):
        return _names_a_value(statement, value, start, dialect)
    if nxt < len(regions) and regions[nxt][0] < end:
        return "opens a quoted literal or comment"
    return "adds tokens outside any literal"


# The words after which an operand is the right-hand value of a comparison (or an IN list's first),
# where a list or sort item is a column or a keyword. Only the first item's place is looked at:
# IN (1, id) is found by its start; a list the code joins from two inputs is not followed. Not WHERE,
# AND or OR: a filter on a column the request picks (WHERE {field} LIKE ?) names its left-hand side.
_VALUE_WORDS = frozenset(("IN", "LIKE", "ILIKE", "GLOB", "REGEXP", "RLIKE", "MATCH", "IS", "BETWEEN"))
# Names that are values: SQL's constants, and the words of a sort (which no value position takes).
_CONSTANT_NAMES = frozenset(("NULL", "TRUE", "FALSE", "UNKNOWN", "DEFAULT", "CURRENT_DATE", "CURRENT_TIME",
                             "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP", "ASC", "DESC", "NULLS", "FIRST",
                             "LAST"))
_LOOK_BACK = 64


@cache
def _value_place() -> re.Pattern[str]:
    # What ends the text before an operand, read backwards as far as _LOOK_BACK: an operator, or a word.
    return re.compile(r"(?:([=<>!])|([A-Za-z_]+))[\s(]*\Z")


@cache
def _operand_names() -> re.Pattern[str]:
    # The tokens of a list's text: a string, a double-quoted word, a backquoted or bracketed name, a
    # number (hex included), a word (a prefix letter right before a string is the string's: X'41').
    return re.compile(r"'(?:[^']|'')*'|(\"(?:[^\"]|\"\")*\")|(`(?:[^`]|``)*`|\[[^\]]*\])|\d[\w.]*"
                      r"|([^\W\d][\w$]*)(?!')", re.DOTALL)


def _names_a_value(statement: str, value: str, start: int, dialect: str) -> str | None:
    """Why a list of whole operands (or a whole quoted name) is structure after all: it stands where a
    value belongs and one of its operands is a name, a column compared with itself or another column
    (``id IN (1, id)``, ``id = notes.id``, ``id = `id```: true of every row), which no app splices
    there from an input. In an ORDER BY, a column list or GROUP BY, names are what the code asked for."""
    before = _value_place().search(statement, max(0, start - _LOOK_BACK), start)
    if before is None or (before[2] is not None and before[2].upper() not in _VALUE_WORDS) \
            or _sorted_elsewhere(statement, value, start):
        return None
    for match in _operand_names().finditer(value):
        quoted, name, word = match.groups()
        if name is not None or (word is not None and word.upper() not in _CONSTANT_NAMES):
            return "names a column where a value belongs"
        # "word" is a name where the dialect says so; SQLite's only when a column has it (_named_elsewhere)
        if quoted is not None and quoted[1:-1] and '"' in _NAME_QUOTES.get(dialect, "") \
                and (dialect != SQLITE or _named_elsewhere(statement, quoted[1:-1], start, start + len(value))):
            return "names a column where a value belongs"
    return None


# The words after which a list of names is what the code asked for: ORDER BY, GROUP BY, a column list.
_LIST_WORDS = frozenset(("BY", "SELECT", "DISTINCT"))
_OTHER_OCCURRENCES = 16


def _sorted_elsewhere(statement: str, value: str, start: int) -> bool:
    """Whether the value also stands, as whole tokens, where the code asked for names (``ORDER BY u.id``):
    ``?sort=u.id`` landed there, and the ``= u.id`` of the code's own join condition only coincides
    with it. The price: a request may give a value position the very text the code's own ORDER BY or
    column list spells (``owner = notes.owner ... ORDER BY notes.owner``)."""
    index, looked = statement.find(value), 0
    while index != -1 and looked < _OTHER_OCCURRENCES:
        looked += 1
        if index != start and not _word_at(statement, index - 1) and not _word_at(statement, index + len(value)):
            before = _value_place().search(statement, max(0, index - _LOOK_BACK), index)
            if before is not None and before[2] is not None and before[2].upper() in _LIST_WORDS:
                return True
        index = statement.find(value, index + 1)
    return False


def _escapes_the_quote(statement: str, region_start: int, content_start: int, end: int, dialect: str) -> bool:
    """Whether the backslash at ``end - 1`` escapes the quote after it in a literal that reads backslash
    escapes (MySQL's '...' and "...", PostgreSQL's E'...'): the code's closing quote then belongs to the
    text, which runs on over the code's own SQL to the next quote and turns the next input live."""
    quote = statement[content_start - 1]
    if statement[end:end + 1] != quote or quote == "`":
        return False
    if statement[region_start] not in "Ee" and dialect not in _BACKSLASH_ESCAPES:
        return False
    # The backslashes the text ends with, counted back from the quote: an even run is escaped
    # backslashes, an odd one's last escapes the quote. Only the run before a quote is counted, so
    # the backslashes of a literal are counted once in all (a slice from the literal's start each time
    # made a 1 MB literal of \\' pairs quadratic).
    index = end - 1
    while index >= content_start and statement[index] == "\\":
        index -= 1
    return (end - 1 - index) % 2 == 1


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
    # A one-character input first: where one escapes a quote, it is the cause of what follows it.
    finding = _judge_singles(text, inputs, dialect) if inputs.singles else None
    candidates = inputs.occurring_in(text, relevant) if finding is None else None
    if candidates:
        finding = _judge(text, candidates, dialect)
    if finding is None:  # the pieces of inputs the code changed on the way (case, strip, cut, sanitiser)
        fragments = transformed(text, inputs, FRAGMENTS)
        if fragments:
            finding = _judge(text, fragments, dialect)
    if finding is None and names_a_column(text, inputs):
        finding = _judge_words(text, inputs, dialect)
    return finding


# The one-character inputs that can be SQL structure on their own: a quote, a backslash, ``;``, ``#``.
SINGLES = "'\"`\\;#"


def single_may_matter(statement: str, singles: frozenset[str]) -> bool:
    """The sinks' fast path for one-character inputs (``Inputs.singles``): one of them is a character
    that can be structure and occurs in the statement."""
    return any(char in SINGLES and char in statement for char in singles)


# The quotes that make an identifier in each reading. SQLite reads "word" as a column when the table
# has one of that name, and as a string only when it has none (``_named_elsewhere``). PostgreSQL and PartiQL
# read "..." as a name always, MySQL as a string (ANSI_QUOTES aside); backticks quote names.
_NAME_QUOTES = {SQLITE: '"`', POSTGRESQL: '"', PARTIQL: '"', MYSQL: "`", MYSQL_NO_BACKSLASH_ESCAPES: "`",
                _UNKNOWN: '"`', _UNKNOWN_ESCAPED: '"`'}


def _quoted_name(statement: str, region: Region, match: re.Match[str], dialect: str) -> bool:
    """Whether the word ``match`` found is all of a quoted identifier (not a qualified name's head):
    ``WHERE password = "{q}"`` with q = ``password`` compares the column with itself in SQLite."""
    region_start, region_end, content_start, content_end, kind = region
    if not (kind is None and statement[region_start] in _NAME_QUOTES.get(dialect, "")
            and content_start == match.start(1) and content_end == match.end(1)
            and statement[region_end:region_end + 1] != "."):
        return False
    if dialect == SQLITE and statement[region_start] == '"':
        return _named_elsewhere(statement, match[1], region_start, region_end)
    return True


# The columns every SQLite table has without naming them (an INTEGER PRIMARY KEY is the rowid).
_SQLITE_IMPLICIT_COLUMNS = frozenset(("rowid", "oid", "_rowid_"))


def _named_elsewhere(statement: str, word: str, region_start: int, region_end: int) -> bool:
    """SQLite's "word" is a column only if the table has one of that name. The schema is not seen, so
    the statement stands in for it: the word is a column when the statement names it somewhere else
    too (``WHERE password = "password"``, ``owner IN ("owner")``) or it is an implicit column; a
    value in "..." that nothing else names (``name = "bob"``: code that writes its strings so) is
    the string SQLite falls back to. A column the statement does not name makes a comparison
    between two different columns, which selects no more than the rows where they agree."""
    if word.lower() in _SQLITE_IMPLICIT_COLUMNS:
        return True
    for other in re.finditer(rf"(?<![\w$]){re.escape(word)}(?![\w$])", statement, re.IGNORECASE):
        if other.start() < region_start or other.start() >= region_end:
            return True
    return False


def _judge_singles(statement: str, inputs: Inputs, dialect: str | None) -> Finding | None:
    """A one-character input occurs wherever the code wrote that character too, so an occurrence is
    not known to be the input's: it counts only where the statement shows what one character did.

    A quote left unterminated (the statement holds an odd one: ``id = '``); three quotes that open a
    literal (``'{q}'`` with q = ``'``: the code's closer read as an escaped quote, the literal running
    on over the code's SQL); a backslash that escapes a literal's closing quote where backslashes
    escape (``'\\'`` in MySQL, ``E'\\'`` in PostgreSQL); a ``;`` outside every literal with more SQL
    after it (sqlite3's ``execute`` refuses a second statement, so code's own text holds none there);
    a ``#`` that opens a MySQL comment. A one-letter or one-digit value is never judged here
    (``Inputs.singles``). The price: code whose own text has such a shape (a literal that starts with
    a quote, a script of several statements) is judged an attack when a request carries that lone
    character too.
    """
    items = [item for item in inputs.singles_in(statement, SINGLES) if not _balanced(statement, item.value)]
    if not items:
        return None
    for reading in _READINGS.get(dialect, _READINGS[None]):
        regions = _regions(statement, len(statement), reading)
        starts = [region[0] for region in regions]
        for item in items:
            found = _single_reason(statement, item.value, regions, starts, reading)
            if found is not None:
                index, reason = found
                return Finding(AttackKind.SQL_INJECTION, "sqli.structure",
                               f"one-character input from {item.describe()} {reason} in the SQL statement",
                               item, statement[max(0, index - 20): index + 21])
    return None


def _balanced(statement: str, char: str) -> bool:
    """Whether a lone quote can be settled without reading the statement: one kind of quote only, an
    even count of it, no run of three, no backslash or comment that could hide one. Literals then
    pair its quotes off (a doubled one is a pair too), so none is left open: the common benign case
    costs a few scans in C, where the reading took 12-21 µs for a 178-character statement here."""
    if char not in "'\"`" or statement.count(char) % 2 or char * 3 in statement:
        return False
    others = "'\"`\\#$".replace(char, "")
    return not any(other in statement for other in others) and "--" not in statement and "/*" not in statement


def _single_reason(statement: str, char: str, regions: list[Region], starts: list[int],
                   dialect: str) -> tuple[int, str] | None:
    """Where and how the lone ``char`` changes the statement's tokens, if the statement shows it."""
    if char in "'\"`":
        if regions and regions[-1][4] == _UNTERMINATED and statement[regions[-1][0]] == char:
            return regions[-1][0], "leaves a quote unterminated"
        run = char * 3
        index = statement.find(run)
        while index != -1:
            region = bisect_right(starts, index) - 1
            if region >= 0 and regions[region][0] == index and regions[region][4] is None \
                    and statement[index + 3:index + 4] != char:  # exactly three, opening a literal
                return index + 1, "turns the code's closing quote into an escaped one"
            index = statement.find(run, index + 3)
        return None
    if char == "\\":  # only a backslash just before a quote can escape one
        for quote in "'\"":
            index = statement.find("\\" + quote)
            while index != -1:
                region = bisect_right(starts, index) - 1
                if region >= 0 and regions[region][1] > index and regions[region][4] is None and \
                        _escapes_the_quote(statement, regions[region][0], regions[region][2], index + 1, dialect):
                    return index, "escapes the closing quote"
                index = statement.find("\\" + quote, index + 2)
        return None
    index = statement.find(char)
    while index != -1:
        region = bisect_right(starts, index) - 1
        inside = region >= 0 and regions[region][1] > index
        if char == ";":
            if not inside and _cuts_a_statement(statement, index + 1, regions, region + 1):
                return index, "ends the statement before the code's own SQL"
        elif inside and regions[region][0] == index and regions[region][4] == _COMMENT:  # "#"
            return index, "opens a comment"
        index = statement.find(char, index + 1)
    return None


def _cuts_a_statement(statement: str, position: int, regions: list[Region], index: int) -> bool:
    """Whether the SQL after ``position`` (``index``: the next region) is the rest of a statement rather
    than a new one: a script's own ``;`` is followed by a statement's first word, or by nothing but
    blanks and comments; a ``;`` an input put in the middle of a statement, by its remainder
    (``WHERE``, ``LIMIT``, ``AND``, a literal)."""
    while True:
        gap_end = regions[index][0] if index < len(regions) else len(statement)
        word = _first_word().match(statement, position, gap_end)  # blanks, then a word if one starts there
        if word is not None and word[1] is not None:
            return word[1].upper() not in _STATEMENT_WORDS
        if word is None or word.end() < gap_end:
            return True  # a parenthesis, an operator: the rest of a statement
        if index >= len(regions):
            return False
        if regions[index][4] != _COMMENT:
            return True  # a literal right after the ;
        position, index = regions[index][1], index + 1


# The words a statement starts with (SQLite, PostgreSQL, MySQL): what follows a script's own ``;``.
_STATEMENT_WORDS = frozenset((
    "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "CHECKPOINT", "CLOSE", "COMMENT", "COMMIT", "COPY", "CREATE",
    "DEALLOCATE", "DECLARE", "DELETE", "DESCRIBE", "DETACH", "DISCARD", "DO", "DROP", "END", "EXECUTE", "EXPLAIN",
    "FETCH", "FLUSH", "GRANT", "HANDLER", "INSERT", "LISTEN", "LOAD", "LOCK", "MERGE", "MOVE", "NOTIFY", "OPTIMIZE",
    "PRAGMA", "PREPARE", "REFRESH", "REINDEX", "RELEASE", "RENAME", "REPLACE", "RESET", "REVOKE", "ROLLBACK",
    "SAVEPOINT", "SELECT", "SET", "SHOW", "START", "TABLE", "TRUNCATE", "UNLISTEN", "UNLOCK", "UPDATE", "UPSERT",
    "USE", "VACUUM", "VALUES", "WITH",
))


@cache
def _first_word() -> re.Pattern[str]:
    return re.compile(r"\s*([A-Za-z_]+)?")


def _judge_words(statement: str, inputs: Inputs, dialect: str | None) -> Finding | None:
    """An input of letters and digits that stands where a value belongs, bare (outside every literal)
    or as the whole of a quoted identifier (``_names_a_column``)."""
    matches = [*_compared_word_pattern().finditer(statement), *_listed_words(statement)]
    matches = sorted((match for match in matches if _is_word(match[1])), key=lambda match: match.start(1))
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
            if index < 0 or regions[index][1] <= start or _quoted_name(statement, regions[index], match, reading):
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
    second_stages = 0
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
                tokens = ""
                if reason and work >= 0 and second_stages < MAX_SECOND_STAGES:
                    second_stages += 1
                    verdict = _second_stage(statement, item.value, index, regions, starts, reading)
                    if verdict is None:  # a list or sort after all: whole operands, commas, directions
                        reason = _names_a_value(statement, item.value, index, reading)
                    else:
                        tokens = verdict
                if reason:
                    fragment = statement[max(0, index - 20): index + len(item.value) + 20]
                    return Finding(
                        AttackKind.SQL_INJECTION, "sqli.structure",
                        f"input from {item.describe()} {reason} of the SQL statement", item,
                        f"tokens: {tokens} | at: {fragment}" if tokens else fragment)
                index = statement.find(item.value, index + 1)
    return None


# The occurrences of one statement that the second stage (sqlparse) may look at, and the longest
# stretch it tokenizes for one (about 2.3 µs a character); past them the first stage's verdict stands.
MAX_SECOND_STAGES = 16
SECOND_STAGE_WINDOW = 4096


def _second_stage(statement: str, value: str, start: int, regions: list[Region], starts: list[int],
                  reading: str) -> str | None:
    """sqlparse's reading of an occurrence the first stage judged structure (``sql_tokens``): None
    when it is a list or sort of whole operands after all, else the tokens it brought as evidence
    ("" when sqlparse is not installed or the occurrence is too long to tokenize).

    An application runs the same statement again and again: a list only the second stage lets through
    (``ORDER BY "t"."price" DESC``, 0.6 ms to tokenize) is read once per statement text."""
    if len(statement) <= CACHED_STATEMENT:
        return _second_stage_of(statement, value, start, reading)
    return _read_again(statement, value, start, regions, starts)


@lru_cache(maxsize=64)
def _second_stage_of(statement: str, value: str, start: int, reading: str) -> str | None:
    regions = _regions(statement, start + len(value), reading)
    return _read_again(statement, value, start, regions, [region[0] for region in regions])


def _read_again(statement: str, value: str, start: int, regions: list[Region], starts: list[int]) -> str | None:
    from . import sql_tokens

    end = start + len(value)
    index = bisect_right(starts, start) - 1
    if index < 0 or regions[index][1] <= start:  # the occurrence starts outside every region
        index += 1
    first = min(start, regions[index][0]) if index < len(regions) else start
    last_index = bisect_right(starts, end - 1) - 1
    last = max(end, regions[last_index][1]) if last_index >= 0 else end
    if last - first > SECOND_STAGE_WINDOW:
        return ""
    found = sql_tokens.tokens(statement[first:last], first)
    if found is None:
        return ""
    if not _word_at(statement, start - 1) and not _word_at(statement, end):
        touched = regions[index:last_index + 1]
        if all(kind is None and start <= region_start and region_end <= end
               for region_start, region_end, _, _, kind in touched) \
                and sql_tokens.is_list(found, start, end, {(region[0], region[1]) for region in touched}):
            return None
    return sql_tokens.evidence(found, start, end)
