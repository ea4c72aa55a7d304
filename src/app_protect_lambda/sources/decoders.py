"""The decoded forms of one input: what code commonly turns an attacker's string into.

URL-decoding, base64, hex, JSON unescaping and NFKC, two steps deep at most. Most inputs (words,
sentences, addresses) meet no decoder's precondition, which ``may_decode`` tells in C-speed tests
before any decoder runs.
"""
from __future__ import annotations

import binascii
import json
import re
from functools import cache, lru_cache, partial

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@cache
def _base64_shape() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")


@cache
def _hex_shape() -> re.Pattern[str]:
    return re.compile(r"(?:[0-9a-fA-F]{2})+")


_MIN_ENCODED_LENGTH = 6  # the shortest hex form; base64 forms need 8


@cache
def _encodable_shape() -> re.Pattern[str]:
    """Every string that base64 or hex decoding could apply to (either base64 alphabet covers hex)."""
    return re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


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
    unquote, unquote_plus = unquoting()
    current, name = value, ""
    for _ in range(3):
        if "%" not in current and "+" not in current:
            return
        decoded = unquote_plus(current) if "+" in current else unquote(current)
        if decoded == current:
            return
        name = f"{name}+url" if name else "url"
        current = decoded
        yield name, decoded


def _base64_form(value: str) -> str | None:
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
    return text if text and _printable(text) else None


def _hex_form(value: str) -> str | None:
    if len(value) < 6 or not _hex_shape().fullmatch(value):
        return None
    try:
        text = bytes.fromhex(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if _printable(text) else None


def _json_form(value: str) -> str | None:
    if "\\" not in value:
        return None
    try:
        text = json.loads(f'"{value}"')
    except (ValueError, TypeError):
        return None
    return text if isinstance(text, str) and text != value else None


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
    if "%" in text or "+" in text:
        yield from _url_forms(text)
    if len(text) >= _MIN_ENCODED_LENGTH and _encodable_shape().fullmatch(text):
        yield "base64", _base64_form(text)
        yield "hex", _hex_form(text)
    if "\\" in text:
        yield "json", _json_form(text)
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
    """(transform, decoded value) pairs for one string, two decoding steps deep at most."""
    if not may_decode(value):
        return []  # most inputs (words, sentences, addresses): no decoder applies; 0.7 µs instead of 10
    found: dict[str, str] = {}
    quoted = _sql_quoted_form(value)
    if quoted is not None:
        found[quoted] = "sql-quoted"

    def step(text: str, prefix: str, depth: int) -> None:
        for name, decoded in _applicable_forms(text):
            if decoded is None or decoded == value or decoded in found:
                continue
            transform = f"{prefix}+{name}" if prefix else name
            found[decoded] = transform
            if depth < 2:
                step(decoded, transform, depth + 1)

    step(value, "", 1)
    return [(transform, text) for text, transform in found.items()]


def may_decode(value: str) -> bool:
    """Whether any decoder could apply to ``value``; most inputs (words, sentences, addresses) not."""
    return not (value.isascii() and "%" not in value and "+" not in value and "\\" not in value
                and (len(value) < _MIN_ENCODED_LENGTH or not _encodable_shape().fullmatch(value)))
