"""The built layer, attached the way users attach it, run by the real awslambdaric.

For each Python 3.10-3.13 on this machine: the layer unpacked into an /opt-like
directory, the runtime's bootstrap stand-in started through the exec wrapper
(``AWS_LAMBDA_EXEC_WRAPPER=/opt/app-protect``), a local Runtime API, and the demo
function (Powertools resolver and Logger) in block mode, shipping its records to
EventBridge on moto_server. One runtime process per Python version serves every
test of this module, as a warm Lambda sandbox would.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sam.runtime.moto_server import MotoServer
from sam.runtime.process import FAKE_CREDENTIALS, LocalFunction

from app_protect_lambda.testing import apigw_v1_event, sqs_event

from .conftest import FUNCTION, PYTHONS, runtime_or_skip

pytestmark = pytest.mark.e2e

SECRET = FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


@dataclass
class Deployed:
    function: LocalFunction
    moto: MotoServer
    queue_url: str
    scratch: Path


@pytest.fixture(scope="module", params=PYTHONS, ids=lambda version: f"py{version}")
def deployed(request: pytest.FixtureRequest, opt: Path, moto: MotoServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    python = runtime_or_skip(request.param)
    name = f"app-protect-py{request.param.replace('.', '')}"
    queue_url = moto.detections_target(bus=name, name=name)
    environment = {"APP_PROTECT_MODE": "block", "APP_PROTECT_EVENT_BUS": name, "AWS_ENDPOINT_URL": moto.endpoint}
    with LocalFunction(python, FUNCTION, "app.handler", opt=opt, exec_wrapper=True,
                       environment=environment) as function:
        function.wait_ready()
        yield Deployed(function, moto, queue_url, tmp_path_factory.mktemp("scratch"))


def get(path: str, **query: str) -> dict:
    return apigw_v1_event("GET", path, query=query or None)


# ---------------------------------------------------------------- HTTP through the exec wrapper

BENIGN = [
    pytest.param(get("/ping"), {"ok": True}, id="ping"),
    pytest.param(get("/users", name="alice"),
                 {"users": [{"name": "alice", "email": "alice@example.com", "plan": "pro"}]}, id="user"),
    pytest.param(get("/users", name="山田"),
                 {"users": [{"name": "山田", "email": "yamada@example.jp", "plan": "pro"}]}, id="user-japanese"),
    pytest.param(get("/users", name="alice OR bob; -- not a comment"), {"users": []}, id="user-sql-words"),
    pytest.param(get("/notes", name="meeting notes 2026.txt"),
                 {"name": "meeting notes 2026.txt",
                  "text": "Agenda: ship v1.2, review the on-call rota, order more coffee.\n"}, id="note-spaces"),
    pytest.param(get("/notes", name="tokyo.txt"),
                 {"name": "tokyo.txt", "text": "東京オフィスの会議は毎週月曜日の午前十時からです。\n"},
                 id="note-japanese"),
    pytest.param(get("/notes/wordcount", name="release.v1.2.txt"), {"name": "release.v1.2.txt", "words": "10"},
                 id="wordcount-dots"),
    pytest.param(get("/notes/wordcount", name="meeting notes 2026.txt"),
                 {"name": "meeting notes 2026.txt", "words": "10"}, id="wordcount-spaces"),
]


@pytest.mark.parametrize(("event", "expected"), BENIGN)
def test_benign_requests_are_answered_unchanged(deployed: Deployed, event: dict, expected: dict) -> None:
    result = deployed.function.invoke(event)
    assert result.ok, result.payload
    assert result.status_code == 200, result.payload
    assert result.body == expected
    assert deployed.function.records(request_id=result.request_id, timeout=0.1) == []


def test_sql_injection_is_blocked_with_403(deployed: Deployed) -> None:
    result = deployed.function.invoke(get("/users", name="nobody' OR '1'='1"))
    assert result.status_code == 403
    assert "alice" not in json.dumps(result.payload)
    [record] = deployed.function.records(request_id=result.request_id, wait_for=1)
    assert (record["protection"], record["action"], record["input"]["location"]) == \
        ("sql_injection", "blocked", "query.name")
    assert record["sink"]["frame"].startswith("app.py:")


def test_command_injection_is_blocked_and_the_command_never_runs(deployed: Deployed) -> None:
    marker = deployed.scratch / "pwned-by-shell"
    result = deployed.function.invoke(get("/notes/wordcount", name=f'welcome.txt"; env; touch {marker}; echo "'))
    assert result.status_code == 403
    assert SECRET not in json.dumps(result.payload)
    assert not marker.exists()
    [record] = deployed.function.records(request_id=result.request_id, wait_for=1)
    assert (record["protection"], record["action"]) == ("command_injection", "blocked")


def test_reading_proc_self_environ_is_blocked(deployed: Deployed) -> None:
    result = deployed.function.invoke(get("/notes", name="/proc/self/environ"))
    assert result.status_code == 403
    assert SECRET not in json.dumps(result.payload)
    [record] = deployed.function.records(request_id=result.request_id, wait_for=1)
    assert (record["protection"], record["action"]) == ("file_access", "blocked")
    assert SECRET not in json.dumps(record)


def test_traversal_out_of_the_notes_directory_is_blocked(deployed: Deployed) -> None:
    result = deployed.function.invoke(get("/notes", name="../app.py"))
    assert result.status_code == 403
    assert "import" not in json.dumps(result.payload)


def test_ssrf_to_the_runtime_api_is_blocked_before_any_request_leaves(deployed: Deployed) -> None:
    api = deployed.function.api
    strays = len(api.stray_requests)
    result = deployed.function.invoke(get("/preview", url=f"http://{api.address}/2018-06-01/runtime/invocation/next"))
    assert result.status_code == 403
    assert len(api.stray_requests) == strays  # the Runtime API never saw the function's request
    [record] = deployed.function.records(request_id=result.request_id, wait_for=1)
    assert (record["protection"], record["action"]) == ("ssrf", "blocked")


# ---------------------------------------------------------------- SQS: a block is an invocation error

def test_blocked_sqs_batch_is_an_invocation_error_and_the_same_runtime_answers_next(deployed: Deployed) -> None:
    function = deployed.function
    pid = function.process.pid
    attack = function.invoke(sqs_event({"name": "mallory', 'm@evil.test', 'admin'); --", "email": "x"}))
    assert not attack.ok
    assert attack.error_type == "RequestBlocked"
    assert "sql_injection blocked" in attack.payload["errorMessage"]
    [record] = function.records(request_id=attack.request_id, wait_for=1)
    assert record["request"]["kind"] == "sqs" and record["input"]["location"].startswith("records[0].body")

    benign = function.invoke(sqs_event({"name": "carol", "email": "carol@example.com"},
                                       {"name": "d.o.e 太郎", "email": "doe@example.jp"}))
    assert benign.ok and benign.payload == {"imported": 2}
    assert function.process.pid == pid and not function.exited()
    users = {user["name"]: user["plan"] for user in function.invoke(get("/users", name="carol")).body["users"]}
    assert users == {"carol": "free"}
    assert function.invoke(get("/users", name="mallory")).body == {"users": []}  # the blocked insert never ran


# ---------------------------------------------------------------- records: stdout and EventBridge

def test_records_are_json_lines_on_stdout_with_emf_metrics(deployed: Deployed) -> None:
    function = deployed.function
    since = function.mark()
    result = function.invoke(get("/users", name="x' UNION SELECT name, email, plan FROM users --"))
    assert result.status_code == 403
    function.records(request_id=result.request_id, wait_for=1)
    metrics = [json.loads(line) for line in function.lines_starting('{"_aws"', since=since)]
    assert any(m.get("Protection") == "sql_injection" and m.get("Blocked") == 1 for m in metrics)


def test_detections_reach_eventbridge_and_the_sqs_target_of_a_rule(deployed: Deployed) -> None:
    deployed.moto.drain(deployed.queue_url, expected=10**6, timeout=0.5)  # what earlier tests shipped
    function = deployed.function
    result = function.invoke(get("/users", name="' OR 1=1 --"))
    assert result.status_code == 403
    [record] = function.records(request_id=result.request_id, wait_for=1)
    [event] = deployed.moto.drain(deployed.queue_url, expected=1)
    assert (event["source"], event["detail-type"]) == ("app-protect", "App Protect Detection")
    assert event["detail"]["id"] == record["id"]
    assert event["detail"]["protection"] == "sql_injection"
    assert event["resources"] == [f"arn:aws:lambda:us-east-1:123456789012:function:{function.function_name}"]
    assert function.records("app-protect/internal-error/1", request_id=result.request_id, timeout=0.1) == []


# ---------------------------------------------------------------- the events shipped for `sam local invoke`

EVENTS = sorted((FUNCTION.parent / "events").glob("*.json"))


@pytest.mark.parametrize("path", EVENTS, ids=lambda path: path.stem)
def test_sam_local_events_do_what_their_names_say(deployed: Deployed, path: Path) -> None:
    result = deployed.function.invoke(json.loads(path.read_text()))
    if path.stem.startswith("attack-import"):
        assert result.error_type == "RequestBlocked"
    elif path.stem.startswith("attack-"):
        assert result.status_code == 403
    else:
        assert result.ok and (result.status_code == 200 or result.payload == {"imported": 1})
        assert deployed.function.records(request_id=result.request_id, timeout=0.1) == []
