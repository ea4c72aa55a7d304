"""The decoded forms and the framework readings of issue 10, items 3 and 4, table by table.

Attack rows and benign rows side by side; then the bounds (steps, budget, JSON depth); then the
readings of query strings, cookies, bodies and multipart parts; then that the sinks' fast values
still hold every value the walk finds; then worst cases for each new decoder, which must stay
linear (``BUDGET_SECONDS`` of CPU for about 1 MB, as in test_sources_linear.py).
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Limits, Policy
from app_protect_lambda.sources import Request, collect_inputs, event_kind
from app_protect_lambda.sources.decoders import (
    BUDGET_SPENT,
    FORMS_BUDGET,
    FORMS_BUDGET_FLOOR,
    JSON_DEPTH,
    MAX_STEPS,
    decoded_forms,
    forms_of,
    may_decode,
)
from app_protect_lambda.sources.http import body_encoding, form_pairs, simple_cookie_value
from app_protect_lambda.sources.multipart import header_parameters, parse_multipart
from app_protect_lambda.testing import alb_event, apigw_v1_event, apigw_v2_event, sqs_event

ATTACK = "x' OR '1'='1"


def forms(value: str) -> dict[str, str]:
    """decoded text -> transform"""
    return {text: transform for transform, text in decoded_forms(value)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def jwt_of(payload: bytes, header: bytes = b'{"alg": "none"}') -> str:
    """A JWT of these exact bytes (json.loads reads bytes in UTF-8, -16 or -32, a mark and blanks first)."""
    return f"{b64url(header)}.{b64url(payload)}."


# (value as sent, the form that must be found, its transform)
ATTACK_FORMS = {
    "json object in a string": ('{"q": "x\\u0027 OR 1=1"}', "x' OR 1=1", "json"),
    "json key": ('{"x\\u0027 OR 1=1": 1}', "x' OR 1=1", "json"),
    "json array, nested": ('[1, [{"a": ["x\\u0027 OR 1=1"]}]]', "x' OR 1=1", "json"),
    "json string literal": ('"x\\u0027 OR 1=1"', "x' OR 1=1", "json"),
    "json string literal with blanks around": (' "x\\u0027 OR 1=1"\n', "x' OR 1=1", "json"),
    "base64 cursor, url-safe, unpadded": (b64url(json.dumps({"after": ATTACK}).encode()), ATTACK, "base64+json"),
    "base64 of json, standard, padded": (base64.b64encode(json.dumps([ATTACK]).encode()).decode(), ATTACK,
                                         "base64+json"),
    "url-encoded json": (quote(json.dumps({"q": ATTACK}), safe=""), ATTACK, "url+json"),
    "url-encoded base64 of json": (quote(base64.b64encode(json.dumps({"q": ATTACK + "?"}).encode()).decode(), safe=""),
                                   ATTACK + "?", "url+base64+json"),  # its padding is %3D
    "json in json": (json.dumps(json.dumps({"q": ATTACK})), ATTACK, "json+json"),
    "unquote keeps a plus": ("x%27+OR+1+1%3D2", "x'+OR+1+1=2", "url"),
    "unquote_plus makes it a space": ("x%27+OR+1%3D1", "x' OR 1=1", "url-plus"),
    "base64 with MIME line breaks": (base64.encodebytes((ATTACK * 8).encode()).decode(), ATTACK * 8, "base64"),
    "base64 with CRLF line breaks": (base64.encodebytes((ATTACK * 8).encode()).decode().replace("\n", "\r\n"),
                                     ATTACK * 8, "base64"),
    "base64 yielding a form feed": (base64.b64encode(b"x'\x0cOR\x0c1=1").decode(), "x'\x0cOR\x0c1=1", "base64"),
    "base64 yielding a NUL": (base64.b64encode(b"a.txt\x00../../etc/passwd").decode(), "a.txt\x00../../etc/passwd",
                              "base64"),
    "base64 yielding a newline": (b64url(b"x\ntouch /tmp/pwned"), "x\ntouch /tmp/pwned", "base64"),
    "hex yielding a vertical tab": (b"x'\x0bOR 1=1".hex(), "x'\x0bOR 1=1", "hex"),
    "jwt claims": ("Bearer " + jwt({"sub": ATTACK}), ATTACK, "jwt+json"),
    "bare jwt": (jwt({"sub": ATTACK}), ATTACK, "jwt+json"),
    # Review finding 1.8: a payload json.loads reads that does not start {" (so its base64 not eyJ).
    "jwt payload with a blank first": (jwt_of(b' {"sub": "%s"}' % ATTACK.encode()), ATTACK, "jwt+json"),
    "jwt payload with a blank after the brace": (jwt_of(b'{ "sub": "%s"}' % ATTACK.encode()), ATTACK, "jwt+json"),
    "jwt payload after a line break": ("Bearer " + jwt_of(b'\n{"sub": "%s"}' % ATTACK.encode()), ATTACK, "jwt+json"),
    "jwt payload with a byte-order mark": (jwt_of(b'\xef\xbb\xbf{"sub": "%s"}' % ATTACK.encode()), ATTACK,
                                           "jwt+json"),
    "jwt payload in utf-16": (jwt_of(json.dumps({"sub": ATTACK}).encode("utf-16-le")), ATTACK, "jwt+json"),
    "jwt header not eyJ either": (jwt_of(b'{"sub": "%s"}' % ATTACK.encode(), header=b'{ "alg": "none"}') + "sig",
                                  ATTACK, "jwt+json"),
    "jwt in the standard alphabet, padded": (
        base64.b64encode(b'{"alg":"none"}').decode() + "." + base64.b64encode(
            b'{ "sub": "%s", "n": "???~~~>>>"}' % ATTACK.encode()).decode() + ".", ATTACK, "jwt+json"),
}


@pytest.mark.parametrize(("value", "text", "transform"), ATTACK_FORMS.values(), ids=ATTACK_FORMS.keys())
def test_an_attack_inside_an_encoding_is_a_form(value: str, text: str, transform: str) -> None:
    assert may_decode(value)
    assert forms(value).get(text) == transform
    assert forms_of(value) == tuple(decoded_forms(value))


# (benign value, every form it may have)
BENIGN_FORMS = {
    "word": ("alice", {}),
    "digits": ("123456", {}),  # hex of bytes that are mostly unprintable is not text
    "uuid": ("3f9a8b7c-1d2e-4f5a-9b8c-7d6e5f4a3b2c", {}),
    "random token": ("q8Zt1xVb7mR2kP0sW4nH6yJ3", {}),
    "binary base64": (base64.b64encode(bytes(range(0, 256, 7))).decode(),  # a plus in it: read as a space too
                      {base64.b64encode(bytes(range(0, 256, 7))).decode().replace("+", " "): "url-plus"}),
    "zeros in base64": (base64.b64encode(b"\x00" * 30).decode(), {}),
    "emoji": ("thanks 👍🏽", {}),
    "plus signs": ("C++ & Rust", {"C   & Rust": "url-plus"}),
    "an email address with a plus": ("jo+orders@example.com", {"jo orders@example.com": "url-plus"}),
    "json with numbers only": ("[1, 2, 3]", {}),
    "not json": ("[brackets] and {braces}", {}),
    "host name": ("eu-west-1.example.com", {}),
    "three dotted words": ("Inc. A. e.g.", {}),
    "version": ("v1.2.3-e4", {}),
    "file name with two extensions": ("export.2026-12-01.csv", {}),
    "dotted segments that are base64 of text": (f"{b64url(b'hello')}.{b64url(b'  world')}.{b64url(b'x')}", {}),
    "signed jwt of benign claims": ("Bearer " + jwt_of(b' {"sub": "alice", "scope": "read"}') + "c2ln",
                                    {' {"sub": "alice", "scope": "read"}'.strip(): "jwt",
                                     '{"alg": "none"}': "jwt", "sub": "jwt+json", "alice": "jwt+json",
                                     "scope": "jwt+json", "read": "jwt+json", "alg": "jwt+json",
                                     "none": "jwt+json"}),
    "cursor": (b64url(b'{"after":"2026-11-30","id":812}'),
               {'{"after":"2026-11-30","id":812}': "base64", "after": "base64+json", "2026-11-30": "base64+json",
                "id": "base64+json"}),
}


@pytest.mark.parametrize(("value", "expected"), BENIGN_FORMS.values(), ids=BENIGN_FORMS.keys())
def test_benign_values_have_only_their_own_forms(value: str, expected: dict[str, str]) -> None:
    assert forms(value) == expected


# ------------------------------------------------------------------ bounds

def test_chains_stop_after_max_steps() -> None:
    three = base64.b64encode(json.dumps({"q": ATTACK}).encode()).hex()  # hex, base64, json
    assert MAX_STEPS == 3
    assert forms(three)[ATTACK] == "hex+base64+json"
    assert ATTACK not in forms(json.dumps(three))  # a JSON string literal of it: a fourth step


def test_the_forms_of_one_value_stay_within_the_budget() -> None:
    value = json.dumps([quote(f"%{i:04}" * 8) for i in range(2000)])
    total = sum(len(text) for _, text in decoded_forms(value))
    assert 0 < total <= FORMS_BUDGET * len(value) + FORMS_BUDGET_FLOOR


def test_breadth_first_the_strings_of_a_padded_json_are_all_found() -> None:
    """Padding cannot push a first-level JSON string out of the budget: a step is complete before the next."""
    padding = [quote(quote(f"pad{i}' ")) for i in range(3000)]
    value = json.dumps({"pad": padding, "q": ATTACK})
    assert forms(value)[ATTACK] == "json"


REVIEW_PADDING = "%2525252541+\\u0041" * 2
HEAVIER_PADDING = "%25252B%2B+%5Cu0041+\\u0025"  # more forms a character: 11 times the value in all


def padded_cursor(members: int, payload: str = ATTACK, padding: str = REVIEW_PADDING) -> str:
    """Review finding 1.9: a URL-encoded JSON array whose members, heavy in %25, + and \\u, spend the budget
    ahead of the last one, base64 of the payload (which the code reads: json, then base64)."""
    strings = [padding + str(index).zfill(4) for index in range(members)]
    return quote(json.dumps([*strings, base64.b64encode(payload.encode()).decode()]))


def test_padding_ahead_of_the_payload_leaves_it_a_form() -> None:
    """The strings of the JSON have a budget of their own: 200 such members took all of it (8.3 times the value)."""
    assert forms(padded_cursor(200))[ATTACK] == "url+json+base64"


def test_running_out_of_budget_is_said() -> None:
    """However many members: past the budget the last pair says so (``Inputs`` tells ``limits.on_exceeded``)."""
    value = padded_cursor(1000, padding=HEAVIER_PADDING)
    found = decoded_forms(value)
    assert found[-1] == (BUDGET_SPENT, "")
    assert ATTACK not in {text for _, text in found}
    assert sum(len(text) for _, text in found) <= 2 * (FORMS_BUDGET * len(value) + FORMS_BUDGET_FLOOR)


BENIGN_HEAVY = {  # values that decode a lot and stay well within the budget
    "json of 500 url-encoded query strings": json.dumps(
        [urlencode({"q": f"tea & biscuits {index}", "utm": "a+b c"}) for index in range(500)]),
    "url-encoded json filter of 500 phrases": quote(json.dumps({"q": [f"hello world {index} & more+stuff 100%"
                                                                      for index in range(500)]})),
    "base64 cursor of 1000 keys": base64.b64encode(json.dumps(
        {f"k{index}": f"v {index}+x%20" for index in range(1000)}).encode()).decode(),
    "twice url-encoded json with pluses": quote(quote(json.dumps([f"a+b {index} %" for index in range(500)]))),
}


@pytest.mark.parametrize("value", BENIGN_HEAVY.values(), ids=BENIGN_HEAVY.keys())
def test_benign_values_that_decode_a_lot_stay_within_the_budget(value: str) -> None:
    found = decoded_forms(value)
    assert found and found[-1][0] != BUDGET_SPENT
    assert sum(len(text) for _, text in found) < 6 * len(value)


def test_json_strings_past_the_depth_cap_are_not_forms() -> None:
    shallow: Any = "shallow-leaf"
    deep: Any = "deep-leaf"
    for _ in range(JSON_DEPTH - 1):
        shallow = [shallow]
    for _ in range(JSON_DEPTH + 1):
        deep = [deep]
    assert "shallow-leaf" in forms(json.dumps(shallow))
    assert "deep-leaf" not in forms(json.dumps(deep))


# ------------------------------------------------------------------ readings of the carriers

def query_of(event: dict) -> dict[str, list[str]]:
    return Request(event, event_kind(event)).query


def test_an_alb_query_value_is_read_by_unquote_and_unquote_plus() -> None:
    event = {**alb_event("GET", "/"), "queryStringParameters": {"q": "a+b%27"}}
    assert query_of(event)["q"] == ["a b'", "a+b'"]
    multi = {**alb_event("GET", "/", multi_value=True), "multiValueQueryStringParameters": {"q": ["a+b", "c"]}}
    assert query_of(multi)["q"] == ["a b", "a+b", "c"]


def test_a_raw_query_string_and_a_form_field_are_read_both_ways() -> None:
    assert list(form_pairs(["q=a+b", "plain=x%20y", "k+1=v"])) == [
        ("q", "a b"), ("q", "a+b"), ("plain", "x y"), ("k 1", "v"), ("k+1", "v")]
    event = {**apigw_v2_event("GET", "/"), "rawQueryString": "q=1+1%3D2"}
    assert set(query_of(event)["q"]) == {"1 1=2", "1+1=2"}


def test_a_value_without_a_plus_is_read_once() -> None:
    assert query_of({**alb_event("GET", "/"), "queryStringParameters": {"q": "a%20b"}})["q"] == ["a b"]


COOKIES = {
    "octal escapes": ('"x\\047 OR \\0471\\047=\\0471"', "x' OR '1'='1"),
    "a semicolon": ('"a\\073b"', "a;b"),
    "escaped quote and backslash": ('"a\\"b\\\\c"', 'a"b\\c'),
    "an escape past octal": ('"\\400"', "400"),
}


@pytest.mark.parametrize(("value", "expected"), COOKIES.values(), ids=COOKIES.keys())
def test_quoted_cookie_values_read_as_simple_cookie_reads_them(value: str, expected: str) -> None:
    from http.cookies import SimpleCookie

    assert simple_cookie_value(value) == expected == SimpleCookie(f"c={value}")["c"].value
    event = apigw_v1_event("GET", "/", headers={"Cookie": f"theme=dark; c={value}"})
    assert Request(event, event_kind(event)).cookies["c"] == [value, expected]


def test_unquoted_or_plain_cookie_values_are_read_once() -> None:
    event = apigw_v1_event("GET", "/", headers={"Cookie": 'a="plain"; b=x\\047y'})
    assert Request(event, event_kind(event)).cookies == {"a": ['"plain"'], "b": ["x\\047y"]}


BODY_ENCODINGS = {
    "utf-8": ("utf-8", "utf-8"),
    "utf-8 with a mark": ("utf-8-sig", "utf-8-sig"),
    "utf-16 with a mark": ("utf-16", "utf-16"),
    "utf-16-le": ("utf-16-le", "utf-16-le"),
    "utf-16-be": ("utf-16-be", "utf-16-be"),
    "utf-32 with a mark": ("utf-32", "utf-32"),
    "utf-32-le": ("utf-32-le", "utf-32-le"),
    "utf-32-be": ("utf-32-be", "utf-32-be"),
}


@pytest.mark.parametrize(("codec", "detected"), BODY_ENCODINGS.values(), ids=BODY_ENCODINGS.keys())
def test_json_bodies_are_read_in_the_encoding_json_loads_detects(codec: str, detected: str) -> None:
    raw = json.dumps({"name": ATTACK}).encode(codec)
    assert body_encoding(raw) == detected
    event = {**apigw_v2_event("POST", "/", headers={"content-type": "application/json"}),
             "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    found = {item.location: item.value for item in RequestContext(event, None, Policy()).inputs.raw}
    assert found["body.name"] == json.loads(raw)["name"] == ATTACK


def test_a_binary_body_that_is_not_json_keeps_its_utf8_reading() -> None:
    raw = b"\xff\xfe" + ATTACK.encode()  # a UTF-16 mark, then what is not UTF-16 JSON
    event = {**apigw_v2_event("POST", "/"), "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    assert Request(event, event_kind(event)).body == "\ufffd\ufffd" + ATTACK


def test_a_text_body_with_a_byte_order_mark_is_json() -> None:
    event = apigw_v2_event("POST", "/", body="\ufeff" + json.dumps({"name": ATTACK}))
    found = {item.location: item.value for item in RequestContext(event, None, Policy()).inputs.raw}
    assert found["body.name"] == ATTACK


def test_a_body_that_is_a_json_string_gives_its_content() -> None:
    event = apigw_v2_event("POST", "/", body='"x\\u0027 OR 1=1--"', headers={"content-type": "application/json"})
    assert "x' OR 1=1--" in RequestContext(event, None, Policy()).inputs.values


PARAMETERS = {
    "extended value": ("form-data; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", {"filename": "../../etc/passwd"}),
    "extended beats plain": ("form-data; filename=\"a.txt\"; filename*=UTF-8'en'b%20c.txt", {"filename": "b c.txt"}),
    "latin-1": ("form-data; filename*=iso-8859-1''caf%E9.txt", {"filename": "café.txt"}),
    "unknown charset": ("form-data; filename*=x-unknown''a%41", {"filename": "aA"}),
    "no charset": ("form-data; filename*=a%2Fb", {"filename": "a/b"}),
    "continuations": ("form-data; name=f; filename*1*=%2Fpasswd; filename*0*=UTF-8''..%2Fetc; filename*2=.bak",
                      {"name": "f", "filename": "../etc/passwd.bak"}),
    "quoted continuation": ('form-data; filename*0="a b"; filename*1="c"', {"filename": "a bc"}),
}


@pytest.mark.parametrize(("header", "expected"), PARAMETERS.values(), ids=PARAMETERS.keys())
def test_rfc_2231_parameters_are_decoded(header: str, expected: dict[str, str]) -> None:
    assert header_parameters(header) == expected


def multipart_body(head: str, data: bytes) -> bytes:
    return f"--b\r\n{head}\r\n\r\n".encode() + data + b"\r\n--b--\r\n"


def test_a_file_name_given_both_ways_gives_two_readings() -> None:
    body = multipart_body("Content-Disposition: form-data; name=\"f\"; filename=\"safe.txt\"; "
                          "filename*=UTF-8''..%2Fescaped.txt", b"data")
    parts = parse_multipart(body, "multipart/form-data; boundary=b")
    assert [part.filename for part in parts] == ["safe.txt", "../escaped.txt"]


TRANSFER_ENCODED = {
    "quoted-printable": ("quoted-printable", b"x=27 OR =271=27=3D=271", ATTACK.encode()),
    "quoted-printable, soft breaks": ("Quoted-Printable", b"x=27 OR =\r\n=271=27=3D=271", ATTACK.encode()),
    "base64": ("base64", base64.b64encode(ATTACK.encode()), ATTACK.encode()),
}


@pytest.mark.parametrize(("encoding", "sent", "decoded"), TRANSFER_ENCODED.values(), ids=TRANSFER_ENCODED.keys())
def test_a_transfer_encoded_part_is_read_as_sent_and_decoded(encoding: str, sent: bytes, decoded: bytes) -> None:
    body = multipart_body(f"Content-Disposition: form-data; name=\"q\"\r\nContent-Transfer-Encoding: {encoding}", sent)
    assert [part.data for part in parse_multipart(body, "multipart/form-data; boundary=b")] == [sent, decoded]


def test_a_plain_part_is_read_once() -> None:
    body = multipart_body('Content-Disposition: form-data; name="q"; filename="a=3D.txt"', b"a=3D")
    assert len(parse_multipart(body, "multipart/form-data; boundary=b")) == 1


# ------------------------------------------------------------------ the fast values and the walk agree

NESTED_EVENTS = {
    "json in a query parameter": apigw_v2_event("GET", "/", query={"filter": json.dumps({"q": ATTACK})}),
    "cursor in a query parameter": apigw_v1_event("GET", "/", query={"cursor": b64url(json.dumps([ATTACK]).encode())}),
    "json in a header": apigw_v1_event("GET", "/", headers={"X-Filter": quote(json.dumps({"q": ATTACK}))}),
    "json in a cookie": apigw_v2_event("GET", "/", cookies=["prefs=" + quote(json.dumps({"q": ATTACK}))]),
    "octal cookie": apigw_v1_event("GET", "/", headers={"Cookie": 'c="x\\047 OR 1=1"'}),
    "alb plus": {**alb_event("GET", "/"), "queryStringParameters": {"q": "1+1%3D2"}},
    "jwt header": apigw_v2_event("GET", "/", headers={"Authorization": "Bearer " + jwt({"sub": ATTACK})}),
    "json body of json strings": apigw_v2_event("POST", "/", body={"inner": json.dumps({"q": ATTACK}),
                                                                   "blob": b64url(json.dumps([ATTACK]).encode())}),
    "utf-16 body": {**apigw_v2_event("POST", "/", headers={"content-type": "application/json"}),
                    "body": base64.b64encode(json.dumps({"q": ATTACK}).encode("utf-16")).decode(),
                    "isBase64Encoded": True},
    "bom body": apigw_v2_event("POST", "/", body="\ufeff" + json.dumps({"q": ATTACK})),
}


@pytest.mark.parametrize("name", list(NESTED_EVENTS))
def test_the_fast_values_hold_every_form_of_the_walk(name: str) -> None:
    event = NESTED_EVENTS[name]
    fast = set(RequestContext(event, None, Policy()).inputs.values)
    walked = {item.value for item in RequestContext(event, None, Policy()).inputs.forms}
    assert walked <= fast
    assert any(ATTACK in value or "1+1=2" in value or "x' OR 1=1" in value for value in walked)


def test_an_sqs_body_holding_a_cursor_gives_its_strings() -> None:
    event = sqs_event({"cursor": b64url(json.dumps({"after": ATTACK}).encode())})
    assert ATTACK in RequestContext(event, None, Policy()).inputs.values


# ------------------------------------------------------------------ worst cases: linear in the value

MB = 1 << 20
BUDGET_SECONDS = 2.0


def within_budget(work: Callable[[], Any]) -> Any:
    start = time.process_time()
    result = work()
    elapsed = time.process_time() - start
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.2f} s"
    return result


def _nested_base64_json(size: int) -> str:
    text = ATTACK * (size // 64)
    for _ in range(4):
        text = base64.b64encode(json.dumps([text]).encode()).decode()
    return text


def _nested_json_strings(size: int) -> str:
    text = json.dumps([f"%2527{index}" for index in range(size // 40)])
    for _ in range(2):
        text = json.dumps(text)
    return text


HOSTILE_VALUES: dict[str, Callable[[], str]] = {
    "json array of distinct encoded strings": lambda: json.dumps([f"%41{i}" for i in range(MB // 12)]),
    "json array of distinct base64 strings": lambda: json.dumps(
        [base64.b64encode(f"'{i:06}".encode()).decode() for i in range(MB // 16)]),
    "json object of encoded keys": lambda: json.dumps({f"k%2B+{i}": "%41+" for i in range(MB // 20)}),
    "json openers": lambda: "[" * MB,
    "json openers and closers": lambda: "[" * MB + "]" * MB,
    "json string of json strings": lambda: _nested_json_strings(MB),
    "base64 of json of base64, nested": lambda: _nested_base64_json(MB),
    "url-encoded json": lambda: quote(json.dumps({"q": ["%27" * 10] * (MB // 100)})),
    "base64 lines of zeros": lambda: "AAAA\n" * (MB // 5),
    "base64 lines, CRLF": lambda: "QUFB\r\n" * (MB // 6),
    "line breaks, then not base64": lambda: "a" + "\n" * MB + "!",
    "padding and line breaks, then not base64": lambda: "a=" + "\r\n=" * (MB // 3) + "!",
    "base64 of NULs": lambda: base64.b64encode(b"\x00" * (MB * 3 // 4)).decode(),
    "base64 of control characters and text": lambda: base64.b64encode(b"\x01a" * (MB * 3 // 8)).decode(),
    "percent-encoded pluses": lambda: "%2B+" * (MB // 4),
    "percent-encoded percents and pluses": lambda: "%25+" * (MB // 4),
    "a quoted string of escapes": lambda: '"' + "\\u0041" * (MB // 6) + '"',
    "a quoted string of backslashes": lambda: '"' + "\\" * MB + '"',
    "quotes": lambda: '"' * MB,
    "blanks then an opener": lambda: " " * MB + "[",
    "jwt openers": lambda: "eyJ" * (MB // 3),
    "jwt-like segments": lambda: "Bearer " + "eyJa." * (MB // 5),
    "a long scheme before a jwt": lambda: "a" * MB + " eyJ.eyJ.",
    "blanks before segments": lambda: " e" * (MB // 2) + ".",
    "one long segment, then a dot": lambda: " " + "e" * MB + ".",
    "dotted object starts": lambda: "a.e" * (MB // 3),
    "a long header, two dots": lambda: "e" * MB + ".e.",
}


@pytest.mark.parametrize("build", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_decoding_a_hostile_value_is_linear(build: Callable[[], str]) -> None:
    value = build()
    found = within_budget(lambda: decoded_forms(value))
    assert sum(len(text) for _, text in found) <= FORMS_BUDGET * len(value) + FORMS_BUDGET_FLOOR


def _http(body: str | bytes = "", content_type: str = "text/plain", **fields: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        fields["isBase64Encoded"] = True
        body = base64.b64encode(body).decode()
    return {"version": "2.0", "requestContext": {"http": {"method": "POST", "sourceIp": "198.51.100.7"}},
            "headers": {"content-type": content_type, **fields.pop("headers", {})}, "body": body, **fields}


HOSTILE_EVENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "utf-16 json body": lambda: _http(json.dumps([f"k{i}" for i in range(MB // 16)]).encode("utf-16"),
                                      "application/json"),
    "utf-32 zeros": lambda: _http(b"\x00" * MB),
    "utf-16 mark then garbage": lambda: _http(b"\xff\xfe" + b"\xd8\x00" * (MB // 2)),
    "quoted cookie of escapes": lambda: _http(cookies=['c="' + "\\073" * (MB // 4) + '"']),
    "quoted cookie of escaped letters": lambda: _http(cookies=['c="' + "\\a" * (MB // 2) + '"']),
    "raw query of pluses": lambda: _http(rawQueryString="a=+&" * (MB // 4)),
    "form body of pluses": lambda: _http("a+b=c+d&" * (MB // 8), "application/x-www-form-urlencoded"),
    "multipart continuations": lambda: _http(
        "--b\r\nContent-Disposition: form-data; name=f; "
        + "".join(f"filename*{i}*=%41;" for i in range(MB // 20)) + "\r\n\r\nx\r\n--b--",
        "multipart/form-data; boundary=b"),
    "multipart extended values": lambda: _http(
        "--b\r\nContent-Disposition: form-data; " + "a*=UTF-8''%41%42;" * (MB // 17) + "\r\n\r\nx\r\n--b--",
        "multipart/form-data; boundary=b"),
    "multipart quoted-printable part": lambda: _http(
        "--b\r\nContent-Disposition: form-data; name=q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "=27=3D" * (MB // 6) + "\r\n--b--", "multipart/form-data; boundary=b"),
    "multipart quoted-printable soft breaks": lambda: _http(
        "--b\r\nContent-Disposition: form-data; name=q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "=\r\n" * (MB // 3) + "\r\n--b--", "multipart/form-data; boundary=b"),
    "many multipart parts, each quoted-printable": lambda: _http(
        "--b\r\nContent-Disposition: form-data; name=q; filename*=UTF-8''a%2Fb\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n=41\r\n" * (MB // 120) + "--b--",
        "multipart/form-data; boundary=b"),
}


@pytest.mark.parametrize("build", HOSTILE_EVENTS.values(), ids=HOSTILE_EVENTS.keys())
def test_reading_a_hostile_event_is_linear(build: Callable[[], dict[str, Any]]) -> None:
    event = build()
    inputs = within_budget(lambda: collect_inputs(Request(event, event_kind(event)), Limits()))
    within_budget(lambda: inputs.raw)
    within_budget(lambda: inputs.forms)


def test_a_multipart_body_of_only_parameters_is_linear() -> None:
    header = "form-data; " + "".join(f"filename*{i % 9999}*=%41;" for i in range(MB // 20))
    within_budget(lambda: header_parameters(header))
    body = multipart_body("Content-Disposition: " + header, b"x")
    within_budget(lambda: parse_multipart(body, "multipart/form-data; boundary=b"))
