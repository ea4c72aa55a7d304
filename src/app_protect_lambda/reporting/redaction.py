"""Secrets never leave the function: redaction and truncation of every reported value."""
from __future__ import annotations

import os
import re
from functools import lru_cache

_OWN_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Compiled on the first record only: invocations without records never pay for them.
    return (
        (re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA|ANPA|AIPA)[A-Z0-9]{16}\b"), "[REDACTED:aws-access-key-id]"),
        (re.compile(r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2lu)[A-Za-z0-9/+=]{20,}"),
         "[REDACTED:aws-session-token]"),
        (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
        (re.compile(
            r"(?i)((?:aws_secret_access_key|aws_session_token|secret_access_key|session_token|password|passwd"
            r"|pwd|secret|api[_-]?key|access[_-]?token|authorization|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[REDACTED)([^\s\"'&,;}]+)"),
         r"\1[REDACTED]"),
    )


def _own_secrets() -> list[str]:
    values = (os.environ.get(name, "") for name in _OWN_SECRETS)
    return sorted((v for v in values if len(v) >= 8), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with the function's own credentials and well-known secret shapes replaced."""
    for secret in _own_secrets():
        if secret in text:
            text = text.replace(secret, "[REDACTED:own-credential]")
    for pattern, replacement in _patterns():
        text = pattern.sub(replacement, text)
    return text


def clip(value: object, limit: int) -> str:
    """Redacted, then cut to ``limit`` characters with a note of the original length."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit * 8:  # do not run the patterns over megabytes we are about to cut
        text = text[: limit * 8]
    text = redact(text)
    if len(text) > limit:
        return f"{text[:limit]}…(truncated)"
    return text
