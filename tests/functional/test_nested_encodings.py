"""Encodings inside encodings, decoded as the handler's own code decodes them (issue 10, items 3 and 4).

Each attack reaches the sink only through one decoding: the string as sent never occurs in the
statement, command or path. It must be blocked at a real sink (sqlite3 rows unchanged, no file
written, no process run), from HTTP and from SQS, and the same shapes carrying benign values
(tokens, cursors, emoji, plus signs) must pass unchanged. ``test_each_attack_is_real`` runs every
attack without ``@protect`` first: the harm it checks for does happen.
"""
from __future__ import annotations

import base64
import email
import json
import sqlite3
import subprocess
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import pytest
from werkzeug.http import parse_options_header  # moto[server] brings it; Flask apps parse uploads with it

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import (
    LambdaContext,
    alb_event,
    apigw_v1_event,
    apigw_v2_event,
    sqs_event,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unpadded_b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}."


def jwt_of(payload: str, encoding: str = "utf-8") -> str:
    """A JWT whose payload is exactly ``payload``, in ``encoding`` (json.loads reads bytes in UTF-8, -16, -32)."""
    return f"{b64url(json.dumps({'alg': 'none'}).encode())}.{b64url(payload.encode(encoding))}."


def escaped_json(value: Any) -> str:
    """JSON with every quote escaped: the payload never occurs in the text as sent."""
    return json.dumps(value).replace("'", "\\u0027").replace(";", "\\u003b").replace("..", "\\u002e.")


# name -> (what the client sends for a value, what the handler's code makes of it)
Encoding = tuple[Callable[[str], str], Callable[[str], str]]
ENCODINGS: dict[str, Encoding] = {
    "json in a string": (lambda v: escaped_json({"name": v}), lambda w: json.loads(w)["name"]),
    "json key": (lambda v: escaped_json({v: 1}), lambda w: next(iter(json.loads(w)))),
    "json string literal": (lambda v: escaped_json(v), json.loads),
    "base64 cursor of json (url-safe, unpadded)": (
        lambda v: b64url(json.dumps({"after": v, "limit": 20}).encode()),
        lambda w: json.loads(unpadded_b64decode(w))["after"]),
    "base64 of json (standard, padded)": (
        lambda v: base64.b64encode(json.dumps([v, "pad"]).encode()).decode(),
        lambda w: json.loads(base64.b64decode(w))[0]),
    "url-encoded json": (lambda v: quote(json.dumps({"name": v}), safe=""), lambda w: json.loads(unquote(w))["name"]),
    "url-encoded base64 of json": (
        lambda v: quote(base64.b64encode(json.dumps({"q": v}).encode()).decode(), safe=""),
        lambda w: json.loads(base64.b64decode(unquote(w)))["q"]),
    "json in json in a string": (lambda v: escaped_json({"inner": escaped_json({"name": v})}),
                                 lambda w: json.loads(json.loads(w)["inner"])["name"]),
    "base64 with line breaks": (  # MIME: a break every 76 characters (the attacks are longer than 57 bytes)
        lambda v: base64.encodebytes(v.encode()).decode(), lambda w: base64.b64decode(w).decode()),
    "unquote keeps a plus": (lambda v: quote(v, safe="+"), unquote),  # unquote_plus would make it a space
    "jwt claims": (lambda v: "Bearer " + jwt({"sub": v, "iat": 1767225600}),
                   lambda w: json.loads(unpadded_b64decode(w.split()[1].split(".")[1]))["sub"]),
    # Review finding 1.8: json.loads reads a payload that does not start {" (its base64 not eyJ) all the same.
    "jwt claims after a blank": (lambda v: "Bearer " + jwt_of(" " + json.dumps({"sub": v})),
                                 lambda w: json.loads(unpadded_b64decode(w.split()[1].split(".")[1]))["sub"]),
    "jwt claims in utf-16": (lambda v: jwt_of(json.dumps({"sub": v}), "utf-16"),
                             lambda w: json.loads(unpadded_b64decode(w.split(".")[1]))["sub"]),
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT, visits INTEGER)")
        db.executemany("INSERT INTO users VALUES (?, 0)", [("alice",), ("bob",)])
    db.close()
    return path


