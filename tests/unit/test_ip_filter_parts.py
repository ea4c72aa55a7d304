"""The IP filter's parts, pure: reading a client address, list lines, ranges, the client per trigger, the policy."""
from __future__ import annotations

import ipaddress
import random

import pytest

from app_protect_lambda.checks.client_address import client_of, parse
from app_protect_lambda.checks.ip_ranges import Ranges, Table, parse_entry, parse_networks, parse_text
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources import Request, event_kind
from app_protect_lambda.testing import alb_event, apigw_v1_event, apigw_v2_event, sqs_event
from tests.conftest import load_event


def v4(text: str) -> tuple[int, int]:
    return 4, int(ipaddress.IPv4Address(text))


def v6(text: str) -> tuple[int, int]:
    return 6, int(ipaddress.IPv6Address(text))


NO_ADDRESS = (0, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("203.0.113.5", v4("203.0.113.5")),
    (" 203.0.113.5 ", v4("203.0.113.5")),
    ('"203.0.113.5"', v4("203.0.113.5")),
    ("203.0.113.5:4711", v4("203.0.113.5")),
    ("2001:db8::1", v6("2001:db8::1")),
    ("[2001:db8::1]", v6("2001:db8::1")),
    ("[2001:db8::1]:443", v6("2001:db8::1")),
    ("fe80::1%eth0", v6("fe80::1")),
    ("[fe80::1%25eth0]:80", v6("fe80::1")),
    ("::ffff:203.0.113.5", v4("203.0.113.5")),  # IPv4-mapped: judged as the IPv4 address
    ("::ffff:cb00:7105", v4("203.0.113.5")),
    ("[::ffff:203.0.113.5]:8080", v4("203.0.113.5")),
    ("::203.0.113.5", v6("::203.0.113.5")),  # IPv4-compatible (deprecated) is not mapped: an IPv6 address
    ("64:ff9b::cb00:7105", v6("64:ff9b::cb00:7105")),  # NAT64 is IPv6 too
])
def test_addresses_are_read_with_their_decorations_off(text: str, expected: tuple[int, int]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", [
    "", "unknown", "garbage", "203.0.113", "127.1", "0x7f.0.0.1", "2130706433", "203.0.113.5.6", "256.1.1.1",
    "010.0.0.1", "[2001:db8::1", "2001:db8::1::2", "203.0.113.5\x00", "203.0.113.5/24", "１２７.0.0.1",
    "a" * 10_000, "1.2.3.4 5.6.7.8", "::ffff:1.2.3", "[]:80", ":", "%", "[", "]", "203.0.113.5:", "203.0.113.5:http",
    "203.0.113.5:123456", "[2001:db8::1]80", "[2001:db8::1]:", "[2001:db8::1]:x", "203.0.113.5:-1",
    "fe80::1%",
])
def test_anything_else_is_no_address(text: str) -> None:
    assert parse(text) == NO_ADDRESS


@pytest.mark.parametrize("value", [None, 42, b"203.0.113.5", ["203.0.113.5"], {"ip": "x"}])
def test_values_of_other_types_are_no_address(value) -> None:
    assert parse(value) == NO_ADDRESS  # type: ignore[arg-type]


def test_cloudfront_viewer_address_always_ends_in_a_port() -> None:
    assert parse("198.51.100.10:46532", port_last=True) == v4("198.51.100.10")
    assert parse("2001:db8:85a3::8a2e:370:7334:46532", port_last=True) == v6("2001:db8:85a3::8a2e:370:7334")
    assert parse("[2001:db8::7]:46532", port_last=True) == v6("2001:db8::7")
    assert parse("::ffff:", port_last=True) == NO_ADDRESS  # no port: not what CloudFront writes
    assert parse("2001:db8::7", port_last=True) == NO_ADDRESS


