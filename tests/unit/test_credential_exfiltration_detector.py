"""The credential-exfiltration detector: the function's own values, their encoded forms, SigV4's place."""
from __future__ import annotations

import base64
import json
import os
from urllib.parse import quote, urlencode

import pytest

from app_protect_lambda.detectors.credential_exfiltration import Payload, detect, is_aws_endpoint
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.sources import Inputs

NO_INPUTS = Inputs([])
OPTIONS = {"outbound": True}


def secret() -> str:
    return os.environ["AWS_SECRET_ACCESS_KEY"]


def token() -> str:
    return os.environ["AWS_SESSION_TOKEN"]


def key_id() -> str:
    return os.environ["AWS_ACCESS_KEY_ID"]


def response(text: str | bytes):
    return detect(Payload((("body", text),)), NO_INPUTS, OPTIONS)


@pytest.mark.parametrize("make", [
    lambda: json.dumps(dict(os.environ)),
    lambda: f"debug: {secret()}",
    lambda: f"token={token()}",
    lambda: urlencode({"k": secret()}),
    lambda: quote(secret()),
    lambda: quote(secret(), safe="").replace("%2F", "%2f"),
    lambda: secret().replace("/", "\\/"),
    lambda: f"{key_id()}:{secret()}".encode(),
])
def test_own_credentials_are_found(make) -> None:
    finding = response(make())
    assert finding is not None and finding.kind is AttackKind.CREDENTIAL_EXFILTRATION
    assert secret() not in finding.message + finding.evidence
    assert token() not in finding.message + finding.evidence


def test_finding_names_what_left_and_the_key_id_with_it() -> None:
    finding = response(json.dumps(dict(os.environ)))
    assert "AWS_SECRET_ACCESS_KEY" in finding.evidence and "AWS_SESSION_TOKEN" in finding.evidence
    assert "AWS_ACCESS_KEY_ID" in finding.evidence
    assert finding.rule == "credential_exfiltration.response"


@pytest.mark.parametrize("text", [
    "AWS_SESSION_TOKEN", "AWS_SECRET_ACCESS_KEY=<redacted>", "", "x" * 100_000,
    "ASIAFAKEEXAMPLE00001",  # the access key id alone is not a secret
    "fakeSecretKey",  # a short prefix of the secret, not the secret (half of it is: see the split rows)
    "東京の天気は晴れ。AWS_SESSION_TOKEN という名前の変数があります。",
])
def test_benign_bodies(text: str) -> None:
    assert response(text) is None


def test_presigned_url_with_the_session_token_passes() -> None:
    url = ("https://bucket.s3.amazonaws.com/key?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           f"&X-Amz-Credential={key_id()}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
           f"&X-Amz-Security-Token={quote(token(), safe='')}&X-Amz-Signature=abcdef")
    assert response(json.dumps({"url": url})) is None
    assert response(url.replace(quote(token(), safe=""), token())) is None
    # ... but not when the secret key travels with it
    assert response(json.dumps({"url": url, "debug": secret()})) is not None


def test_token_outside_a_sigv4_position_is_found() -> None:
    assert response(f"X-Amz-Security-Token-Debug: {token()}") is not None
    assert response(json.dumps({"AWS_SESSION_TOKEN": token()})) is not None


def test_outbound_requests() -> None:
    signed = (f"POST / HTTP/1.1\r\nHost: localstack:4566\r\nX-Amz-Security-Token: {token()}\r\n"
              f"Authorization: AWS4-HMAC-SHA256 Credential={key_id()}/20260101/us-east-1/sqs/aws4_request\r\n"
              "\r\n").encode()
    assert detect(Payload((("request", signed),), outbound=True, host="localstack"), NO_INPUTS, OPTIONS) is None
    leaking = b"POST /collect HTTP/1.1\r\nHost: collector\r\n\r\n" + secret().encode()
    finding = detect(Payload((("request", leaking),), outbound=True, host="collector"), NO_INPUTS, OPTIONS)
    assert finding is not None and finding.rule == "credential_exfiltration.outbound"
    for host in ("sts.amazonaws.com", "s3.us-east-1.amazonaws.com", "ec2.cn-north-1.amazonaws.com.cn",
                 "lambda.us-east-1.api.aws", "SQS.US-EAST-1.AMAZONAWS.COM."):
        assert is_aws_endpoint(host)
        assert detect(Payload((("request", leaking),), outbound=True, host=host), NO_INPUTS, OPTIONS) is None
    for host in ("amazonaws.com.evil.example", "evil-amazonaws.com", "127.0.0.1"):
        assert not is_aws_endpoint(host)
    assert detect(Payload((("request", leaking),), outbound=True, host="collector"), NO_INPUTS,
                  {"outbound": False}) is None


