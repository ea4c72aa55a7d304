"""The IP filter through @protect, with the real event fixtures: refused before the handler, or untouched.

Every refused request must leave the handler's marker empty (no user code ran); every allowed one
must return the handler's own response, unchanged, with no detection.
"""
from __future__ import annotations

import copy
import ipaddress
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app_protect_lambda import RequestBlocked, config, policy_store, protect
from app_protect_lambda.checks import ip_lists
from app_protect_lambda.testing import LambdaContext, alb_event, sqs_event
from tests.conftest import load_event

OK = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "hello", "isBase64Encoded": False}


@pytest.fixture(autouse=True)
def fresh_lists() -> Iterator[None]:
    ip_lists.forget()
    yield
    ip_lists.forget()


@pytest.fixture
def aws() -> Iterator[None]:
    ip_lists._s3_client.cache_clear()
    policy_store._ssm_client.cache_clear()
    with mock_aws():
        yield
    ip_lists._s3_client.cache_clear()
    policy_store._ssm_client.cache_clear()


class App:
    """A handler under @protect whose marker says whether any of its code ran."""

    def __init__(self, mode: str = "block", fail: str = "open", **settings: Any) -> None:
        self.ran: list[Any] = []

        def handler(event: Any, context: Any) -> Any:
            self.ran.append(event)
            return copy.deepcopy(OK)

        policy = {"fail": fail, "protections": {"ip_filter": {"mode": mode, **settings}}}
        self.handler = protect(policy=policy)(handler)

    def __call__(self, event: Any) -> Any:
        return self.handler(event, LambdaContext())


def assert_refused(app: App, event: Any, records: Any, rule: str = "ip_filter.denied") -> dict:
    ran_before = len(app.ran)
    result = app(event)
    assert result["statusCode" if "statusCode" in result else "status"] in (403, "403")
    assert len(app.ran) == ran_before, "the handler ran"
    found = records.detections()
    assert [(record["protection"], record["rule"], record["action"]) for record in found] == [
        ("ip_filter", rule, "blocked")]
    records.clear()
    return found[0]


def assert_passed(app: App, event: Any, records: Any) -> None:
    ran_before = len(app.ran)
    assert app(event) == OK
    assert len(app.ran) == ran_before + 1
    assert records.detections() == []
    assert records.internal_errors() == []
    records.clear()


def with_source(name: str, address: str) -> dict:
    """A fixture event whose client (as each trigger carries it) is ``address``."""
    event = load_event(name)
    context = event.get("requestContext") or {}
    if "identity" in context and "sourceIp" in context["identity"]:
        context["identity"]["sourceIp"] = address
    elif "http" in context:
        context["http"]["sourceIp"] = address
    elif "Records" in event:
        event["Records"][0]["cf"]["request"]["clientIp"] = address
    else:  # ALB and VPC Lattice: the address the balancer appended
        headers = event.get("headers") or {}
        if isinstance(headers.get("x-forwarded-for"), list):
            headers["x-forwarded-for"] = [address]
        elif "headers" in event:
            headers["x-forwarded-for"] = address
        if "multiValueHeaders" in event:
            event["multiValueHeaders"]["x-forwarded-for"] = [address]
    return event


HTTP_FIXTURES = ["apigw-v1.json", "apigw-v2.json", "function-url.json", "websocket.json", "alb.json",
                 "alb-multi-value.json", "vpc-lattice-v1.json", "vpc-lattice-v2.json",
                 "lambda-edge-viewer-request.json"]
DENY = ["203.0.113.0/24", "2001:db8:bad::/48"]


@pytest.mark.parametrize("fixture", HTTP_FIXTURES)
@pytest.mark.parametrize("address", ["203.0.113.5", "203.0.113.255", "2001:db8:bad::1", "2001:db8:bad:ffff::9",
                                     "::ffff:203.0.113.5", "[2001:db8:bad::1]:443"])
def test_a_denied_client_is_refused_before_the_handler(fixture: str, address: str, records) -> None:
    app = App(deny=DENY)
    record = assert_refused(app, with_source(fixture, address), records)
    assert record["evidence"] in ("deny[0] 203.0.113.0/24", "deny[1] 2001:db8:bad::/48")
    assert record["sink"]["name"] == "perimeter.ip_filter"