# --- list lines --------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "expected"), [
    ("203.0.113.0/24", (4, int(ipaddress.IPv4Address("203.0.113.0")), 24)),
    ("203.0.113.77/24", (4, int(ipaddress.IPv4Address("203.0.113.0")), 24)),  # host bits cleared
    ("198.51.100.7", (4, int(ipaddress.IPv4Address("198.51.100.7")), 32)),
    ("0.0.0.0/0", (4, 0, 0)),
    ("2001:db8::/32", (6, int(ipaddress.IPv6Address("2001:db8::")), 32)),
    ("::ffff:203.0.113.0/120", (4, int(ipaddress.IPv4Address("203.0.113.0")), 24)),  # mapped: the IPv4 block
    ("::ffff:0:0/96", (4, 0, 0)),
    ("::/0", (6, 0, 0)),
])
def test_list_entries(line: str, expected) -> None:
    assert parse_entry(line) == expected
    parsed = parse_text(f"{line}\n")  # the list reader's own loop agrees
    family, start, prefix = expected
    assert (parsed.v4 if family == 4 else parsed.v6) == [(start, prefix, 1)] and parsed.bad_count == 0


@pytest.mark.parametrize("line", ["203.0.113.0/33", "2001:db8::/129", "203.0.113.0/", "203.0.113.0/-1",
                                  "203.0.113.0/+8", "203.0.113.0/²", "203.0.113.0/24/8", "example.com",
                                  "203.0.113.0 - 203.0.113.9", "10.0.0.0/255.0.0.0", "127.1", "203.0.113.5:80"])
def test_bad_list_entries(line: str) -> None:
    assert parse_entry(line) is None
    parsed = parse_text(f"198.51.100.1\n{line}\n")
    assert parsed.count == 1 and parsed.bad == [(2, line)]


def test_list_text_skips_comments_and_blank_lines_and_reports_bad_lines() -> None:
    parsed = parse_text("# a feed\n\n203.0.113.0/24  # the bad range\n  2001:db8::/32\nnot-an-ip\r\n10.0.0.1\n")
    assert parsed.count == 3
    assert parsed.bad_count == 1 and parsed.bad == [(5, "not-an-ip")]
    assert [line for _, _, line in parsed.v4] == [3, 6] and [line for _, _, line in parsed.v6] == [4]


# --- ranges -------------------------------------------------------------------------------------

def table(deny: list[str] = (), allow: list[str] = (), lists: dict[str, str] | None = None) -> Table:  # type: ignore[assignment]
    extra = [(name, parse_text(text)) for name, text in (lists or {}).items()]
    return Table([("deny", parse_networks(ipaddress.ip_network(item, strict=False) for item in deny)), *extra],
                 [("allow", parse_networks(ipaddress.ip_network(item, strict=False) for item in allow))])


def test_nested_and_duplicate_entries_keep_the_widest_and_its_name() -> None:
    found = table(deny=["10.1.2.3/32", "10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/8"], lists={"s3://b/k": "10.9.9.9\n"})
    assert len(found.deny4) == 1
    assert found.denied(*v4("10.1.2.3")) == ("deny[1]", "10.0.0.0/8")
    assert found.denied(*v4("10.255.255.255")) == ("deny[1]", "10.0.0.0/8")
    assert found.denied(*v4("11.0.0.0")) is None and found.denied(*v4("9.255.255.255")) is None


def test_entries_from_a_list_are_named_by_source_and_line() -> None:
    found = table(deny=["203.0.113.0/24"], lists={"s3://bucket/deny.txt": "# feed\n198.51.100.0/24\n2001:db8::/32\n"})
    assert found.denied(*v4("198.51.100.200")) == ("s3://bucket/deny.txt line 2", "198.51.100.0/24")
    assert found.denied(*v6("2001:db8:1::5")) == ("s3://bucket/deny.txt line 3", "2001:db8::/32")
    assert found.denied(*v6("2001:db9::")) is None
    assert found.denied(*NO_ADDRESS) is None and found.allowed(*NO_ADDRESS) is None


def test_families_never_meet() -> None:
    found = table(deny=["0.0.0.0/0"])
    assert found.denied(*v4("203.0.113.5")) is not None
    assert found.denied(*v6("::cb00:7105")) is None  # the same integer, another family


