"""Through the exec wrapper's handler: a pooled connection warmed at init, a proxy, an internal ALB's Host header.

The function module opens its ``requests.Session`` at import, as AWS advises, and warms it
against a server on 127.0.0.1 before any invocation: the first request an attacker steers
rides that connection.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, alb_event, apigw_v1_event, sqs_event
from tests.e2e.test_bootstrap import fresh_bootstrap
from tests.functional.network_support import LocalServer, install_resolver

ALB = "internal-users-1234567890.us-east-1.elb.amazonaws.com"

FUNCTION = '''
import json
import os

import requests

SESSION = requests.Session()
SESSION.get(os.environ["USERS_URL"] + "/warm", timeout=3)  # init: outside any invocation


def handler(event, context):
    if "Records" in event:
        url = json.loads(event["Records"][0]["body"])["url"]
    else:
        url = (event.get("queryStringParameters") or {}).get("url") or os.environ["USERS_URL"] + "/users/1"
    proxy = os.environ.get("OUTBOUND_PROXY")
    proxies = {"http": proxy, "https": proxy} if proxy else None
    return {"statusCode": 200, "body": SESSION.get(url, proxies=proxies, timeout=3).text}
'''


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(keep_alive=True) as running:
        yield running


@pytest.fixture
def wrapped(tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    install_resolver(monkeypatch, {ALB: "127.0.0.1"})
    name = f"pooled_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(FUNCTION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{name}.handler")
    monkeypatch.setenv("_HANDLER", "app_protect_lambda.bootstrap.handler")
    yield fresh_bootstrap().handler
    sys.modules.pop(name, None)
    sys.modules.pop("app_protect_lambda.bootstrap", None)


def test_the_connection_warmed_at_init_is_judged_when_an_input_steers_it(wrapped, server: LocalServer,
                                                                        records) -> None:
    handler = wrapped
    for url in (f"http://{ALB}:{server.port}/admin", f"{server.url}/admin"):
        assert handler(apigw_v1_event(query={"url": url}), LambdaContext())["statusCode"] == 403, url
    with pytest.raises(RequestBlocked):
        handler(sqs_event({"url": f"{server.url}/admin"}), LambdaContext())
    assert [r["path"] for r in server.requests] == ["/warm"]
    assert len(records.detections()) == 3


def test_the_configured_service_behind_the_albs_host_header_passes(wrapped, server: LocalServer,
                                                                   records) -> None:
    reply = wrapped(alb_event(path="/orders/1", headers={"host": ALB}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "internal-secret"}
    assert [r["path"] for r in server.requests] == ["/warm", "/users/1"]
    assert server.connections == 1 and records.detections() == []


def test_a_proxied_request_to_the_metadata_service_is_blocked(wrapped, records,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer(body=b"proxied") as proxy:
        monkeypatch.setenv("OUTBOUND_PROXY", proxy.url)
        event = apigw_v1_event(query={"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"})
        assert wrapped(event, LambdaContext())["statusCode"] == 403
        assert proxy.untouched
    assert records.detections()[0]["rule"] == "ssrf.metadata"
