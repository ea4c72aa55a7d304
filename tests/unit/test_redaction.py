"""Secrets never leave the function in a record.

``python -m tests.unit.test_redaction`` prints what redaction costs on 1 MB values.
"""
from __future__ import annotations

import os
import time

import pytest

from app_protect_lambda.reporting.redaction import clip, is_secret_location, redact, secret_values

SECRET_KEY = "fakeSecretKeyForTests/0123456789abcdefXYZ"  # as tests/conftest.py sets them
SESSION_TOKEN = "IQoJb3JpZ2luX2VjFAKEsessionTOKENfortests0123456789abcdef"


def fragments(secret: str, size: int = 8) -> list[str]:
    """Every piece of ``secret`` long enough to matter."""
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


def test_own_credentials_are_redacted() -> None:
    text = f"dump: {SECRET_KEY} and ASIAFAKEEXAMPLE00001"
    redacted = redact(text)
    assert "fakeSecretKeyForTests" not in redacted and "ASIAFAKEEXAMPLE00001" not in redacted


def test_own_credentials_url_encoded_are_redacted() -> None:
    redacted = redact("GET /collect?k=fakeSecretKeyForTests%2F0123456789abcdefXYZ")
    assert "fakeSecretKeyForTests" not in redacted


@pytest.mark.parametrize("secret", [SECRET_KEY, SESSION_TOKEN])
@pytest.mark.parametrize("limit", [16, 64, 256])
def test_no_piece_of_an_own_credential_survives_at_the_cut(secret: str, limit: int) -> None:
    # The secret starts at every offset around the cut: cutting before redacting left 13-19 characters.
    for offset in range(max(0, limit - len(secret) - 2), limit + 2):
        shown = clip("x" * offset + secret + " and more" * 40, limit)
        leaked = [piece for piece in fragments(secret) if piece in shown]
        assert leaked == [], (offset, shown)


def test_well_known_secret_shapes() -> None:
    text = ("AKIAIOSFODNN7EXAMPLE password=hunter2 Authorization: Bearer eyJhbGciOi.payload.sig "
            '{"api_key": "k-123456"} token=IQoJb3JpZ2luX2VjEXAMPLEtokenVALUE0123456789')
    redacted = redact(text)
    for secret in ("AKIAIOSFODNN7EXAMPLE", "hunter2", "eyJhbGciOi.payload.sig", "k-123456",
                   "IQoJb3JpZ2luX2VjEXAMPLEtokenVALUE0123456789"):
        assert secret not in redacted, secret