def test_ranges_agree_with_ipaddress_on_a_large_random_list() -> None:
    rng = random.Random(12)
    networks = []
    for _ in range(5000):
        if rng.random() < 0.5:
            networks.append(ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(8, 32)), strict=False))
        else:
            networks.append(ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(16, 128)), strict=False))
    found = table(deny=[str(network) for network in networks])
    probes = [ipaddress.ip_address(rng.getrandbits(32)) for _ in range(3000)]
    probes += [ipaddress.ip_address(rng.getrandbits(128)) for _ in range(1000)]
    probes += [network.network_address for network in networks[:500]] + [network.broadcast_address
                                                                        for network in networks[:500]]
    probes += [network.network_address - 1 for network in networks[:500] if int(network.network_address)]
    hits = 0
    for address in probes:
        expected = any(address in network for network in networks if network.version == address.version)
        matched = found.denied(address.version, int(address))
        assert (matched is not None) == expected, address
        if matched is not None:
            hits += 1
            assert address in ipaddress.ip_network(matched[1])
    assert 1000 <= hits < len(probes)


def test_an_empty_range_set_holds_nothing() -> None:
    assert Ranges(4, []).find(0) == -1


# --- the client, per trigger ---------------------------------------------------------------------

def client(event: dict, **options) -> str | None:
    settings = {"trusted_proxies": 0, "client_header": "", **options}
    found = client_of(Request(event, event_kind(event)), settings)
    return None if found is None else str(found)


@pytest.mark.parametrize(("name", "expected"), [
    ("apigw-v1.json", "203.0.113.10"),
    ("apigw-v2.json", "198.51.100.7"),
    ("function-url.json", "198.51.100.9"),
    ("websocket.json", "198.51.100.7"),
    ("alb.json", "203.0.113.44"),
    ("alb-multi-value.json", "198.51.100.7"),
    ("vpc-lattice-v1.json", "10.0.0.7"),
    ("vpc-lattice-v2.json", "10.0.0.7"),
    ("lambda-edge-viewer-request.json", "198.51.100.7"),
])
def test_the_client_of_each_http_fixture(name: str, expected: str) -> None:
    assert client(load_event(name)) == expected


@pytest.mark.parametrize("name", ["sqs.json", "s3.json", "sns.json", "eventbridge.json", "dynamodb-stream.json",
                                  "kinesis.json", "direct.json", "appsync.json", "cognito.json", "msk.json"])
def test_events_without_a_client_are_not_filtered(name: str) -> None:
    assert client(load_event(name)) is None


def test_a_direct_invocation_with_an_http_looking_header_has_no_client() -> None:
    assert client({"headers": {"x-forwarded-for": "203.0.113.5"}}) is None
    assert client(sqs_event("x")) is None


# The ALB appends the peer it saw: hops counted from the right; what the client sent stays on the left.
ALB_CHAIN = "192.0.2.66, 198.51.100.7, 130.176.0.5"  # spoofed, the viewer (CloudFront appended it), CloudFront


@pytest.mark.parametrize(("trusted", "expected"), [(0, "130.176.0.5"), (1, "198.51.100.7"), (2, "192.0.2.66"),
                                                    (9, "192.0.2.66")])
def test_alb_hops_from_the_right(trusted: int, expected: str) -> None:
    assert client(alb_event(headers={"x-forwarded-for": ALB_CHAIN}), trusted_proxies=trusted) == expected


@pytest.mark.parametrize("spoofed", ["", "203.0.113.9, ", "203.0.113.9,203.0.113.10, ", "10.0.0.1, 127.0.0.1, ",
                                     "garbage, [::1]:80, ", "198.51.100.7, "])
def test_entries_a_client_prepends_never_move_the_address(spoofed: str) -> None:
    for trusted, expected in [(0, "130.176.0.5"), (1, "198.51.100.7")]:
        chain = f"{spoofed}198.51.100.7, 130.176.0.5"
        assert client(alb_event(headers={"x-forwarded-for": chain}), trusted_proxies=trusted) == expected