@pytest.mark.parametrize("fixture", HTTP_FIXTURES)
@pytest.mark.parametrize("address", ["198.51.100.7", "203.0.112.255", "203.0.114.0", "2001:db8:bae::1",
                                     "2001:db8::1", "::ffff:198.51.100.7", "::203.0.113.5", "10.0.0.1"])
def test_a_client_outside_the_deny_list_passes_unchanged(fixture: str, address: str, records) -> None:
    assert_passed(App(deny=DENY), with_source(fixture, address), records)


def test_the_record_says_who_where_and_which_entry(records) -> None:
    record = assert_refused(App(deny=["198.51.100.0/24", "203.0.113.0/24"]), load_event("apigw-v1.json"), records)
    assert record["sink"]["argument"] == "203.0.113.10"
    assert record["evidence"] == "deny[1] 203.0.113.0/24"
    assert record["message"] == "client 203.0.113.10 (sourceIp) is in deny[1]: 203.0.113.0/24"
    assert record["input"] is None and record["request"]["source_ip"] == "203.0.113.10"


def test_report_mode_never_changes_the_response(records) -> None:
    app = App(mode="report", deny=DENY, allow=["198.51.100.0/24"])
    assert app(with_source("apigw-v1.json", "203.0.113.5")) == OK
    assert app(with_source("apigw-v2.json", "192.0.2.1")) == OK
    assert len(app.ran) == 2
    assert [(record["rule"], record["action"]) for record in records.detections()] == [
        ("ip_filter.denied", "reported"), ("ip_filter.not-allowed", "reported")]


ALLOW = ["198.51.100.0/24", "2001:db8:600d::/48"]


@pytest.mark.parametrize("address", ["192.0.2.1", "198.51.101.0", "2001:db8:600e::1", "::1", "10.0.0.1"])
def test_outside_the_allow_list_is_refused(address: str, records) -> None:
    record = assert_refused(App(allow=ALLOW), with_source("apigw-v2.json", address), records, "ip_filter.not-allowed")
    assert record["evidence"] == "allow: no entry holds it"


@pytest.mark.parametrize("address", ["198.51.100.1", "::ffff:198.51.100.200", "2001:db8:600d:1::1"])
def test_inside_the_allow_list_passes(address: str, records) -> None:
    assert_passed(App(allow=ALLOW), with_source("apigw-v2.json", address), records)


def test_deny_wins_over_allow(records) -> None:
    app = App(allow=["198.51.100.0/24"], deny=["198.51.100.66"])
    assert_refused(app, with_source("function-url.json", "198.51.100.66"), records)
    assert_passed(app, with_source("function-url.json", "198.51.100.67"), records)


def test_a_mapped_entry_is_its_ipv4_block(records) -> None:
    app = App(deny=["::ffff:203.0.113.0/120"])
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.9"), records)
    assert_passed(app, with_source("apigw-v1.json", "2001:db8::cb00:7109"), records)


# --- X-Forwarded-For behind an ALB ------------------------------------------------------------------
# The ALB appends the peer it saw; each trusted proxy in front appended its own peer before that.
# The client is the entry `trusted` hops left of the last; whatever it sent itself is further left.

VIEWER_DENIED = "203.0.113.7"
VIEWER_OK = "198.51.100.7"
PROXIES = ["130.176.0.5", "10.1.2.3"]  # CloudFront's edge, then an in-VPC proxy: appended after the viewer


def chain(spoofed: list[str], viewer: str, trusted: int) -> str:
    return ", ".join([*spoofed, viewer, *PROXIES[:trusted]])


@pytest.mark.parametrize("trusted", [0, 1, 2])
@pytest.mark.parametrize("spoofed", [[], ["198.51.100.9"], ["198.51.100.9", "198.51.100.10"], ["garbage", "[::1]:80"],
                                     [VIEWER_OK, VIEWER_OK, VIEWER_OK]])