@pytest.mark.parametrize(("text", "secret", "kept"), [
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi", "Bearer"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "Basic"),
    ("Authorization: Token xyz", "xyz", "Token"),
    ("Authorization: ApiKey k-123", "k-123", "ApiKey"),
    ("Authorization: CustomScheme opaque-value", "opaque-value", "CustomScheme"),
    ('Authorization: Digest username="Mufasa", realm="x", response="6629fae49393a05397450978507c4ef1"',
     "6629fae4", "Digest"),
    ("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
     "5d672d79", "AWS4-HMAC-SHA256"),
    ("Authorization: opaque-value-without-scheme", "opaque-value", "Authorization"),
    ("authorization=Token xyz&next=1", "xyz", "Token"),  # to the end of the line: more goes than needed
    ("{'authorization': 'Token xyz', 'host': 'example.com'}", "xyz", "example.com"),
    ('{"Authorization": "Token xyz", "Host": "example.com"}', "xyz", "example.com"),
    ('"{\\"authorization\\": \\"Token xyz\\"}"', "xyz", "Token"),
    ("Proxy-Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "Basic"),
])
def test_every_authorization_scheme_loses_its_credentials(text: str, secret: str, kept: str) -> None:
    redacted = redact(text)
    assert secret not in redacted and "[REDACTED]" in redacted
    assert kept in redacted


@pytest.mark.parametrize(("text", "secret"), [
    ('password: "correct horse battery staple"', "horse"),
    ("password='it''s mine' AND id=1", "mine"),
    ("PASSWORD=Hunter2 next", "Hunter2"),
    ("x-api-key: abcdef", "abcdef"),
    ("aws_secret_access_key=abcd1234", "abcd1234"),
    ("client_secret=zzz-123", "zzz-123"),
    ("Cookie: session=abc123; theme=dark", "abc123"),
    ("https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abcdef0123&X-Amz-Date=1", "abcdef0123"),
    ('"{\\"password\\": \\"hunter 2\\", \\"user\\": 1}"', "hunter 2"),
])
def test_named_secrets_are_redacted_whole(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize("text", [
    "SELECT name FROM users WHERE name = 'O''Brien' -- 山田",
    "basic information about Bearer tokens",
    "SET PASSWORD = ''",
    "cat /etc/hosts; ls -la /tmp",
])
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_a_secret_input_is_redacted_wherever_it_appears() -> None:
    secrets = secret_values(["hunter2-secret", "it's-secret"])
    statement = "INSERT INTO users VALUES ('alice', 'hunter2-secret'), ('bob', 'it''s-secret')"
    redacted = redact(statement, secrets)
    assert "hunter2" not in redacted and "s-secret" not in redacted
    assert redacted.startswith("INSERT INTO users VALUES ('alice', '")
    assert redact('{"p": "it\'s \\"quoted\\" secret"}', secret_values(['it\'s "quoted" secret'])) == \
        '{"p": "[REDACTED:secret-input]"}'


def test_short_secret_inputs_are_not_replaced_everywhere() -> None:
    assert secret_values(["abc", "1", ""]) == ()


@pytest.mark.parametrize(("location", "secret"), [
    ("body.password", True), ("body.user.pwd", True), ("query.pass", True), ("header.authorization", True),
    ("header.x-api-key", True), ("body.api_key", True), ("body.refresh_token", True), ("header.x-auth-token", True),
    ("cookie.session", True), ("cookie.JSESSIONID", True), ("cookie.connect.sid", True),
    ("records[0].body.client_secret", True), ("body.credentials[0].value", True),
    ("cookie.theme", False), ("body.author", False), ("query.id", False), ("body.password#key", False),
    ("records[0].s3.object.key", False), ("path", False), ("body.upload#filename", False),
])
def test_secret_locations(location: str, secret: bool) -> None:
    assert is_secret_location(location) is secret


def test_clip_truncates_after_redaction() -> None:
    assert clip("x" * 1000, 10) == "xxxxxxxxxx…(truncated)"
    assert clip({"a": 1}, 100) == "{'a': 1}"


def test_clip_describes_what_cannot_describe_itself() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert clip(Unprintable(), 100) == "<Unprintable object>"


def worst_cases() -> dict[str, str]:
    """1 MB values built to make each pattern work hardest: all matches, or near-matches that fail late."""
    size = 1_000_000

    def repeat(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    return {
        "all matches (name=value)": repeat("password=hunter2 "),
        "all matches (Authorization)": repeat("Authorization: Token abc\n"),
        "names without a value": repeat("password "),
        "unterminated double quotes": "password=\"" + repeat("a\\\""),
        "unterminated single quotes": "password='" + repeat("a''"),
        "one long line after Authorization": "Authorization: " + repeat("a"),
        "near-miss key ids": repeat("AKIAIOSFODNN7EXAMP "),
        "near-miss session tokens": repeat("IQoJb3JpZ2lu" + "a" * 19 + " "),
        "bearer without token": repeat("bearer bearer "),
        "own secret prefixes": repeat(SECRET_KEY[:-1] + " "),
        "non-ASCII, İ included": repeat("İ山田 password=x "),
        "JSON without secrets": repeat('{"id": 1, "name": "user", "note": "lorem ipsum"}, '),
    }


@pytest.mark.parametrize("name", list(worst_cases()))
def test_redaction_is_linear_on_1_mb(name: str) -> None:
    # A budget far above the measured cost (0.015-0.2 s): it catches a quadratic pattern, which
    # takes minutes on 1 MB, and not a busy machine.
    value = worst_cases()[name]
    start = time.perf_counter()
    clip(value, 256, secret_values(["hunter2-secret"]))
    assert time.perf_counter() - start < 5.0


def _print_costs() -> None:
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name, value in worst_cases().items():
        start = time.perf_counter()
        clip(value, 256, secret_values(["hunter2-secret"]))
        print(f"{name:36} {len(value) / 1e6:.1f} MB {(time.perf_counter() - start) * 1000:7.1f} ms")


if __name__ == "__main__":
    _print_costs()
