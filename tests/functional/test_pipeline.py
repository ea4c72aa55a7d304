"""The @protect pipeline: blocks that survive `except Exception`, response shapes, failing open, isolation."""
from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app_protect_lambda import AttackBlocked, RequestBlocked, protect, sinks
from app_protect_lambda.detectors import sql_injection
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.testing import (
    LambdaContext,
    alb_event,
    apigw_v1_event,
    apigw_v2_event,
    function_url_event,
    sqs_event,
    websocket_event,
)

ATTACK = "' OR '1'='1' --"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", [("alice",), ("bob",)])
    db.close()
    return path


def lookup(db_path: Path, name: str) -> list:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(f"SELECT name FROM users WHERE name = '{name}'").fetchall()
    finally:
        db.close()


def name_of(event: dict) -> str:
    if event.get("queryStringParameters"):
        return event["queryStringParameters"]["name"]
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])["name"]
    return json.loads(event["body"])["name"]


def test_decorator_bare_and_with_arguments_and_twice(db_path: Path) -> None:
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, name_of(event)))}

    bare = protect(handler)
    assert protect(bare) is bare
    assert protect(mode="block")(bare) is bare
    assert bare.__name__ == "handler" and bare.__wrapped__ is handler
    blocking = protect(mode="block")(handler)
    assert blocking(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403
    assert bare(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 200  # report


def test_users_exceptions_pass_through_unchanged() -> None:
    failure = ValueError("boom")

    @protect(mode="block")
    def handler(event, context):
        raise failure

    with pytest.raises(ValueError) as raised:
        handler(apigw_v1_event(), LambdaContext())
    assert raised.value is failure


def test_block_survives_a_handler_that_catches_exception(db_path: Path, records) -> None:
    ran = []

    @protect(mode="block")
    def handler(event, context):
        try:
            rows = lookup(db_path, name_of(event))
            ran.append("after sink")
            return {"statusCode": 200, "body": json.dumps(rows)}
        except Exception as error:  # the common catch-all that must not swallow a block
            return {"statusCode": 500, "body": str(error)}

    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403
    assert ran == []
    assert len(records.detections()) == 1


def test_block_survives_a_handler_that_swallows_everything(db_path: Path) -> None:
    @protect(mode="block")
    def handler(event, context):
        with contextlib.suppress(BaseException):  # deliberately hostile to our exception
            lookup(db_path, name_of(event))
        return {"statusCode": 200, "body": "carried on"}

    assert handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())["statusCode"] == 403


def test_attack_blocked_is_a_base_exception_and_request_blocked_an_exception() -> None:
    assert not issubclass(AttackBlocked, Exception)
    assert issubclass(RequestBlocked, Exception)


@pytest.mark.parametrize(("builder", "expected_keys"), [
    (lambda: apigw_v1_event(query={"name": ATTACK}), {"statusCode", "headers", "body", "isBase64Encoded"}),
    (lambda: apigw_v2_event(query={"name": ATTACK}), {"statusCode", "headers", "body", "isBase64Encoded"}),
    (lambda: function_url_event(query={"name": ATTACK}), {"statusCode", "headers", "body", "isBase64Encoded"}),
    (lambda: alb_event(query={"name": ATTACK}),
     {"statusCode", "statusDescription", "headers", "body", "isBase64Encoded"}),
    (lambda: alb_event(query={"name": ATTACK}, multi_value=True),
     {"statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"}),
    (lambda: websocket_event(body={"name": ATTACK}), {"statusCode", "headers", "body", "isBase64Encoded"}),
], ids=["v1", "v2", "function-url", "alb", "alb-multi-value", "websocket"])
def test_403_is_shaped_for_the_event_kind(db_path: Path, builder, expected_keys: set) -> None:
    @protect(mode="block")
    def handler(event, context):
        if event.get("multiValueQueryStringParameters"):
            event["queryStringParameters"] = {"name": event["multiValueQueryStringParameters"]["name"][0]}
        if "elb" in event.get("requestContext", {}):
            from urllib.parse import unquote_plus

            event["queryStringParameters"] = {"name": unquote_plus(event["queryStringParameters"]["name"])}
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, name_of(event)))}

    event = builder()
    response = handler(event, LambdaContext())
    assert response["statusCode"] == 403
    assert set(response) == expected_keys
    body = json.loads(response["body"])
    assert body["message"] == "Forbidden" and body["requestId"]
    if "statusDescription" in response:
        assert response["statusDescription"] == "403 Forbidden"


def test_non_http_block_raises_request_blocked_from_attack_blocked(db_path: Path) -> None:
    @protect(mode="block")
    def handler(event, context):
        return lookup(db_path, name_of(event))

    context = LambdaContext()
    with pytest.raises(RequestBlocked) as raised:
        handler(sqs_event({"name": ATTACK}), context)
    assert isinstance(raised.value.__cause__, AttackBlocked)
    assert raised.value.finding.kind is AttackKind.SQL_INJECTION
    assert raised.value.request_id == context.aws_request_id
    assert "records[0].body.name" in str(raised.value)


def test_a_detector_that_raises_fails_open_with_one_internal_error(db_path: Path, records,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(statement, inputs, options):
        raise RuntimeError("detector bug")

    monkeypatch.setattr(sql_injection, "detect", broken)

    @protect(mode="block")
    def handler(event, context):
        lookup(db_path, "alice")
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, name_of(event)))}

    response = handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())
    assert response["statusCode"] == 200  # fail open: the handler ran
    [error] = records.internal_errors()  # once per invocation and place, though the detector ran twice
    assert error["where"] == "detector.sql_injection" and "detector bug" in error["error"]
    assert any(m.get("InternalErrors") == 1 for m in records.metrics())


