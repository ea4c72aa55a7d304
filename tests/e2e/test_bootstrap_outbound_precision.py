"""Through the exec wrapper's handler: the secrets extension's token header, resolve-then-connect,
a redirect built from an ALB's Host header, a meta refresh, an encoded credential."""
from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, alb_event, apigw_v1_event, sqs_event
from tests.e2e.test_bootstrap import fresh_bootstrap
from tests.functional.network_support import LocalServer, install_resolver

FUNCTION = '''
import base64
import http.client
import json
import os
import socket
import urllib.request


def handler(event, context):
    if "Records" in event:
        query = json.loads(event["Records"][0]["body"])
    else:
        query = event.get("queryStringParameters") or {}
    action = query.get("action")
    if action == "secret":
        port = os.environ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]
        request = urllib.request.Request(f"http://localhost:{port}/secretsmanager/get?secretId=db",
                                         headers={"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]})
        return {"statusCode": 200, "body": urllib.request.urlopen(request, timeout=3).read().decode()}
    if action == "fetch":
        address = socket.gethostbyname(query["host"])
        connection = http.client.HTTPConnection(address, int(os.environ["INTERNAL_PORT"]), timeout=3)
        connection.request("GET", "/admin")
        return {"statusCode": 200, "body": connection.getresponse().read().decode()}
    if action == "login":
        return {"statusCode": 302, "headers": {"Location": "https://" + event["headers"]["host"] + "/login"}}
    if action == "refresh":
        page = '<meta http-equiv="refresh" content="0; url=' + query["next"] + '">'
        return {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": page}
    if action == "debug":
        return {"statusCode": 200, "body": base64.b64encode(os.environ["AWS_SECRET_ACCESS_KEY"].encode()).decode()}
    return {"statusCode": 200, "body": "ok"}
'''


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(body=b"db-password") as running:
        yield running


@pytest.fixture
def wrapped(tmp_path: Path, server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    install_resolver(monkeypatch, {})
    name = f"precision_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(FUNCTION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(server.port))
    monkeypatch.setenv("INTERNAL_PORT", str(server.port))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{name}.handler")
    monkeypatch.setenv("_HANDLER", "app_protect_lambda.bootstrap.handler")
    yield fresh_bootstrap().handler
    sys.modules.pop(name, None)
    sys.modules.pop("app_protect_lambda.bootstrap", None)


def test_the_secrets_extension_is_reached_with_the_session_token(wrapped, server: LocalServer, records) -> None:
    assert wrapped(apigw_v1_event(query={"action": "secret"}), LambdaContext()) == {
        "statusCode": 200, "body": "db-password"}
    [request] = server.requests
    assert request["headers"]["X-Aws-Parameters-Secrets-Token"] == os.environ["AWS_SESSION_TOKEN"]
    assert records.detections() == []


def test_resolve_then_connect_to_an_input_chosen_host_is_blocked(wrapped, server: LocalServer, records) -> None:
    assert wrapped(apigw_v1_event(query={"action": "fetch", "host": "localhost"}), LambdaContext())[
        "statusCode"] == 403
    with pytest.raises(RequestBlocked):
        wrapped(sqs_event({"action": "fetch", "host": "127.1"}), LambdaContext())
    assert server.untouched
    assert [r["sink"]["name"] for r in records.detections()] == ["socket.gethostbyname"] * 2


def test_responses_judged_through_the_wrapper(wrapped, records) -> None:
    spoofed = wrapped(alb_event(query={"action": "login"}, headers={"host": "evil.example"}), LambdaContext())
    refresh = wrapped(apigw_v1_event(query={"action": "refresh", "next": "https://evil.example/"}), LambdaContext())
    debug = wrapped(apigw_v1_event(query={"action": "debug"}), LambdaContext())
    assert spoofed["statusCode"] == refresh["statusCode"] == debug["statusCode"] == 403
    encoded = base64.b64encode(os.environ["AWS_SECRET_ACCESS_KEY"].encode()).decode()
    assert encoded not in str(debug) and "evil.example" not in str(spoofed) + str(refresh)
    assert [r["protection"] for r in records.detections()] == ["open_redirect", "open_redirect",
                                                               "credential_exfiltration"]
    benign = wrapped(apigw_v1_event(query={"action": "refresh", "next": "/home"}), LambdaContext())
    assert benign["statusCode"] == 200 and len(records.detections()) == 3