def test_base64_decoded_parts_are_searched_as_bytes() -> None:
    decoded = base64.b64decode(base64.b64encode(f"\x00\xff{secret()}".encode("latin-1")))
    assert response(decoded) is not None


def test_no_credentials_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name)
    assert response("anything at all") is None


def test_credentials_read_at_check_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated/Secret+Value=0123456789ABCDEFGHIJ")
    assert response("rotated/Secret+Value=0123456789ABCDEFGHIJ") is not None
    assert response("fakeSecretKeyForTests/0123456789abcdefXYZ") is None


NOISE = bytes(range(256)) * 600  # 150 KB of every byte value: past the size that is simply decoded


@pytest.mark.parametrize("skip", [0, 1, 2])
def test_large_base64_body_at_every_byte_alignment(skip: int) -> None:
    for value in (secret(), token()):
        body = base64.b64encode(NOISE[:skip] + NOISE + value.encode() + NOISE).decode()
        assert detect(Payload((("body", body, "base64"),)), NO_INPUTS, OPTIONS) is not None, (skip, value)


def test_large_base64_body_holding_an_encoded_form_or_line_wrapped() -> None:
    encoded = quote(secret(), safe="").encode()
    assert detect(Payload((("body", base64.b64encode(NOISE + encoded).decode(), "base64"),)), NO_INPUTS,
                  OPTIONS) is not None
    wrapped = base64.encodebytes(NOISE + secret().encode() + NOISE).decode()  # MIME: 76-character lines
    assert detect(Payload((("body", wrapped, "base64"),)), NO_INPUTS, OPTIONS) is not None


def test_clean_or_invalid_base64_bodies_pass() -> None:
    assert detect(Payload((("body", base64.b64encode(NOISE * 4).decode(), "base64"),)), NO_INPUTS,
                  OPTIONS) is None
    assert detect(Payload((("body", "not base64 at all!", "base64"),)), NO_INPUTS, OPTIONS) is None


# ---------------------------------------------------------------- the local secrets extension

def _extension_request(headers: str, host: str = "localhost", port: int | None = 2773,
                       path: str = "/secretsmanager/get?secretId=db") -> Payload:
    return Payload((("request line", f"GET {path}"), ("headers", headers)), outbound=True, host=host, port=port)


@pytest.mark.parametrize("host, port, headers", [
    ("localhost", 2773, "X-Aws-Parameters-Secrets-Token: {token}"),
    ("127.0.0.1", 2773, "Accept: */*\r\nX-Aws-Parameters-Secrets-Token: {token}\r\nConnection: close"),
    ("127.0.0.1", 2773, "x-aws-parameters-secrets-token:{token}"),
    ("::1", 2773, "X-Vault-Token: {token}"),
    ("LOCALHOST.", 2773, "User-Agent: x\r\nX-Aws-Parameters-Secrets-Token: {token}"),
])
def test_the_session_token_in_the_extension_header_to_the_extension_passes(host, port, headers) -> None:
    payload = _extension_request(headers.format(token=token()), host, port)
    assert detect(payload, NO_INPUTS, OPTIONS) is None


@pytest.mark.parametrize("host, port, headers, path", [
    ("collector.example", 2773, "X-Aws-Parameters-Secrets-Token: {token}", "/"),   # another host
    ("10.0.0.5", 2773, "X-Aws-Parameters-Secrets-Token: {token}", "/"),            # not loopback
    ("localhost.evil.example", 2773, "X-Aws-Parameters-Secrets-Token: {token}", "/"),
    ("127.0.0.1", 8080, "X-Aws-Parameters-Secrets-Token: {token}", "/"),           # another local port
    ("127.0.0.1", None, "X-Aws-Parameters-Secrets-Token: {token}", "/"),           # through a proxy
    ("localhost", 2773, "X-Debug: {token}", "/"),                                  # another header
    ("localhost", 2773, "X-Forward-X-Aws-Parameters-Secrets-Token: {token}", "/"),
    ("localhost", 2773, "X-Aws-Parameters-Secrets-Token: {token}-suffix", "/"),     # more than the token
    ("localhost", 2773, "X-Aws-Parameters-Secrets-Token: {token}", "/x?t={token}"),  # also in the path
    ("localhost", 2773, "X-Aws-Parameters-Secrets-Token: {secret}", "/"),          # the secret key
])
def test_the_extension_exemption_is_only_the_token_header_to_the_extension(host, port, headers, path) -> None:
    text = headers.format(token=token(), secret=secret())
    payload = _extension_request(text, host, port, path.format(token=token()))
    finding = detect(payload, NO_INPUTS, OPTIONS)
    assert finding is not None and finding.rule == "credential_exfiltration.outbound"


