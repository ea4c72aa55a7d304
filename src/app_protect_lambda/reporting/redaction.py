"""Secrets never leave the function: every reported value is redacted whole, then cut.

Redaction runs over the whole value before any cutting. Cutting first (to spare the patterns
a megabyte) left 13-19 characters of the function's own secret key or session token at the
edge of the window: a secret that straddles the cut no longer matches anything.

On the whole value the cost stays linear and small: substring searches, and patterns that
each start with a literal (the engine's fast search) and repeat nothing that overlaps. Names
are matched on a lowercase copy: the former ``(?i)`` name pattern alone cost 170 ms on 1 MB of
JSON, the whole redaction now costs 15-35 ms on ordinary 1 MB values and about 0.2 s on a value
made of nothing but matches (``password=x `` over and over; ``python -m tests.unit.test_redaction``
prints the figures). Only an invocation that writes a record with such a value pays.

Three kinds of secret are replaced:
- the function's own credentials (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
  ``AWS_ACCESS_KEY_ID``), as they are and URL-encoded;
- the values of inputs whose location names a secret (``body.password``, ``header.authorization``,
  ``cookie.session``), wherever they appear: a password spliced into a statement is still the password;
- well-known shapes: AWS key ids and session tokens, every ``Authorization`` scheme, ``Bearer`` and
  ``Basic`` credentials, and ``name=value`` / ``name: value`` pairs whose name says secret.
"""
from __future__ import annotations

import os
import re
from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

_OWN_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
OWN_CREDENTIAL = "[REDACTED:own-credential]"
SECRET_INPUT = "[REDACTED:secret-input]"
REDACTED = "[REDACTED]"

# A secret input's value is replaced wherever it appears only from this length on: shorter
# values are not worth a password's name, and replacing "1" everywhere would wreck the record.
MIN_SECRET_CHARS = 4
# A real request has a handful of secret fields; an event with thousands of them is someone
# hiding their own values, and each one costs a pass over every reported value.
MAX_SECRET_VALUES = 32

# A value after `name:` or `name=`: quoted (escapes and SQL's doubled quote included, in the
# unrolled form whose branches start on different characters, so a failed match gives back in
# linear time), quoted inside a JSON string (\"...\"), or a bare token.
_QUOTED = (r'"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"'
           r"|'[^'\\\r\n]*(?:(?:\\.|'')[^'\\\r\n]*)*'"
           r'|\\"[^"\r\n]*"')
_SEPARATOR = r"""(?:\\?["'])?\s*[:=]\s*(?!(?:\\?["'])?\[redacted)"""
# Names whose value is a secret, one pattern per first letter: a pattern that starts with a
# literal is searched for in C; the single alternation of all names cost ten times more.
_SECRET_NAMES = (
    r"s(?:ecret(?:[_-]?access[_-]?key)?|ignature|ess(?:ion)?(?:[_-]?id)?)",
    r"p(?:ass(?:wo?rd|phrase)|wd|rivate[_-]?key)",
    r"token",
    r"api[_-]?key",
    r"credential",
    r"jwt",
)


@cache
def _secret_location() -> re.Pattern[str]:
    """Lowercase input locations whose values are secrets: a field, header or parameter named
    like one, and cookies with session-like names. (Without ``(?i)``: a third of the cost.)"""
    return re.compile(
        r"pass(?:wo?rd|wd|phrase)|secret|token|api[_-]?key|authori[sz]ation|credential|private[_-]?key"
        r"|signature|(?:^|[.\[])(?:pwd|pass|auth|pin|otp)(?:$|[.\]])"
        r"|^cookie\..*(?:sess|sid|auth|jwt|login|remember|csrf|xsrf)")


