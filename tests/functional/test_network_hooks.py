"""The network hooks themselves: real sockets on 127.0.0.1, inside and outside an invocation.

"""
from __future__ import annotations

import asyncio
import http.client
import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.context import suppressed
from app_protect_lambda.sinks import network
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {})


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as reply:
        return reply.read()


def test_hooks_are_installed_and_put_back() -> None:
    protect(lambda event, context: None)  # instruments
    assert socket.getaddrinfo.__wrapped__ is not None  # type: ignore[attr-defined]
    assert "connect" in vars(socket.socket)
    sinks.uninstrument()
    try:
        assert not hasattr(socket.getaddrinfo, "__wrapped__")
        assert "connect" not in vars(socket.socket) and "connect_ex" not in vars(socket.socket)
        assert not hasattr(http.client.HTTPConnection.send, "__app_protect_original__")
    finally:
        sinks.instrument()
    assert "connect" in vars(socket.socket)


def test_outside_an_invocation_everything_goes_through(server: LocalServer) -> None:
    protect(lambda event, context: None)
    assert fetch(f"{server.url}/runtime-own-traffic") == b"internal-secret"
    assert len(server.requests) == 1


def test_suppressed_calls_go_through(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        with suppressed():
            return {"statusCode": 200, "body": fetch(event["queryStringParameters"]["url"]).decode()}

    reply = handler(apigw_v1_event(query={"url": f"{server.url}/x"}), LambdaContext())
    assert reply["statusCode"] == 200 and len(server.requests) == 1
    assert records.detections() == []


def test_raw_socket_connect_and_connect_ex(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        host, port = event["queryStringParameters"]["to"].split(":")
        with socket.socket() as raw:
            raw.settimeout(TIMEOUT)
            if event["queryStringParameters"].get("ex"):
                return {"statusCode": 200, "body": str(raw.connect_ex((host, int(port))))}
            raw.connect((host, int(port)))
        return {"statusCode": 200, "body": "connected"}

    for query in ({"to": f"127.0.0.1:{server.port}"}, {"to": f"127.0.0.1:{server.port}", "ex": "1"},
                  {"to": f"0x7f.1:{server.port}"}, {"to": f"localhost:{server.port}"}):
        assert handler(apigw_v1_event(query=query), LambdaContext())["statusCode"] == 403, query
    assert server.untouched
    assert [r["sink"]["name"] for r in records.detections()] == [
        "socket.socket.connect", "socket.socket.connect_ex", "socket.socket.connect", "socket.socket.connect"]


def test_raw_connect_to_a_code_chosen_address_passes(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as conn:
            conn.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            return {"statusCode": 200, "body": conn.recv(100).decode()}

    reply = handler(apigw_v1_event(query={"q": "127.0.0.1 は内部アドレス", "port": str(server.port)}),
                    LambdaContext())
    assert reply["statusCode"] == 200 and "200" in reply["body"]
    assert server.requests[0]["path"] == "/health" and records.detections() == []


def test_socket_create_connection_is_covered_through_resolution_and_connect(server: LocalServer,
                                                                              records) -> None:
    @protect(mode="block")
    def handler(event, context):
        socket.create_connection(("127.0.0.1", int(event["queryStringParameters"]["port"])), timeout=TIMEOUT)
        return {"statusCode": 200}

    # the input names the host only with the port: "127.0.0.1:<port>"
    event = apigw_v1_event(query={"port": str(server.port), "target": f"127.0.0.1:{server.port}"})
    assert handler(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["sink"]["name"] == "socket.getaddrinfo" and record["input"]["location"] == "query.target"


def test_asyncio_connections_are_judged_at_connect(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        async def go() -> None:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(event["queryStringParameters"]["host"], server.port), TIMEOUT)
            writer.close()

        asyncio.run(go())
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"host": "127.0.0.1"}), LambdaContext())["statusCode"] == 403
    assert server.untouched


def test_one_record_per_connection_in_report_mode(server: LocalServer, records) -> None:
    @protect(mode="report")
    def handler(event, context):
        return {"statusCode": 200, "body": fetch(event["queryStringParameters"]["url"]).decode()}

    reply = handler(apigw_v1_event(query={"url": f"http://localhost:{server.port}/x"}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "internal-secret"}
    assert len(server.requests) == 1
    [record] = records.detections()
    assert record["action"] == "reported" and record["rule"] == "ssrf.internal"
    assert f"GET http://localhost:{server.port}/x" in record["sink"]["argument"]


def test_off_mode_records_nothing(server: LocalServer, records) -> None:
    @protect(policy={"mode": "block", "protections": {"ssrf": "off"}})
    def handler(event, context):
        return {"statusCode": 200, "body": fetch(event["queryStringParameters"]["url"]).decode()}

    reply = handler(apigw_v1_event(query={"url": f"{server.url}/x"}), LambdaContext())
    assert reply["statusCode"] == 200 and len(server.requests) == 1
    assert records.detections() == []


def test_a_failing_detector_fails_open(server: LocalServer, records, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(network, "_judge", broken)

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": fetch(event["queryStringParameters"]["url"]).decode()}

    reply = handler(apigw_v1_event(query={"url": f"{server.url}/x"}), LambdaContext())
    assert reply["statusCode"] == 200 and len(server.requests) == 1
    assert records.detections() == []
    assert [e["where"] for e in records.internal_errors()] == ["socket.getaddrinfo"]


def test_the_block_survives_a_handler_that_catches_everything(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        try:
            fetch(event["queryStringParameters"]["url"])
        except Exception:
            return {"statusCode": 200, "body": "swallowed"}
        return {"statusCode": 200, "body": "fetched"}

    assert handler(apigw_v1_event(query={"url": f"{server.url}/x"}), LambdaContext())["statusCode"] == 403
    assert server.untouched


def test_the_test_resolver_refuses_external_names(no_dns: list[str]) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 80)
    assert "example.com" in no_dns


def test_json_body_and_record_shape(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": fetch(json.loads(event["body"])["hook"]["url"]).decode()}

    event = apigw_v1_event("POST", body={"hook": {"url": f"{server.url}/admin"}})
    assert handler(event, LambdaContext())["statusCode"] == 403
    [record] = records.detections()
    assert record["protection"] == "ssrf" and record["action"] == "blocked"
    assert record["input"] == {"location": "body.hook.url", "value": f"{server.url}/admin"}
    assert record["sink"]["frame"] and "test_network_hooks.py" in record["sink"]["frame"]
    assert server.untouched


def test_each_attempt_is_recorded_while_harmless_destinations_are_judged_once(server: LocalServer,
                                                                              records) -> None:
    @protect(mode="report")
    def handler(event, context):
        for _ in range(3):
            fetch(f"{server.url}/internal")              # code-chosen: judged once, remembered as harmless
        fetch(event["queryStringParameters"]["url"])     # input-chosen, twice: two records
        fetch(event["queryStringParameters"]["url"])
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"url": f"http://localhost:{server.port}/x"}), LambdaContext()) == \
        {"statusCode": 200}
    assert len(server.requests) == 5
    assert [r["rule"] for r in records.detections()] == ["ssrf.internal", "ssrf.internal"]


def test_tests_cannot_leave_the_machine() -> None:
    with socket.socket() as raw, pytest.raises(ConnectionRefusedError, match="tried to reach"):
        raw.connect(("169.254.169.254", 80))
