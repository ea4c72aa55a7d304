"""Our own errors at every check point: fail open (recorded once, the function unchanged), or block
when the policy says ``fail: closed``. Each point gets an injected internal error."""
from __future__ import annotations

import contextlib
import gc
import io
import json
import socket
import sqlite3
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, checkpoints, protect, sinks
from app_protect_lambda.checkpoints import Checkpoint
from app_protect_lambda.context import RequestContext
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.sinks import filesystem, network, response, shell
from app_protect_lambda.sources.inputs import Inputs
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

CLOSED = {"mode": "block", "fail": "closed"}
OPEN = {"mode": "block", "fail": "open"}


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected internal error")


def broken_perimeter_check(context: RequestContext, where: str) -> None:
    raise RuntimeError("injected internal error")


class Point:
    """One check point: how to break it, and a handler whose work reaches it (``ran`` says it did)."""

    def __init__(self, name: str, inject: Callable[[pytest.MonkeyPatch], None],
                 work: Callable[[Path], None], answers_after_work: bool = False) -> None:
        self.name = name
        self.inject = inject
        self.work = work
        self.answers_after_work = answers_after_work  # the check runs after the handler's work

    def __repr__(self) -> str:
        return self.name


def _sql(tmp: Path) -> None:
    with sqlite3.connect(tmp / "db.sqlite") as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (name TEXT)")
        db.execute("INSERT INTO t VALUES ('bob smith')")
    (tmp / "ran").touch()


def _shell(tmp: Path) -> None:
    subprocess.run(["touch", str(tmp / "ran")], check=True)


def _file(tmp: Path) -> None:
    (tmp / "data.txt").write_text("x")
    with open(tmp / "data.txt") as handle:
        handle.read()
    (tmp / "ran").touch()


def _resolve(tmp: Path) -> None:
    socket.getaddrinfo("127.0.0.1", 9)
    (tmp / "ran").touch()


def _respond(tmp: Path) -> None:
    (tmp / "ran").touch()


def _spawn_and_leave(tmp: Path) -> None:
    subprocess.Popen(["sleep", "5"])
    (tmp / "ran").touch()


def _perimeter(monkeypatch: pytest.MonkeyPatch) -> None:
    point = Checkpoint(AttackKind.SQL_INJECTION, __name__, "broken_perimeter_check")
    monkeypatch.setattr(checkpoints, "PERIMETER", [point])


POINTS = [
    Point("sink: sql", lambda m: m.setattr(Inputs, "any_in", broken), _sql),
    Point("sink: shell", lambda m: m.setattr(shell.ShellState, "__init__", broken), _shell),
    Point("sink: file", lambda m: m.setattr(filesystem, "file_gate", broken), _file),
    Point("sink: network", lambda m: m.setattr(network, "_modules", broken), _resolve),
    Point("perimeter", _perimeter, _respond),
    Point("response check", lambda m: m.setattr(response, "response_parts", broken), _respond,
          answers_after_work=True),
    Point("end of invocation", lambda m: m.setattr(shell, "_alive", broken), _spawn_and_leave,
          answers_after_work=True),
]


def handler_for(point: Point, tmp: Path, policy: dict) -> Callable[..., Any]:
    def handler(event: Any, context: Any) -> dict:
        point.work(tmp)
        return {"statusCode": 200, "body": "bob smith"}

    return protect(policy=policy)(handler)


@pytest.fixture(autouse=True)
def no_children_left() -> Any:
    yield
    subprocess.run(["pkill", "-f", "^sleep 5$"], check=False)


@pytest.mark.parametrize("point", POINTS, ids=repr)
def test_fail_closed_blocks_at(point: Point, tmp_path: Path, records, monkeypatch: pytest.MonkeyPatch) -> None:
    point.inject(monkeypatch)
    answer = handler_for(point, tmp_path, CLOSED)(apigw_v1_event(query={"name": "bob smith"}), LambdaContext())
    assert answer["statusCode"] == 403
    assert (tmp_path / "ran").exists() is point.answers_after_work  # a sink's work never happened
    [error] = records.internal_errors()
    assert "injected internal error" in error["error"]
    [detection] = records.detections()
    assert detection["rule"] == "internal.fail-closed" and detection["action"] == "blocked"