def test_the_extension_port_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = f"X-Aws-Parameters-Secrets-Token: {token()}"
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2999")
    assert detect(_extension_request(headers, port=2999), NO_INPUTS, OPTIONS) is None
    assert detect(_extension_request(headers, port=2773), NO_INPUTS, OPTIONS) is None  # the agent's default
    assert detect(_extension_request(headers, port=3000), NO_INPUTS, OPTIONS) is not None


def test_the_extension_header_in_a_response_is_still_a_leak() -> None:
    assert response(f"X-Aws-Parameters-Secrets-Token: {token()}") is not None


# ---------------------------------------------------------------- encodings

def _b64(data: bytes, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()


@pytest.mark.parametrize("make", [
    lambda: secret().encode().hex(),
    lambda: secret().encode().hex().upper(),
    lambda: f"trace={token().encode().hex()}",
    lambda: secret()[::-1],
    lambda: json.dumps({"k": token()[::-1]}),
    lambda: _b64(secret().encode()),
    lambda: _b64(token().encode(), urlsafe=True),
    lambda: _b64(json.dumps({"key": secret()}).encode()),                  # inside a larger blob
    lambda: _b64(json.dumps({"ke": secret()}).encode()),                   # at each byte alignment
    lambda: _b64(json.dumps({"k": secret()}).encode(), urlsafe=True),
    lambda: _b64(f"x{secret()}".encode()).rstrip("="),
    lambda: "Authorization: Basic " + _b64(f"{key_id()}:{secret()}".encode()),
    lambda: json.dumps({"env": _b64(json.dumps(dict(os.environ)).encode())}),
    lambda: _b64(json.dumps({"x-amz-security-token": token(), "secret": secret()}).encode()),
])
def test_encoded_credentials_are_found(make) -> None:
    text = make()
    finding = response(text)
    assert finding is not None and finding.rule == "credential_exfiltration.response"
    outbound = detect(Payload((("body", text.encode()),), outbound=True, host="collector.example", port=443),
                      NO_INPUTS, OPTIONS)
    assert outbound is not None and outbound.rule == "credential_exfiltration.outbound"
    assert secret() not in finding.message + finding.evidence and token() not in finding.evidence


def _presigned_post() -> dict:
    policy = {"expiration": "2026-12-02T12:00:00Z", "conditions": [
        {"bucket": "uploads"}, ["starts-with", "$key", "user/"], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
        {"x-amz-credential": f"{key_id()}/20261202/us-east-1/s3/aws4_request"}, {"x-amz-date": "20261202T100000Z"},
        {"x-amz-security-token": token()}]}
    return {"url": "https://uploads.s3.amazonaws.com/", "fields": {
        "key": "user/${filename}", "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-security-token": token(),
        "policy": _b64(json.dumps(policy).encode()), "x-amz-signature": "ab" * 32}}


@pytest.mark.parametrize("text", [
    lambda: json.dumps(_presigned_post()),                              # the policy names the token: SigV4's place
    lambda: _b64(b"just some binary \x00\x01\x02 payload" * 50),
    lambda: "deadbeef" * 500,
    lambda: "cafe0123" + "".join(format(i, "02x") for i in range(256)),
    lambda: _b64(json.dumps({"AWS_SECRET_ACCESS_KEY": "redacted", "AWS_SESSION_TOKEN": "redacted"}).encode()),
    lambda: "YEKTERCESKAF" + "x" * 10,
])
def test_encoded_benign_bodies(text) -> None:
    assert response(text()) is None


def test_a_presigned_post_policy_with_the_secret_key_too_is_a_leak() -> None:
    post = _presigned_post()
    post["fields"]["debug"] = _b64(secret().encode())
    assert response(json.dumps(post)) is not None


def test_encodings_cost_a_bounded_scan_on_a_large_clean_body() -> None:
    import time

    body = "A" * 4_000_000 + "=" * 10
    started = time.perf_counter()
    assert response(body) is None
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- compressed parts

@pytest.mark.parametrize("make", [
    lambda: __import__("gzip").compress(json.dumps(dict(os.environ)).encode()),
    lambda: __import__("zlib").compress(f"token={token()}".encode()),
    lambda: __import__("gzip").compress(_b64(secret().encode()).encode()),     # encoded, then compressed
])
def test_compressed_parts_are_searched_decompressed(make) -> None:
    body = make()
    finding = detect(Payload((("body", body),), outbound=True, host="collector.example", port=443), NO_INPUTS, OPTIONS)
    assert finding is not None and "decompressed" in finding.evidence
    assert response(body) is not None
    encoded = detect(Payload((("body", base64.b64encode(body).decode(), "base64"),)), NO_INPUTS, OPTIONS)
    assert encoded is not None


@pytest.mark.parametrize("body", [
    lambda: __import__("gzip").compress(json.dumps({"items": list(range(1000))}).encode()),
    lambda: b"x^ not zlib at all",
    lambda: b"\x1f\x8b truncated",
    lambda: __import__("gzip").compress(b"\x00" * 50_000_000)[:200_000],   # a bomb, cut short: bounded
])
def test_benign_or_broken_compressed_parts(body) -> None:
    assert response(body()) is None


# ---------------------------------------------------------------- split across fields

@pytest.mark.parametrize("make", [
    lambda: json.dumps({"a": secret()[:20], "b": secret()[20:]}),
    lambda: json.dumps({"a": secret()[:5], "b": secret()[5:]}),
    lambda: json.dumps({"a": secret()[:-3], "z": secret()[-3:]}),
    lambda: json.dumps({"head": token()[:30], "tail": token()[30:]}),
    lambda: json.dumps({"parts": [secret()[i:i + 21] for i in (0, 21)]}),
    # the whole token where SigV4 puts it does not hide a half of it elsewhere
    lambda: f"https://b.s3.amazonaws.com/k?X-Amz-Security-Token={quote(token(), safe='')} tail={token()[-30:]}",
])
def test_a_credential_split_in_two_is_found(make) -> None:
    finding = response(make())
    assert finding is not None and "split" in finding.evidence


def test_the_whole_token_in_sigv4_positions_is_not_a_split() -> None:
    url = f"https://b.s3.amazonaws.com/k?X-Amz-Security-Token={quote(token(), safe='')}&X-Amz-Signature=00"
    signed = f"X-Amz-Security-Token: {token()}\nAuthorization: AWS4-HMAC-SHA256 Credential={key_id()}/x"
    assert response(json.dumps({"urls": [url] * 3, "raw": signed})) is None


def test_many_presigned_urls_and_one_leak_after_them() -> None:
    url = f"https://b.s3.amazonaws.com/k?X-Amz-Security-Token={quote(token(), safe='')}&X-Amz-Signature=00"
    gallery = json.dumps({"photos": [url] * 200})
    assert response(gallery) is None
    finding = response(gallery + f"\ndebug={token()}")
    assert finding is not None and "AWS_SESSION_TOKEN" in finding.evidence


# ---------------------------------------------------------------- round 2 of the informed attacker (issue 11)

def _per_byte_percent(value: str) -> str:
    return "".join(f"%{byte:02X}" for byte in value.encode())


@pytest.mark.parametrize(("make", "form"), [
    (lambda: base64.b32encode(secret().encode()).decode(), "base32-encoded"),
    (lambda: base64.b32encode(f"k={secret()}".encode()).decode().lower() + ".evil.example", "base32-encoded"),
    (lambda: base64.b32encode(token().encode()).decode(), "base32-encoded"),
    (lambda: _bz2(secret().encode()), "as is"),
    (lambda: _xz(json.dumps({"k": token()}).encode()), "as is"),
    (lambda: f"data={_per_byte_percent(secret())}", "escaped"),
    (lambda: "".join(f"&#{ord(ch)};" for ch in secret()), "escaped"),
    (lambda: '{"k": "' + "".join(f"\\u{ord(ch):04x}" for ch in token()) + '"}', "escaped"),
    (lambda: "".join(f"\\x{ord(ch):02x}" for ch in secret()), "escaped"),
    (lambda: secret().encode("utf-16"), "escaped"),
    (lambda: json.dumps({"t": token()}).encode("utf-32-be"), "escaped"),
])
def test_round_two_encodings_are_found(make, form: str) -> None:
    finding = response(make())
    assert finding is not None and finding.kind is AttackKind.CREDENTIAL_EXFILTRATION
    assert form in finding.evidence or form == "as is"


def _bz2(data: bytes) -> bytes:
    import bz2

    return bz2.compress(data)


def _xz(data: bytes) -> bytes:
    import lzma

    return lzma.compress(data)


@pytest.mark.parametrize("text", [
    "name=%E6%9D%B1%E4%BA%AC&q=100%25+sure",  # a form body full of escapes, none of them a credential
    '{"city": "\\u6771\\u4eac", "note": "&#169; 2026"}',
    base64.b32encode(b"JBSWY3DPEHPK3PXP totp seed, not ours").decode(),
    "BZh9 is how a bzip2 stream starts; this is not one",
    "f" + "%41" * 2000,
    "a UTF-16 note, none of ours".encode("utf-16"),
])
def test_round_two_benign_escapes_pass(text: str | bytes) -> None:
    assert response(text) is None
