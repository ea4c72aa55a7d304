"""The Lambda Runtime API is never reached through an input; redirect hops are judged as they connect.

A server on 127.0.0.1 stands for the Runtime API (``AWS_LAMBDA_RUNTIME_API``
points at it), others for an internal service and for a public-looking host
that redirects (the test resolver maps its name to 127.0.0.1).
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable, Iterator

import botocore.utils
import httpx
import pytest
import requests
import urllib3

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver

NEXT = "/2018-06-01/runtime/invocation/next"
CREDENTIALS = (b'{"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "x", "Token": "y", '
               b'"Expiration": "2030-01-01T00:00:00Z"}')


@pytest.fixture
def runtime_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with LocalServer(body=b'{"requestId": "next-callers-event"}') as running:
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", f"127.0.0.1:{running.port}")
        yield running


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {"public.example": "127.0.0.1", "cdn.public.example": "127.0.0.1"})


def with_urllib(url: str, data: bytes | None = None) -> bytes:
    with urllib.request.urlopen(url, data=data, timeout=TIMEOUT) as reply:
        return reply.read()


def with_requests(url: str) -> bytes:
    return requests.get(url, timeout=TIMEOUT).content


def with_urllib3(url: str) -> bytes:
    return urllib3.PoolManager(timeout=TIMEOUT).request("GET", url).data


def with_httpx(url: str) -> bytes:
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
        return client.get(url).content


def with_httpx_async(url: str) -> bytes:
    async def fetch() -> bytes:
        async with httpx.AsyncClient(follow_redirects=True, timeout=TIMEOUT) as client:
            return (await client.get(url)).content

    return asyncio.run(fetch())


def fetcher(client: Callable[[str], bytes] = with_urllib, **policy):
    @protect(policy={"mode": "block", **policy})
    def handler(event, context):
        return {"statusCode": 200, "body": client(event["queryStringParameters"]["url"]).decode()}
    return handler


# ---------------------------------------------------------------- the Runtime API

def test_runtime_api_next_event_through_input_even_when_loopback_is_allowed(runtime_api: LocalServer,
                                                                           records) -> None:
    handler = fetcher(protections={"ssrf": {"allow_hosts": ["127.0.0.1", "localhost", "127.0.0.0/8"]}})
    for url in (f"{runtime_api.url}{NEXT}", f"http://localhost:{runtime_api.port}{NEXT}",
                f"http://2130706433:{runtime_api.port}{NEXT}", f"http://[::ffff:127.0.0.1]:{runtime_api.port}{NEXT}"):
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403, url
    assert runtime_api.untouched
    assert {r["rule"] for r in records.detections()} == {"ssrf.runtime-api"}


def test_forged_runtime_reply_from_a_queue_message(runtime_api: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        job = json.loads(event["Records"][0]["body"])
        url = f"http://{job['callback']}/2018-06-01/runtime/invocation/{job['id']}/response"
        requests.post(url, data=b'{"forged": true}', timeout=TIMEOUT)

    with pytest.raises(RequestBlocked):
        handler(sqs_event({"callback": f"127.0.0.1:{runtime_api.port}", "id": "victim"}), LambdaContext())
    assert runtime_api.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.runtime-api" and record["input"]["location"] == "records[0].body.callback"


def test_stored_ssrf_to_the_runtime_api(runtime_api: LocalServer, records) -> None:
    stored_url = f"{runtime_api.url}{NEXT}"  # e.g. read from a database: no input names it

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": with_urllib(stored_url).decode()}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert runtime_api.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.stored" and record["input"] is None


def test_stored_ssrf_in_report_mode_is_one_record(runtime_api: LocalServer, records) -> None:
    @protect(mode="report")
    def handler(event, context):
        return {"statusCode": 200, "body": with_urllib(f"{runtime_api.url}{NEXT}").decode()}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert len(runtime_api.requests) == 1
    assert [r["rule"] for r in records.detections()] == ["ssrf.stored"]


def test_the_runtimes_own_traffic_is_never_judged(runtime_api: LocalServer, records) -> None:
    protect(lambda event, context: None)  # instrumented, but no invocation is running
    assert with_urllib(f"{runtime_api.url}{NEXT}") == b'{"requestId": "next-callers-event"}'
    with_urllib(f"{runtime_api.url}/2018-06-01/runtime/invocation/abc/response", data=b"{}")
    assert len(runtime_api.requests) == 2 and records.detections() == []


def test_the_sdk_fetching_container_credentials_passes(runtime_api: LocalServer, records) -> None:
    runtime_api.body = CREDENTIALS

    @protect(mode="block")
    def handler(event, context):
        fetched = botocore.utils.ContainerMetadataFetcher().retrieve_full_uri(
            f"{runtime_api.url}/2021-04-23/credentials", headers={"Authorization": "token"})
        return {"statusCode": 200, "body": fetched["AccessKeyId"]}

    assert handler(apigw_v1_event(), LambdaContext()) == {"statusCode": 200, "body": "ASIAEXAMPLE"}
    assert len(runtime_api.requests) == 1 and records.detections() == []


def test_a_trusted_credential_fetch_does_not_clear_the_runtime_api_for_later_calls(runtime_api: LocalServer,
                                                                                   records) -> None:
    runtime_api.body = CREDENTIALS

    @protect(mode="block")
    def handler(event, context):
        botocore.utils.ContainerMetadataFetcher().retrieve_full_uri(
            f"{runtime_api.url}/2021-04-23/credentials", headers={"Authorization": "token"})
        with_urllib(f"{runtime_api.url}{NEXT}")  # same host and port, hard-wired, not the SDK
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert [r["path"] for r in runtime_api.requests] == ["/2021-04-23/credentials"]
    assert [r["rule"] for r in records.detections()] == ["ssrf.stored"]


# ---------------------------------------------------------------- redirects

@pytest.mark.parametrize("client", [with_urllib, with_requests, with_urllib3, with_httpx, with_httpx_async])
def test_allowed_host_that_redirects_inside_is_blocked_at_the_second_hop(client, internal: LocalServer,
                                                                        records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/admin") as redirector:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{redirector.port}/go"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
        assert [r["path"] for r in redirector.requests] == ["/go"]
    assert internal.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.redirect"
    assert record["input"] == {"location": "query.url", "value": url, "decoded": "redirect"}


def test_redirect_to_the_runtime_api(runtime_api: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"http://2130706433:{runtime_api.port}{NEXT}") as redirector:
        handler = fetcher(protections={"ssrf": {"allow_hosts": ["public.example"]}})
        url = f"http://public.example:{redirector.port}/go"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    assert runtime_api.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.runtime-api"]


def test_two_hop_redirect_chain(internal: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/deep") as second, \
            LocalServer(redirect_to="http://cdn.public.example:0/") as first:
        first.redirect_to = f"http://cdn.public.example:{second.port}/next"
        handler = fetcher(with_requests, protections={"ssrf": {"allow_hosts": ["*.public.example",
                                                                                "public.example"]}})
        url = f"http://public.example:{first.port}/start"
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
        assert len(first.requests) == 1 and len(second.requests) == 1
    assert internal.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.redirect"]


@pytest.mark.parametrize("client", [with_urllib, with_httpx, with_httpx_async])
def test_same_host_redirect_of_an_allowed_host_passes(client, records) -> None:
    with LocalServer(redirect_to=lambda path: "/landing?from=go&lang=ja" if path == "/go" else None) as site:
        handler = fetcher(client, protections={"ssrf": {"allow_hosts": ["public.example"]}})
        reply = handler(apigw_v1_event(query={"url": f"http://public.example:{site.port}/go"}), LambdaContext())
        assert reply == {"statusCode": 200, "body": "internal-secret"}
        assert [r["path"] for r in site.requests] == ["/go", "/landing?from=go&lang=ja"]
    assert records.detections() == []


@pytest.mark.parametrize("client", [with_urllib, with_httpx, with_httpx_async])
def test_code_chosen_url_that_redirects_inside_passes(client, internal: LocalServer, records) -> None:
    with LocalServer(redirect_to=f"{internal.url}/config") as config_service:
        @protect(mode="block")
        def handler(event, context):
            return {"statusCode": 200, "body": client(f"{config_service.url}/v1/config").decode()}

        event = apigw_v1_event(query={"next": "http://localhost:3000/elsewhere", "q": "東京"})
        assert handler(event, LambdaContext())["statusCode"] == 200
    assert [r["path"] for r in internal.requests] == ["/config"]
    assert records.detections() == []
