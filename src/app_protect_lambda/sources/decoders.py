"""The decoded forms of one input: what code commonly turns an attacker's string into.

URL-decoding (``unquote`` and ``unquote_plus`` both: a ``+`` is a space to one and a plus to the
other), base64 (either alphabet, padded or not, MIME line breaks allowed), hex, JSON (unescaping a
string's content, a whole JSON string literal, and the strings and keys of a JSON object or array),
the header and payload of a JWT (``Bearer eyJ...``, read unverified by many handlers: any segment that
decodes to a JSON object, in any encoding ``json.loads`` reads bytes in) and NFKC.
Decoders chain, so a pagination cursor that is base64 of JSON gives its strings as ``base64+json``
forms and a URL-encoded JSON filter as ``url+json``.

Bounds, since an attacker picks the value (each keeps decoding linear in it):

- ``MAX_STEPS`` (3) decoders in one chain: enough for ``url+base64+json`` (a cookie holding a
  URL-encoded cursor), the deepest chain seen in handlers; each further step multiplies the forms.
  A short string inside JSON (64 characters at most) brings its own remembered forms, as any short
  input does, so its chain may go on past the JSON step by as many again.
- ``FORMS_BUDGET`` characters of decoded forms per character of the value (8, plus 4 kB), and as
  many again for the forms of the short strings of a JSON text in it (remembered ones): forms
  are found breadth-first, so the first two steps are always complete (they make at most a few
  times the value, pluses and percent signs decoded both ways) and only a third step of a padded
  value can be cut short. Every decoder is linear in what it reads, so the work is too. A value
  cut short is known (``BUDGET_SPENT``): padding that spends the budget ahead of the one form
  that matters (200 array members heavy in ``%25``, then base64 of the payload) would otherwise
  switch the checks off for it, so ``limits.on_exceeded`` decides, as past the other caps.
- ``JSON_DEPTH`` (32) levels of an opened JSON value, the walk's default depth cap; strings past it
  are not forms (the raw value still is an input).

A decoded text may hold control characters (a NUL or a newline in SQL or a shell command is what
an attacker wants); it is refused as noise only when more than a quarter of it is unprintable, as
random bytes are (``123456`` as hex is ``\x124V``, not a form).

Most inputs (words, sentences, addresses) meet no decoder's precondition, which ``may_decode``
tells in C-speed tests before any decoder runs. Measured here (``decoded_forms``, µs per value,
before these decoders and with them): a word 0.14/0.16, a sentence 0.38/0.45, a UUID 3.0/3.1, a
user agent 0.40/0.48, a URL-encoded search with pluses 3.5/6.7 (two readings now), a base64
cursor of JSON 4.3/6.7 (four forms where there was one), a JSON filter 0.3/3.7, a bearer JWT
0.7/11.6 (its claims; 14 now that any segment holding a JSON object is read, and a host name
0.9 as before). Values of 64 characters or fewer are remembered across invocations.
"""
from __future__ import annotations

import binascii
import json
import re
from collections import deque
from functools import cache, lru_cache, partial

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MAX_STEPS = 3
FORMS_BUDGET = 8
FORMS_BUDGET_FLOOR = 4096
JSON_DEPTH = 32
# The transform of the pair ``decoded_forms`` ends with when the budget ran out: its text is empty (no
# input is), and ``Inputs`` tells ``limits.on_exceeded`` of it, as of values past ``max_decoded``.
BUDGET_SPENT = "budget-spent"


@cache
def _base64_shape() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")


@cache
def _hex_shape() -> re.Pattern[str]:
    return re.compile(r"(?:[0-9a-fA-F]{2})+")


_MIN_ENCODED_LENGTH = 6  # the shortest hex form; base64 forms need 8
_JSON_OPENERS = "{[\""