@pytest.mark.parametrize("point", POINTS, ids=repr)
def test_fail_open_goes_on_at(point: Point, tmp_path: Path, records, monkeypatch: pytest.MonkeyPatch) -> None:
    point.inject(monkeypatch)
    answer = handler_for(point, tmp_path, OPEN)(apigw_v1_event(query={"name": "bob smith"}), LambdaContext())
    assert answer == {"statusCode": 200, "body": "bob smith"}
    assert (tmp_path / "ran").exists()
    errors = records.internal_errors()  # once per place: open() and Path.open are two
    assert errors and all("injected internal error" in error["error"] for error in errors)
    assert records.detections() == []


def test_fail_closed_in_report_mode_reports_and_changes_nothing(tmp_path: Path, records,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Inputs, "any_in", broken)
    handler = handler_for(POINTS[0], tmp_path, {"mode": "report", "fail": "closed"})
    assert handler(apigw_v1_event(query={"name": "bob smith"}), LambdaContext())["statusCode"] == 200
    detections = records.detections()  # one per statement that met the failure
    assert detections and all(d["rule"] == "internal.fail-closed" and d["action"] == "reported" for d in detections)


def test_context_that_cannot_be_built_fails_closed_before_the_handler(tmp_path: Path, records,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app_protect_lambda.context.event_kind", broken)
    ran: list[bool] = []
    handler = protect(policy=CLOSED)(lambda event, context: ran.append(True))
    with pytest.raises(RequestBlocked):  # without a known shape, the block is answered as for a direct invocation
        handler(apigw_v1_event(query={"name": "bob"}), LambdaContext())
    assert ran == []
    assert records.internal_errors()[0]["where"] == "invocation.context"


def test_context_that_cannot_be_built_fails_open_into_a_direct_inspection(tmp_path: Path, records,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Failing open does not mean unprotected: every string of the event is still an input."""
    monkeypatch.setattr("app_protect_lambda.context.event_kind", broken)

    @protect(policy=OPEN)
    def handler(event: Any, context: Any) -> Any:
        name = event["queryStringParameters"]["name"]
        return db.execute(f"SELECT * FROM users WHERE name = '{name}'").fetchall()

    db = sqlite3.connect(":memory:")  # after @protect, which instruments the sinks (another test may have undone it)
    db.execute("CREATE TABLE users (name TEXT)")

    with pytest.raises(RequestBlocked):
        handler(apigw_v1_event(query={"name": "x' OR '1'='1"}), LambdaContext())
    assert records.detections()[0]["protection"] == "sql_injection"


def assert_command_injection_blocked(tmp_path: Path) -> None:
    """A shell command built from a query value, attacked: answered 403, and the command never ran."""
    marker = tmp_path / "pwned"

    @protect(mode="block")
    def handler(event: Any, context: Any) -> dict:
        subprocess.run(f"echo {event['queryStringParameters']['name']}", shell=True, check=False)
        return {"statusCode": 200}

    answer = handler(apigw_v1_event(query={"name": f"x; touch {marker}"}), LambdaContext())
    assert answer["statusCode"] == 403 and not marker.exists()


def test_a_record_that_cannot_be_written_still_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("stdout is gone")

    monkeypatch.setattr(sys, "stdout", BrokenPipe())
    assert_command_injection_blocked(tmp_path)


def _garbage_after(run: Callable[[], None]) -> list[object]:
    """The objects of ours and frames that only the cycle collector could free after ``run``."""
    gc.collect()
    gc.disable()
    try:
        run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return [o for o in gc.garbage if isinstance(o, (RequestContext, types.FrameType, types.TracebackType))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("event", [apigw_v1_event(query={"name": "x' OR '1'='1"}), sqs_event({"name": "x' OR 1=1"})],
                         ids=["http", "sqs"])
def test_a_block_leaves_no_reference_cycle(event: dict, records) -> None:
    sinks.instrument()  # before the connection: another test may have undone it
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (name TEXT)")

    @protect(mode="block")
    def handler(event: Any, context: Any) -> Any:
        big = bytearray(1 << 20)  # the handler's memory, which a cycle through its frame would keep
        body = event.get("queryStringParameters") or json.loads(event["Records"][0]["body"])
        try:
            return db.execute(f"SELECT * FROM users WHERE name = '{body['name']}'").fetchall(), len(big)
        except BaseException:  # a handler that catches everything still answers as blocked
            return None

    def run() -> None:
        with contextlib.suppress(RequestBlocked):
            handler(event, LambdaContext())

    assert _garbage_after(run) == []
    assert records.detections()[0]["action"] == "blocked"


def test_a_lone_surrogate_in_the_input_cannot_turn_a_block_into_a_pass(tmp_path: Path, records,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker's JSON escape ``\\udcff`` once made the record's write raise before the block."""
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    marker = tmp_path / "pwned"

    @protect(mode="block")
    def handler(event: Any, context: Any) -> dict:
        name = json.loads(event["body"])["name"]
        subprocess.run(f"echo {name}", shell=True, check=False)
        return {"statusCode": 200}

    body = '{"name": "\\udcff; touch ' + str(marker) + '"}'
    answer = handler(apigw_v1_event(method="POST", body=body), LambdaContext())
    assert answer["statusCode"] == 403 and not marker.exists()


def _reloading_store(tmp_path: Path, fail: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"mode": "block", "fail": fail}))
    monkeypatch.setenv("APP_PROTECT_POLICY", f"file:{policy}")
    monkeypatch.setenv("APP_PROTECT_POLICY_TTL", "0")
    return policy


