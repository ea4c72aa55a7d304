"""SSRF through asyncio and aiohttp: resolution in executor threads, the connector's DNS cache, redirects.

Servers on 127.0.0.1 stand for an internal service and the Lambda Runtime API; the test resolver
maps the names below to 127.0.0.1 (so the "public" redirector is reachable only because the
policy allows it by name, as in ``test_ssrf_runtime_and_redirects``).
"""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import aiohttp
import aiohttp.abc
import pytest
import requests
import urllib3

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from .network_support import TIMEOUT, LocalServer, install_resolver

NEXT = "/2018-06-01/runtime/invocation/next"
NAMES = {"internal.example": "127.0.0.1", "public.example": "127.0.0.1", "config.service.internal": "127.0.0.1"}


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, NAMES)


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture
def runtime_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with LocalServer(body=b'{"requestId": "next-callers-event"}') as running:
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{running.port}")
        yield running


async def _aiohttp_get(url: str, connector: aiohttp.BaseConnector | None = None) -> bytes:
    async with aiohttp.ClientSession(connector=connector, connector_owner=connector is None,
                                     timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session, \
            session.get(url, allow_redirects=True) as reply:
        return await reply.read()


def with_aiohttp(url: str) -> bytes:
    return asyncio.run(_aiohttp_get(url))


def with_aiohttp_no_dns_cache(url: str) -> bytes:
    async def fetch() -> bytes:
        return await _aiohttp_get(url, aiohttp.TCPConnector(use_dns_cache=False, force_close=True))
    return asyncio.run(fetch())


def _split(url: str) -> tuple[str, int]:
    authority = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = authority.rpartition(":")
    return host, int(port)


def with_open_connection(url: str) -> bytes:
    async def fetch() -> bytes:
        reader, writer = await asyncio.open_connection(*_split(url))
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data
    return asyncio.run(fetch())


def with_create_connection(url: str) -> bytes:
    async def fetch() -> bytes:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(asyncio.Protocol, *_split(url))
        transport.close()
        return b"connected"
    return asyncio.run(fetch())


def with_loop_getaddrinfo(url: str) -> bytes:
    async def fetch() -> bytes:
        host, port = _split(url)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return str(infos[0][4]).encode()
    return asyncio.run(fetch())


def with_requests(url: str) -> bytes:
    return requests.get(url, timeout=TIMEOUT).content


def with_urllib3(url: str) -> bytes:
    return urllib3.PoolManager(timeout=TIMEOUT).request("GET", url).data


ASYNC_CLIENTS: list[Callable[[str], bytes]] = [with_aiohttp, with_aiohttp_no_dns_cache, with_open_connection,
                                               with_create_connection, with_loop_getaddrinfo]


def fetcher(client: Callable[[str], bytes], **policy):
    @protect(policy={"mode": "block", **policy})
    def handler(event, context):
        return {"statusCode": 200, "body": client(event["queryStringParameters"]["url"]).decode()}
    return handler


@pytest.mark.parametrize("client", ASYNC_CLIENTS)
@pytest.mark.parametrize("host", ["internal.example", "127.0.0.1", "localhost"])
def test_an_input_chosen_internal_host_is_blocked(client, host: str, internal: LocalServer, records) -> None:
    url = f"http://{host}:{internal.port}/admin"
    assert fetcher(client)(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    assert internal.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "query.url"


@pytest.mark.parametrize("client", ASYNC_CLIENTS)
def test_the_runtime_api_through_an_input(client, runtime_api: LocalServer, records) -> None:
    handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["127.0.0.0/8", "localhost"]}})
    for host in ("127.0.0.1", "localhost"):
        url = f"http://{host}:{runtime_api.port}{NEXT}"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403, url
    assert runtime_api.untouched
    assert {r["rule"] for r in records.detections()} == {"ssrf.runtime-api"}


