"""EventBridge shipping and SSM/AppConfig policies, with real boto3 against moto."""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from moto import mock_aws

from app_protect_lambda import config, policy_store, protect
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Mode
from app_protect_lambda.policy_store import load
from app_protect_lambda.reporting import eventbridge
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

ATTACK = "' OR '1'='1' --"


def forget_clients() -> None:
    """Our cached AWS clients keep the endpoint they were built with: each test builds its own."""
    eventbridge._events_client.cache_clear()
    policy_store._ssm_client.cache_clear()
    policy_store._appconfig_client.cache_clear()


@pytest.fixture
def aws() -> Iterator[None]:
    forget_clients()
    with mock_aws():
        yield
    forget_clients()


def vulnerable(event, context):
    name = event["queryStringParameters"]["name"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (name TEXT)")
    return {"statusCode": 200, "body": json.dumps(db.execute(f"SELECT * FROM users WHERE name = '{name}'").fetchall())}


def test_detections_reach_an_eventbridge_rule_target(aws, monkeypatch: pytest.MonkeyPatch, records) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="security")
    queue_url = sqs.create_queue(QueueName="detections")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-detections", EventBusName="security",
                    EventPattern=json.dumps({"source": ["app-protect"], "detail-type": ["App Protect Detection"]}))
    events.put_targets(Rule="all-detections", EventBusName="security", Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
    config.reset()

    handler = protect(mode="block")(vulnerable)
    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    [message] = messages
    envelope = json.loads(message["Body"])
    assert envelope["source"] == "app-protect" and envelope["detail-type"] == "App Protect Detection"
    detail = envelope["detail"]
    assert detail["schema"] == "app-protect/detection/1"
    assert detail["protection"] == "sql_injection" and detail["action"] == "blocked"
    assert detail["input"] == {"location": "query.name", "value": ATTACK}
    assert detail == records.detections()[0]  # the same record on stdout and on the bus
    assert records.internal_errors() == []


def test_benign_invocation_makes_no_eventbridge_call(aws, monkeypatch: pytest.MonkeyPatch, records) -> None:
    monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
    config.reset()
    handler = protect(mode="block")(vulnerable)
    assert handler(apigw_v1_event(query={"name": "alice"}), LambdaContext())["statusCode"] == 200
    assert eventbridge._events_client.cache_info().currsize == 0


def test_shipping_failure_is_an_internal_error_not_a_broken_function(aws, monkeypatch: pytest.MonkeyPatch,
                                                                     records) -> None:
    monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "no-such-bus")
    config.reset()
    handler = protect(mode="report")(vulnerable)
    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 200
    [error] = records.internal_errors()
    assert error["where"] == "reporting.eventbridge"
    [detection] = records.detections()
    [unshipped] = [r for r in records.all() if r.get("schema") == "app-protect/unshipped/1"]
    assert unshipped["event_bus"] == "no-such-bus"
    assert [entry["id"] for entry in unshipped["detections"]] == [detection["id"]]


def test_policy_from_ssm(aws) -> None:
    boto3.client("ssm").put_parameter(Name="/app-protect/policy", Type="String",
                                      Value="version: 1\nmode: report\nprotections:\n  sql_injection: block\n")
    policy = load("ssm:/app-protect/policy")
    assert policy.mode_for(AttackKind.SQL_INJECTION) is Mode.BLOCK
    assert policy.source == "ssm:/app-protect/policy"


def test_bad_policy_in_ssm_names_the_parameter_and_line(aws) -> None:
    boto3.client("ssm").put_parameter(Name="/app-protect/bad", Type="String",
                                      Value="version: 1\nprotections:\n  sqli: block\n")
    with pytest.raises(PolicyError, match=r"^policy ssm:/app-protect/bad, line 3: protections.sqli: unknown key"):
        load("ssm:/app-protect/bad")


def test_missing_ssm_parameter(aws) -> None:
    with pytest.raises(PolicyError, match="cannot read the SSM parameter"):
        load("ssm:/absent")


class AppConfigDataStandIn(BaseHTTPRequestHandler):
    """The two AppConfig Data calls the loader makes, served on 127.0.0.1 (moto has no AppConfig Data)."""

    configurations: dict[str, bytes] = {}
    sessions: dict[str, str] = {}

    def do_POST(self) -> None:  # StartConfigurationSession
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = "/".join(request[k] for k in ("ApplicationIdentifier", "EnvironmentIdentifier",
                                             "ConfigurationProfileIdentifier"))
        if key not in self.configurations:
            self._send(404, b'{"Message": "not found"}', {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        token = f"token-{len(self.sessions)}"
        self.sessions[token] = key
        self._send(201, json.dumps({"InitialConfigurationToken": token}).encode(), {})

    def do_GET(self) -> None:  # GetLatestConfiguration
        token = parse_qs(urlparse(self.path).query)["configuration_token"][0]
        body = self.configurations[self.sessions[token]]
        self._send(200, body, {"Next-Poll-Configuration-Token": token, "Next-Poll-Interval-In-Seconds": "60",
                               "Content-Type": "application/x-yaml"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def appconfig_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AppConfigDataStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPCONFIGDATA", f"http://127.0.0.1:{server.server_port}")
    AppConfigDataStandIn.configurations = {}
    forget_clients()
    try:
        yield AppConfigDataStandIn.configurations
    finally:
        forget_clients()
        server.shutdown()
        server.server_close()


def test_policy_from_appconfig(appconfig_endpoint: dict[str, bytes]) -> None:
    appconfig_endpoint["shop/prod/app-protect"] = b"version: 1\nmode: block\nprotections:\n  ssrf: report\n"
    policy = load("appconfig:shop/prod/app-protect")
    assert policy.mode is Mode.BLOCK and policy.mode_for(AttackKind.SSRF) is Mode.REPORT
    assert policy.source == "appconfig:shop/prod/app-protect"


def test_missing_appconfig_profile(appconfig_endpoint: dict[str, bytes]) -> None:
    with pytest.raises(PolicyError, match="cannot read the AppConfig configuration"):
        load("appconfig:shop/prod/absent")


def test_malformed_appconfig_location() -> None:
    with pytest.raises(PolicyError, match="expected appconfig:application/environment/profile"):
        load("appconfig:only-two/parts")