def test_spoofed_entries_cannot_save_a_denied_client(trusted: int, spoofed: list[str], records) -> None:
    app = App(deny=[VIEWER_DENIED], trusted_proxies=trusted)
    event = alb_event(headers={"x-forwarded-for": chain(spoofed, VIEWER_DENIED, trusted)})
    assert assert_refused(app, event, records)["sink"]["argument"] == VIEWER_DENIED
    allow_app = App(allow=["198.51.100.0/24"], trusted_proxies=trusted)
    assert_refused(allow_app, event, records, "ip_filter.not-allowed")


@pytest.mark.parametrize("trusted", [0, 1, 2])
@pytest.mark.parametrize("spoofed", [[], [VIEWER_DENIED], [VIEWER_DENIED, "203.0.113.8"], ["not-an-ip"]])
def test_spoofed_entries_cannot_get_a_good_client_refused(trusted: int, spoofed: list[str], records) -> None:
    event = alb_event(headers={"x-forwarded-for": chain(spoofed, VIEWER_OK, trusted)})
    assert_passed(App(deny=["203.0.113.0/24"], trusted_proxies=trusted), event, records)
    assert_passed(App(allow=["198.51.100.0/24"], trusted_proxies=trusted), event, records)


def test_api_gateway_behind_cloudfront(records) -> None:
    event = load_event("apigw-v1.json")  # X-Forwarded-For: viewer, CloudFront edge; sourceIp: the edge
    event["headers"]["X-Forwarded-For"] = event["multiValueHeaders"]["X-Forwarded-For"][0] = \
        "192.0.2.1, 203.0.113.7, 130.176.0.5"
    event["requestContext"]["identity"]["sourceIp"] = "130.176.0.5"
    assert_passed(App(deny=["203.0.113.0/24"]), event, records)  # without trusted_proxies: the edge is judged
    assert_refused(App(deny=["203.0.113.0/24"], trusted_proxies=1), event, records)
    event["headers"]["CloudFront-Viewer-Address"] = "203.0.113.7:51000"
    event["headers"]["X-Forwarded-For"] = event["multiValueHeaders"]["X-Forwarded-For"][0] = "130.176.0.5"
    event["multiValueHeaders"]["CloudFront-Viewer-Address"] = ["203.0.113.7:51000"]
    assert_refused(App(deny=["203.0.113.0/24"], client_header="cloudfront-viewer-address"), event, records)


GARBAGE = ["", " ", ",", ",,,", "unknown", "garbage", "127.1", "0x7f000001", "::ffff:", "[", "[::1", "]:80",
           "999.999.999.999", "203.0.113.7:99999:1", "fe80::1%", "%eth0", "\x00", "\udcff", "２０３.0.113.7",
           "203.0.113.7 203.0.113.8", "a" * 70_000, "1," * 5000, "[2001:db8::1]:", "::ffff:999.1.1.1", "-1", "1e3"]


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_in_headers_never_crashes_and_is_in_no_list(value: str, records) -> None:
    event = alb_event(headers={"x-forwarded-for": value, "cloudfront-viewer-address": value})
    for settings in ({}, {"trusted_proxies": 3}, {"client_header": "cloudfront-viewer-address"}):
        assert_passed(App(deny=["0.0.0.0/0", "::/0"], **settings), event, records)
        assert_refused(App(allow=["0.0.0.0/0", "::/0"], **settings), event, records, "ip_filter.not-allowed")
        assert records.internal_errors() == []


@pytest.mark.parametrize("fixture", ["sqs.json", "s3.json", "sns.json", "eventbridge.json", "direct.json",
                                     "dynamodb-stream.json", "kinesis.json"])
def test_events_without_a_client_address_are_not_filtered(fixture: str, records) -> None:
    app = App(allow=["198.51.100.0/24"], deny=["0.0.0.0/0", "::/0"])
    assert_passed(app, load_event(fixture), records)


# --- lists -----------------------------------------------------------------------------------------