@cache
def _encodable_shape() -> re.Pattern[str]:
    """Every string that base64 or hex decoding could apply to (either base64 alphabet covers hex;
    MIME base64 breaks its lines). Linear: what may follow the padding (``=``, line breaks) cannot
    start the run before it, where a trailing ``\\s*`` took 3.4 s on 40,000 line breaks and a ``!``."""
    return re.compile(r"[A-Za-z0-9+/_\r\n-]+(?:=[=\r\n]*)?")


def _readable(text: str) -> bool:
    """Text rather than random bytes: at most a quarter of it unprintable (tabs and line breaks count as
    printable). Control characters are kept: a NUL or a newline is part of many payloads."""
    if text.isprintable():
        return True
    unprintable = len(text) - sum(map(str.isprintable, text)) - text.count("\n") - text.count("\r") \
        - text.count("\t")
    return unprintable * 4 <= len(text)


@cache
def unquoting() -> tuple[Callable[[str], str], Callable[[str], str]]:
    """urllib.parse's unquote and unquote_plus, loaded on first need (not on the cold-start path).

    Through this rather than an import statement in the function: such a statement cost ~1.9 µs a
    call here, since urllib.parse answers the import system's ``__path__`` look-up by raising.
    """
    from urllib.parse import unquote, unquote_plus

    return unquote, unquote_plus


@cache
def _nfkc() -> Callable[[str], str]:
    import unicodedata

    return partial(unicodedata.normalize, "NFKC")


def _url_forms(value: str) -> Iterator[tuple[str, str]]:
    """``unquote`` up to three times, and ``unquote_plus`` once where a ``+`` makes them differ (its
    own further decodings come from the next step)."""
    unquote, unquote_plus = unquoting()
    if "+" in value:
        yield "url-plus", unquote_plus(value)
    current, name = value, ""
    for _ in range(3):
        if "%" not in current:
            return
        decoded = unquote(current)
        if decoded == current:
            return
        name = f"{name}+url" if name else "url"
        current = decoded
        yield name, decoded


def _base64_form(value: str) -> str | None:
    if "\n" in value or "\r" in value or value[-1:].isspace():
        value = value.replace("\r", "").replace("\n", "").rstrip()
    if len(value) < 8 or len(value) % 4 == 1 or not _base64_shape().fullmatch(value):
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            raw = binascii.a2b_base64(padded.replace("-", "+").replace("_", "/"))
        else:
            raw = binascii.a2b_base64(padded)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if text and _readable(text) else None


