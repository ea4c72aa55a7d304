"""Outbound requests are judged per request, not per socket: pooled keep-alive connections and proxies.

A connection a client keeps alive from before protection or from an earlier invocation reaches
no socket hook when it is reused; a request sent through an HTTP proxy connects to the proxy,
not to its target. Both must still have the target the code asked for judged, and a blocked
request must never reach the server (or ask the proxy to connect).
"""
from __future__ import annotations

import asyncio
import html
import http.client
import json
import socket
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
import urllib3

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(keep_alive=True) as running:
        yield running


@pytest.fixture
def proxy() -> Iterator[LocalServer]:
    """A stand-in HTTP proxy on 127.0.0.1: it answers every request itself and logs what it was asked."""
    with LocalServer(body=b"proxied") as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    sinks.instrument()
    return install_resolver(monkeypatch, {"internal.example": "127.0.0.1", "metadata.example": "169.254.169.254",
                                          "api.partner.example": "93.184.216.34", "partner.example": "127.0.0.1"})


# ---------------------------------------------------------------- pooled clients, created at module scope

class Pooled:
    """A client that keeps its connections alive across invocations, as a module-level one does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._requests = requests.Session()
        self._httpx = httpx.Client(timeout=TIMEOUT)
        self._urllib3 = urllib3.PoolManager(retries=False, timeout=TIMEOUT)
        self._connections: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def get(self, url: str) -> bytes:
        if self.name == "requests":
            return self._requests.get(url, timeout=TIMEOUT).content
        if self.name == "httpx":
            return self._httpx.get(url).content
        if self.name == "urllib3":
            return self._urllib3.request("GET", url).data
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        connection = self._connections.get((host, port))
        if connection is None:
            connection = self._connections[host, port] = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        connection.request("GET", parts.path or "/")
        return connection.getresponse().read()

    def close(self) -> None:
        self._requests.close()
        self._httpx.close()
        self._urllib3.clear()
        for connection in self._connections.values():
            connection.close()


POOLED = ["requests", "httpx", "urllib3", "http.client"]


@pytest.fixture(params=POOLED)
def pooled(request: pytest.FixtureRequest) -> Iterator[Pooled]:
    client = Pooled(request.param)
    yield client
    client.close()


def fetcher(client: Pooled, pick: Callable[[dict], str], mode: str = "block") -> Any:
    @protect(mode=mode)
    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": client.get(pick(event)).decode()}
    return handler


def _query(event: dict) -> str:
    return event["queryStringParameters"]["url"]


def _message(event: dict) -> str:
    return json.loads(event["Records"][0]["body"])["url"]


def test_a_connection_warmed_before_protection_is_judged_when_reused(pooled: Pooled, server: LocalServer,
                                                                    records) -> None:
    pooled.get(f"{server.url}/warm")  # module scope: outside any invocation
    reply = fetcher(pooled, _query)(apigw_v1_event(query={"url": f"{server.url}/admin"}), LambdaContext())
    assert reply["statusCode"] == 403
    assert [r["path"] for r in server.requests] == ["/warm"]
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "query.url"


def test_a_connection_warmed_by_an_earlier_invocation_is_judged_when_reused(pooled: Pooled, server: LocalServer,
                                                                           records) -> None:
    handler = fetcher(pooled, lambda event: event["queryStringParameters"].get("url") or f"{server.url}/health")
    assert handler(apigw_v1_event(query={"probe": "1"}), LambdaContext())["statusCode"] == 200
    # the same pooled connection, now for an attacker-chosen path and host name
    for url in (f"{server.url}/admin", f"http://internal.example:{server.port}/admin"):
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403, url
    assert [r["path"] for r in server.requests] == ["/health"]
    assert len(records.detections()) == 2


def test_a_warm_connection_from_a_queue_message_is_judged(pooled: Pooled, server: LocalServer, records) -> None:
    pooled.get(f"{server.url}/warm")
    with pytest.raises(RequestBlocked):
        fetcher(pooled, _message)(sqs_event({"url": f"{server.url}/admin"}), LambdaContext())
    assert [r["path"] for r in server.requests] == ["/warm"]
    assert records.detections()[0]["rule"] == "ssrf.internal"


def test_warm_connections_for_code_chosen_urls_pass(pooled: Pooled, server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200, "body": pooled.get(f"{server.url}/users/{quote(name)}").decode()}

    pooled.get(f"{server.url}/warm")
    for name in ("alice", "see 127.0.0.1", "a.b.c"):
        assert handler(apigw_v1_event(query={"name": name}), LambdaContext()) == \
            {"statusCode": 200, "body": "internal-secret"}, name
    assert len(server.requests) == 4 and server.connections == 1  # one connection, kept alive throughout
    assert records.detections() == []


def test_a_warm_connection_in_report_mode_is_one_record_per_request(pooled: Pooled, server: LocalServer,
                                                                   records) -> None:
    pooled.get(f"{server.url}/warm")
    handler = fetcher(pooled, _query, mode="report")
    assert handler(apigw_v1_event(query={"url": f"{server.url}/a"}), LambdaContext())["statusCode"] == 200
    assert handler(apigw_v1_event(query={"url": f"http://localhost:{server.port}/b"}), LambdaContext())[
        "statusCode"] == 200
    assert [r["path"] for r in server.requests] == ["/warm", "/a", "/b"]
    assert [r["action"] for r in records.detections()] == ["reported", "reported"]


def test_a_warm_httpx_async_connection_is_judged(server: LocalServer, records) -> None:
    async def make() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT)

    loop = asyncio.new_event_loop()
    try:
        client = loop.run_until_complete(make())
        loop.run_until_complete(client.get(f"{server.url}/warm"))

        @protect(mode="block")
        def handler(event: dict, context: Any) -> dict:
            reply = loop.run_until_complete(client.get(_query(event)))
            return {"statusCode": 200, "body": reply.text}

        assert handler(apigw_v1_event(query={"url": f"{server.url}/admin"}), LambdaContext())["statusCode"] == 403
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    assert [r["path"] for r in server.requests] == ["/warm"]


# ---------------------------------------------------------------- proxies

def via_requests(proxy_url: str) -> Callable[[str], bytes]:
    return lambda url: requests.get(url, proxies={"http": proxy_url, "https": proxy_url}, timeout=TIMEOUT).content


def via_urllib3(proxy_url: str) -> Callable[[str], bytes]:
    manager = urllib3.ProxyManager(proxy_url, retries=False, timeout=TIMEOUT)
    return lambda url: manager.request("GET", url).data


def via_httpx(proxy_url: str) -> Callable[[str], bytes]:
    return lambda url: httpx.get(url, proxy=proxy_url, timeout=TIMEOUT).content


def via_urllib(proxy_url: str) -> Callable[[str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url}))

    def get(url: str) -> bytes:
        with opener.open(url, timeout=TIMEOUT) as reply:
            return reply.read()
    return get


PROXIED = {"requests": via_requests, "urllib3": via_urllib3, "httpx": via_httpx, "urllib": via_urllib}
INTERNAL_TARGETS = ["http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                    "http://metadata.example/latest/api/token", "http://internal.example:8080/admin",
                    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "http://[::1]:8080/",
                    "https://169.254.169.254/latest/meta-data/", "https://internal.example:8443/admin"]


def through(client: Callable[[str], bytes], pick: Callable[[dict], str] = _query) -> Any:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": client(pick(event)).decode()}
    return handler


@pytest.mark.parametrize("target", INTERNAL_TARGETS)
@pytest.mark.parametrize("client", PROXIED)
def test_an_internal_target_through_a_proxy_is_blocked_before_the_proxy_is_asked(
        client: str, target: str, proxy: LocalServer, records) -> None:
    reply = through(PROXIED[client](proxy.url))(apigw_v1_event(query={"url": target}), LambdaContext())
    assert reply["statusCode"] == 403
    assert proxy.untouched  # no CONNECT, no absolute-form GET: not even a connection
    [record] = records.detections()
    assert record["protection"] == "ssrf" and record["input"]["location"] == "query.url"


TRANSFORMED_TARGETS = [  # (what the input holds, what the code makes of it): the target is named only after
    ("http://internal&#46;example:8080/admin", html.unescape),
    ("http://169&period;254.169.254/latest/meta-data/", html.unescape),
    ("http://metadata&#x2e;example/latest/api/token", html.unescape),
    ("docs.example,internal.example", lambda value: f"http://{value.split(',')[1]}:8080/admin"),
    ("a;b|metadata.example", lambda value: f"http://{value.split('|')[1]}/latest/api/token"),
]


@pytest.mark.parametrize(("value", "transform"), TRANSFORMED_TARGETS)
@pytest.mark.parametrize("client", PROXIED)
def test_a_target_an_input_names_once_transformed_through_a_proxy_is_blocked(
        client: str, value: str, transform: Callable[[str], str], proxy: LocalServer, records) -> None:
    handler = through(PROXIED[client](proxy.url), lambda event: transform(_query(event)))
    assert handler(apigw_v1_event(query={"url": value}), LambdaContext())["statusCode"] == 403
    assert proxy.untouched
    [record] = records.detections()
    assert record["protection"] == "ssrf" and record["input"]["location"] == "query.url"


@pytest.mark.parametrize("client", PROXIED)
def test_a_transformed_target_from_a_queue_message_through_a_proxy_is_blocked(client: str, proxy: LocalServer,
                                                                              records) -> None:
    handler = through(PROXIED[client](proxy.url), lambda event: html.unescape(_message(event)))
    with pytest.raises(RequestBlocked):
        handler(sqs_event({"url": "http://internal&#46;example:8080/admin"}), LambdaContext())
    assert proxy.untouched
    assert records.detections()[0]["rule"] == "ssrf.internal"


@pytest.mark.parametrize("client", PROXIED)
def test_transformed_inputs_that_name_no_internal_target_through_a_proxy_pass(client: str, proxy: LocalServer,
                                                                              records) -> None:
    fetch = PROXIED[client](proxy.url)
    # unescaped to a public name; a list naming an internal host beside the one the code uses; an entity in prose
    unescaped = through(fetch, lambda event: html.unescape(_query(event)))
    assert unescaped(apigw_v1_event(query={"url": "http://api.partner&#46;example/v1?q=a&amp;b"}),
                     LambdaContext()) == {"statusCode": 200, "body": "proxied"}
    first = through(fetch, lambda event: f"http://{_query(event).split(',')[0]}/v1")
    assert first(apigw_v1_event(query={"url": "api.partner.example,internal.example"}),
                 LambdaContext())["statusCode"] == 200
    code_chosen = through(fetch, lambda event: f"http://internal.example:8080/search?q={quote(_query(event))}")
    assert code_chosen(apigw_v1_event(query={"url": "Tom &amp; Jerry on internal.example"}),
                       LambdaContext())["statusCode"] == 200
    assert [r["path"] for r in proxy.requests] == [
        "http://api.partner.example/v1?q=a&b", "http://api.partner.example/v1",
        "http://internal.example:8080/search?q=Tom%20%26amp%3B%20Jerry%20on%20internal.example"]
    assert records.detections() == []


@pytest.mark.parametrize("client", ["requests", "urllib"])
def test_a_proxy_from_the_environment_is_no_way_around(client: str, proxy: LocalServer, records,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)

    def plain(url: str) -> bytes:
        if client == "requests":
            return requests.get(url, timeout=TIMEOUT).content
        # an opener of its own: urlopen's global one would keep this proxy for the tests that follow
        with urllib.request.build_opener().open(url, timeout=TIMEOUT) as reply:
            return reply.read()

    with pytest.raises(RequestBlocked):
        through(plain, _message)(sqs_event({"url": "http://169.254.169.254/latest/meta-data/"}), LambdaContext())
    assert proxy.untouched
    assert records.detections()[0]["rule"] == "ssrf.metadata"


@pytest.mark.parametrize("client", PROXIED)
def test_public_and_code_chosen_targets_through_a_proxy_pass(client: str, proxy: LocalServer, records) -> None:
    fetch = PROXIED[client](proxy.url)
    # an input-chosen public name (resolved here to a public address) and a code-chosen internal host
    handler = through(fetch)
    reply = handler(apigw_v1_event(query={"url": "http://api.partner.example/v1/items?id=7"}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "proxied"}
    code_chosen = through(fetch, lambda event: f"http://internal.example:8080/users/{quote(_query(event))}")
    assert code_chosen(apigw_v1_event(query={"url": "see internal.example"}), LambdaContext())["statusCode"] == 200
    assert [r["path"] for r in proxy.requests] == ["http://api.partner.example/v1/items?id=7",
                                                   "http://internal.example:8080/users/see%20internal.example"]
    assert records.detections() == []


def test_a_proxied_request_in_report_mode_is_one_record(proxy: LocalServer, records) -> None:
    @protect(mode="report")
    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": via_httpx(proxy.url)(_query(event)).decode()}

    reply = handler(apigw_v1_event(query={"url": "http://internal.example:8080/admin"}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "proxied"}
    [record] = records.detections()
    assert record["action"] == "reported" and record["sink"]["name"] == "httpx.HTTPTransport.handle_request"


@pytest.mark.parametrize("client", ["requests", "urllib"])  # the clients here that follow redirects
def test_a_redirect_inside_from_an_input_chosen_url_through_a_proxy_is_blocked(client: str, records) -> None:
    def answer(path: str) -> str | None:  # the proxy relays the public site's 302 to an internal host
        return "http://internal.example:8080/admin" if path.startswith("http://api.partner.example/") else None

    with LocalServer(body=b"proxied", redirect_to=answer) as redirecting:
        reply = through(PROXIED[client](redirecting.url))(
            apigw_v1_event(query={"url": "http://api.partner.example/start"}), LambdaContext())
        assert reply["statusCode"] == 403
        assert [r["path"] for r in redirecting.requests] == ["http://api.partner.example/start"]
    [record] = records.detections()
    assert record["rule"] == "ssrf.redirect" and record["input"]["location"] == "query.url"


def test_a_redirect_onto_a_connection_already_judged_in_the_invocation_is_judged_again(server: LocalServer,
                                                                                      records) -> None:
    session = requests.Session()
    with LocalServer(redirect_to=f"http://internal.example:{server.port}/admin") as partner:
        @protect(policy={"mode": "block", "protections": {"ssrf": {"mode": "block",
                                                                   "allow_hosts": ["partner.example"]}}})
        def handler(event: dict, context: Any) -> dict:
            session.get(f"http://internal.example:{server.port}/health", timeout=TIMEOUT)  # code-chosen: harmless
            return {"statusCode": 200, "body": session.get(_query(event), timeout=TIMEOUT).text}

        event = apigw_v1_event(query={"url": f"http://partner.example:{partner.port}/start"})
        assert handler(event, LambdaContext())["statusCode"] == 403
        assert [r["path"] for r in partner.requests] == ["/start"]
    session.close()
    assert [r["path"] for r in server.requests] == ["/health"]  # the pooled connection never carried /admin
    assert records.detections()[0]["rule"] == "ssrf.redirect"


def test_a_redirect_from_a_url_an_input_names_once_unescaped_is_carried(server: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"http://internal.example:{server.port}/admin") as partner:
        @protect(policy={"mode": "block", "protections": {"ssrf": {"mode": "block",
                                                                   "allow_hosts": ["partner.example"]}}})
        def handler(event: dict, context: Any) -> dict:
            return {"statusCode": 200, "body": requests.get(html.unescape(_query(event)), timeout=TIMEOUT).text}

        event = apigw_v1_event(query={"url": f"http://partner&#46;example:{partner.port}/start"})
        assert handler(event, LambdaContext())["statusCode"] == 403
        assert [r["path"] for r in partner.requests] == ["/start"]
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.redirect" and record["input"]["location"] == "query.url"


def raw_connect(server: LocalServer, pick: Callable[[dict], str]) -> Any:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        with socket.socket() as raw:
            raw.settimeout(TIMEOUT)
            raw.connect((pick(event), server.port))  # a name: resolved inside C, not through getaddrinfo
            raw.sendall(b"GET /raw HTTP/1.0\r\n\r\n")
            return {"statusCode": 200, "body": raw.recv(4096).split(b" ")[1].decode()}
    return handler


def test_a_raw_connect_by_a_name_an_input_names_once_unescaped_is_judged(server: LocalServer, records) -> None:
    handler = raw_connect(server, lambda event: html.unescape(_query(event)))
    assert handler(apigw_v1_event(query={"url": "internal&#46;example"}), LambdaContext())["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "query.url"


def test_a_raw_connect_by_a_name_the_code_chose_passes(server: LocalServer, records) -> None:
    handler = raw_connect(server, lambda event: "localhost")
    event = apigw_v1_event(query={"url": "Tom &amp; Jerry, localhost fans; see localhost.example"})
    assert handler(event, LambdaContext()) == {"statusCode": 200, "body": "200"}
    assert [r["path"] for r in server.requests] == ["/raw"] and records.detections() == []


def test_a_hand_built_absolute_form_request_to_a_proxy_is_judged(proxy: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=TIMEOUT)
        try:
            connection.putrequest("GET", _query(event), skip_host=True)
            connection.putheader("Host", urllib.parse.urlsplit(_query(event)).netloc)
            connection.endheaders()
            return {"statusCode": 200, "body": connection.getresponse().read().decode()}
        finally:
            connection.close()

    blocked = handler(apigw_v1_event(query={"url": "http://metadata.example/latest/api/token"}), LambdaContext())
    assert blocked["statusCode"] == 403 and proxy.untouched
    allowed = handler(apigw_v1_event(query={"url": "http://api.partner.example/v1"}), LambdaContext())
    assert allowed == {"statusCode": 200, "body": "proxied"}
    assert [r["path"] for r in proxy.requests] == ["http://api.partner.example/v1"]
    assert [r["rule"] for r in records.detections()] == ["ssrf.metadata"]


def test_an_async_httpx_request_in_report_mode_is_one_record(server: LocalServer, records) -> None:
    @protect(mode="report")
    async def handler(event: dict, context: Any) -> dict:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            reply = await client.get(_query(event))
        return {"statusCode": 200, "body": reply.text}

    event = apigw_v1_event(query={"url": f"http://internal.example:{server.port}/report"})
    assert asyncio.run(handler(event, LambdaContext())) == {"statusCode": 200, "body": "internal-secret"}
    assert [r["path"] for r in server.requests] == ["/report"]
    [record] = records.detections()
    assert record["sink"]["name"] == "httpx.AsyncHTTPTransport.handle_async_request"
