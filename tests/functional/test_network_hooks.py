"""The network hooks themselves: real sockets on 127.0.0.1, inside and outside an invocation.

This module also holds the loopback HTTP server and the test resolver that the
other network test modules import.
"""
from __future__ import annotations

import _socket
import asyncio
import http.client
import json
import socket
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.context import suppressed
from app_protect_lambda.sinks import network
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

TIMEOUT = 3


class LocalServer:
    """An HTTP server on 127.0.0.1 that logs every connection it accepts and every request it reads.

    ``redirect_to`` (a Location, or a function of the path that returns one or None) makes it
    answer 302; ``body`` is what it answers otherwise.
    """

    def __init__(self, body: bytes = b"internal-secret",
                 redirect_to: str | Callable[[str], str | None] | None = None) -> None:
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        self.body = body
        self.redirect_to = redirect_to
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                owner.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": self.rfile.read(length)})
                location = owner.redirect_to(self.path) if callable(owner.redirect_to) else owner.redirect_to
                if location:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if owner.body[:1] == b"{" else "text/plain")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that hang up early (a blocked send, a short read) are part of the tests

            def verify_request(self, request: Any, client_address: Any) -> bool:
                owner.connections += 1
                return True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.requests


_LOOPBACK_ONLY = {"on": False}


def _refuse_leaving_the_machine(event: str, args: tuple) -> None:
    if event != "socket.connect" or not _LOOPBACK_ONLY["on"]:
        return
    address = args[1]
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0].partition("%")[0]
        if not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1", "localhost")):
            raise ConnectionRefusedError(f"a network test tried to reach {address!r}")


_audit_hook_installed = False


def install_resolver(monkeypatch: pytest.MonkeyPatch, names: dict[str, str | Callable[[], str]]) -> list[str]:
    """Resolve ``names`` to the given addresses underneath our hook; refuse every other name.

    IP literals and ``localhost`` go to the real resolver (neither leaves the machine); any
    other name fails, so no test can send a DNS query; and for the test's duration every
    connect to anything but loopback is refused (an audit hook, inert outside these tests),
    so a regression can never reach the metadata addresses the tests name. Returns the log
    of names looked up.
    """
    global _audit_hook_installed
    if not _audit_hook_installed:
        sys.addaudithook(_refuse_leaving_the_machine)
        _audit_hook_installed = True
    monkeypatch.setitem(_LOOPBACK_ONLY, "on", True)
    original = _socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        looked_up.append(name)
        key = name.lower().rstrip(".") if isinstance(name, str) else name
        if key in names:
            target = names[key]
            address = target() if callable(target) else target
            return original(address, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        if key == "localhost":
            return original("localhost", port, family, type, proto, flags)
        if key is None:
            return original(host, port, family, type, proto, flags)
        return original(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(_socket, "getaddrinfo", getaddrinfo)
    return looked_up


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