def test_api_gateway_peer_is_the_last_hop_and_headers_do_not_move_it() -> None:
    event = apigw_v1_event(headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.7"})
    event["requestContext"]["identity"]["sourceIp"] = "130.176.0.5"  # CloudFront's edge, behind a distribution
    assert client(event) == "130.176.0.5"
    assert client(event, trusted_proxies=1) == "198.51.100.7"
    assert client(event, trusted_proxies=2) == "10.0.0.1"
    v2 = apigw_v2_event(headers={"x-forwarded-for": "10.0.0.1"})
    assert client(v2) == str(Request(v2, "apigw-v2").source_ip)


def test_client_header_reads_cloudfront_viewer_address() -> None:
    event = apigw_v1_event(headers={"CloudFront-Viewer-Address": "2001:db8::7:46532"})
    assert client(event, client_header="cloudfront-viewer-address") == "2001:db8::7"
    without = apigw_v1_event()
    assert client(without, client_header="cloudfront-viewer-address") == without["requestContext"]["identity"][
        "sourceIp"]  # not sent: the peer


def test_garbage_in_the_chosen_hop_is_no_address() -> None:
    found = client_of(Request(alb_event(headers={"x-forwarded-for": "203.0.113.5, not-an-ip"}), "alb"),
                      {"trusted_proxies": 0, "client_header": ""})
    assert found is not None and found.family == 0 and str(found) == "'not-an-ip' (not an address)"


# --- the policy ----------------------------------------------------------------------------------

def test_options_and_their_defaults() -> None:
    options = Policy.from_dict({"protections": {"ip_filter": {
        "mode": "block", "deny": ["203.0.113.0/24"], "lists": ["s3://bucket/deny.txt", "ssm:/ipf/deny"],
        "allow_lists": ["file:/var/task/allow.txt"], "client_header": "CloudFront-Viewer-Address"}}}).options(
        AttackKind.IP_FILTER)
    assert options["lists"] == ("s3://bucket/deny.txt", "ssm:/ipf/deny")
    assert options["client_header"] == "cloudfront-viewer-address"
    assert options["allow"] == () and options["trusted_proxies"] == 0


@pytest.mark.parametrize(("settings", "message"), [
    ({"deny": ["203.0.113.0/24", "10.0.0.300"]}, "protections.ip_filter.deny[1]: '10.0.0.300' is not an IP address"),
    ({"allow": ["2001:db8::/129"]}, "protections.ip_filter.allow[0]: '2001:db8::/129' is not an IP address"),
    ({"deny": "203.0.113.0/24"}, "protections.ip_filter.deny: expected a list of strings"),
    ({"lists": ["s3://bucket"]}, "protections.ip_filter.lists[0]: 's3://bucket' is not s3://bucket/key"),
    ({"lists": ["s3:///key"]}, "protections.ip_filter.lists[0]: 's3:///key' is not s3://bucket/key"),
    ({"allow_lists": ["ok.txt", "ssm:"]}, "protections.ip_filter.allow_lists[1]: 'ssm:' names no list"),
    ({"lists": [""]}, "protections.ip_filter.lists[0]: '' names no list"),
    ({"trusted_proxies": -1}, "protections.ip_filter.trusted_proxies: expected a whole number >= 0"),
    ({"trusted_proxies": True}, "protections.ip_filter.trusted_proxies: expected a whole number >= 0"),
    ({"client_header": "x forwarded"}, "protections.ip_filter.client_header: expected a header name"),
    ({"lists": "s3://bucket/key"}, "protections.ip_filter.lists: expected a list of strings"),
    ({"denny": []}, "protections.ip_filter.denny: unknown key"),
])
def test_policy_errors_name_the_key(settings: dict, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        Policy.from_dict({"protections": {"ip_filter": {"mode": "block", **settings}}})
    assert str(raised.value).startswith(message)
