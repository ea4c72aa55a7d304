"""An internal ALB's Host header naming the service the function calls by its own configuration is not SSRF.

Behind an internal ALB the Host header is the ALB's name; a function that calls another route of
the same ALB, from an environment variable, calls the host the header names. That is
configuration, not an attack; a Host header an attacker points elsewhere is still one.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
import requests

from app_protect_lambda import RequestBlocked, protect, testing
from app_protect_lambda.testing import LambdaContext, alb_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver

ALB = "internal-users-1234567890.us-east-1.elb.amazonaws.com"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {ALB: "127.0.0.1", "internal.example": "127.0.0.1",
                                          "xray.example": "127.0.0.1", "metadata.example": "169.254.169.254"})


def calls_configured_service(event: dict, context: Any) -> dict:
    """A handler behind the internal ALB that calls another service of it, as configured."""
    reply = requests.get(f"{os.environ['USERS_URL']}/users/{event['path'].rsplit('/', 1)[-1]}", timeout=TIMEOUT)
    return {"statusCode": 200, "body": reply.text}


def calls_own_host(event: dict, context: Any) -> dict:
    """A handler that builds a URL from the Host header it was sent: the attacker's way in."""
    headers = event.get("headers") or {k: v[0] for k, v in event["multiValueHeaders"].items()}
    host = headers.get("x-forwarded-host") or headers["host"]
    return {"statusCode": 200, "body": requests.get(f"http://{host}/internal/status", timeout=TIMEOUT).text}


# ---------------------------------------------------------------- benign: configuration

@pytest.mark.parametrize("multi_value", [False, True])
@pytest.mark.parametrize("with_port", [False, True])
def test_the_albs_host_header_naming_the_configured_service_passes(
        multi_value: bool, with_port: bool, server: LocalServer, records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")
    host = f"{ALB}:{server.port}" if with_port else ALB
    event = alb_event(path="/orders/42", headers={"host": host}, multi_value=multi_value)
    reply = protect(mode="block")(calls_configured_service)(event, LambdaContext())
    assert reply == {"statusCode": 200, "body": "internal-secret"}
    assert [r["path"] for r in server.requests] == ["/users/42"]
    assert records.detections() == []


def test_a_configured_host_and_port_passes(server: LocalServer, records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_ENDPOINT", f"{ALB.upper()}:{server.port}")  # compared as host names are: folded

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        url = f"http://{os.environ['USERS_ENDPOINT'].lower()}/users/1"
        return {"statusCode": 200, "body": requests.get(url, timeout=TIMEOUT).text}

    assert handler(alb_event(headers={"host": ALB}), LambdaContext()) == {"statusCode": 200,
                                                                          "body": "internal-secret"}
    assert [r["path"] for r in server.requests] == ["/users/1"] and records.detections() == []


# ---------------------------------------------------------------- attacks: still blocked

def test_a_host_header_naming_an_unconfigured_internal_host_is_blocked(
        server: LocalServer, records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")
    event = alb_event(headers={"host": f"internal.example:{server.port}"})
    assert protect(mode="block")(calls_own_host)(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "header.host"


@pytest.mark.parametrize("host", ["169.254.169.254", "metadata.example", "[fd00:ec2::254]"])
def test_a_host_header_naming_the_metadata_service_is_blocked_even_when_configured(
        host: str, records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METADATA_URL", f"http://{host}")  # configuration never clears these endpoints
    event = alb_event(headers={"host": host})
    assert protect(mode="block")(calls_own_host)(event, LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["rule"] == "ssrf.metadata"


def test_x_forwarded_host_is_never_configuration(server: LocalServer, records,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")
    event = alb_event(headers={"host": ALB, "x-forwarded-host": f"{ALB}:{server.port}"})
    assert protect(mode="block")(calls_own_host)(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    assert records.detections()[0]["input"]["location"] == "header.x-forwarded-host"


def test_another_input_naming_the_configured_host_is_still_ssrf(server: LocalServer, records,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        url = unquote(event["queryStringParameters"]["next"])  # an ALB passes the query on encoded
        return {"statusCode": 200, "body": requests.get(url, timeout=TIMEOUT).text}

    event = alb_event(headers={"host": ALB}, query={"next": f"http://{ALB}:{server.port}/admin"})
    assert handler(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    assert records.detections()[0]["input"]["location"] == "query.next"


def test_a_queue_message_naming_the_configured_host_is_still_ssrf(server: LocalServer, records,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        url = json.loads(event["Records"][0]["body"])["callback"]
        return {"statusCode": 200, "body": requests.get(url, timeout=TIMEOUT).text}

    with pytest.raises(RequestBlocked):
        handler(sqs_event({"callback": f"http://{ALB}:{server.port}/admin"}), LambdaContext())
    assert server.untouched


# ---------------------------------------------------------------- attacks: the environment is not all configuration

@pytest.mark.parametrize(("name", "value", "host"), [
    ("DB_HOST", "{alb}", "{alb}:{port}"),  # a bare host says nothing of the port it serves
    ("USERS_URL", "http://{alb}:8080", "{alb}:{port}"),  # another port than the one configured
    ("AWS_XRAY_DAEMON_ADDRESS", "xray.example:{port}", "xray.example:{port}"),  # the platform's, not the function's
    ("_X_AMZN_UPSTREAM", "http://xray.example:{port}", "xray.example:{port}"),
    ("LAMBDA_UPSTREAM", "http://xray.example:{port}", "xray.example:{port}"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:{port}", "localhost:{port}"),  # an extension in the sandbox
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:{port}", "127.0.0.1:{port}"),
])
def test_a_host_header_naming_what_the_environment_merely_holds_is_blocked(
        name: str, value: str, host: str, server: LocalServer, records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value.format(alb=ALB, port=server.port))
    event = alb_event(headers={"host": host.format(alb=ALB, port=server.port)})
    assert protect(mode="block")(calls_own_host)(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["input"]["location"] == "header.host"


@pytest.mark.parametrize("make_event", [testing.apigw_v1_event, testing.apigw_v2_event,
                                        testing.function_url_event])
def test_only_an_albs_host_header_names_configuration(make_event: Any, server: LocalServer, records,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERS_URL", f"http://{ALB}:{server.port}")  # the API's Host is its own domain, never this
    event = make_event(headers={"host": f"{ALB}:{server.port}"})
    assert protect(mode="block")(calls_own_host)(event, LambdaContext())["statusCode"] == 403
    assert server.untouched
    assert records.detections()[0]["input"]["location"] == "header.host"