def test_a_list_from_a_file_with_comments_and_a_bad_line(tmp_path: Path, records) -> None:
    deny = tmp_path / "deny.txt"
    deny.write_text("# threat feed, 2026-12-01\n\n192.0.2.0/24   # scanners\n2001:db8:bad::/48\nnot-an-address\n"
                    "198.51.100.66\n")
    app = App(lists=[f"file:{deny}"])
    assert app(with_source("apigw-v2.json", "198.51.100.66"))["statusCode"] == 403
    assert [record["evidence"] for record in records.detections()] == [f"file:{deny} line 6 198.51.100.66/32"]
    notices = [line for line in records.all() if line.get("schema") == "app-protect/notice/1"]
    assert len(notices) == 1 and notices[0]["notice"] == "ip_filter_list_lines_skipped"
    assert "1 line(s)" in notices[0]["detail"] and "line 5: 'not-an-address'" in notices[0]["detail"]
    records.clear()
    assert_refused(app, with_source("apigw-v2.json", "2001:db8:bad::7"), records)
    assert_passed(app, with_source("apigw-v2.json", "198.51.100.67"), records)
    assert [line for line in records.all() if line.get("schema") == "app-protect/notice/1"] == []  # said once


def test_a_bare_path_is_a_file_list(tmp_path: Path, records) -> None:
    (tmp_path / "allow.txt").write_text("198.51.100.0/24\n")
    app = App(allow_lists=[str(tmp_path / "allow.txt")])
    assert_passed(app, with_source("apigw-v2.json", "198.51.100.1"), records)
    assert_refused(app, with_source("apigw-v2.json", "192.0.2.1"), records, "ip_filter.not-allowed")


def test_a_list_from_ssm(aws, records) -> None:
    boto3.client("ssm").put_parameter(Name="/app-protect/deny", Type="StringList",
                                      Value="# blocked\n203.0.113.0/24\n2001:db8:bad::/48\n")
    app = App(lists=["ssm:/app-protect/deny"])
    record = assert_refused(app, with_source("apigw-v1.json", "203.0.113.99"), records)
    assert record["evidence"] == "ssm:/app-protect/deny line 2 203.0.113.0/24"
    assert_passed(app, with_source("apigw-v1.json", "198.51.100.99"), records)


def test_a_list_from_s3(aws, records) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="example-security")
    s3.put_object(Bucket="example-security", Key="ip/allow.txt", Body=b"198.51.100.0/24\n2001:db8:600d::/48\n")
    s3.put_object(Bucket="example-security", Key="ip/deny.txt", Body=b"198.51.100.66\n")
    app = App(allow_lists=["s3://example-security/ip/allow.txt"], lists=["s3://example-security/ip/deny.txt"])
    assert_passed(app, with_source("alb.json", "2001:db8:600d::1"), records)
    record = assert_refused(app, with_source("alb.json", "198.51.100.66"), records)
    assert record["evidence"] == "s3://example-security/ip/deny.txt line 1 198.51.100.66/32"
    assert_refused(app, with_source("alb.json", "192.0.2.1"), records, "ip_filter.not-allowed")


