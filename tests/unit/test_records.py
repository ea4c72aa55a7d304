"""Records can always be written: no input makes reporting raise, and every line is valid UTF-8 JSON."""
from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_protect_lambda import reporting
from app_protect_lambda.context import RequestContext
from app_protect_lambda.findings import Action, AttackKind, Finding
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.sources.inputs import Input
from app_protect_lambda.testing import LambdaContext, apigw_v1_event


class Stdout:
    """A real text stdout over bytes, with the encoding and error policy under test.

    ``install()`` in the test itself: pytest puts its own capture back between setup and call.
    """

    def __init__(self, encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.raw = io.BytesIO()
        self.stream = io.TextIOWrapper(self.raw, encoding=encoding, errors="strict", write_through=True)
        self._monkeypatch = monkeypatch

    def install(self) -> None:
        self._monkeypatch.setattr(sys, "stdout", self.stream)

    def lines(self) -> list[bytes]:
        self.stream.flush()
        return self.raw.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line.decode("utf-8", errors="strict")) for line in self.lines()]


@pytest.fixture(params=["utf-8", "ascii"])
def stdout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stdout]:
    yield Stdout(request.param, monkeypatch)


def new_context(event: Any = None) -> RequestContext:
    return RequestContext(apigw_v1_event() if event is None else event, LambdaContext(), Policy(mode=Mode.BLOCK))


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")

    __str__ = __repr__


def cyclic() -> list[Any]:
    items: list[Any] = ["a"]
    items.append(items)
    return items


def deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_ARGUMENTS: dict[str, Callable[[], Any]] = {
    "lone surrogate": lambda: "SELECT * FROM t WHERE name = '\udcff' OR 1=1",
    "surrogate pair halves": lambda: "\ud83d\ude00 and \udc80\udcff",
    "invalid UTF-8 bytes": lambda: b"\xff\xfe\xc3\x28 OR 1=1",
    "huge string": lambda: "x" * 5_000_000 + "'; DROP TABLE t; --",
    "non-string keys": lambda: {(1, 2): "tuple key", None: 1, 3.5: [b"\xff"]},
    "repr raises": Unrepresentable,
    "cyclic": cyclic,
    "deeply nested": lambda: deep(50_000),
    "huge int": lambda: 10 ** 5000,
    "nan": lambda: float("nan"),
    "control characters": lambda: "\x00\x1b[31m\u2028\u2029\r\n",
}


@pytest.mark.parametrize("name", list(HOSTILE_ARGUMENTS))
def test_a_detection_with_any_argument_is_written_as_one_valid_line(name: str, stdout: Stdout) -> None:
    stdout.install()
    context = new_context()
    finding = Finding(AttackKind.SQL_INJECTION, "sqli.structure", "the input \udcff changes the statement",
                      Input("body.na\udcffme", "\udcff' OR 1=1", "json"), "evidence \udcff")
    reporting.report(context, finding, Action.BLOCKED, "sqlite3.Cursor.execute", HOSTILE_ARGUMENTS[name]())
    [record] = stdout.records()
    assert record["schema"] == "app-protect/detection/1" and record["action"] == "blocked"
    assert record["input"]["value"].startswith("\\udcff")  # the surrogate, as text
    assert record["input"]["location"] == "body.na\\udcffme"
    assert len(stdout.lines()[0]) < 8192
    assert context.records == [context.records[0]] and context.internal_errors == set()


def test_valid_text_stays_readable_on_a_utf8_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Stdout("utf-8", monkeypatch)
    out.install()
    finding = Finding(AttackKind.COMMAND_INJECTION, "cmdi.structure", "山田", Input("query.name", "山田; id \udcff"))
    reporting.report(new_context(), finding, Action.REPORTED, "subprocess.Popen", "echo 山田; id")
    [line] = out.lines()
    assert "山田; id".encode() in line and b"\\\\udcff" in line
    assert json.loads(line)["input"]["value"] == "山田; id \\udcff"


def test_an_ascii_stdout_gets_the_same_record_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Stdout("ascii", monkeypatch)
    out.install()
    finding = Finding(AttackKind.COMMAND_INJECTION, "cmdi.structure", "😀", Input("query.name", "山田; id"))
    reporting.report(new_context(), finding, Action.REPORTED, "subprocess.Popen", "echo 山田; id")
    [line] = out.lines()
    assert line.isascii()
    record = json.loads(line)
    assert record["input"]["value"] == "山田; id" and record["message"] == "😀"


def test_notices_and_internal_errors_with_hostile_text(stdout: Stdout) -> None:
    stdout.install()
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("str refuses")

    context = new_context()
    reporting.notice(None, "untested_driver_version", "driver \udcff 9.0")
    reporting.notice(context, "inspection_truncated", "x" * 1_000_000)
    reporting.internal_error("detector.\udcff", Unprintable(), context)
    reporting.internal_error("detector.x", ValueError("\udcff" * 10), None)
    notice_one, notice_two, error_one, error_two = stdout.records()
    assert notice_one["detail"] == "driver \\udcff 9.0" and notice_one["request"] is None
    assert notice_two["detail"].endswith("…(truncated)")
    assert error_one["error"] == "Unprintable" and error_one["where"] == "detector.\\udcff"
    assert error_two["error"].startswith("ValueError: \\udcff")


