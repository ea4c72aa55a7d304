"""SQL injection through a real sqlite3 database, from every input location, in every mode."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event
from tests.functional.sql_app import (
    DECODERS,
    LOCATIONS,
    Location,
    Trace,
    count_users,
    create_database,
    http_ok,
    run_sql,
)

# (name, statement template, payload, method)
ATTACKS = [
    ("login bypass", "SELECT id, name FROM users WHERE name = '{}' AND password = 'nope'", "' OR '1'='1' --",
     "execute"),
    ("comment truncation", "SELECT id, name FROM users WHERE name = '{}' AND password = 'wrong'", "alice'--",
     "execute"),
    ("union", "SELECT id, name FROM users WHERE name = '{}'", "' UNION SELECT id, secret FROM secrets--",
     "execute"),
    ("stacked statements", "UPDATE users SET email = 'x' WHERE name = '{}';", "nobody'; DELETE FROM users; --",
     "executescript"),
    ("numeric context", "SELECT id, name FROM users WHERE id = {}", "0 OR 1=1", "cursor.execute"),
    ("order by", "SELECT id, name FROM users ORDER BY {}",
     "(CASE WHEN (SELECT substr(secret,1,1) FROM secrets)='t' THEN name ELSE id END)", "execute"),
    ("limit", "SELECT id, name FROM users LIMIT {}", "(SELECT count(*) FROM secrets WHERE secret LIKE 't%')",
     "execute"),
    ("blind boolean", "SELECT id FROM users WHERE name = '{}'",
     "alice' AND substr((SELECT secret FROM secrets),1,1)='t", "execute"),
]
EXPECTED_LOCATION = {
    "query": "query.name", "multi-value query": "query.name", "path": "path.name",
    "header": "header.x-user-name", "cookie": "cookie.name", "json body": "body.user.name",
    "form body": "body.name", "base64 body": "body.name", "alb query": "query.name",
    "function url": "query.name", "sqs body": "records[0].body.name",
    "sns message": "records[0].sns.message.name", "s3 key": "records[0].s3.object.key",
    "eventbridge detail": "detail.name", "dynamodb stream": "records[0].dynamodb.NewImage.name",
    "kinesis data": "records[0].kinesis.data.name",
}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return create_database(tmp_path / "app.db")


def make_handler(database: Path, trace: Trace, location: Location, template: str, method: str,
                 decode=lambda value: value):
    def handler(event, context):
        value = decode(location.read(event))
        rows = run_sql(database, trace, method, template.format(value))
        return http_ok(rows) if location.http else {"rows": rows}
    return handler


def invoke(handler, event):
    """Call a protected handler; a non-HTTP block surfaces as RequestBlocked."""
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def assert_blocked(result, location: Location) -> None:
    if location.http:
        assert isinstance(result, dict) and result["statusCode"] == 403, result
        assert json.loads(result["body"])["message"] == "Forbidden"
    else:
        assert isinstance(result, RequestBlocked), result
        assert result.finding.kind.value == "sql_injection"


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.name)
@pytest.mark.parametrize(("name", "template", "payload", "method"), ATTACKS[:1] + ATTACKS[3:4] + ATTACKS[4:5],
                         ids=["login-bypass", "stacked", "numeric"])
def test_block_from_every_location(database: Path, records, location: Location, name: str, template: str,
                                   payload: str, method: str) -> None:
    trace = Trace()
    handler = protect(mode="block")(make_handler(database, trace, location, template, method))
    result = invoke(handler, location.build(payload))
    assert_blocked(result, location)
    assert trace.statements == []  # the engine never saw the statement
    assert count_users(database) == 5
    [record] = records.detections()
    assert record["protection"] == "sql_injection" and record["action"] == "blocked"
    assert record["input"]["location"] == EXPECTED_LOCATION[location.name]
    assert record["sink"]["name"].startswith("sqlite3.")
    assert record["sink"]["frame"].startswith("tests/functional/sql_app.py:")


@pytest.mark.parametrize(("name", "template", "payload", "method"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_every_attack_shape_is_blocked(database: Path, records, name: str, template: str, payload: str,
                                       method: str) -> None:
    trace = Trace()
    location = LOCATIONS[0]
    handler = protect(mode="block")(make_handler(database, trace, location, template, method))
    assert invoke(handler, location.build(payload))["statusCode"] == 403
    assert trace.statements == []
    assert count_users(database) == 5
    assert len(records.detections()) == 1


@pytest.mark.parametrize(("name", "template", "payload", "method"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_report_mode_changes_nothing(database: Path, tmp_path: Path, records, name: str, template: str,
                                     payload: str, method: str) -> None:
    location = LOCATIONS[0]
    unprotected_db = create_database(tmp_path / "unprotected.db")
    expected = make_handler(unprotected_db, Trace(), location, template, method)(location.build(payload), None)
    trace = Trace()
    handler = protect(mode="report")(make_handler(database, trace, location, template, method))
    assert handler(location.build(payload), LambdaContext()) == expected
    assert trace.statements  # the statement ran
    [record] = records.detections()
    assert record["action"] == "reported" and record["input"]["value"]


def test_report_mode_non_http_returns_the_handlers_result(database: Path, records) -> None:
    location = next(loc for loc in LOCATIONS if loc.name == "sqs body")
    handler = protect(mode="report")(make_handler(database, Trace(), location, ATTACKS[0][1], "execute"))
    result = handler(location.build(ATTACKS[0][2]), LambdaContext())
    assert len(result["rows"]) == 5  # the login bypass worked, as it would without us
    assert records.detections()[0]["action"] == "reported"


def test_off_mode_records_nothing(database: Path, records) -> None:
    location = LOCATIONS[0]
    handler = protect(mode="off")(make_handler(database, Trace(), location, ATTACKS[0][1], "execute"))
    assert handler(location.build(ATTACKS[0][2]), LambdaContext())["statusCode"] == 200
    assert records.all() == []


def test_policy_mode_per_protection_beats_default(database: Path, records) -> None:
    location = LOCATIONS[0]
    handler = protect(policy={"mode": "off", "protections": {"sql_injection": "block"}})(
        make_handler(database, Trace(), location, ATTACKS[0][1], "execute"))
    assert handler(location.build(ATTACKS[0][2]), LambdaContext())["statusCode"] == 403


@pytest.mark.parametrize("decoder", list(DECODERS), ids=list(DECODERS))
def test_decoded_inputs_are_still_caught(database: Path, records, decoder: str) -> None:
    encode, decode = DECODERS[decoder]
    trace = Trace()
    location = LOCATIONS[0]
    template, payload = ATTACKS[2][1], ATTACKS[2][2]
    handler = protect(mode="block")(make_handler(database, trace, location, template, "execute", decode))
    assert decode(encode(payload)) == payload
    assert invoke(handler, location.build(encode(payload)))["statusCode"] == 403
    assert trace.statements == []
    [record] = records.detections()
    assert record["input"]["decoded"]


# ------------------------------------------------------------------------------------------ benign

BENIGN_LITERALS = [
    ("name with spaces", "SELECT id, name FROM users WHERE name = '{}'", "john smith"),
    ("e-mail", "SELECT id, name FROM users WHERE email = '{}'", "john.smith+news@example.com"),
    ("percent in LIKE", "SELECT id, title FROM products WHERE discount LIKE '%{}%'", "50%"),
    ("number", "SELECT id, name FROM users WHERE id = {}", "2"),
    ("negative number", "SELECT id, name FROM users WHERE id > {}", "-1"),
    ("decimal", "SELECT id, name FROM users WHERE id < {}", "2.5"),
    ("SQL words inside a literal", "SELECT id FROM users WHERE name = '{}'",
     "Please SELECT the best option FROM the menu; UNION members may DROP by WHERE convenient -- thanks"),
    ("Japanese", "SELECT id, name FROM users WHERE name = '{}'", "山田太郎"),
    ("date", "SELECT id FROM users WHERE name <> '{}'", "2026-01-01 12:00:00"),
]


@pytest.mark.parametrize(("name", "template", "value"), BENIGN_LITERALS, ids=[b[0] for b in BENIGN_LITERALS])
@pytest.mark.parametrize("location", [LOCATIONS[0], LOCATIONS[5], LOCATIONS[10]], ids=lambda loc: loc.name)
def test_benign_values_inside_one_literal_pass_unchanged(database: Path, tmp_path: Path, records, name: str,
                                                         template: str, value: str, location: Location) -> None:
    expected = make_handler(create_database(tmp_path / "plain.db"), Trace(), location, template, "execute")(
        location.build(value), None)
    handler = protect(mode="block")(make_handler(database, Trace(), location, template, "execute"))
    assert handler(location.build(value), LambdaContext()) == expected
    assert records.detections() == []


@pytest.mark.parametrize("value", ["O'Brien", "' OR '1'='1' --", "Robert'); DROP TABLE users;--", "山田太郎"])
def test_parameters_are_safe_whatever_they_hold(database: Path, records, value: str) -> None:
    @protect(mode="block")
    def handler(event, context):
        rows = run_sql(database, Trace(), "execute", "SELECT id, name FROM users WHERE name = ?",
                       (event["queryStringParameters"]["name"],))
        return http_ok(rows)

    response = handler(apigw_v1_event(query={"name": value}), LambdaContext())
    assert response["statusCode"] == 200
    expected = {"O'Brien": [[3, "O'Brien"]], "山田太郎": [[5, "山田太郎"]]}.get(value, [])
    assert json.loads(response["body"]) == expected
    assert records.detections() == []


def test_one_megabyte_json_body(database: Path, records) -> None:
    notes = [{"id": i, "text": f"note {i}: select the colour, then update where needed; ok?"} for i in range(12000)]
    event = apigw_v2_event("POST", body={"name": "john smith", "notes": notes})
    assert len(event["body"]) > 1_000_000

    @protect(mode="block")
    def handler(event, context):
        name = json.loads(event["body"])["name"]
        return http_ok(run_sql(database, Trace(), "execute", f"SELECT id FROM users WHERE name = '{name}'"))

    response = handler(event, LambdaContext())
    assert json.loads(response["body"]) == [[4]]
    assert records.detections() == []