def big_list(count: int, seed: int = 7) -> tuple[str, list[str]]:
    """``count`` CIDR blocks, half IPv4 and half IPv6, in random order; and a few of their addresses."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        if index % 2:
            lines.append(str(ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(32, 128)), strict=False)))
        else:
            lines.append(str(ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(16, 32)), strict=False)))
    return "\n".join(lines) + "\n", [str(ipaddress.ip_network(line)[-1]) for line in lines[-4:]]


def test_a_list_of_100000_cidrs(tmp_path: Path, records) -> None:
    text, members = big_list(100_000)
    (tmp_path / "deny.txt").write_text(text)
    app = App(lists=[f"file:{tmp_path / 'deny.txt'}"])
    for member in members:
        record = assert_refused(app, with_source("apigw-v2.json", member), records)
        assert ipaddress.ip_address(member) in ipaddress.ip_network(record["evidence"].rsplit(" ", 1)[1])
    networks = [ipaddress.ip_network(line) for line in text.split()]
    rng = random.Random(3)
    outside = []
    while len(outside) < 5:
        candidate = ipaddress.ip_address(rng.getrandbits(128 if len(outside) % 2 else 32))
        if not any(candidate in network for network in networks if network.version == candidate.version):
            outside.append(str(candidate))
    for address in outside:
        assert_passed(app, with_source("apigw-v2.json", address), records)


# --- lists that cannot be read -----------------------------------------------------------------

def test_a_list_unreadable_at_cold_start_fails_open(tmp_path: Path, records) -> None:
    app = App(deny=["203.0.113.0/24"], lists=[f"file:{tmp_path / 'missing.txt'}"])
    assert app(with_source("apigw-v1.json", "198.51.100.1")) == OK  # fail open: the handler runs
    errors = records.internal_errors()
    assert len(errors) == 1 and "missing.txt: cannot read the list" in errors[0]["error"]
    records.clear()
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.1"), records)  # the rest still applies


def test_a_missing_allow_list_under_fail_open_judges_no_allow(tmp_path: Path, records) -> None:
    app = App(allow=["198.51.100.0/24"], allow_lists=[f"file:{tmp_path / 'missing.txt'}"], deny=["192.0.2.0/24"])
    assert app(with_source("apigw-v1.json", "203.0.113.1")) == OK  # the missing list might admit it
    records.clear()
    assert app(with_source("apigw-v1.json", "192.0.2.1"))["statusCode"] == 403


def test_a_list_unreadable_at_cold_start_fails_closed(tmp_path: Path, records) -> None:
    app = App(fail="closed", lists=[f"file:{tmp_path / 'missing.txt'}"])
    result = app(with_source("apigw-v1.json", "198.51.100.1"))
    assert result["statusCode"] == 403 and app.ran == []
    assert [record["rule"] for record in records.detections()] == ["internal.fail-closed"]


def test_a_list_unreadable_in_s3_fails_closed(aws, records) -> None:
    app = App(fail="closed", lists=["s3://no-such-bucket/deny.txt"])
    assert app(with_source("alb.json", "198.51.100.1"))["statusCode"] == 403 and app.ran == []
    assert "no-such-bucket" in records.internal_errors()[0]["error"]


def short_ttl(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setenv("APP_PROTECT_POLICY_TTL", str(seconds))
    config.reset()


def wait_past(seconds: float) -> None:
    time.sleep(seconds * 1.5)


def test_a_reload_that_fails_keeps_the_last_good_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       records) -> None:
    short_ttl(monkeypatch, 0.2)
    deny = tmp_path / "deny.txt"
    deny.write_text("203.0.113.0/24\n")
    app = App(lists=[f"file:{deny}"])
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.1"), records)
    deny.unlink()
    wait_past(0.2)
    assert app(with_source("apigw-v1.json", "203.0.113.1"))["statusCode"] == 403  # the last good copy
    assert [error["where"] for error in records.internal_errors()] == ["ip_filter.list_reload"]
    records.clear()
    deny.write_text("<html>not a list</html>\n")  # no good line: refused whole, the last good copy stays
    wait_past(0.2)
    assert app(with_source("apigw-v1.json", "203.0.113.1"))["statusCode"] == 403
    assert "no line is an address" in records.internal_errors()[0]["error"]
    records.clear()
    deny.write_text("192.0.2.0/24\n")  # a new version takes over
    wait_past(0.2)
    assert_passed(app, with_source("apigw-v1.json", "203.0.113.1"), records)
    assert_refused(app, with_source("apigw-v1.json", "192.0.2.1"), records)


def test_an_unchanged_list_is_not_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records) -> None:
    short_ttl(monkeypatch, 0.1)
    deny = tmp_path / "deny.txt"
    deny.write_text("203.0.113.0/24\n")
    app = App(lists=[f"file:{deny}"])
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.1"), records)
    first = ip_lists.current(f"file:{deny}")
    wait_past(0.1)
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.1"), records)
    assert ip_lists.current(f"file:{deny}") is first


def test_a_function_that_only_handles_queues_never_reads_its_lists(tmp_path: Path, records) -> None:
    app = App(fail="closed", lists=[f"file:{tmp_path / 'missing.txt'}"])
    assert_passed(app, sqs_event({"order": 1}), records)


def test_lambda_edge_gets_cloudfronts_403(records) -> None:
    app = App(deny=["198.51.100.0/24"])
    result = app(load_event("lambda-edge-viewer-request.json"))
    assert result["status"] == "403" and app.ran == []


def test_off_reads_nothing_and_judges_nothing(tmp_path: Path, records) -> None:
    app = App(mode="off", deny=["0.0.0.0/0"], lists=[f"file:{tmp_path / 'missing.txt'}"])
    assert_passed(app, load_event("apigw-v1.json"), records)


def test_a_non_http_event_is_never_answered_as_blocked(records) -> None:
    app = App(allow=["198.51.100.0/24"])
    event = load_event("sqs.json")
    event["headers"] = {"x-forwarded-for": "203.0.113.1"}  # a queue message that looks like a request
    try:
        app(event)
    except RequestBlocked:  # pragma: no cover - the failure this test exists to catch
        pytest.fail("a queue event was filtered by address")
    assert records.detections() == []



def test_lists_are_read_at_init_so_the_first_request_does_not_wait(tmp_path: Path, records) -> None:
    deny = tmp_path / "deny.txt"
    deny.write_text("203.0.113.0/24\n")
    app = App(lists=[f"file:{deny}"])  # @protect: the list is read and built here
    deny.unlink()
    assert_refused(app, with_source("apigw-v1.json", "203.0.113.1"), records)
    assert records.internal_errors() == []


def test_a_list_unreadable_at_init_fails_the_first_request_not_the_init(tmp_path: Path, records) -> None:
    app = App(fail="closed", lists=[f"file:{tmp_path / 'later.txt'}"])  # no exception here
    assert records.internal_errors() == []
    assert app(with_source("apigw-v1.json", "198.51.100.1"))["statusCode"] == 403 and app.ran == []


def test_a_bad_entry_in_a_policy_file_names_its_line_and_key(tmp_path: Path) -> None:
    from app_protect_lambda.errors import PolicyError

    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprotections:\n  ip_filter:\n    mode: block\n    deny:\n      - 203.0.113.0/24\n"
                      "      - 203.0.113.0/33\n    lists: [s3://only-a-bucket]\n")
    with pytest.raises(PolicyError) as raised:
        protect(policy=f"file:{policy}")(lambda event, context: None)
    assert str(raised.value) == (f"policy {policy}, line 7: protections.ip_filter.deny[1]: '203.0.113.0/33' is "
                                 "not an IP address or CIDR block")
    policy.write_text("version: 1\nprotections:\n  ip_filter:\n    mode: block\n    lists:\n"
                      "      - file:/var/task/deny.txt\n      - s3://only-a-bucket\n")
    with pytest.raises(PolicyError, match=r"line 7: protections\.ip_filter\.lists\[1\]: 's3://only-a-bucket' is not"):
        protect(policy=f"file:{policy}")(lambda event, context: None)


def test_a_reloaded_policy_with_the_same_lists_keeps_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               records) -> None:
    from app_protect_lambda.checks import ip_filter

    short_ttl(monkeypatch, 0.1)
    deny = tmp_path / "deny.txt"
    deny.write_text("203.0.113.0/24\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"version: 1\nprotections:\n  ip_filter:\n    mode: block\n    lists: ['file:{deny}']\n")
    ip_filter._tables.clear()
    handler = protect(policy=f"file:{policy}")(lambda event, context: OK)
    event = with_source("apigw-v1.json", "203.0.113.1")
    assert handler(event, LambdaContext())["statusCode"] == 403
    wait_past(0.1)
    assert handler(event, LambdaContext())["statusCode"] == 403  # a new policy object, the same lists
    assert len(ip_filter._tables) == 2 and len({id(kept[2]) for kept in ip_filter._tables.values()}) == 1
    policy.write_text(f"version: 1\nprotections:\n  ip_filter:\n    mode: block\n    lists: ['file:{deny}']\n"
                      "    deny: [192.0.2.0/24]\n")
    wait_past(0.1)
    assert handler(with_source("apigw-v1.json", "192.0.2.1"), LambdaContext())["statusCode"] == 403
    assert len({id(kept[2]) for kept in ip_filter._tables.values()}) == 2  # other entries: a new table
