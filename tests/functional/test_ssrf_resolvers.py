"""SSRF through name resolvers that bypass getaddrinfo: resolve first, then connect to the address."""
from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {})


def resolve_then_fetch(how: str, port: int, mode: str = "block"):
    """A handler that resolves the host it was given, then talks to the address (a pinning pattern)."""
    @protect(mode=mode)
    def handler(event, context):
        if "Records" in event:
            host = json.loads(event["Records"][0]["body"])["host"]
        else:
            host = event["queryStringParameters"]["host"]
        if how == "gethostbyname":
            address = socket.gethostbyname(host)
        elif how == "gethostbyname_ex":
            address = socket.gethostbyname_ex(host)[2][0]
        else:
            address = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
        connection.request("GET", "/internal")
        return {"statusCode": 200, "body": connection.getresponse().read().decode()}
    return handler


HOWS = ["gethostbyname", "gethostbyname_ex", "getaddrinfo"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "0177.0.0.1", "127.1", "LocalHost"])
def test_an_input_chosen_name_resolved_then_connected_by_address_is_blocked(how: str, host: str,
                                                                           server: LocalServer, records) -> None:
    reply = resolve_then_fetch(how, server.port)(apigw_v1_event(query={"host": host}), LambdaContext())
    assert reply["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["sink"]["name"] == f"socket.{how}"


@pytest.mark.parametrize("how", ["gethostbyname", "gethostbyname_ex"])
def test_metadata_literals_are_refused_before_resolution(how: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        getattr(socket, how)(event["queryStringParameters"]["host"])
        return {"statusCode": 200}

    for host in ("169.254.169.254", "2852039166", "169.254.170.2"):
        assert handler(apigw_v1_event(query={"host": host}), LambdaContext())["statusCode"] == 403
    assert [r["rule"] for r in records.detections()] == ["ssrf.metadata", "ssrf.metadata", "ssrf.credentials"]


def test_non_http_triggers_and_report_mode(server: LocalServer, records) -> None:
    with pytest.raises(Exception, match="ssrf"):
        resolve_then_fetch("gethostbyname", server.port)(sqs_event({"host": "localhost"}), LambdaContext())
    assert server.untouched
    handler = resolve_then_fetch("gethostbyname", server.port, mode="report")
    assert handler(apigw_v1_event(query={"host": "localhost"}), LambdaContext())["statusCode"] == 200
    assert len(server.requests) == 1
    assert [r["action"] for r in records.detections()] == ["blocked", "reported"]


@pytest.mark.parametrize("how", HOWS)
def test_code_chosen_names_and_mentions_pass(how: str, server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        address = socket.gethostbyname("localhost") if how == "gethostbyname" else (
            socket.gethostbyname_ex("localhost")[2][0] if how == "gethostbyname_ex"
            else socket.getaddrinfo("localhost", server.port)[0][4][0])
        connection = http.client.HTTPConnection(address, server.port, timeout=TIMEOUT)
        connection.request("GET", "/users/" + event["queryStringParameters"]["name"])
        return {"statusCode": 200, "body": connection.getresponse().read().decode()}

    for name in ("alice", "runs-on-localhost", "127.0.0.1.nip"):
        assert handler(apigw_v1_event(query={"name": name, "note": "it runs on localhost"}),
                       LambdaContext())["statusCode"] == 200
    assert len(server.requests) == 3 and records.detections() == []


def test_outside_an_invocation_the_resolvers_are_untouched() -> None:
    assert socket.gethostbyname("localhost") == "127.0.0.1"
    assert socket.gethostbyname_ex("127.0.0.1")[2] == ["127.0.0.1"]


# ---------------------------------------------------------------- the code's own port, repetition

@pytest.fixture
def internal_names(monkeypatch: pytest.MonkeyPatch) -> None:
    install_resolver(monkeypatch, {"internal.example": "127.0.0.1"})


@pytest.mark.parametrize("given", [
    "http://internal.example/", "https://internal.example:443/x", "internal.example:6379",
    "http://internal.example:0000000000080/",
    "internal.example, " * 100 + "http://internal.example/",   # repetitions in front of the URL
])
def test_the_input_host_with_the_codes_own_port_is_blocked(given: str, internal_names, server: LocalServer,
                                                          records) -> None:
    @protect(mode="block")
    def handler(event, context):
        from urllib.parse import urlsplit

        value = event["queryStringParameters"]["site"].split(", ")[-1]
        host = urlsplit(value if "//" in value else f"//{value}").hostname
        connection = http.client.HTTPConnection(host, server.port, timeout=TIMEOUT)  # the code's own port
        connection.request("GET", "/status")
        return {"statusCode": 200, "body": connection.getresponse().read().decode()}

    assert handler(apigw_v1_event(query={"site": given}), LambdaContext())["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "query.site"


def test_sandbox_hosts_named_at_another_port_are_not_the_functions_own_calls(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        connection = http.client.HTTPConnection("localhost", server.port, timeout=TIMEOUT)
        connection.request("GET", "/sidecar")
        return {"statusCode": 200, "body": connection.getresponse().read().decode()}

    for origin in ("http://localhost:3000", "http://localhost:3000 " * 50, "http://localhost:99999999"):
        event = apigw_v1_event(headers={"origin": origin}, query={"note": "dev on localhost " * 40})
        assert handler(event, LambdaContext())["statusCode"] == 200
    assert len(server.requests) == 3 and records.detections() == []
