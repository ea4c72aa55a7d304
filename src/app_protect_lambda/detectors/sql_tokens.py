"""The SQL detector's second stage: sqlparse's lexer, on suspicion only.

The first stage (``sql_injection``) reads only the literal regions, in C, and
decides almost every statement alone: a benign sink call never comes here, and
never imports sqlparse (a test proves it). Only an occurrence the first stage
judged structure is tokenized here, for two things:

- precision: a list or sort the first stage's pattern does not spell but that
  holds only operands, commas and ASC/DESC/NULLS FIRST|LAST: quoted names
  with a qualifier (``"t"."Price" DESC``, ```t`.`order```), literals with a
  prefix (``X'41'``, ``N'x'``, ``E'a\\'b'``), ``NULL``/``TRUE``/``FALSE``.
  A call, subquery, CASE, operator, cast, comment or second statement is
  still structure. Each string the lexer sees must be a literal the first
  stage read in the statement's own dialect (sqlparse reads every string
  with backslash escapes, as MySQL does, where sqlite3 and PostgreSQL do not).
- evidence: the tokens the input brought (their types, then their text in one
  piece, which the record redacts whole when the input is a secret), for the record.

Figures (this machine, sqlparse 0.6.1, CPython 3.11): ``import sqlparse.lexer``
took 22-25 ms on a quiet machine and 50-90 ms with it loaded (the package's
``__init__`` imports its whole engine), and the first tokenizing 8-29 ms more
(the lexer compiles its patterns): paid once, on the first suspicious statement
of a sandbox. Tokenizing then cost 290 µs for a 125-character statement, about
2.3 µs a character, so only the occurrence and the literals it touches are
tokenized, at most 4,096 characters, and at most
16 occurrences per statement (``sql_injection.MAX_SECOND_STAGES``: an attacker
cannot make one statement pay for thousands of windows; past them the first
stage's verdict stands).
"""
from __future__ import annotations

import re
from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

# Evidence: the types of this many tokens (the record redacts and clips the evidence).
EVIDENCE_TOKENS = 12

_PREFIXES = frozenset("NnXxBbEe")  # N'national', X'hex', B'bits', E'escape'
_VALUE_KEYWORDS = frozenset(("NULL", "TRUE", "FALSE"))


@cache
def _tokenize() -> Callable[[str], Iterable[tuple[Any, str]]] | None:
    """sqlparse's lexer, imported on first need; None where sqlparse is not installed (the first
    stage's verdict then stands, with its fragment as the evidence)."""
    try:
        from sqlparse import lexer  # type: ignore[import-not-found, unused-ignore]  # before `make install`
    except ImportError:
        return None
    return lexer.tokenize


@cache
def _order() -> re.Pattern[str]:
    return re.compile(r"(?:(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?|NULLS\s+(?:FIRST|LAST))", re.IGNORECASE)


def tokens(text: str, offset: int) -> list[tuple[str, str, int, int]] | None:
    """(type, text, start, end) of each token of ``text``, positions counted from ``offset``."""
    tokenize = _tokenize()
    if tokenize is None:
        return None
    found = []
    position = offset
    for ttype, value in tokenize(text):
        found.append((str(ttype).removeprefix("Token."), value, position, position + len(value)))
        position += len(value)
    return found


def evidence(found: list[tuple[str, str, int, int]], start: int, end: int) -> str:
    """The types of the tokens that overlap ``start:end``, blanks left out, then the tokens' text in one
    piece: ``Keyword, Operator.Comparison in: OR 1=1``.

    One piece, because the record redacts a secret input (a password field) by finding its value whole:
    each token's own text would give it away in fragments (``Keyword 'OR'``, ``Comment '--secret'``).
    The text is not cut here either (a cut in the middle of a secret would leave a piece of it whole);
    the record cuts the evidence after redacting it.
    """
    shown = [(kind, first, last) for kind, _, first, last in found
             if first < end and last > start and not kind.startswith("Text.Whitespace") and kind != "Newline"]
    if not shown:
        return ""
    kinds = [kind for kind, _, _ in shown[:EVIDENCE_TOKENS]]
    if len(shown) > EVIDENCE_TOKENS:
        kinds.append(f"... {len(shown) - EVIDENCE_TOKENS} more")
    first, last = shown[0][1], shown[-1][2]
    text = "".join(token[1] for token in found if token[2] >= first and token[3] <= last)
    return f"{', '.join(kinds)} in: {text}"  # as written: a repr would escape a secret's quotes


def is_list(found: list[tuple[str, str, int, int]], start: int, end: int, literals: set[tuple[int, int]]) -> bool:
    """Whether the tokens of ``start:end`` are a list of operands, each with an optional direction:
    numbers, literals, names (qualified, quoted), NULL/TRUE/FALSE, comma-separated.

    ``literals``: the (start, end) of each literal the first stage read; every string and quoted name
    the lexer found must be one of them, with its prefix if it has one.
    """
    items = [token for token in found if token[2] >= start and token[3] <= end
             and not token[0].startswith("Text.Whitespace") and token[0] != "Newline"]
    inner = [token for token in found if token[2] < end and token[3] > start]
    if not items or any(token not in items and token[1].strip() for token in inner):
        return False  # a token that crosses the occurrence's edges: not whole tokens
    index = 0
    count = len(items)
    while True:
        index = _operand(items, index, literals)
        if index < 0:
            return False
        order = []
        while index < count and items[index][0] == "Keyword.Order":
            order.append(items[index][1])
            index += 1
        if order and not _order().fullmatch(" ".join(order)):
            return False
        if index == count:
            return True
        if items[index][:2] != ("Punctuation", ","):
            return False
        index += 1


def _operand(items: list[tuple[str, str, int, int]], index: int, literals: set[tuple[int, int]]) -> int:
    """The index after the operand at ``index``, or -1 when there is none."""
    if index >= len(items):
        return -1
    kind, text, first, last = items[index]
    if kind in ("Operator", "Operator.Arithmetic") and text in "+-" and index + 1 < len(items) \
            and items[index + 1][0].startswith("Literal.Number") and items[index + 1][2] == last:
        return index + 2
    if kind.startswith("Literal.Number"):
        return index + 1
    if kind == "Keyword" and text.upper() in _VALUE_KEYWORDS:
        return index + 1
    if kind == "Name" and len(text) == 1 and text in _PREFIXES and index + 1 < len(items) \
            and items[index + 1][0] == "Literal.String.Single" and items[index + 1][2] == last:
        string = items[index + 1]
        return index + 2 if (string[2], string[3]) in literals or (first, string[3]) in literals else -1
    if kind == "Literal.String.Single":
        return index + 1 if (first, last) in literals else -1
    # A name, possibly qualified: name (. name)*, each part bare or quoted.
    while True:
        if kind == "Literal.String.Symbol" or (kind == "Name" and text[:1] == "`"):
            if (first, last) not in literals:
                return -1
        elif kind not in ("Name", "Name.Builtin"):
            return -1
        index += 1
        if index + 1 < len(items) and items[index][:2] == ("Punctuation", ".") and items[index][2] == last \
                and items[index + 1][2] == items[index][3]:
            kind, text, first, last = items[index + 1]
            index += 1
            continue
        return index
