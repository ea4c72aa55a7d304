"""The open-redirect detector: browser readings of Location, same-site rules, which input decides."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.open_redirect import Redirect, detect, normalize_host, readings
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.sources import Input, Inputs

SITE = ("app.example.com",)
NO_OPTIONS = {"allow_domains": ()}


def judge(location: str, *values: str, allow: tuple[str, ...] = (), site: tuple[str, ...] = SITE):
    found = Inputs([Input("query.next", value) for value in values or (location,)])
    return detect(Redirect(location, site), found, {"allow_domains": allow})


@pytest.mark.parametrize("location", [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/path?x=1",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "https:\\\\evil.example",
    "HTTPS://EVIL.EXAMPLE",
    "https://app.example.com@evil.example",
    "https://app.example.com:443@evil.example/",
    "https://user:pass@evil.example",
    "https://app.example.com.evil.example",
    "https://evil.example#@app.example.com",
    "https://evil.example?@app.example.com",
    " //evil.example",
    "\t//evil.example",
    "\x01\x02//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https://%65vil.example/",
    "//evil%2Eexample",
    "https://ｅｖｉｌ.example",
    "https://evil。example",
    "https://evil.example:8443/",
    "https://[::1]/",
    "https://2130706433/",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "myapp://callback?token=1",
])
def test_attacks(location: str) -> None:
    finding = judge(location)
    assert finding is not None and finding.kind is AttackKind.OPEN_REDIRECT, location
    assert finding.input.location == "query.next"


@pytest.mark.parametrize("location", [
    "/",
    "/account",
    "/search?q=https://evil.example&page=2",
    "/login?next=%2F%2Fevil.example",
    "?page=2",
    "#top",
    "page.html",
    "./a/b",
    "../up",
    "/日本語/ページ?q=テスト",
    "/path/with.dots/and spaces",
    "https://app.example.com/welcome",
    "https://APP.example.com./welcome",
    "https://app.example.com:8443/welcome",
    "//app.example.com/welcome",
    "https://app.example.com\\@evil.example",  # WHATWG: the backslash ends the host; legacy: evil (checked below)
    "/%2F%2Fevil.example",
    "https://",
])
def test_same_site_passes(location: str) -> None:
    if "\\@" in location:
        assert judge(location) is not None  # the legacy reading goes to evil.example: judged too
        return
    assert judge(location) is None, location


@pytest.mark.parametrize("location", ["https://example.org/", "https://login.example.org/cb",
                                      "//cdn.example.org/a.js", "https://EXAMPLE.org."])
def test_allow_domains_and_their_subdomains(location: str) -> None:
    assert judge(location, allow=("example.org",)) is None
    assert judge(location, allow=("*.example.org",)) is None


def test_allow_domains_do_not_match_lookalikes() -> None:
    assert judge("https://evilexample.org/", allow=("example.org",)) is not None
    assert judge("https://example.org.evil.example/", allow=("example.org",)) is not None


def test_no_input_no_finding() -> None:
    assert judge("https://evil.example/", "something else") is None


def test_input_in_the_query_of_a_code_chosen_url_passes() -> None:
    location = "https://accounts.partner.example/authorize?state=xyz123&redirect_uri=https://app.example.com/cb"
    assert judge(location, "xyz123") is None
    assert judge(location, "https") is None  # x-forwarded-proto and friends
    assert judge("https://accounts.google.com/o/oauth2/auth", "google") is None  # provider=google
    assert judge("https://partner.com/", "com") is None


def test_input_deciding_the_host_is_found_inside_a_larger_location() -> None:
    assert judge("https://app.example.com@evil.example/", "@evil.example") is not None
    assert judge("https://app.example.com.evil.example/", ".evil.example") is not None
    assert judge("//evil.example", "/evil.example") is not None   # "/" + input
    assert judge("https://evil.example/welcome", "evil.example") is not None


def test_label_under_the_codes_own_domain_passes() -> None:
    assert judge("https://tenant1.example.net/", "tenant1") is None


def test_site_hosts_from_the_request() -> None:
    assert judge("https://api.example.net/x", site=("api.example.net:443",)) is None
    assert judge("https://[2001:db8::1]/x", site=("[2001:db8::1]:8443",)) is None
    assert judge("https://api.example.net/x", site=()) is not None


def test_readings() -> None:
    assert [r.kind for r in readings("/x")] == ["relative"]
    assert [(r.kind, r.target) for r in readings("/\\evil.example")] == [("host", "evil.example"), ("relative", "")]
    assert [(r.kind, r.target) for r in readings("https://good.example\\@evil.example")] == \
        [("host", "good.example"), ("host", "evil.example")]
    assert normalize_host("%45VIL.example.") == "evil.example"


def test_long_location_is_bounded() -> None:
    location = "/" + "a" * 100_000
    assert judge(location) is None
    assert judge("\t" * 100_000 + "//evil.example") is not None
    assert judge("\x00 " * 50_000 + "/\t\t/evil.example") is not None


def test_location_taken_out_of_a_larger_input() -> None:
    state = '{"next": "https://evil.example/landing", "nonce": "n-1"}'
    assert judge("https://evil.example/landing", state) is not None
    assert judge("https://app.example.com/landing", '{"next": "https://app.example.com/landing"}') is None
    assert judge("/x", "see /x") is None  # relative: never off-site


# ---------------------------------------------------------------- subdomains of the site, claimed hosts

@pytest.mark.parametrize("site, location", [
    ("app.example.com", "https://www.app.example.com/home"),
    ("app.example.com", "https://eu.app.example.com/x"),
    ("app.example.com:443", "//a.b.app.example.com/"),
    ("www.example.com", "https://example.com/"),
    ("www.example.com", "https://shop.example.com/cart"),
    ("WWW.Example.COM.", "https://login.example.com/"),
    ("abc123.execute-api.us-east-1.amazonaws.com", "https://v2.abc123.execute-api.us-east-1.amazonaws.com/"),
])
def test_subdomains_of_the_site_are_same_site(site: str, location: str) -> None:
    assert judge(location, site=(site,)) is None


@pytest.mark.parametrize("site, location", [
    ("app.example.com", "https://example.com/"),                     # a parent the site does not own
    ("app.example.com", "https://other.example.com/"),
    ("app.example.com", "https://evilapp.example.com/"),             # a suffix, not a label
    ("app.example.com", "https://app.example.com.evil.example/"),
    ("www.example.com", "https://evilexample.com/"),
    ("www.example.com", "https://example.com.evil.example/"),
    ("abc123.execute-api.us-east-1.amazonaws.com", "https://evil.execute-api.us-east-1.amazonaws.com/"),
    ("www.app.example.com", "https://other.example.com/"),           # only www. is dropped, once
])
def test_lookalikes_and_parents_are_off_site(site: str, location: str) -> None:
    finding = judge(location, site=(site,))
    assert finding is not None and finding.rule == "open_redirect.offsite"


def claimed(location: str, *found: Input, site: tuple[str, ...] = ()):
    return detect(Redirect(location, site, ("evil.example",)), Inputs(list(found)), NO_OPTIONS)


@pytest.mark.parametrize("location, found", [
    ("https://evil.example/login", [Input("header.host", "evil.example")]),
    ("https://evil.example:8443/reset?t=1", [Input("header.host", "evil.example:8443")]),
    ("//www.evil.example/", [Input("header.x-forwarded-host", "evil.example")]),
    ("https://evil.example/", [Input("query.h", "evil.example"), Input("header.host", "evil.example")]),
    ("https://evil.example/x", [Input("query.path", "/x"), Input("header.host", "evil.example")]),
])
def test_a_location_built_from_the_claimed_host_is_off_site(location: str, found: list[Input]) -> None:
    finding = claimed(location, *found)
    assert finding is not None and finding.rule == "open_redirect.offsite"


@pytest.mark.parametrize("location, found", [
    ("https://evil.example/account", [Input("query.next", "https://evil.example/account")]),
    ("https://evil.example/x", [Input("query.path", "/x"), Input("header.accept", "example")]),
    ("https://sub.evil.example/", [Input("query.tenant", "sub")]),
    ("https://evil.example/account", [Input("query.next", "https://evil.example/account"),
                                      Input("header.host", "evil.example")]),  # next chose it; Host vouches
    ("https://evil.example/", []),                                   # the code wrote the host
])
def test_the_claimed_host_is_same_site_for_other_inputs(location: str, found: list[Input]) -> None:
    assert claimed(location, *found) is None


def test_a_trusted_site_wins_over_the_claim() -> None:
    assert claimed("https://evil.example/", Input("header.host", "evil.example"), site=("evil.example",)) is None


# ---------------------------------------------------------------- a host pieced together from several inputs

@pytest.mark.parametrize("location, values", [
    ("https://evil.example/", ("evil", "example")),
    ("https://login.evil.example/x", ("login", "evil", "example")),
    ("//evil.example", ("evil", "example")),
    ("https://evil.example/", ("evil.", "example")),          # the dot inside an input
    ("https://evilexample.com/", ("evil", "example.com")),    # adjacent, no dot between
])
def test_a_host_pieced_from_several_inputs_is_off_site(location: str, values: tuple[str, ...]) -> None:
    finding = judge(location, *values)
    assert finding is not None and finding.rule == "open_redirect.offsite"


@pytest.mark.parametrize("location, values", [
    ("https://tenant1.eu.example.net/", ("tenant1", "eu")),   # the code wrote the domain
    ("https://a.b.app.example.com/", ("a", "b")),             # under the site
    ("https://partner.example/cb?x=evil&y=example", ("evil", "example")),
    ("https://evil.fixed.example/", ("evil",)),
])
def test_labels_under_the_codes_own_domain_pass(location: str, values: tuple[str, ...]) -> None:
    assert judge(location, *values) is None


@pytest.mark.parametrize(("location", "value"), [
    # issue 11 red team: the code turned the input's backslashes into slashes (a "cleanup")
    ("//evil.example", "\\\\evil.example"),
    ("//evil.example/x", "\\\\evil.example/x"),
    ("https://evil.example/", "https:\\\\evil.example\\"),
])
def test_an_input_whose_backslashes_the_code_turned_into_slashes(location: str, value: str) -> None:
    finding = judge(location, value)
    assert finding is not None and finding.input is not None and finding.input.location == "query.next"


@pytest.mark.parametrize(("location", "value"), [
    ("/files/a/b", "a\\b"),  # a backslashed input that lands in a same-site path
    ("https://app.example.com/a/b", "a\\b"),
    ("https://docs.example.org/a/b", "a\\b"),  # the code chose the host; the input a path
])
def test_backslashed_inputs_in_a_path_pass(location: str, value: str) -> None:
    assert judge(location, value) is None


@pytest.mark.parametrize(("location", "value", "offsite"), [
    # issue 11 red team: the code wrote only the top-level label; the input named the domain below it
    ("https://evil.com/login", "evil", True),
    ("https://Evil.io", "Evil", True),
    ("https://login.evil.com/", "login.evil", True),
    # the code wrote more than a TLD, or the input does not start the host: the code chose the domain
    ("https://evil.co.uk/", "evil", False),  # a two-label suffix needs the public suffix list: not shipped
    ("https://tenant.example.com/", "tenant", False),
    ("https://shop.de/", "de", False),
    ("https://shop.de/", "sh", False),  # a piece of the label, not all of it
    ("https://app.example.com/", "app", False),
    ("https://partner.com/", "partner.com", True),  # the whole host, as before
])
def test_an_input_naming_the_domain_under_a_code_written_tld(location: str, value: str, offsite: bool) -> None:
    assert (judge(location, value) is not None) is offsite


@pytest.mark.parametrize(("location", "header", "value", "offsite"), [
    # issue 11 red team: the code took one host of a header that lists them
    ("https://evil.example/login", "header.x-forwarded-host", "evil.example, app.example.com", True),
    ("https://evil.example/login", "header.x-forwarded-host", "app.example.com,evil.example:8443", True),
    ("https://evil.example/", "header.forwarded", "for=192.0.2.1;host=evil.example;proto=https", True),
    ("https://evil.example/", "header.forwarded", 'for=192.0.2.1, host="evil.example"', True),
    # another header, or another field of Forwarded: the host the code wrote itself
    ("https://accounts.partner.example/auth", "header.referer", "https://accounts.partner.example/, x", False),
    ("https://evil.example/", "header.forwarded", "for=evil.example;host=app.example.com", False),
    ("https://app.example.com/", "header.x-forwarded-host", "evil.example, app.example.com", False),
])
def test_a_host_taken_out_of_a_header_listing_hosts(location: str, header: str, value: str, offsite: bool) -> None:
    finding = detect(Redirect(location, SITE), Inputs([Input(header, value)]), NO_OPTIONS)
    assert (finding is not None) is offsite, finding
    assert finding is None or finding.input.location == header


@pytest.mark.parametrize(("location", "found", "offsite"), [
    # a user back from the identity provider: its origin is the Referer, the start of the code's own URL
    ("https://accounts.partner.example/o/oauth2/auth?client_id=42",
     [Input("header.referer", "https://accounts.partner.example/")], False),
    ("https://pay.partner.example/checkout/cs_123", [Input("header.referer", "https://pay.partner.example")], False),
    # back where the browser came from, or the same value sent another way too
    ("https://evil.example/", [Input("header.referer", "https://evil.example/")], True),
    (" https://evil.example/from ", [Input("header.referer", "https://evil.example/from")], True),
    ("https://evil.example/x", [Input("header.referer", "https://evil.example/"),
                                Input("query.next", "https://evil.example/")], True),
    ("https://evil.example/x", [Input("header.origin", "https://evil.example")], True),  # origin + "/x"
])
def test_a_referer_that_only_starts_the_codes_own_location(location: str, found: list[Input], offsite: bool) -> None:
    assert (detect(Redirect(location, SITE), Inputs(found), NO_OPTIONS) is not None) is offsite
