"""Slow AWS endpoints cannot stall the function: EventBridge shipping, SSM and AppConfig reads are bounded.

Real boto3 against real servers on 127.0.0.1: one that accepts connections, reads and never
answers, and a small JSON stand-in that answers PutEvents and GetParameter as told.
"""
from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app_protect_lambda import config, policy_store, protect
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Mode
from app_protect_lambda.policy_store import FETCH_BUDGET, PolicyStore
from app_protect_lambda.reporting import eventbridge
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

ATTACK = "' OR '1'='1' --"
# What a loaded test machine may add to a bound: the handler's own work, thread switches.
SLACK = 0.75


class SilentServer:
    """Accepts every connection, reads what comes, never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
                connection.settimeout(0.01)
                self.connections.append(connection)
            except OSError:
                pass
            for connection in self.connections:
                with contextlib.suppress(OSError):  # nothing to read yet, or the client gave up
                    connection.recv(65536)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.connections:
            connection.close()
        self._listener.close()


Answer = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]


class JsonStandIn:
    """A JSON-protocol AWS endpoint on 127.0.0.1: ``answer(target, request)`` returns the response
    body, or None to stay silent until the test ends."""

    def __init__(self, answer: Answer) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        released = self._released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "")
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls.append((target, request))
                body = answer(target, request)
                if body is None:
                    released.wait(10)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client gave up on a silent answer: that is the test

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> JsonStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """Clients keep the endpoint they were built with: every test builds its own."""
    for cached in (eventbridge._events_client, policy_store._ssm_client, policy_store._appconfig_client):
        cached.cache_clear()
    yield
    for cached in (eventbridge._events_client, policy_store._ssm_client, policy_store._appconfig_client):
        cached.cache_clear()


def point(monkeypatch: pytest.MonkeyPatch, service: str, url: str, warm: Callable[[], Any]) -> None:
    """Send ``service`` to ``url``, and build its client now: the bound is on waiting, not on importing boto3."""
    monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", url)
    config.reset()
    warm()


def attacked(detections: int) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    @protect(mode="report")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        name = event["queryStringParameters"]["name"]
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE users (name TEXT)")
        for index in range(detections):
            db.execute(f"SELECT * FROM users WHERE name = '{name}' AND {index} = {index}").fetchall()
        return {"statusCode": 200}
    return handler


def unshipped_ids(records) -> list[str]:
    lines = [r for r in records.all() if r.get("schema") == "app-protect/unshipped/1"]
    return [entry["id"] for line in lines for entry in line["detections"]]


def put_events_answer(fail: Callable[[int, int], bool]) -> Answer:
    """PutEvents that fails the entries for which ``fail(call number, index)`` is true."""
    calls = [0]

    def answer(target: str, request: dict[str, Any]) -> dict[str, Any]:
        calls[0] += 1
        results = [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if fail(calls[0], index)
                   else {"EventId": f"event-{calls[0]}-{index}"} for index in range(len(request["Entries"]))]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}
    return answer


def test_a_silent_eventbridge_costs_an_attacked_invocation_at_most_the_budget(monkeypatch: pytest.MonkeyPatch,
                                                                               records) -> None:
    handler = attacked(detections=120)  # twelve batches
    with SilentServer() as silent:
        monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
        point(monkeypatch, "EVENTBRIDGE", silent.url, eventbridge._events_client)
        start = time.monotonic()
        assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 200
        elapsed = time.monotonic() - start
        assert silent.connections  # it was tried
    assert elapsed < eventbridge.SHIP_BUDGET + SLACK
    detections = records.detections()
    assert len(detections) == 120
    assert sorted(unshipped_ids(records)) == sorted(d["id"] for d in detections)  # none is lost
    assert len([r for r in records.all() if r.get("schema") == "app-protect/unshipped/1"]) == 2  # 100 ids a line
    [error] = records.internal_errors()
    assert error["where"] == "reporting.eventbridge" and "120 of 120" in error["error"]


def test_shipping_stops_when_the_invocation_has_no_time_left(monkeypatch: pytest.MonkeyPatch, records) -> None:
    with JsonStandIn(put_events_answer(lambda call, index: False)) as standin:
        monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
        point(monkeypatch, "EVENTBRIDGE", standin.url, eventbridge._events_client)
        attacked(detections=1)(apigw_v1_event(query={"name": ATTACK}), LambdaContext(remaining_ms=600))
    assert standin.calls == []
    assert unshipped_ids(records) == [records.detections()[0]["id"]]


def test_entries_eventbridge_reports_as_failed_are_sent_once_more(monkeypatch: pytest.MonkeyPatch, records) -> None:
    with JsonStandIn(put_events_answer(lambda call, index: call == 1 and index == 1)) as standin:
        monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
        point(monkeypatch, "EVENTBRIDGE", standin.url, eventbridge._events_client)
        attacked(detections=3)(apigw_v1_event(query={"name": ATTACK}), LambdaContext())
    detections = records.detections()
    (_, first), (_, second) = standin.calls
    assert [json.loads(e["Detail"])["id"] for e in first["Entries"]] == [d["id"] for d in detections]
    assert [json.loads(e["Detail"])["id"] for e in second["Entries"]] == [detections[1]["id"]]
    assert records.internal_errors() == [] and unshipped_ids(records) == []


def test_entries_failing_twice_are_written_to_stdout(monkeypatch: pytest.MonkeyPatch, records) -> None:
    with JsonStandIn(put_events_answer(lambda call, index: index == 0)) as standin:
        monkeypatch.setenv("APP_PROTECT_EVENT_BUS", "security")
        point(monkeypatch, "EVENTBRIDGE", standin.url, eventbridge._events_client)
        attacked(detections=2)(apigw_v1_event(query={"name": ATTACK}), LambdaContext())
    assert len(standin.calls) == 2  # the batch, then the failed entry once more: no third try
    first = records.detections()[0]
    [line] = [r for r in records.all() if r.get("schema") == "app-protect/unshipped/1"]
    assert line["event_bus"] == "security"
    assert line["detections"] == [{"id": first["id"], "reason": "InternalFailure: try again"}]
    [error] = records.internal_errors()
    assert error["where"] == "reporting.eventbridge" and "1 of 2" in error["error"]


@pytest.mark.parametrize(("service", "spec", "client"), [
    ("SSM", "ssm:/app-protect/policy", policy_store._ssm_client),
    ("APPCONFIGDATA", "appconfig:shop/prod/app-protect", policy_store._appconfig_client),
])
def test_a_silent_policy_source_fails_the_init_within_the_budget(service: str, spec: str, client: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with SilentServer() as silent:
        point(monkeypatch, service, silent.url, client)
        start = time.monotonic()
        with pytest.raises(PolicyError, match="timeout"):
            PolicyStore(spec)
        elapsed = time.monotonic() - start
        assert len(silent.connections) == 2  # one attempt, and one more while the budget held one
    assert elapsed < FETCH_BUDGET + SLACK


def test_a_reload_against_a_silent_ssm_keeps_the_last_good_policy(monkeypatch: pytest.MonkeyPatch,
                                                                  records) -> None:
    answering = threading.Event()
    answering.set()

    def get_parameter(target: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if not answering.is_set():
            return None
        value = "version: 1\nmode: report\nprotections:\n  sql_injection: block\n"
        return {"Parameter": {"Name": request["Name"], "Type": "String", "Value": value, "Version": 1}}

    with JsonStandIn(get_parameter) as standin:
        monkeypatch.setenv("APP_PROTECT_POLICY_TTL", "0")
        point(monkeypatch, "SSM", standin.url, policy_store._ssm_client)
        store = PolicyStore("ssm:/app-protect/policy")
        answering.clear()
        start = time.monotonic()
        policy = store.current()
        elapsed = time.monotonic() - start
    assert policy.mode_for(AttackKind.SQL_INJECTION) is Mode.BLOCK
    assert elapsed < FETCH_BUDGET + SLACK
    [error] = records.internal_errors()
    assert error["where"] == "policy.reload" and "cannot read the SSM parameter" in error["error"]
