"""The shortcuts that keep a large event cheap must answer as the slow paths do.

Each is a superset or an equality the sinks rely on: a value the decode prefilter drops must
have no decoded form; the lookup of a large value set must find exactly the values a scan finds;
a form body decoded at once must give the values decoded field by field. And ``on_exceeded``
is validated like every limit key.
"""
from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app_protect_lambda.context import exceeded_mode
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.sources.decoders import decoded_forms
from app_protect_lambda.sources.flatten import _literals
from app_protect_lambda.sources.http import form_pairs, form_values
from app_protect_lambda.sources.inputs import _ByLength, _decodable

BOUNDED = settings(max_examples=300, deadline=None, derandomize=True, database=None)
ALPHABET = "abcXYZ0189+/=_-%\\' \u00e9\uff21\t\n\r{[\"eyJ"
words = st.text(alphabet=ALPHABET, max_size=16)
encoded = st.binary(max_size=12).map(lambda raw: base64.b64encode(raw).decode())
url_safe = st.text(max_size=10).map(lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
hexed = st.text(max_size=8).map(lambda text: text.encode().hex())
controls = st.binary(min_size=6, max_size=12).map(lambda raw: base64.b64encode(raw).decode())  # NULs, \x1b
broken = encoded.map(lambda text: text[:8] + "\n" + text[8:] + "\r\n")  # MIME line breaks
as_json = st.text(alphabet=ALPHABET, max_size=10).map(lambda text: json.dumps({"q": text}))
jwt = st.text(alphabet=ALPHABET, max_size=10).map(
    lambda text: "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(json.dumps({"sub": text}).encode()).decode()
    .rstrip("=") + ".")
# JWT segments that hold a JSON object however json.loads reads bytes: blanks or a byte-order mark first, UTF-16/32.
json_object = st.tuples(st.sampled_from(["", " ", "\n ", "\t", "\r", "\ufeff"]),
                        st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-32-le"]),
                        st.text(alphabet=ALPHABET, max_size=8)).map(
    lambda parts: base64.urlsafe_b64encode((parts[0] + json.dumps({"sub": parts[2]})).encode(parts[1]))
    .decode().rstrip("="))
segment = st.one_of(json_object, words, url_safe)
dotted = st.tuples(st.sampled_from(["", "Bearer ", " ", "x."]), segment, segment, st.one_of(segment, st.just(""))).map(
    lambda parts: f"{parts[0]}{parts[1]}.{parts[2]}.{parts[3]}")
values = st.lists(st.one_of(words, encoded, url_safe, hexed, controls, broken, as_json, jwt, dotted), max_size=40)


@BOUNDED
@given(values)
def test_the_decode_prefilter_keeps_every_value_that_has_forms(items: list[str]) -> None:
    kept = set(_decodable(list(dict.fromkeys(items)), len(items)))
    for item in items:
        if item not in kept:  # left out only when its every form is a value already (a plus read as a space)
            assert {text for _, text in decoded_forms(item)} <= set(items), item


@BOUNDED
@given(st.lists(st.text(alphabet="abcd'= ", min_size=2, max_size=9), max_size=60, unique=True),
       st.text(alphabet="abcd'= x", max_size=300))
def test_the_lookup_by_length_finds_what_the_scan_finds(items: list[str], argument: str) -> None:
    found = _ByLength(tuple(items)).occurring(argument, tuple(items))
    assert sorted(found) == sorted(filter(argument.__contains__, items))


@BOUNDED
@given(st.text(alphabet="ab=&%+26D3dé", max_size=40))
def test_a_form_decoded_at_once_gives_the_values_decoded_field_by_field(body: str) -> None:
    by_field = {text for pair in form_pairs(body.split("&")) for text in pair if text}  # "" is no input
    assert by_field <= set(form_values(body))


@pytest.mark.parametrize("value", ["block", "report", "BLOCK"])
def test_on_exceeded_accepts_block_and_report(value: str) -> None:
    assert Policy.from_dict({"limits": {"on_exceeded": value}}).limits.on_exceeded is Mode(value.lower())


@pytest.mark.parametrize("value", ["off", False, "ignore", 1])
def test_on_exceeded_refuses_anything_else_naming_the_key(value: object) -> None:
    with pytest.raises(PolicyError) as raised:
        Policy.from_dict({"limits": {"on_exceeded": value}})
    assert "limits.on_exceeded" in str(raised.value)


@pytest.mark.parametrize(("policy", "expected"), [
    ({"mode": "block"}, Mode.BLOCK),
    ({"mode": "report"}, Mode.REPORT),
    ({"mode": "report", "protections": {"sql_injection": "block"}}, Mode.BLOCK),
    ({"mode": "block", "limits": {"on_exceeded": "report"}}, Mode.REPORT),
    ({"mode": "report", "limits": {"on_exceeded": "block"}}, Mode.BLOCK),
])
def test_on_exceeded_defaults_to_block_when_a_protection_blocks(policy: dict, expected: Mode) -> None:
    assert exceeded_mode(Policy.from_dict(policy)) is expected


# Worst cases for the new readers, as tests/unit/test_worst_case.py bounds the others: each input is
# built to hurt one scan (runs of quotes and backslashes, separators that must be decoded one by one,
# values that every prefilter sends on), and must finish well within BUDGET seconds of CPU.
MB = 1 << 20
LOOP = 256 << 10  # where the work is a step per character, as in test_worst_case.py
BUDGET = 2.0


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


WORST = {
    "literals: escaped quotes": lambda: _literals('"' + _fill('\\"')),
    "literals: backslash runs": lambda: _literals(_fill('"\\\\\\')),
    "literals: unclosed strings": lambda: _literals(_fill('"a')),
    "form: encoded separators": lambda: form_values(_fill("a%26b%3D&")),
    "form: plus and percent": lambda: form_values(_fill("+%2")),
    "prefilter: percent values": lambda: _decodable([f"%{index:x}" for index in range(MB // 8)], 20_000),
    "prefilter: base64 text": lambda: _decodable(
        [base64.b64encode(f"w{index:07d}".encode()).decode() for index in range(MB // 16)], 20_000),
    "prefilter: full-width": lambda: _decodable([f"\uff41{index}" for index in range(MB // 12)], 20_000),
    "prefilter: jwt-shaped values": lambda: _decodable(
        [f"Bearer e{index:09d}.e{index:09d}." for index in range(MB // 32)], 20_000),
    "prefilter: segments and blanks": lambda: _decodable(["a" * 10, _fill("e" * 12 + ". B ")], 20_000),
    "lookup: a long argument": lambda: list(_ByLength(tuple(f"v{index}" for index in range(50_000))).occurring(
        _fill("v1 ", LOOP), tuple(f"v{index}" for index in range(50_000)))),
}


@pytest.mark.parametrize("name", list(WORST))
def test_worst_case_within_budget(name: str) -> None:
    started = time.process_time()
    WORST[name]()
    spent = time.process_time() - started
    assert spent < BUDGET, f"{name}: {spent:.2f} s"