def test_fail_closed_blocks_when_the_detector_raises(db_path: Path, records,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(statement, inputs, options):
        raise RuntimeError("detector bug")

    monkeypatch.setattr(sql_injection, "detect", broken)
    handler = protect(policy={"mode": "block", "fail": "closed"})(
        lambda event, context: {"statusCode": 200, "body": json.dumps(lookup(db_path, "john smith"))})
    # the input occurs in the statement, so the (broken) detector must judge it
    assert handler(apigw_v1_event(query={"name": "john smith"}), LambdaContext())["statusCode"] == 403
    assert records.detections()[0]["rule"] == "internal.fail-closed"


def test_warm_invocations_share_nothing(db_path: Path, records) -> None:
    @protect(mode="report")
    def handler(event, context):
        name = name_of(event)
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, name))}

    handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())
    assert len(records.detections()) == 1
    records.clear()

    @protect(mode="block")
    def second(event, context):  # this statement holds the previous invocation's attack text
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, "x' OR '1'='1' --"))}

    assert second(apigw_v1_event(query={"name": "alice"}), LambdaContext())["statusCode"] == 200
    assert records.detections() == []


def test_concurrent_invocations_on_threads_see_only_their_own_inputs(db_path: Path, records) -> None:
    barrier = threading.Barrier(2, timeout=10)
    results: dict[str, object] = {}

    @protect(mode="block")
    def handler(event, context):
        barrier.wait()  # both invocations are active at once
        statement_name = event["queryStringParameters"]["use"]
        return {"statusCode": 200, "body": json.dumps(lookup(db_path, statement_name))}

    def run(label: str, event: dict) -> None:
        results[label] = handler(event, LambdaContext())

    # The attacker's invocation sends ATTACK but uses a harmless name; the benign invocation
    # sends a harmless input but its statement holds ATTACK's text (from elsewhere).
    attacker = threading.Thread(target=run, args=("attacker", apigw_v1_event(query={"name": ATTACK,
                                                                                       "use": ATTACK})))
    benign = threading.Thread(target=run, args=("benign", apigw_v1_event(query={"name": "bob",
                                                                                 "use": "bob"})))
    attacker.start()
    benign.start()
    attacker.join(10)
    benign.join(10)
    assert results["attacker"]["statusCode"] == 403
    assert results["benign"]["statusCode"] == 200
    assert json.loads(results["benign"]["body"]) == [["bob"]]
    assert len(records.detections()) == 1


def test_sinks_do_nothing_outside_an_invocation(db_path: Path, records) -> None:
    protect(lambda event, context: None)  # instruments
    assert lookup(db_path, "x' OR '1'='1") == [("alice",), ("bob",)]
    assert records.all() == []


def test_instrumentation_is_idempotent() -> None:
    sinks.instrument()
    first = sqlite3.connect
    sinks.instrument()
    assert sqlite3.connect is first
    assert isinstance(sqlite3.connect(":memory:"), sqlite3.Connection)


def test_records_redact_secrets_and_truncate(db_path: Path, records) -> None:
    secret = "fakeSecretKeyForTests/0123456789abcdefXYZ"  # conftest's AWS_SECRET_ACCESS_KEY
    payload = f"' OR name = '{secret}' OR 'x'='{'y' * 500}"

    @protect(mode="report")
    def handler(event, context):
        lookup(db_path, name_of(event))
        return {"statusCode": 200}

    handler(apigw_v1_event(query={"name": payload}, headers={"authorization": "Bearer abc.def.ghi-jkl"}),
            LambdaContext())
    out = json.dumps(records.all())
    assert secret not in out
    assert "abc.def.ghi-jkl" not in out
    [record] = records.detections()
    assert "[REDACTED:own-credential]" in record["input"]["value"]
    assert record["input"]["value"].endswith("…(truncated)")
    assert len(record["sink"]["argument"]) <= 256 + len("…(truncated)")


def test_emf_metrics_once_per_invocation_with_records(db_path: Path, records) -> None:
    @protect(mode="report")
    def handler(event, context):
        lookup(db_path, name_of(event))
        lookup(db_path, name_of(event))
        return {"statusCode": 200}

    handler(apigw_v1_event(query={"name": ATTACK}), LambdaContext())
    [document] = records.metrics()
    assert document["Protection"] == "sql_injection"
    assert document["Detections"] == 2 and document["Blocked"] == 0
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AppProtect" and directive["Dimensions"] == [["Protection"], []]
    records.clear()
    handler(apigw_v1_event(query={"name": "alice"}), LambdaContext())
    assert records.all() == []


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def test_importing_the_package_does_nothing_else() -> None:
    out = run_python("import sys, app_protect_lambda; "
                     "print(sorted(m for m in ('sqlite3', 'boto3', 'yaml', 'botocore') if m in sys.modules))")
    assert out.strip() == "[]"


def test_start_module_instruments_at_import() -> None:
    out = run_python("import app_protect_lambda.start, sqlite3; print(sqlite3.connect.__app_protect_original__)")
    assert out.strip().startswith("<built-in function connect")


def test_benign_invocation_imports_no_boto3_and_heavy_modules(tmp_path: Path) -> None:
    out = run_python(
        "import sys, sqlite3\n"
        "from app_protect_lambda import protect\n"
        "from app_protect_lambda.testing import apigw_v1_event, LambdaContext\n"
        "@protect(mode='block')\n"
        "def handler(event, context):\n"
        "    sqlite3.connect(':memory:').execute(\"SELECT 'john smith'\").fetchall()\n"
        "    return {'statusCode': 200}\n"
        "handler(apigw_v1_event(query={'name': 'john smith'}), LambdaContext())\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'yaml', 'sqlparse') if m in sys.modules))\n")
    assert out.strip() == "[]"