@cache
def _credential_shapes() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Case-sensitive shapes, searched for in the text itself."""
    token = r"[A-Za-z0-9/+=]{20,}"
    return (
        (re.compile(r"A(?:KIA|SIA|ROA|IDA|NPA|IPA)[A-Z0-9]{16}(?![A-Za-z0-9])"), "[REDACTED:aws-access-key-id]"),
        (re.compile(rf"IQoJb3JpZ2lu{token}"), "[REDACTED:aws-session-token]"),
        (re.compile(rf"F[wQ]oGZXIvYXdz{token}"), "[REDACTED:aws-session-token]"),
        (re.compile(rf"AgoJb3JpZ2lu{token}"), "[REDACTED:aws-session-token]"),
    )


@cache
def _named_secrets() -> tuple[tuple[re.Pattern[str], Callable[[str], str]], ...]:
    """Patterns over the lowercase copy; group 1 is the secret, replaced in the original text."""
    return (
        # Every Authorization scheme (Bearer, Basic, Token, Digest, AWS4-HMAC-SHA256, ApiKey, ...): the
        # scheme stays readable, everything after it goes, to the closing quote or the end of the line.
        (re.compile(rf"authori[sz]ation{_SEPARATOR}({_QUOTED}|[^\s\"'\\][^\r\n]*)"), _authorization),
        (re.compile(r"b(?:earer|asic)\s+(?!\[redacted)([a-z0-9._~+/=-]{8,})"), _credentials_after_scheme),
        *((re.compile(rf"{name}{_SEPARATOR}({_QUOTED}|[^\s\"'\\&,;}})\]]+)"), _value) for name in _SECRET_NAMES),
    )


def _keep_quotes(value: str, inner: Callable[[str], str]) -> str:
    """``inner`` applied inside the quotes, which stay."""
    if value.startswith('\\"') and value.endswith('"') and len(value) >= 3:
        body = value[2:-1]
        return '\\"' + inner(body[:-1] if body.endswith("\\") else body) + '\\"'
    if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
        return value[0] + inner(value[1:-1]) + value[0]
    return inner(value)


@cache
def _scheme() -> re.Pattern[str]:
    """An Authorization scheme and the space after it: ``Bearer ``, ``AWS4-HMAC-SHA256 ``."""
    return re.compile(r"[A-Za-z][A-Za-z0-9._-]* +(?=\S)")


def _authorization(value: str) -> str:
    def credentials(text: str) -> str:
        if not text or text.startswith("[REDACTED"):
            return text
        scheme = _scheme().match(text)
        return f"{scheme.group()}{REDACTED}" if scheme else REDACTED
    return _keep_quotes(value, credentials)


def _credentials_after_scheme(value: str) -> str:
    # "basic information" is prose, "Basic dXNlcjpwYXNz" a credential: an ordinary word is left alone.
    if value.isalpha() and (value.islower() or value.istitle() or value.isupper()):
        return value
    return REDACTED


def _value(value: str) -> str:
    return _keep_quotes(value, lambda text: text and REDACTED)


def _lowercase_copy(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):  # U+0130 is the one character whose lowercase is two
        lowered = text.replace("\u0130", "i").lower()
    return lowered


def _redact_named(text: str) -> str:
    lowered = _lowercase_copy(text)
    spans: list[tuple[int, int, str]] = []  # (start, -end, replacement): the longest first at a start
    patterns_matched = 0
    for pattern, replace in _named_secrets():
        replaced: dict[str, str] = {}  # a value seen before costs a lookup, not a call
        count = len(spans)
        for match in pattern.finditer(lowered):
            start, end = match.span(1)
            original = text[start:end]
            replacement = replaced.get(original)
            if replacement is None:
                replacement = replaced[original] = replace(original)
            spans.append((start, -end, replacement))
        patterns_matched += len(spans) > count
    if not spans:
        return text
    if patterns_matched > 1:
        spans.sort()
    parts: list[str] = []
    position = 0
    for start, negative_end, replacement in spans:
        end = -negative_end
        if start < position:  # overlaps a value already replaced: whatever it adds goes too
            if end > position:
                parts.append(REDACTED)
                position = end
            continue
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def is_secret_location(location: str) -> bool:
    """Whether an input at ``location`` holds a secret; a key name (``body.password#key``) does not."""
    if location.endswith(("#key", "#filename")):
        return False
    return _secret_location().search(location.lower()) is not None


def secret_values(values: Iterable[str]) -> tuple[str, ...]:
    """The forms of secret input values a record must not show, longest first.

    Besides the value itself: its SQL-quoted form (a quote doubled) and its JSON-escaped form,
    the two ways code most often splices a string into a statement or a document.
    """
    import json

    found: set[str] = set()
    for value in values:
        if len(found) >= MAX_SECRET_VALUES:
            break
        if not isinstance(value, str) or len(value) < MIN_SECRET_CHARS:
            continue
        found.add(value)
        if "'" in value:
            found.add(value.replace("'", "''"))
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if escaped != value:
            found.add(escaped)
    return tuple(sorted(found, key=len, reverse=True))


def _own_secrets() -> list[str]:
    from urllib.parse import quote

    found: set[str] = set()
    for name in _OWN_SECRETS:
        value = os.environ.get(name, "")
        if len(value) >= 8:
            found.update((value, quote(value, safe="")))
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with the function's own credentials, ``secrets`` and well-known secret shapes replaced."""
    for secret in _own_secrets():
        if secret in text:
            text = text.replace(secret, OWN_CREDENTIAL)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, SECRET_INPUT)
    for pattern, replacement in _credential_shapes():
        text = pattern.sub(replacement, text)
    return _redact_named(text)


def describe(value: object) -> str:
    """``value`` as text: itself when a string, else its repr; never raises."""
    if isinstance(value, str):
        return value
    try:
        text = repr(value)
    except Exception:  # a user object whose __repr__ fails must not cost the record
        return f"<{type(value).__name__} object>"
    return text if isinstance(text, str) else f"<{type(value).__name__} object>"


def clip(value: object, limit: int, secrets: Sequence[str] = ()) -> str:
    """Redacted whole, then cut to ``limit`` characters with a note that it was."""
    text = redact(describe(value), secrets)
    if len(text) > limit:
        return f"{text[:limit]}…(truncated)"
    return text
