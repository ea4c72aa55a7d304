"""SSRF through real HTTP clients to a server on 127.0.0.1: every input location, notation and client."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import urllib.request
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import requests
import urllib3

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import (
    LambdaContext,
    alb_event,
    apigw_v1_event,
    apigw_v2_event,
    dynamodb_event,
    eventbridge_event,
    function_url_event,
    kinesis_event,
    sns_event,
    sqs_event,
)

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {"internal.example": "127.0.0.1", "metadata.example": "169.254.169.254"})


# ---------------------------------------------------------------- clients

def with_urllib(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as reply:
        return reply.read()


def with_urllib3(url: str) -> bytes:
    return urllib3.PoolManager(retries=False, timeout=TIMEOUT).request("GET", url).data


def with_requests(url: str) -> bytes:
    return requests.get(url, timeout=TIMEOUT).content


def with_http_client(url: str) -> bytes:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().read()
    finally:
        connection.close()


def with_httpx(url: str) -> bytes:
    return httpx.get(url, timeout=TIMEOUT).content


CLIENTS = {"urllib": with_urllib, "urllib3": with_urllib3, "requests": with_requests,
           "http.client": with_http_client, "httpx": with_httpx}


def proxy(pick: Callable[[dict], str], client: Callable[[str], bytes] = with_urllib, mode: str = "block",
          **policy):
    """A handler that fetches the URL ``pick`` finds in the event: the classic SSRF."""
    @protect(policy={"mode": mode, **policy} if policy else None, mode=None if policy else mode)
    def handler(event, context):
        return {"statusCode": 200, "body": client(pick(event)).decode()}
    return handler


# ---------------------------------------------------------------- every input location

def _query(event: dict) -> str:
    return event["queryStringParameters"]["url"]


LOCATIONS: dict[str, tuple[Callable[[str], dict], Callable[[dict], str]]] = {
    "apigw-v1 query": (lambda u: apigw_v1_event(query={"url": u}), _query),
    "apigw-v1 path parameter": (
        lambda u: apigw_v1_event(path="/fetch/x", path_parameters={"host": urlsplit(u).netloc}),
        lambda e: f"http://{e['pathParameters']['host']}/fetched"),
    "apigw-v2 header": (lambda u: apigw_v2_event(headers={"x-callback": u}), lambda e: e["headers"]["x-callback"]),
    "apigw-v2 cookie": (lambda u: apigw_v2_event(cookies=[f"target={u}"]),
                        lambda e: e["cookies"][0].split("=", 1)[1]),
    "apigw-v1 JSON body": (lambda u: apigw_v1_event("POST", body={"webhook": {"urls": [u]}}),
                           lambda e: json.loads(e["body"])["webhook"]["urls"][0]),
    "apigw-v1 form body": (
        lambda u: apigw_v1_event("POST", body=urlencode({"url": u}),
                                 headers={"content-type": "application/x-www-form-urlencoded"}),
        lambda e: parse_qs(e["body"])["url"][0]),
    "apigw-v2 base64 body": (lambda u: apigw_v2_event("POST", body={"url": u}, base64_body=True),
                             lambda e: json.loads(base64.b64decode(e["body"]))["url"]),
    "apigw-v1 base64 value in query": (lambda u: apigw_v1_event(query={"u": base64.b64encode(u.encode()).decode()}),
                                       lambda e: base64.b64decode(e["queryStringParameters"]["u"]).decode()),
    "alb query": (lambda u: alb_event(query={"url": u}),
                  lambda e: parse_qs(f"url={e['queryStringParameters']['url']}")["url"][0]),
    "alb multi-value header": (lambda u: alb_event(headers={"x-target": u}, multi_value=True),
                               lambda e: e["multiValueHeaders"]["x-target"][0]),
    "function url query": (lambda u: function_url_event(query={"url": u}),
                           lambda e: parse_qs(e["rawQueryString"])["url"][0]),
}

NON_HTTP: dict[str, tuple[Callable[[str], dict], Callable[[dict], str]]] = {
    "sqs": (lambda u: sqs_event({"url": u}), lambda e: json.loads(e["Records"][0]["body"])["url"]),
    "sns": (lambda u: sns_event({"url": u}), lambda e: json.loads(e["Records"][0]["Sns"]["Message"])["url"]),
    "eventbridge": (lambda u: eventbridge_event({"target": {"url": u}}), lambda e: e["detail"]["target"]["url"]),
    "dynamodb": (lambda u: dynamodb_event({"id": "1", "url": u}),
                 lambda e: e["Records"][0]["dynamodb"]["NewImage"]["url"]["S"]),
    "kinesis": (lambda u: kinesis_event({"url": u}),
                lambda e: json.loads(base64.b64decode(e["Records"][0]["kinesis"]["data"]))["url"]),
    "direct invoke": (lambda u: {"job": {"url": u}}, lambda e: e["job"]["url"]),
}


@pytest.mark.parametrize("where", LOCATIONS)
def test_http_locations_blocked(where: str, server: LocalServer, records) -> None:
    build, pick = LOCATIONS[where]
    reply = proxy(pick)(build(f"{server.url}/admin"), LambdaContext())
    assert reply["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["protection"] == "ssrf" and record["action"] == "blocked"


@pytest.mark.parametrize("where", NON_HTTP)
def test_non_http_locations_blocked(where: str, server: LocalServer, records) -> None:
    build, pick = NON_HTTP[where]
    with pytest.raises(RequestBlocked):
        proxy(pick)(build(f"{server.url}/admin"), LambdaContext())
    assert server.untouched
    assert len(records.detections()) == 1


# ---------------------------------------------------------------- every client

@pytest.mark.parametrize("client", CLIENTS)
def test_clients_blocked(client: str, server: LocalServer, records) -> None:
    for url in (f"{server.url}/a", f"http://localhost:{server.port}/b", f"http://internal.example:{server.port}/c"):
        reply = proxy(_query, CLIENTS[client])(apigw_v1_event(query={"url": url}), LambdaContext())
        assert reply["statusCode"] == 403, url
    assert server.untouched
    assert len(records.detections()) == 3


@pytest.mark.parametrize("client", CLIENTS)
def test_clients_report_mode_one_record_and_unchanged(client: str, server: LocalServer, records) -> None:
    url = f"http://internal.example:{server.port}/report"
    reply = proxy(_query, CLIENTS[client], mode="report")(apigw_v1_event(query={"url": url}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "internal-secret"}
    assert [r["path"] for r in server.requests] == ["/report"]
    [record] = records.detections()
    assert record["action"] == "reported" and record["input"]["location"] == "query.url"


# ---------------------------------------------------------------- every notation

NOTATIONS = ["127.0.0.1", "127.1", "0177.0.0.1", "0x7f000001", "0x7f.0.0.1", "2130706433", "017700000001",
             "127.0.0.1.", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[2002:7f00:1::]",
             "[64:ff9b::7f00:1]", "[::1]", "0", "0.0.0.0", "LOCALHOST", "localhost.", "internal.example",
             "INTERNAL.example."]


@pytest.mark.parametrize("host", NOTATIONS)
@pytest.mark.parametrize("client", ["urllib", "requests"])
def test_notations_blocked(host: str, client: str, server: LocalServer, records) -> None:
    url = f"http://{host}:{server.port}/admin"
    reply = proxy(_query, CLIENTS[client])(apigw_v1_event(query={"url": url}), LambdaContext())
    assert reply["statusCode"] == 403
    assert server.untouched
    assert len(records.detections()) == 1


def test_ideographic_dots_through_a_raw_connection(server: LocalServer, records) -> None:
    # urllib and requests refuse such a host; the socket layer encodes it to 127.0.0.1 (IDNA)
    @protect(mode="block")
    def handler(event, context):
        socket.create_connection((event["queryStringParameters"]["host"], server.port), timeout=TIMEOUT).close()
        return {"statusCode": 200}

    for host in ("127。0。0。1", "１２７．０．０．１"):
        assert handler(apigw_v1_event(query={"host": host}), LambdaContext())["statusCode"] == 403, host
    assert server.untouched and len(records.detections()) == 2


def test_userinfo_and_encoded_urls(server: LocalServer, records) -> None:
    handler = proxy(_query, with_requests)  # urllib does not take userinfo out of the host
    for url in (f"http://public.example@127.0.0.1:{server.port}/", f"http://127.0.0.1:{server.port}#@public.example/"):
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403
    # the handler URL-decodes what it was given: the decoded form is an input too
    decoding = proxy(lambda e: urllib.request.unquote(e["queryStringParameters"]["url"]))
    encoded = urllib.request.quote(f"{server.url}/x", safe="")
    assert decoding(apigw_v1_event(query={"url": encoded}), LambdaContext())["statusCode"] == 403
    assert server.untouched


def test_dns_rebinding_is_judged_when_connecting(monkeypatch: pytest.MonkeyPatch, server: LocalServer,
                                                 records) -> None:
    answers = iter(["93.184.216.34", "127.0.0.1"])
    install_resolver(monkeypatch, {"rebind.example": lambda: next(answers)})

    @protect(mode="block")
    def handler(event, context):
        url = event["queryStringParameters"]["url"]
        first = socket.getaddrinfo(urlsplit(url).hostname, 80)[0][4][0]  # the "validation" sees a public address
        assert first == "93.184.216.34"
        return {"statusCode": 200, "body": with_urllib(url).decode()}

    reply = handler(apigw_v1_event(query={"url": f"http://rebind.example:{server.port}/"}), LambdaContext())
    assert reply["statusCode"] == 403 and server.untouched
    [record] = records.detections()
    assert "127.0.0.1" in record["message"]


def test_metadata_endpoints_blocked_before_any_packet(records) -> None:
    handler = proxy(_query)
    for url in ("http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://[fd00:ec2::254]/latest/api/token", "http://169.254.170.2/v2/credentials/x",
                "http://[::ffff:169.254.169.254]/", "http://2852039166/", "http://metadata.example/latest/"):
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403, url
    rules = [r["rule"] for r in records.detections()]
    assert rules == ["ssrf.metadata", "ssrf.metadata", "ssrf.credentials", "ssrf.metadata", "ssrf.metadata",
                     "ssrf.metadata"]


# ---------------------------------------------------------------- benign

def test_code_chosen_internal_call_passes(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200, "body": with_requests(f"{server.url}/users/{name}").decode()}

    for name in ("alice", "山田.太郎", "a.b.c", "localhost", "see 127.0.0.1"):
        reply = handler(apigw_v1_event(query={"name": name}), LambdaContext())
        assert reply["statusCode"] == 200, name
    assert len(server.requests) == 5 and records.detections() == []


def test_inputs_that_mention_the_host_but_did_not_choose_it(server: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": with_urllib(f"http://localhost:{server.port}/sidecar").decode()}

    event = apigw_v2_event(headers={"origin": "http://localhost:3000", "referer": "http://localhost:3000/app"},
                           body={"message": "ローカル localhost で動かしています。 127.0.0.1 も試した"})
    assert handler(event, LambdaContext())["statusCode"] == 200
    assert len(server.requests) == 1 and records.detections() == []


@pytest.mark.parametrize("allow", [["127.0.0.1"], ["127.0.0.0/8"], ["internal.example"], ["*.example"]])
def test_allow_hosts(allow: list[str], server: LocalServer, records) -> None:
    handler = proxy(_query, protections={"ssrf": {"mode": "block", "allow_hosts": allow}})
    host = "internal.example" if "example" in allow[0] else "127.0.0.1"
    reply = handler(apigw_v1_event(query={"url": f"http://{host}:{server.port}/ok"}), LambdaContext())
    assert reply["statusCode"] == 200
    assert len(server.requests) == 1 and records.detections() == []


def test_public_destination_from_input_is_not_ssrf(monkeypatch: pytest.MonkeyPatch, records) -> None:
    install_resolver(monkeypatch, {"api.partner.example": "93.184.216.34"})

    @protect(mode="block")
    def handler(event, context):
        resolved = socket.getaddrinfo(urlsplit(event["queryStringParameters"]["url"]).hostname, 443)
        return {"statusCode": 200, "body": resolved[0][4][0]}

    reply = handler(apigw_v1_event(query={"url": "https://api.partner.example/v1"}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "93.184.216.34"}
    assert records.detections() == []