def visits(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        rows = dict(db.execute("SELECT name, visits FROM users").fetchall())
    db.close()
    return rows


ESCAPED = "escaped-with-a-name-long-enough-to-break-a-line-of-mime-base64.txt"


class Sink:
    """One dangerous call the handler makes with the decoded value, its attack and what the attack would do."""

    def __init__(self, tmp_path: Path, db_path: Path) -> None:
        self.tmp_path, self.db_path = tmp_path, db_path
        self.uploads = tmp_path / "uploads"
        self.uploads.mkdir(exist_ok=True)
        self.marker = tmp_path / "pwned"

    def attack(self, kind: str) -> str:
        # Each holds a "+" (for unquote to keep) and is long enough for MIME base64 to break a line.
        tail = "and a tail long enough to break a line of MIME base64"
        return {"sql": f"x' OR 1+1=2 OR '{tail}", "shell": f"x; touch {self.marker} #+ {tail}",
                "file": f"../{ESCAPED}"}[kind]

    def call(self, kind: str, value: str) -> str:
        if kind == "sql":
            with sqlite3.connect(self.db_path) as db:
                changed = db.execute(f"UPDATE users SET visits = visits + 1 WHERE name = '{value}'").rowcount
            db.close()
            return str(changed)
        if kind == "shell":
            return subprocess.run(f"echo {value}", shell=True, check=False, capture_output=True, text=True).stdout
        (self.uploads / value).write_text("data")
        return "stored"

    def harmed(self, kind: str) -> bool:
        if kind == "sql":
            return visits(self.db_path) != {"alice": 0, "bob": 0}
        if kind == "shell":
            return self.marker.exists()
        return (self.tmp_path / ESCAPED).exists()


@pytest.fixture
def sink(tmp_path: Path, db_path: Path) -> Sink:
    return Sink(tmp_path, db_path)


def http_handler(sink: Sink, kind: str, decode: Callable[[str], str], read: Callable[[dict], str],
                 mode: str | None = "block") -> Callable[[dict, Any], dict]:
    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": sink.call(kind, decode(read(event)))}

    return protect(mode=mode)(handler) if mode else handler


def sqs_handler(sink: Sink, kind: str, decode: Callable[[str], str], read: Callable[[dict], str],
                mode: str | None = "block") -> Callable[[dict, Any], list[str]]:
    def handler(event: dict, context: Any) -> list[str]:
        return [sink.call(kind, decode(read(record))) for record in event["Records"]]

    return protect(mode=mode)(handler) if mode else handler


# Where a string-shaped encoding travels: (builder of the event from the wire value, reader of the wire value)
HTTP_CARRIERS: dict[str, tuple[Callable[[str], dict], Callable[[dict], str]]] = {
    "query": (lambda w: apigw_v2_event("GET", "/items", query={"q": w}), lambda e: e["queryStringParameters"]["q"]),
    "header": (lambda w: apigw_v1_event("GET", "/items", headers={"X-Data": w}), lambda e: e["headers"]["X-Data"]),
}
SQS_CARRIERS: dict[str, tuple[Callable[[str], dict], Callable[[dict], str]]] = {
    "sqs body": (lambda w: sqs_event(w), lambda r: r["body"]),
    "sqs json field": (lambda w: sqs_event({"q": w}), lambda r: json.loads(r["body"])["q"]),
    "sqs attribute": (lambda w: sqs_event("{}", attributes={"q": w}),
                      lambda r: r["messageAttributes"]["q"]["stringValue"]),
}
SINK_KINDS = ["sql", "shell", "file"]
# A header carries no line break; the file sink's attack has no space for unquote to keep a plus in.
SKIP = {("base64 with line breaks", "header"), ("unquote keeps a plus", "file")}


def http_cases() -> list[Any]:
    return [pytest.param(encoding, carrier, kind, id=f"{encoding}-{carrier}-{kind}")
            for encoding in ENCODINGS for carrier in HTTP_CARRIERS for kind in SINK_KINDS
            if (encoding, carrier) not in SKIP and (encoding, kind) not in SKIP]


def sqs_cases() -> list[Any]:
    return [pytest.param(encoding, carrier, kind, id=f"{encoding}-{carrier}-{kind}")
            for encoding in ENCODINGS for carrier in SQS_CARRIERS for kind in SINK_KINDS
            if (encoding, kind) not in SKIP]


@pytest.mark.parametrize(("encoding", "carrier", "kind"), http_cases())
def test_an_attack_inside_an_encoding_is_blocked_from_http(encoding: str, carrier: str, kind: str, sink: Sink,
                                                            records) -> None:
    encode, decode = ENCODINGS[encoding]
    build, read = HTTP_CARRIERS[carrier]
    wire = encode(sink.attack(kind))
    assert sink.attack(kind) not in wire  # reachable only through the decoding
    answer = http_handler(sink, kind, decode, read)(build(wire), LambdaContext())
    assert answer["statusCode"] == 403
    assert not sink.harmed(kind)
    assert records.detections(without="malicious_payload")[0]["action"] == "blocked"


@pytest.mark.parametrize(("encoding", "carrier", "kind"), sqs_cases())
def test_an_attack_inside_an_encoding_is_blocked_from_sqs(encoding: str, carrier: str, kind: str, sink: Sink,
                                                           records) -> None:
    encode, decode = ENCODINGS[encoding]
    build, read = SQS_CARRIERS[carrier]
    wire = encode(sink.attack(kind))
    with pytest.raises(RequestBlocked):
        sqs_handler(sink, kind, decode, read)(build(wire), LambdaContext())
    assert not sink.harmed(kind)
    assert records.detections()[0]["action"] == "blocked"


BENIGN_VALUES = {
    "sql": ["alice", "Zoë 👍🏽", "C++ & Rust fans", "jo.smith+orders@example.com", "2026-11-30T10:00:00Z"],
    "shell": ["hello", "C++ notes", "thanks 👍", "a+b=c", "eyJhbGciOiJIUzI1NiJ9"],
    "file": ["report.pdf", "résumé 2026.pdf", "notes+draft.txt", "😀.png", "data.json"],
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("kind", SINK_KINDS)
def test_benign_values_in_the_same_encodings_pass_unchanged(encoding: str, kind: str, sink: Sink, records) -> None:
    encode, decode = ENCODINGS[encoding]
    for value in BENIGN_VALUES[kind]:
        wire = encode(value)
        assert decode(wire) == value
        for carrier, (build, read) in HTTP_CARRIERS.items():
            if (encoding, carrier) in SKIP:
                continue
            answer = http_handler(sink, kind, decode, read)(build(wire), LambdaContext())
            assert answer == {"statusCode": 200, "body": sink.call(kind, value)}, (carrier, value)
        for build, read in SQS_CARRIERS.values():
            assert sqs_handler(sink, kind, decode, read)(build(wire), LambdaContext()) == [sink.call(kind, value)]
    assert records.detections() == []
    if kind == "sql":
        assert visits(sink.db_path)["alice"] > 0 and visits(sink.db_path)["bob"] == 0
    if kind == "file":
        assert {path.name for path in sink.uploads.iterdir()} == set(BENIGN_VALUES["file"])


@pytest.mark.parametrize(("encoding", "carrier", "kind"), http_cases() + sqs_cases())
def test_each_attack_is_real(encoding: str, carrier: str, kind: str, sink: Sink) -> None:
    """Without @protect, the same event does the harm the tests above check for."""
    encode, decode = ENCODINGS[encoding]
    if carrier in HTTP_CARRIERS:
        build, read = HTTP_CARRIERS[carrier]
        http_handler(sink, kind, decode, read, mode=None)(build(encode(sink.attack(kind))), LambdaContext())
    else:
        build, read = SQS_CARRIERS[carrier]
        sqs_handler(sink, kind, decode, read, mode=None)(build(encode(sink.attack(kind))), LambdaContext())
    assert sink.harmed(kind)


# ------------------------------------------------------------ readings of one carrier: body, form, cookie, multipart

def with_binary_body(event: dict, raw: bytes) -> dict:
    """``event`` carrying ``raw`` as a base64 body, as API Gateway passes a binary body on."""
    return {**event, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def body_bytes(event: dict) -> bytes:
    body = event["body"]
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def multipart(*parts: tuple[str, bytes]) -> str:
    """A multipart body of (part headers, data) pairs, boundary ``b0undary``."""
    chunks = [f"--b0undary\r\n{head}\r\n\r\n".encode() + data + b"\r\n" for head, data in parts]
    return (b"".join(chunks) + b"--b0undary--\r\n").decode("latin-1")


def email_parts(event: dict) -> list[Any]:
    """The parts as the standard library's email parser reads them (RFC 2231, transfer encodings)."""
    content_type = event["headers"]["content-type"]
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body_bytes(event))
    return list(message.get_payload())


MULTIPART_TYPE = "multipart/form-data; boundary=b0undary"
FORM_TYPE = "application/x-www-form-urlencoded"

# name -> (event from the value, the handler's reading of the value from the event, sink kind)
Reading = tuple[Callable[[str], dict], Callable[[dict], str], str]
READINGS: dict[str, Reading] = {
    "utf-16 json body": (
        lambda v: with_binary_body(apigw_v2_event("POST", "/", headers={"content-type": "application/json"}),
                                   json.dumps({"name": v}).encode("utf-16")),
        lambda e: json.loads(body_bytes(e))["name"], "sql"),
    "utf-32 json body, no mark": (
        lambda v: with_binary_body(apigw_v1_event("POST", "/", headers={"content-type": "application/json"}),
                                   json.dumps({"name": v}).encode("utf-32-le")),
        lambda e: json.loads(body_bytes(e))["name"], "sql"),
    "utf-8 json body with a byte-order mark": (
        lambda v: apigw_v2_event("POST", "/", body="\ufeff" + escaped_json({"name": v}),
                                 headers={"content-type": "application/json"}),
        lambda e: json.loads(body_bytes(e))["name"], "sql"),
    "body that is a json string": (
        lambda v: apigw_v2_event("POST", "/", body=escaped_json(v), headers={"content-type": "application/json"}),
        lambda e: json.loads(e["body"]), "sql"),
    "form field holding json": (
        lambda v: apigw_v1_event("POST", "/", body="data=" + quote(escaped_json({"name": v}), safe=""),
                                 headers={"content-type": FORM_TYPE}),
        lambda e: json.loads(parse_qs(e["body"])["data"][0])["name"], "sql"),
    "form field read by unquote": (
        lambda v: apigw_v1_event("POST", "/", body="q=" + quote(v, safe="+"),
                                 headers={"content-type": FORM_TYPE}),
        lambda e: unquote(e["body"].partition("=")[2]), "shell"),
    "alb query read by unquote": (
        lambda v: {**alb_event("GET", "/"), "queryStringParameters": {"q": quote(v, safe="+")}},
        lambda e: unquote(e["queryStringParameters"]["q"]), "shell"),
    "raw query string read by unquote": (
        lambda v: {**apigw_v2_event("GET", "/"), "rawQueryString": "q=" + quote(v, safe="+")},
        lambda e: unquote(e["rawQueryString"].partition("=")[2]), "shell"),
    "cookie with SimpleCookie's octal escapes": (
        lambda v: apigw_v1_event("GET", "/", headers={
            "Cookie": 'theme=dark; name="' + "".join(f"\\{ord(c):03o}" if c in "'; " else c for c in v) + '"'}),
        lambda e: SimpleCookie(e["headers"]["Cookie"])["name"].value, "sql"),
    "cookie holding url-encoded json": (
        lambda v: apigw_v2_event("GET", "/", cookies=["prefs=" + quote(json.dumps({"name": v}), safe="")]),
        lambda e: json.loads(unquote(e["cookies"][0].partition("=")[2]))["name"], "sql"),
    "cookie holding a url-encoded base64 cursor": (
        lambda v: apigw_v2_event("GET", "/", cookies=["cursor=" + quote(base64.b64encode(
            json.dumps({"after": v}).encode()).decode(), safe="")]),
        lambda e: json.loads(base64.b64decode(unquote(e["cookies"][0].partition("=")[2])))["after"], "sql"),
    "multipart part holding json": (
        lambda v: apigw_v2_event("POST", "/", headers={"content-type": MULTIPART_TYPE}, body=multipart(
            ('Content-Disposition: form-data; name="meta"', escaped_json({"name": v}).encode()))),
        lambda e: json.loads(email_parts(e)[0].get_payload(decode=True))["name"], "sql"),
    "multipart quoted-printable part": (
        lambda v: apigw_v2_event("POST", "/", headers={"content-type": MULTIPART_TYPE}, body=multipart(
            ('Content-Disposition: form-data; name="q"\r\nContent-Transfer-Encoding: quoted-printable',
             "".join(f"={byte:02X}" if byte > 126 or chr(byte) in "'=; " else chr(byte) for byte in v.encode())
             .encode()))),
        lambda e: email_parts(e)[0].get_payload(decode=True).decode(), "sql"),
    "multipart filename*": (
        lambda v: apigw_v2_event("POST", "/", headers={"content-type": MULTIPART_TYPE}, body=multipart(
            ("Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''" + quote(v, safe=""), b"data"))),
        lambda e: email_parts(e)[0].get_filename(), "file"),
    "multipart filename* continued": (
        lambda v: apigw_v2_event("POST", "/", headers={"content-type": MULTIPART_TYPE}, body=multipart(
            ("Content-Disposition: form-data; name=\"file\"; filename*0*=UTF-8''"
             + quote(v[:3], safe="") + "; filename*1*=" + quote(v[3:], safe=""), b"data"))),
        lambda e: email_parts(e)[0].get_filename(), "file"),
    "multipart filename* beside a plain filename, werkzeug's reading": (  # RFC 6266: filename* wins
        lambda v: apigw_v2_event("POST", "/", headers={"content-type": MULTIPART_TYPE}, body=multipart(
            ("Content-Disposition: form-data; name=\"file\"; filename=\"safe.txt\"; filename*=UTF-8''"
             + quote(v, safe=""), b"data"))),
        lambda e: parse_options_header(email_parts(e)[0]["Content-Disposition"])[1]["filename"], "file"),
}


@pytest.mark.parametrize("reading", list(READINGS))
def test_an_attack_only_a_framework_reading_reveals_is_blocked(reading: str, sink: Sink, records) -> None:
    build, read, kind = READINGS[reading]
    event = build(sink.attack(kind))
    assert read(event) == sink.attack(kind)  # the handler's reading gives the attack...
    assert sink.attack(kind) not in json.dumps(event, ensure_ascii=False)  # ...which the event never holds as sent
    answer = http_handler(sink, kind, lambda value: value, read)(event, LambdaContext())
    assert answer["statusCode"] == 403
    assert not sink.harmed(kind)


@pytest.mark.parametrize("reading", list(READINGS))
def test_the_framework_reading_attacks_are_real(reading: str, sink: Sink) -> None:
    build, read, kind = READINGS[reading]
    http_handler(sink, kind, lambda value: value, read, mode=None)(build(sink.attack(kind)), LambdaContext())
    assert sink.harmed(kind)


@pytest.mark.parametrize("reading", list(READINGS))
def test_benign_values_read_the_same_ways_pass_unchanged(reading: str, sink: Sink, records) -> None:
    build, read, kind = READINGS[reading]
    for value in BENIGN_VALUES[kind]:
        event = build(value)
        assert read(event) == value
        answer = http_handler(sink, kind, lambda v: v, read)(event, LambdaContext())
        assert answer == {"statusCode": 200, "body": sink.call(kind, value)}, value
    assert records.detections() == []


# ------------------------------------------------------------ padding that spends the decoding budget (review 1.9)

REVIEW_PADDING = "%2525252541+\\u0041" * 2  # 200 such members took the whole budget ahead of the payload
HEAVIER_PADDING = "%25252B%2B+%5Cu0041+\\u0025"  # more forms a character: past both budgets
ORDINARY_PADDING = "q=tea+%26+biscuits&utm=a%2Bb+c"  # a saved search, as a client stores it


def padded_cursor(value: str, padding: str, members: int) -> str:
    """A URL-encoded JSON array of ``members`` padding strings, then base64 of ``value``."""
    strings = [f"{padding}{index:04}" for index in range(members)]
    return quote(json.dumps([*strings, base64.b64encode(value.encode()).decode()]))


def read_padded_cursor(wire: str) -> str:
    return base64.b64decode(json.loads(unquote(wire))[-1]).decode()


# name -> (padding, members, the rule that blocks)
PADDED = {"review's padding, 200 members": (REVIEW_PADDING, 200, "sqli.structure"),
          "heavier padding, 300 members": (HEAVIER_PADDING, 300, "inspection.exceeded")}
PADDED_CARRIERS = ["query", "sqs body", "sqs json field"]


@pytest.mark.parametrize("carrier", PADDED_CARRIERS)
@pytest.mark.parametrize("case", list(PADDED))
def test_padding_that_spends_the_decoding_budget_cannot_hide_an_attack(case: str, carrier: str, sink: Sink,
                                                                        records) -> None:
    """Either the payload's form is still found (the JSON's strings have a budget of their own), or the
    budget ran out and ``limits.on_exceeded`` decides (block by default when a protection blocks)."""
    padding, members, rule = PADDED[case]
    wire = padded_cursor(sink.attack("sql"), padding, members)
    assert read_padded_cursor(wire) == sink.attack("sql") and sink.attack("sql") not in wire
    if carrier in HTTP_CARRIERS:
        build, read = HTTP_CARRIERS[carrier]
        assert http_handler(sink, "sql", read_padded_cursor, read)(build(wire), LambdaContext())["statusCode"] == 403
    else:
        build, read = SQS_CARRIERS[carrier]
        with pytest.raises(RequestBlocked):
            sqs_handler(sink, "sql", read_padded_cursor, read)(build(wire), LambdaContext())
    assert not sink.harmed("sql")
    detection = records.detections()[0]
    # In a JSON body the whole body is a value to decode too, whose chain (json, url, json) spends its budget.
    rules = {rule, "inspection.exceeded"} if carrier == "sqs json field" else {rule}
    assert detection["rule"] in rules and detection["action"] == "blocked"


@pytest.mark.parametrize("case", list(PADDED))
def test_the_padded_attacks_are_real(case: str, sink: Sink) -> None:
    padding, members, _ = PADDED[case]
    build, read = HTTP_CARRIERS["query"]
    http_handler(sink, "sql", read_padded_cursor, read, mode=None)(
        build(padded_cursor(sink.attack("sql"), padding, members)), LambdaContext())
    assert sink.harmed("sql")


@pytest.mark.parametrize("carrier", PADDED_CARRIERS)
def test_long_benign_cursors_pass_unchanged(carrier: str, sink: Sink, records) -> None:
    """500 saved searches, each URL-encoded with pluses, then the value: well within the budget."""
    for value in BENIGN_VALUES["sql"]:
        wire = padded_cursor(value, ORDINARY_PADDING, 500)
        if carrier in HTTP_CARRIERS:
            build, read = HTTP_CARRIERS[carrier]
            answer = http_handler(sink, "sql", read_padded_cursor, read)(build(wire), LambdaContext())
            assert answer == {"statusCode": 200, "body": sink.call("sql", value)}
        else:
            build, read = SQS_CARRIERS[carrier]
            assert sqs_handler(sink, "sql", read_padded_cursor, read)(build(wire), LambdaContext()) == \
                [sink.call("sql", value)]
    assert records.detections() == []
    assert visits(sink.db_path)["alice"] > 0 and visits(sink.db_path)["bob"] == 0


def test_past_the_budget_the_policy_may_say_report(sink: Sink, records) -> None:
    """``limits.on_exceeded: report`` is the owner's choice: the request goes on, and the record says why."""
    from app_protect_lambda.policy import Policy

    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": sink.call("sql", read_padded_cursor(event["queryStringParameters"]["q"]))}

    policy = Policy.from_dict({"mode": "block", "limits": {"on_exceeded": "report"}})
    wire = padded_cursor(sink.attack("sql"), HEAVIER_PADDING, 300)
    protect(policy=policy)(handler)(HTTP_CARRIERS["query"][0](wire), LambdaContext())
    assert [(item["rule"], item["action"]) for item in records.detections()] == [("inspection.exceeded", "reported")]
