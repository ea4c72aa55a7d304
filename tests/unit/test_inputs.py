"""Decoded forms of inputs: the ways code commonly transforms a string before a sink."""
from __future__ import annotations

import base64

from app_protect_lambda.sources.decoders import decoded_forms, forms_of
from app_protect_lambda.sources.inputs import Input, Inputs


def forms(value: str) -> dict[str, str]:
    return {transform: text for transform, text in decoded_forms(value)}


def test_repeated_url_decoding() -> None:
    found = forms("%2527%2520OR%25201%253D1")
    assert found["url"] == "%27%20OR%201%3D1"
    assert found["url+url"] == "' OR 1=1"


def test_base64_standard_and_url_safe() -> None:
    attack = "x' OR '1'='1' -- ?>"
    assert forms(base64.b64encode(attack.encode()).decode())["base64"] == attack
    assert forms(base64.urlsafe_b64encode(attack.encode()).decode().rstrip("="))["base64"] == attack


def test_hex() -> None:
    assert forms(b"1 OR 1=1".hex())["hex"] == "1 OR 1=1"


def test_json_unescape() -> None:
    assert forms("\\u0027 OR 1=1")["json"] == "' OR 1=1"


def test_nfkc_fullwidth() -> None:
    assert forms("＇　ＯＲ　１＝１")["nfkc"] == "' OR 1=1"


def test_plain_words_and_numbers_have_no_false_decodings() -> None:
    assert forms("hello") == {}
    assert forms("123456") == {}  # hex of non-printable bytes is not a form
    assert forms("Tokyo") == {}


def test_forms_are_memoised_and_skip_single_characters() -> None:
    inputs = Inputs([Input("query.a", "x"), Input("query.b", "%27%3B")])
    first = inputs.forms
    assert first is inputs.forms
    assert [i.value for i in first] == ["%27%3B", "';"]
    assert first[1].transform == "url" and first[1].location == "query.b"


def test_large_inputs_are_not_decoded() -> None:
    big = base64.b64encode(b"a" * 1000).decode()
    inputs = Inputs([Input("body", big)], max_decode_chars=100)
    assert [i.transform for i in inputs.forms] == [""]


def test_occurring_in_uses_the_relevant_view() -> None:
    def relevant(value: str) -> bool:
        return "'" in value

    inputs = Inputs([Input("q.a", "it's"), Input("q.b", "plain text")])
    assert [i.location for i in inputs.occurring_in("say it's plain text", relevant)] == ["q.a"]


def test_remembered_forms_are_the_decoded_forms() -> None:
    short, long = "JyBPUiAxPTEgLS0=", "%27" * 40  # base64 and URL forms, either side of the remembered length
    for value in (short, long, "plain words", "%2527"):
        assert forms_of(value) == tuple(decoded_forms(value))
    assert forms_of(short) is forms_of(short)  # remembered: a warm function decodes a recurring key once
    assert forms_of(long) is not forms_of(long)  # long values are not kept