@pytest.mark.parametrize("fail", ["closed", "open"])
def test_policy_reload_that_fails_inside_our_code(fail: str, tmp_path: Path, records,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _reloading_store(tmp_path, fail, monkeypatch)
    ran: list[bool] = []
    handler = protect(lambda event, context: ran.append(True) or {"statusCode": 200})
    monkeypatch.setattr("app_protect_lambda.policy_store.load", broken)  # every reload from now on
    answer = handler(apigw_v1_event(), LambdaContext())
    assert answer["statusCode"] == (403 if fail == "closed" else 200)
    assert ran == ([] if fail == "closed" else [True])
    assert records.internal_errors()[0]["where"] == "policy.reload"


def test_policy_source_that_fails_keeps_the_last_good_policy_even_when_closed(tmp_path: Path, records,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that cannot be read is not a check that failed: the last good policy still protects."""
    policy = _reloading_store(tmp_path, "closed", monkeypatch)

    @protect
    def handler(event: Any, context: Any) -> dict:
        return {"statusCode": 200, "body": Path(event["queryStringParameters"]["f"]).read_text()}

    policy.unlink()
    assert handler(apigw_v1_event(query={"f": str(policy.parent / "x")}), LambdaContext())["statusCode"] == 403
    assert records.internal_errors()[0]["where"] == "policy.reload"
    assert records.detections()[0]["protection"] == "file_access"


def test_a_record_names_where_the_input_came_from(records) -> None:
    """Detectors judge values before the event is walked; the record still names the location."""
    @protect(mode="report")
    def handler(event: Any, context: Any) -> Any:
        name = event["queryStringParameters"]["name"]
        return db.execute(f"SELECT * FROM users WHERE name = '{name}'").fetchall()

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (name TEXT)")
    handler(apigw_v1_event(query={"name": "x' OR '1'='1"}), LambdaContext())
    [detection] = records.detections()
    assert detection["input"]["location"] == "query.name"
    assert "query.name" in detection["message"] and "\\x00" not in json.dumps(detection)


def test_a_block_stands_when_preparing_its_record_fails(tmp_path: Path, records,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Inputs, "locate", broken)
    assert_command_injection_blocked(tmp_path)
    assert [e["where"] for e in records.internal_errors()] == ["guard.record"]
    assert records.detections()[0]["action"] == "blocked"


def test_a_check_whose_module_fails_to_load_fails_open(monkeypatch: pytest.MonkeyPatch, records) -> None:
    point = Checkpoint(AttackKind.SQL_INJECTION, "app_protect_lambda.no_such_module", "check")
    monkeypatch.setattr(checkpoints, "PERIMETER", [point])
    handler = protect(policy=OPEN)(lambda event, context: {"statusCode": 200, "body": "ran"})
    assert handler(apigw_v1_event(), LambdaContext()) == {"statusCode": 200, "body": "ran"}
    assert "ModuleNotFoundError" in records.internal_errors()[0]["error"]
