"""Secrets never leave the function in a record."""
from __future__ import annotations

from app_protect_lambda.reporting.redaction import clip, redact


def test_own_credentials_are_redacted() -> None:
    text = "dump: fakeSecretKeyForTests/0123456789abcdefXYZ and ASIAFAKEEXAMPLE00001"
    redacted = redact(text)
    assert "fakeSecretKeyForTests" not in redacted and "ASIAFAKEEXAMPLE00001" not in redacted


def test_well_known_secret_shapes() -> None:
    text = ("AKIAIOSFODNN7EXAMPLE password=hunter2 Authorization: Bearer eyJhbGciOi.payload.sig "
            '{"api_key": "k-123456"} token=IQoJb3JpZ2luX2VjEXAMPLEtokenVALUE0123456789')
    redacted = redact(text)
    for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter2", "eyJhbGciOi.payload.sig", "k-123456",
                   "IQoJb3JpZ2luX2VjEXAMPLEtokenVALUE0123456789"):
        assert secret not in redacted, secret


def test_ordinary_text_is_untouched() -> None:
    text = "SELECT name FROM users WHERE name = 'O''Brien' -- 山田"
    assert redact(text) == text


def test_clip_truncates_after_redaction() -> None:
    assert clip("x" * 1000, 10) == "xxxxxxxxxx…(truncated)"
    assert clip({"a": 1}, 100) == "{'a': 1}"
