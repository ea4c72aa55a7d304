"""Declarative refreshes read as browsers read them: the Refresh value and the HTML meta refresh."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.refresh import MAX_URLS, meta_refresh_urls, refresh_url


@pytest.mark.parametrize("value, url", [
    ("0; url=https://evil.example/", "https://evil.example/"),
    ("0;URL=https://evil.example/", "https://evil.example/"),
    ("5 ; Url = 'https://evil.example/x'", "https://evil.example/x"),
    ('0, url="//evil.example"', "//evil.example"),
    ("0;https://evil.example/", "https://evil.example/"),         # url= is optional
    ("0.5; url=javascript:alert(1)", "javascript:alert(1)"),
    ("  3\t;\turl=/next  ", "/next  "),
    ("0; url='https://evil.example/'trailing", "https://evil.example/"),
    ("0; urlx=https://evil.example/", "urlx=https://evil.example/"),  # not url=: the rest is the URL
    # issue 11 red team: a blank ends the delay as a separator does
    ("0 https://evil.example/", "https://evil.example/"),
    (" 0 url=//evil.example", "//evil.example"),
    ("1.5\turl='https://evil.example/'", "https://evil.example/"),
])
def test_refresh_values_that_navigate(value: str, url: str) -> None:
    assert refresh_url(value) == url


@pytest.mark.parametrize("value", ["5", " 10 ", "0;", "0; url=", "url=https://evil.example/", "", "abc",
                                   "5x; url=https://evil.example/"])
def test_refresh_values_that_only_reload_or_are_ignored(value: str) -> None:
    assert refresh_url(value) is None


@pytest.mark.parametrize("html, urls", [
    ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', ["https://evil.example/"]),
    ("<META HTTP-EQUIV='Refresh' CONTENT='0; URL=//evil.example'>", ["//evil.example"]),
    ('<meta content="1; url=/x" http-equiv=refresh />', ["/x"]),
    ('<MeTa hTTp-EqUiV="REFRESH" cOnTeNt="0;url=https://evil.example/">', ["https://evil.example/"]),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example/?a=1&amp;b=2">',
     ["https://evil.example/?a=1&b=2"]),
    ('<meta http-equiv="refresh" content="0;url=&#x2F;&#x2F;evil.example">', ["//evil.example"]),
    ('<body><p>x</p><meta http-equiv="refresh" content="0;url=/a"><meta http-equiv="refresh" content="0;url=/b">',
     ["/a", "/b"]),
    # issue 11 red team: character references in the http-equiv value, which browsers decode
    ('<meta http-equiv="&#114;efresh" content="0;url=//evil.example">', ["//evil.example"]),
    ('<meta http-equiv="re&#x66;resh" content="0;url=//evil.example">', ["//evil.example"]),
    ("<meta http-equiv='refres&#104;' content='0;url=//evil.example'>", ["//evil.example"]),
])
def test_meta_refresh_tags(html: str, urls: list[str]) -> None:
    assert meta_refresh_urls(html) == urls


@pytest.mark.parametrize("html", [
    "<p>set http-equiv to refresh in your template</p>",
    '<meta http-equiv="content-type" content="text/html; charset=utf-8">',
    '<meta http-equiv="refresh" content="30">',                   # reloads itself
    '<meta name="refresh" content="0;url=https://evil.example/">',  # not http-equiv
    '<meta http-equiv="&#99;ontent-type" content="0;url=https://evil.example/">',  # decoded: not refresh
    '<meta http-equiv="refresh &amp; more" content="0">',
    '<div http-equiv="refresh" content="0;url=https://evil.example/">',
    "plain text, no tags at all " * 100,
])
def test_html_without_a_navigating_meta_refresh(html: str) -> None:
    assert meta_refresh_urls(html) == []


def test_decoys_do_not_hide_the_tag_that_navigates() -> None:
    decoys = '<meta http-equiv="content-type" content="text/html">http-equiv ' * 5000
    assert meta_refresh_urls(decoys + '<meta http-equiv="refresh" content="0;url=//evil.example">') == [
        "//evil.example"]
    tag = '<meta http-equiv="refresh" content="0;url=/x">'
    assert len(meta_refresh_urls(tag * (MAX_URLS * 4))) == MAX_URLS


def test_a_hostile_body_is_read_in_linear_time() -> None:
    import time

    for html in ("http-equiv" * 100_000, "<" * 500_000 + "http-equiv", "<meta " + "content=" * 100_000,
                 "<meta http-equiv " * 100_000, "<meta " + "x" * 1_000_000 + "http-equiv"):
        started = time.perf_counter()
        meta_refresh_urls(html)
        assert time.perf_counter() - started < 0.5