@pytest.mark.parametrize("client", [with_aiohttp, with_open_connection])
def test_code_chosen_internal_hosts_pass(client, internal: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": client(f"http://config.service.internal:{internal.port}/v1").decode()}

    event = apigw_v1_event(query={"next": "http://internal.example/elsewhere", "q": "東京"})
    assert handler(event, LambdaContext())["statusCode"] == 200
    assert len(internal.requests) == 1 and records.detections() == []


def test_a_name_answered_from_aiohttps_dns_cache_is_still_judged(internal: LocalServer, records) -> None:
    """A connector kept across invocations answers a name from its cache, without any resolver."""
    loop = asyncio.new_event_loop()
    connector = loop.run_until_complete(_make_connector())

    @protect(mode="block")
    def handler(event, context):
        url = (event["queryStringParameters"] or {}).get("url") or f"http://internal.example:{internal.port}/warm"
        return {"statusCode": 200, "body": loop.run_until_complete(_aiohttp_get(url, connector)).decode()}

    try:
        assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200  # the code's own call warms it
        url = f"http://internal.example:{internal.port}/admin"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    finally:
        loop.run_until_complete(connector.close())
        loop.close()
    assert [r["path"] for r in internal.requests] == ["/warm"]
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal"


class PrivateZoneResolver(aiohttp.abc.AbstractResolver):
    """Answers like aiodns does, without getaddrinfo: a name only its DNS knows (a private zone)."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        if host != "db-admin.private.zone":
            raise OSError(f"{host} is not in the zone")
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("cached", [False, True])
def test_a_name_only_the_connectors_own_resolver_knows_is_judged(cached: bool, internal: LocalServer,
                                                                records) -> None:
    @protect(mode="block")
    def handler(event, context):
        async def fetch() -> bytes:
            connector = aiohttp.TCPConnector(resolver=PrivateZoneResolver(), use_dns_cache=cached)
            return await _aiohttp_get(event["queryStringParameters"]["url"], connector)
        return {"statusCode": 200, "body": asyncio.run(fetch()).decode()}

    url = f"http://db-admin.private.zone:{internal.port}/admin"
    assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    assert internal.untouched
    [record] = records.detections()
    assert record["sink"]["name"] == "aiohttp.TCPConnector._resolve_host" and record["rule"] == "ssrf.internal"


async def _make_connector() -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(ttl_dns_cache=300, force_close=True)


# ---------------------------------------------------------------- redirects

REDIRECT_CLIENTS = [with_aiohttp, with_requests, with_urllib3]


@pytest.mark.parametrize("client", [with_aiohttp])  # the other clients: test_ssrf_runtime_and_redirects.py
def test_an_allowed_public_host_that_redirects_inside_is_blocked(client, internal: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/admin") as redirector:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{redirector.port}/go"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
        assert [r["path"] for r in redirector.requests] == ["/go"]
    assert internal.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.redirect"
    assert record["input"] == {"location": "query.url", "value": url, "decoded": "redirect"}


@pytest.mark.parametrize("client", REDIRECT_CLIENTS)
@pytest.mark.parametrize("target", ["127.0.0.1", "localhost", "internal.example"])
def test_a_redirect_to_the_runtime_api(client, target: str, runtime_api: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"http://{target}:{runtime_api.port}{NEXT}") as redirector:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{redirector.port}/go"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    assert runtime_api.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.runtime-api"]


def with_httpx(url: str) -> bytes:
    import httpx

    return httpx.get(url, follow_redirects=True, timeout=TIMEOUT).content


LOCATIONS = ["//127.0.0.1:{port}/x", "http://[::ffff:7f00:1]:{port}/x", "http://localhost:{port}/x",
             "http://internal.example:{port}/x", "HTTP://127.0.0.1:{port}/x", "http://127.0.0.1.:{port}/x",
             "http://user:pw@127.0.0.1:{port}/x", "http://0.0.0.0:{port}/x"]


@pytest.mark.parametrize("client", [*REDIRECT_CLIENTS, with_httpx])
@pytest.mark.parametrize("location", LOCATIONS)
def test_location_shapes_that_lead_inside(client, location: str, internal: LocalServer, records) -> None:
    target = location.format(port=internal.port)
    with LocalServer(redirect_to=lambda path: target if path == "/go" else None) as redirector:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{redirector.port}/go"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    assert internal.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.redirect"]


def test_a_two_hop_chain_through_aiohttp(internal: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/deep") as second, LocalServer() as first:
        first.redirect_to = f"http://public.example:{second.port}/next"
        handler = fetcher(with_aiohttp, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{first.port}/start"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
        assert len(first.requests) == 1 and len(second.requests) == 1
    assert internal.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.redirect"]


@pytest.mark.parametrize("client", REDIRECT_CLIENTS)
def test_same_host_redirect_of_an_allowed_host_passes(client, records) -> None:
    with LocalServer(redirect_to=lambda path: "/landing?from=go" if path == "/go" else None) as site:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        reply = handler(apigw_v1_event(query={"url": f"http://public.example:{site.port}/go"}), LambdaContext())
        assert reply == {"statusCode": 200, "body": "internal-secret"}
        assert [r["path"] for r in site.requests] == ["/go", "/landing?from=go"]
    assert records.detections() == []


def test_a_code_chosen_url_that_redirects_inside_passes_through_aiohttp(internal: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/config") as config_service:
        @protect(mode="block")
        def handler(event, context):
            return {"statusCode": 200, "body": with_aiohttp(f"{config_service.url}/v1/config").decode()}

        assert handler(apigw_v1_event(query={"next": "http://localhost:3000/x"}), LambdaContext())["statusCode"] == 200
    assert [r["path"] for r in internal.requests] == ["/config"]
    assert records.detections() == []


def test_a_connection_aiohttp_pooled_from_an_earlier_invocation_is_judged(records) -> None:
    """Keep-alive: the second invocation's request reuses the connection; no resolution, no connect."""
    with LocalServer(keep_alive=True) as internal:
        loop = asyncio.new_event_loop()
        connector = loop.run_until_complete(_pooling_connector())

        @protect(mode="block")
        def handler(event, context):
            url = (event["queryStringParameters"] or {}).get("url") or f"http://internal.example:{internal.port}/warm"
            return {"statusCode": 200, "body": loop.run_until_complete(_aiohttp_get(url, connector)).decode()}

        try:
            assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
            url = f"http://internal.example:{internal.port}/admin"
            assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
            assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200  # the code's own call, again
        finally:
            loop.run_until_complete(connector.close())
            loop.close()
        assert [r["path"] for r in internal.requests] == ["/warm", "/warm"] and internal.connections == 1
    [record] = records.detections()
    assert record["sink"]["name"] == "aiohttp.BaseConnector.connect"


def test_report_mode_records_an_aiohttp_request_once(internal: LocalServer, records) -> None:
    @protect(mode="report")
    def handler(event, context):
        return {"statusCode": 200, "body": with_aiohttp(event["queryStringParameters"]["url"]).decode()}

    for host in ("internal.example", "127.0.0.1"):
        url = f"http://{host}:{internal.port}/admin"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 200
    assert len(internal.requests) == 2
    assert len(records.detections()) == 2


async def _pooling_connector() -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(ttl_dns_cache=300)
