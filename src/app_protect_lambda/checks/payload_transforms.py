"""The transforms a payload rule applies to an input before matching (``payload_rules`` lists them).

Each one returns its text unchanged, without work, when it cannot apply (no ``%``, no ``&``, ASCII
text for NFKC): on a benign 10 kB JSON body the usual chain (url-decode, html-entity-decode,
lowercase) costs about the ``lower()`` alone, ~3 µs here.
"""
from __future__ import annotations

import re
from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_BASE64_RUNS = 64  # runs decoded per text: bounded work whatever the text
MAX_BASE64_CHARS = 65536  # characters decoded per text


def url_decode(text: str) -> str:
    if "%" not in text:
        return text
    from ..sources.decoders import unquoting

    unquote = unquoting()[0]
    for _ in range(3):  # double (and triple) encoding: %252e is %2e is .
        decoded = unquote(text)
        if decoded == text or "%" not in decoded:
            return decoded
        text = decoded
    return text


def html_entity_decode(text: str) -> str:
    if "&" not in text:
        return text
    import html

    return html.unescape(text)


def compress_whitespace(text: str) -> str:
    return _whitespace().sub(" ", text)


@cache
def _whitespace() -> re.Pattern[str]:
    return re.compile(r"\s+")


def nfkc(text: str) -> str:
    if text.isascii():
        return text
    from unicodedata import normalize

    return normalize("NFKC", text)


MIN_BASE64_RUN = 16  # characters of a run the base64 transform decodes
_BASE64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"


@cache
def _base64_run() -> re.Pattern[str]:
    return re.compile(rf"[A-Za-z0-9+/_-]{{{MIN_BASE64_RUN},}}={{0,2}}")


@cache
def _base64_table() -> bytes:
    return bytes(0x61 if byte in _BASE64_CHARS else 0x20 for byte in range(256))


def has_base64_run(text: str) -> bool:
    """Whether ``base64`` could find a run to decode in ``text``: ~3 µs for 10 kB of ASCII (each character
    mapped to "a" or " " in C, then one substring search), where the run's pattern scans ~10 times slower.
    Text that is not ASCII is assumed to hold one."""
    if not text.isascii():
        return True
    return b"a" * MIN_BASE64_RUN in text.encode("ascii").translate(_base64_table())


def base64(text: str) -> str:
    """The text's base64 runs, decoded, one a line; each byte one character (latin-1)."""
    import binascii

    pieces = []
    spent = 0
    for count, match in enumerate(_base64_run().finditer(text)):
        if count >= MAX_BASE64_RUNS or spent >= MAX_BASE64_CHARS:
            break
        run = match.group().replace("-", "+").replace("_", "/").rstrip("=")
        run = run[:MAX_BASE64_CHARS - spent]
        spent += len(run)
        run = run[:len(run) - len(run) % 4] if len(run) % 4 == 1 else run
        try:
            pieces.append(binascii.a2b_base64(run + "=" * (-len(run) % 4)).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join(pieces)


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "url-decode": url_decode,
    "html-entity-decode": html_entity_decode,
    "lowercase": str.lower,
    "compress-whitespace": compress_whitespace,
    "nfkc": nfkc,
    "base64": base64,
}


def apply(text: str, chain: tuple[str, ...]) -> str:
    for name in chain:
        text = TRANSFORMS[name](text)
    return text