def _hex_form(value: str) -> str | None:
    if len(value) < 6 or not _hex_shape().fullmatch(value):
        return None
    try:
        text = bytes.fromhex(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if _readable(text) else None


def _json_form(value: str) -> str | None:
    """The content of a JSON string, escapes undone, as the code's ``json.loads(f'"{value}"')`` reads it."""
    if "\\" not in value:
        return None
    try:
        text = json.loads(f'"{value}"')
    except (ValueError, TypeError, RecursionError):
        return None
    return text if isinstance(text, str) and text != value else None


def _json_literal(value: str) -> str | None:
    """What ``json.loads`` makes of a JSON string literal (``"x\\u0027"``), or None."""
    text = value.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if type(parsed) is str else None


def _json_members(value: str) -> list[str]:
    """The strings and keys of a JSON object or array, to ``JSON_DEPTH`` levels; [] for anything else."""
    text = value.strip()
    if len(text) < 2 or text[0] not in "{[" or text[-1] not in "}]":
        return []
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's own limit
        return []
    strings: list[str] = []
    add = strings.append
    stack = [(parsed, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= JSON_DEPTH:
            continue
        if type(node) is dict:
            for key, item in node.items():
                add(key)
                if type(item) is str:
                    add(item)
                elif type(item) is dict or type(item) is list:
                    stack.append((item, depth + 1))
        elif type(node) is list:
            for item in node:
                if type(item) is str:
                    add(item)
                elif type(item) is dict or type(item) is list:
                    stack.append((item, depth + 1))
    return strings


# A JWT segment: base64url, though the decoders code uses (``urlsafe_b64decode``) take either alphabet.
_SEGMENT = "[A-Za-z0-9_+/=-]"
# What base64 of a JSON object starts with, in every encoding ``json.loads`` reads bytes in: "{" gives e,
# a blank before it I, C or D, a UTF-8 byte-order mark 7, a UTF-16/32 one / or _, a NUL (UTF-16-BE) A.
_OBJECT_START = "[eICD7A_/]"
# Base64 of 7 bytes, the shortest object that holds a string of two characters ({"ab":1}, 8, less a byte):
# no shorter segment is read, so ``api.example.com`` is no JWT to the prefilters (``example``: 7 characters).
_OBJECT_SEGMENT = 10
# A value that may be a JWT one of whose first two segments ``_jwt_forms`` reads (blanks around it aside):
# the prefilters (``may_decode``, ``inputs._special``) look for this.
JWT_HINT = (rf"(?:[A-Za-z]+ +)?(?:{_OBJECT_START}{_SEGMENT}{{{_OBJECT_SEGMENT - 1},}}\.{_SEGMENT}+"
            rf"|{_SEGMENT}+\.{_OBJECT_START}{_SEGMENT}{{{_OBJECT_SEGMENT - 1},}})\.{_SEGMENT}*")


@cache
def _jwt_shape() -> re.Pattern[str]:
    """A JSON Web Token, alone or after an auth scheme: header.payload.signature (the last may be empty)."""
    return re.compile(rf"(?:[A-Za-z]+ +)?({_SEGMENT}+)\.({_SEGMENT}+)\.{_SEGMENT}*")


@cache
def _jwt_hint() -> re.Pattern[str]:
    return re.compile(rf"\s*{JWT_HINT}\s*")


def _jwt_forms(value: str) -> Iterator[str]:
    """The header and payload of a JWT, as code that reads its claims before (or without) verifying
    them decodes them (``json.loads(urlsafe_b64decode(segment))``); their strings follow as
    ``jwt+json`` forms. Any segment that decodes to a JSON object counts, whatever it starts with:
    ``{ "sub"``, a blank first, a byte-order mark, UTF-16 (``json.loads`` reads bytes in each), where
    only ``eyJ`` (``{"``) was read before, so `` {"sub": ...}`` was never decoded."""
    match = _jwt_shape().fullmatch(value.strip())
    if match is None:
        return
    for segment in match.groups():
        if segment[:1] not in _OBJECT_START or len(segment) < _OBJECT_SEGMENT or len(segment) % 4 == 1:
            continue
        try:
            raw = binascii.a2b_base64(segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4))
            text = raw.decode(json.detect_encoding(raw))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        text = text.lstrip(" \t\r\n")
        if text[:1] == "{":
            yield text


def _nfkc_form(value: str) -> str | None:
    if value.isascii():
        return None
    text = _nfkc()(value)
    return text if text != value else None


def _sql_quoted_form(value: str) -> str | None:
    # Code that "escapes" by doubling quotes, which MySQL's backslash escapes can undo.
    return value.replace("'", "''") if "'" in value and "\\" in value else None


def _applicable_forms(text: str) -> Iterator[tuple[str, str | None]]:
    """The decoders whose preconditions ``text`` meets, with what each made of it (None: nothing)."""
    if "%" in text or ("+" in text and text.lstrip()[:1] not in _JSON_OPENERS):
        # (A JSON text's pluses are its strings' own: their forms read them both ways.)
        yield from _url_forms(text)
    if len(text) >= _MIN_ENCODED_LENGTH and _encodable_shape().fullmatch(text):
        yield "base64", _base64_form(text)
        yield "hex", _hex_form(text)
    if "\\" in text:
        yield "json", _json_form(text)
    if "." in text:
        for segment in _jwt_forms(text):
            yield "jwt", segment
    if text.lstrip()[:1] == '"':
        yield "json", _json_literal(text)
    if not text.isascii():
        yield "nfkc", _nfkc_form(text)


# Short values that need decoding work (JSON keys such as "field_1", "application/json") recur in every
# request of a warm function: their forms are remembered. 4,096 values of at most 64 characters hold
# well under 2 MB; a hit costs 0.3 µs where decoding costs 3-9.
REMEMBERED_LENGTH = 64


def forms_of(value: str) -> tuple[tuple[str, str], ...]:
    """``decoded_forms(value)``, remembered across invocations for short values.

    A remembered answer costs a lookup, where even the test that no decoder applies costs
    ~1.3 µs on this machine: for short values the memory is asked first.
    """
    if len(value) <= REMEMBERED_LENGTH:
        return remembered_forms(value)
    return tuple(decoded_forms(value)) if may_decode(value) else ()


@lru_cache(maxsize=4096)
def remembered_forms(value: str) -> tuple[tuple[str, str], ...]:
    return tuple(decoded_forms(value))


def decoded_forms(value: str) -> list[tuple[str, str]]:
    """(transform, decoded value) pairs for one string, ``MAX_STEPS`` decoding steps deep at most.

    Breadth-first, within ``FORMS_BUDGET`` characters per character of ``value``: the shorter
    chains, the likelier ones, are all found before a longer one can spend the budget. The strings
    of a JSON object or array (keys, names, dates, SKUs) are mostly short and recur in every
    request: their own forms come from ``remembered_forms``, a lookup each, rather than decoding
    again what the walk of a JSON body decodes anyway (a 2.5 kB SQS order body: 240 µs before, 50).
    """
    if not may_decode(value):
        return []  # most inputs (words, sentences, addresses): no decoder applies; 0.7 µs instead of 10
    found: dict[str, str] = {}
    quoted = _sql_quoted_form(value)
    if quoted is not None:
        found[quoted] = "sql-quoted"
    budget = members_budget = FORMS_BUDGET * len(value) + FORMS_BUDGET_FLOOR
    pending: deque[tuple[str, str, int]] = deque([(value, "", 1)])
    while pending:
        text, prefix, depth = pending.popleft()
        for name, decoded in _applicable_forms(text):
            if decoded is None or decoded == value or decoded in found:
                continue
            budget -= len(decoded)
            if budget < 0:
                return _cut_short(found)
            transform = f"{prefix}+{name}" if prefix else name
            found[decoded] = transform
            if depth < MAX_STEPS and may_decode(decoded):
                pending.append((decoded, transform, depth + 1))
        if text.lstrip()[:1] in "{[":
            chain = f"{prefix}+json" if prefix else "json"
            for member in _json_members(text):
                if member == value or member in found:
                    continue
                budget -= len(member)
                if budget < 0:
                    return _cut_short(found)
                found[member] = chain
                if depth >= MAX_STEPS:
                    continue
                if len(member) > REMEMBERED_LENGTH:
                    if may_decode(member):
                        pending.append((member, chain, depth + 1))
                    continue
                for transform, decoded in remembered_forms(member):
                    if transform == BUDGET_SPENT:  # the member's own budget: it stands for this value's
                        return _cut_short(found)
                    if decoded != value and decoded not in found:
                        members_budget -= len(decoded)
                        if members_budget < 0:
                            return _cut_short(found)
                        found[decoded] = f"{chain}+{transform}"
    return [(transform, text) for text, transform in found.items()]


def _cut_short(found: dict[str, str]) -> list[tuple[str, str]]:
    return [(transform, text) for text, transform in found.items()] + [(BUDGET_SPENT, "")]


def may_decode(value: str) -> bool:
    """Whether any decoder could apply to ``value``; most inputs (words, sentences, addresses) not."""
    return not (value.isascii() and "%" not in value and "+" not in value and "\\" not in value
                and value.lstrip()[:1] not in _JSON_OPENERS and ("." not in value or not _jwt_hint().fullmatch(value))
                and (len(value) < _MIN_ENCODED_LENGTH or not _encodable_shape().fullmatch(value)))
