"""The function's own credentials never leave in the exception a synchronous caller is sent.

The Lambda runtime answers an unhandled exception with ``errorType`` (the class name),
``errorMessage`` (``str(error)``) and ``stackTrace``; ``runtime_answer`` builds the same thing the
way awslambdaric's ``build_fault_result`` does, and every test checks it (and the whole formatted
chain of what escapes, as a logging layer outside us would print it) for the secret in every
encoding the detector knows.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app_protect_lambda import RequestBlocked, config, protect
from app_protect_lambda.errors import AttackBlocked
from app_protect_lambda.sinks.response import exception_parts
from app_protect_lambda.testing import (
    LambdaContext,
    apigw_v1_event,
    function_url_event,
    sqs_event,
)


def secret() -> str:
    return os.environ["AWS_SECRET_ACCESS_KEY"]


def token() -> str:
    return os.environ["AWS_SESSION_TOKEN"]


def leaked_forms() -> list[str]:
    """Every form of the two credentials a caller could read back."""
    forms = []
    for value in (secret(), token()):
        raw = value.encode()
        forms += [value, quote(value, safe=""), raw.hex(), value[::-1], base64.b64encode(raw).decode(),
                  base64.urlsafe_b64encode(raw).decode(), value[: len(value) // 2 + 1], value[len(value) // 2:]]
    return forms


def assert_nothing_leaves(error: BaseException) -> None:
    answer = runtime_answer(error)
    printed = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    for form in leaked_forms():
        assert form not in json.dumps(answer)
        assert form not in printed


def runtime_answer(error: BaseException) -> dict[str, Any]:
    """What the runtime sends a synchronous caller for ``error`` (awslambdaric's build_fault_result)."""
    return {"errorMessage": str(error), "errorType": type(error).__name__,
            "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__))}


class Quiet(Exception):
    """An exception that prints nothing of its args (a later layer may)."""

    def __str__(self) -> str:
        return "request failed"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


def _chained() -> Exception:
    try:
        raise KeyError(secret())
    except KeyError as cause:
        error = ValueError("lookup failed")
        error.__cause__ = cause
        return error


ATTACKS: list[tuple[str, Callable[[], BaseException]]] = [
    ("secret as is", lambda: ValueError(f"signature mismatch for {secret()}")),
    ("token as is", lambda: RuntimeError(f"cannot refresh {token()}")),
    ("environment dumped", lambda: Exception(json.dumps(dict(os.environ)))),
    ("secret base64", lambda: ValueError(base64.b64encode(secret().encode()).decode())),
    ("token base64url inside a blob", lambda: ValueError(
        base64.urlsafe_b64encode(json.dumps({"t": token()}).encode()).decode())),
    ("secret hex", lambda: ValueError(secret().encode().hex())),
    ("token reversed", lambda: ValueError(token()[::-1])),
    ("secret percent-encoded", lambda: ValueError(quote(secret(), safe=""))),
    ("secret split across args", lambda: ValueError(secret()[:20], secret()[20:])),
    ("secret only in args", lambda: Quiet({"env": {"creds": [secret()]}})),
    ("secret bytes in args", lambda: OSError(5, secret().encode())),
    ("class named with the token", lambda: type(token(), (Exception,), {})("failed")),
    ("token without its SigV4 name", lambda: PermissionError(f"token {token()} rejected")),
]

BENIGN: list[tuple[str, Callable[[], BaseException]]] = [
    ("plain error", lambda: ValueError("invalid order id 42")),
    ("the variable's name, not its value", lambda: KeyError("AWS_SECRET_ACCESS_KEY")),
    ("the access key id alone", lambda: PermissionError(f"AccessDenied for {os.environ['AWS_ACCESS_KEY_ID']}")),
    ("a presigned URL's token after its SigV4 name", lambda: RuntimeError(
        f"GET https://b.s3.amazonaws.com/k?X-Amz-Security-Token={quote(token(), safe='')}&X-Amz-Expires=60 "
        "returned 403")),
    ("a short piece of the secret", lambda: ValueError("0123456789abcdef")),
    ("a message that cannot be printed", lambda: Unprintable("x")),
    ("only a chained cause holds it (never sent)", _chained),
]


@pytest.fixture(autouse=True)
def key_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAFAKEKEYIDFORTESTS")


def raising(build: Callable[[], BaseException], mode: str = "block") -> Callable[..., Any]:
    @protect(mode=mode)
    def handler(event: Any, context: Any) -> Any:
        raise build()
    return handler


@pytest.mark.parametrize(("name", "build"), ATTACKS, ids=[name for name, _ in ATTACKS])
def test_unit_attack_rows_are_found(name: str, build: Callable[[], BaseException]) -> None:
    from app_protect_lambda.detectors.credential_exfiltration import Payload, detect

    finding = detect(Payload(exception_parts(build())), None, {})
    assert finding is not None, name


@pytest.mark.parametrize(("name", "build"), ATTACKS, ids=[name for name, _ in ATTACKS])
def test_unprotected_the_runtime_would_send_them(name: str, build: Callable[[], BaseException]) -> None:
    """The control: each attack row's credentials do reach the caller without the check (a row whose
    message hides its args leaves only through a layer that prints them)."""
    error = build()
    sent = json.dumps(runtime_answer(error)) + json.dumps(error.args, default=repr)
    sent += base64.urlsafe_b64decode(str(error) + "==").decode("latin-1") if name.endswith("blob") else ""
    assert any(form in sent for form in leaked_forms()), name


@pytest.mark.parametrize(("name", "build"), BENIGN, ids=[name for name, _ in BENIGN])
def test_unit_benign_rows_are_not(name: str, build: Callable[[], BaseException]) -> None:
    from app_protect_lambda.detectors.credential_exfiltration import Payload, detect

    assert detect(Payload(exception_parts(build())), None, {}) is None, name


@pytest.mark.parametrize(("name", "build"), ATTACKS, ids=[name for name, _ in ATTACKS])
def test_a_direct_invoke_gets_request_blocked_without_the_credentials(name, build, records) -> None:
    with pytest.raises(RequestBlocked) as raised:
        raising(build)({"order": "42"}, LambdaContext())
    assert_nothing_leaves(raised.value)
    assert runtime_answer(raised.value)["errorType"] == "RequestBlocked"
    assert raised.value.__context__ is None  # the original is not reachable from what escapes
    cause = raised.value.__cause__
    assert isinstance(cause, AttackBlocked) and cause.__context__ is None and cause.__traceback__ is None
    [record] = records.detections()
    assert record["protection"] == "credential_exfiltration" and record["action"] == "blocked"
    assert record["rule"] == "credential_exfiltration.exception" and record["sink"]["name"] == "handler exception"
    assert record["message"].endswith("in the exception the caller is sent")
    assert "raised by the handler at test_exception_credentials.py" in json.dumps(record)
    for form in leaked_forms():
        assert form not in json.dumps(records.all())


@pytest.mark.parametrize("event", [apigw_v1_event(path="/orders"), function_url_event(path="/orders")],
                         ids=["api-gateway", "function-url"])
def test_an_http_invocation_is_answered_403(event, records) -> None:
    reply = raising(lambda: ValueError(f"bad signature {secret()}"))(event, LambdaContext())
    assert reply["statusCode"] == 403
    for form in leaked_forms():
        assert form not in json.dumps(reply)
    [record] = records.detections()
    assert record["action"] == "blocked" and record["sink"]["name"] == "handler exception"


@pytest.mark.parametrize(("name", "build"), BENIGN, ids=[name for name, _ in BENIGN])
def test_benign_exceptions_escape_unchanged(name, build, records) -> None:
    original = build()

    @protect(mode="block")
    def handler(event: Any, context: Any) -> Any:
        raise original

    for event in ({"order": "42"}, sqs_event({"order": 42}), apigw_v1_event(path="/orders")):
        with pytest.raises(type(original)) as raised:
            handler(event, LambdaContext())
        assert raised.value is original
    assert records.detections() == []


def test_report_mode_records_and_lets_the_original_escape(records) -> None:
    original = ValueError(f"bad signature {secret()}")

    @protect(mode="report")
    def handler(event: Any, context: Any) -> Any:
        raise original

    with pytest.raises(ValueError) as raised:
        handler(sqs_event({"order": 42}), LambdaContext())
    assert raised.value is original
    [record] = records.detections()
    assert record["action"] == "reported" and record["rule"] == "credential_exfiltration.exception"
    assert secret() not in json.dumps(records.all())


class Hostile:
    """An argument whose text cannot be made: the check itself fails."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize(("policy", "escapes"), [({"mode": "block"}, ValueError),
                                                 ({"mode": "block", "fail": "closed"}, RequestBlocked)],
                         ids=["fail-open", "fail-closed"])
def test_our_own_failure_in_the_check_follows_the_fail_policy(policy, escapes, records) -> None:
    @protect(policy=policy)
    def handler(event: Any, context: Any) -> Any:
        raise ValueError("broken", Hostile())

    with pytest.raises(escapes):
        handler({"order": "42"}, LambdaContext())
    assert records.internal_errors()


def _cyclic() -> list:
    loop: list = ["x"]
    loop.append(loop)
    return loop


def _self_dict() -> dict:
    loop: dict = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("argument", [_cyclic(), _self_dict(), ["word"] * 500_000, [[[["deep"]]]] * 100_000],
                         ids=["cyclic list", "self-containing dict", "500k strings", "100k nested lists"])
def test_hostile_args_cost_a_bounded_time(argument: Any, records) -> None:
    """Args are read at most ``MAX_ARG_NODES`` values deep: a cycle (4M steps, 1.4-1.8 s, with the
    response's own cap) or a huge list costs what its message costs the runtime anyway."""
    @protect(mode="block")
    def handler(event: Any, context: Any) -> Any:
        raise ValueError("failed", argument)

    started = time.process_time()
    with pytest.raises(ValueError):
        handler({"order": "42"}, LambdaContext())
    assert time.process_time() - started < 1.0
    assert records.detections() == []


def test_the_protection_off_lets_it_escape_unjudged(records) -> None:
    @protect(policy={"mode": "block", "protections": {"credential_exfiltration": "off"}})
    def handler(event: Any, context: Any) -> Any:
        raise ValueError(secret())

    with pytest.raises(ValueError):
        handler({"order": "42"}, LambdaContext())
    assert records.detections() == []


def test_an_async_handler_is_judged_the_same(records) -> None:
    @protect(mode="block")
    async def handler(event: Any, context: Any) -> Any:
        await asyncio.sleep(0)
        raise RuntimeError(f"credentials: {base64.b64encode(token().encode()).decode()}")

    with pytest.raises(RequestBlocked) as raised:
        asyncio.run(handler({"order": "42"}, LambdaContext()))
    assert_nothing_leaves(raised.value)
    assert [r["action"] for r in records.detections()] == ["blocked"]


def test_an_exception_the_handler_raised_after_another_block_stays_that_block(records) -> None:
    @protect(mode="block")
    def handler(event: Any, context: Any) -> Any:
        with contextlib.suppress(BaseException), open("/proc/self/environ") as environ:  # blocked, swallowed
            environ.read()
        raise ValueError(secret())

    with pytest.raises(RequestBlocked) as raised:
        handler({"order": "42"}, LambdaContext())
    assert secret() not in runtime_answer(raised.value)["errorMessage"]
    [record] = records.detections()
    assert record["action"] == "blocked" and record["rule"] != "credential_exfiltration.exception"


HANDLER_MODULE = '''
import os

def handler(event, context):
    if event.get("fail") == "secret":
        raise ValueError("could not sign with " + os.environ["AWS_SECRET_ACCESS_KEY"])
    if event.get("fail") == "plain":
        raise ValueError("no such order")
    return {"statusCode": 200, "body": "ok"}
'''


@pytest.fixture
def exec_wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The bootstrap handler the runtime calls, with APP_PROTECT_HANDLER at a module in a task root."""
    name = f"leaky_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(HANDLER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{name}.handler")
    monkeypatch.setenv("_HANDLER", "app_protect_lambda.bootstrap.handler")
    sys.modules.pop("app_protect_lambda.bootstrap", None)
    config.reset()
    yield importlib.import_module("app_protect_lambda.bootstrap").handler
    sys.modules.pop(name, None)
    sys.modules.pop("app_protect_lambda.bootstrap", None)


def test_through_the_exec_wrapper(exec_wrapper, records) -> None:
    assert exec_wrapper({"fail": "no"}, LambdaContext())["statusCode"] == 200
    with pytest.raises(ValueError, match="no such order"):
        exec_wrapper({"fail": "plain"}, LambdaContext())
    with pytest.raises(RequestBlocked) as raised:
        exec_wrapper({"fail": "secret"}, LambdaContext())
    assert_nothing_leaves(raised.value)
    http = apigw_v1_event(path="/orders", query={"fail": "secret"})
    http["fail"] = "secret"
    assert exec_wrapper(http, LambdaContext())["statusCode"] == 403
    detections = records.detections()
    assert [r["rule"] for r in detections] == ["credential_exfiltration.exception"] * 2
    assert all("in handler (message withheld)" in json.dumps(r) for r in detections)
    assert secret() not in json.dumps(records.all())