class BrokenStdout(io.TextIOBase):
    def __init__(self) -> None:
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError("stdout is gone")


def test_a_stdout_that_fails_costs_one_internal_error_and_one_stderr_line(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    broken = BrokenStdout()
    monkeypatch.setattr(sys, "stdout", broken)
    context = new_context()
    finding = Finding(AttackKind.SQL_INJECTION, "sqli.structure", "m", Input("query.id", "1 OR 1=1"))
    for _ in range(3):
        reporting.report(context, finding, Action.BLOCKED, "sqlite3.Cursor.execute", "SELECT 1 OR 1=1")
    reporting.flush(context)

    schemas = [record["schema"] for record in context.records]
    assert schemas.count("app-protect/detection/1") == 3
    assert schemas.count("app-protect/internal-error/1") == 1  # once per invocation and place, not per write
    assert context.internal_errors == {("reporting.write", "BrokenPipeError")}
    [line] = capsys.readouterr().err.splitlines()
    assert "reporting.write" in line and "could not be written" in line
    assert broken.writes <= 3 + 1 + 2  # the detections, the internal error, the metrics: no loop


def test_internal_error_never_recurses_when_stdout_and_stderr_both_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", BrokenStdout())
    monkeypatch.setattr(sys, "stderr", BrokenStdout())
    context = new_context()
    reporting.internal_error("reporting.flush", RuntimeError("boom"), context)
    reporting.notice(context, "inspection_truncated", "more than 5000 inputs")
    assert [record["schema"] for record in context.records] == [
        "app-protect/internal-error/1", "app-protect/notice/1", "app-protect/internal-error/1"]


def test_a_detection_whose_record_cannot_be_built_is_still_recorded(stdout: Stdout,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    stdout.install()
    from app_protect_lambda.reporting import record

    def broken_detection(*args: Any) -> dict[str, Any]:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(record, "detection", broken_detection)
    context = new_context()
    finding = Finding(AttackKind.SSRF, "ssrf.metadata", "m", Input("query.url", "http://169.254.169.254/"))
    reporting.report(context, finding, Action.BLOCKED, "socket.connect", ("169.254.169.254", 80))
    error, detection = stdout.records()
    assert error["schema"] == "app-protect/internal-error/1" and error["where"] == "reporting.detection"
    assert detection["schema"] == "app-protect/detection/1"
    assert (detection["protection"], detection["rule"], detection["action"]) == ("ssrf", "ssrf.metadata", "blocked")


def test_a_fail_closed_finding_without_a_protection_is_recorded_and_counted(stdout: Stdout) -> None:
    stdout.install()
    context = new_context()
    finding = Finding(None, "internal.fail-closed", "building the context failed", None, "KeyError")
    reporting.report(context, finding, Action.BLOCKED, "invocation.context", "")
    reporting.flush(context)
    detection, *metrics = stdout.records()
    assert detection["protection"] is None and detection["action"] == "blocked"
    assert any(document.get("Blocked") == 1 and "Protection" not in document for document in metrics)


def test_flush_with_records_of_any_shape_does_not_raise(stdout: Stdout) -> None:
    stdout.install()
    context = new_context()
    context.records.extend([{"schema": "app-protect/detection/1"}, {"no": "schema"}, {"schema": None}])
    reporting.flush(context)
    assert all("_aws" in document or document["schema"] for document in stdout.records())


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=64)  # lone surrogates included
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT | st.binary(max_size=64),
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(ANY_TEXT | st.integers() | st.tuples(st.integers()), children, max_size=4)),
    max_leaves=16)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(location=ANY_TEXT, value=ANY_TEXT, message=ANY_TEXT, argument=ANY_VALUE)
def test_any_finding_and_argument_make_one_valid_utf8_json_line(location: str, value: str, message: str,
                                                                argument: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = Stdout("utf-8", monkeypatch)
    out.install()
    context = new_context()
    finding = Finding(AttackKind.FILE_ACCESS, "file.traversal", message, Input(location, value), message)
    reporting.report(context, finding, Action.REPORTED, "builtins.open", argument)
    [record] = out.records()
    assert record["schema"] == "app-protect/detection/1" and context.internal_errors == set()


def test_an_internal_error_quoting_a_secret_input_does_not_show_it(stdout: Stdout) -> None:
    stdout.install()
    context = new_context(apigw_v1_event(method="POST", body={"user": "alice", "password": "hunter2-secret"}))
    assert len(context.inputs) > 0  # the invocation flattened its event
    reporting.internal_error("detector.sql_injection", ValueError("cannot parse 'hunter2-secret'"), context)
    [record] = stdout.records()
    assert record["error"] == "ValueError: cannot parse '[REDACTED:secret-input]'"
