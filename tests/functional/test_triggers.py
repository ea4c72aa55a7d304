"""The triggers with shapes of their own (Firehose, Kafka, CloudWatch Logs, AppSync, Cognito, VPC Lattice,
Lambda@Edge): an attack through any field their producer, viewer or user chose is judged at the sink.

Each handler decodes its event as real code does (base64, gzip, Kafka's header bytes, CloudFront's
header lists) and deletes rows of a real sqlite3 table by a name it builds into the statement. An
attack (``x' OR '1'='1``) would delete every row: it is blocked and the rows are still there. A benign
name deletes what it names, and the handler's answer is exactly the unprotected one.
"""
from __future__ import annotations

import base64
import copy
import gzip
import importlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest

from app_protect_lambda import RequestBlocked, config, protect, sinks
from app_protect_lambda.testing import (
    LambdaContext,
    appsync_event,
    cloudwatch_logs_event,
    cognito_event,
    edge_event,
    firehose_event,
    kafka_event,
    lattice_event,
)

ROWS = [("alice",), ("bob",), ("carol",)]
ATTACK = "x' OR '1'='1"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", ROWS)
    db.close()
    return path


def names_left(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT name FROM users ORDER BY name")]


def delete_user(db_path: Path, name: str) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute(f"DELETE FROM users WHERE name = '{name}'").rowcount


# ------------------------------------------------------------------ how each handler reads its event

def _json_b64(data: str) -> Any:
    return json.loads(base64.b64decode(data))


def _logs(event: dict) -> list[dict]:
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))["logEvents"]


def _edge_request(event: dict) -> dict:
    return event["Records"][0]["cf"]["request"]


# kind -> (event with the name in one field, the handler's reading of that name, HTTP?)
KINDS: dict[str, tuple[Callable[[str], Any], Callable[[Any], str], bool]] = {
    "firehose data": (lambda name: firehose_event({"name": name}),
                      lambda event: _json_b64(event["records"][0]["data"])["name"], False),
    "firehose partition key": (lambda name: firehose_event({"n": 1}, partition_key=name),
                               lambda event: event["records"][0]["kinesisRecordMetadata"]["partitionKey"], False),
    "msk value": (lambda name: kafka_event({"name": name}),
                  lambda event: _json_b64(event["records"]["orders-0"][0]["value"])["name"], False),
    "msk header bytes": (lambda name: kafka_event({"n": 1}, headers={"user": name}),
                         lambda event: bytes(event["records"]["orders-0"][0]["headers"][0]["user"]).decode(), False),
    "self-managed kafka key": (lambda name: kafka_event({"n": 1}, key=name, self_managed=True),
                               lambda event: base64.b64decode(event["records"]["orders-0"][0]["key"]).decode(),
                               False),
    "cloudwatch logs message": (lambda name: cloudwatch_logs_event(json.dumps({"user": name})),
                                lambda event: json.loads(_logs(event)[0]["message"])["user"], False),
    "appsync arguments": (lambda name: appsync_event({"name": name}),
                          lambda event: event["arguments"]["name"], False),
    "appsync identity claims": (lambda name: appsync_event(identity={"claims": {"nickname": name}}),
                                lambda event: event["identity"]["claims"]["nickname"], False),
    "appsync batch source": (lambda name: [appsync_event(source={"name": "bob"}), appsync_event(source={"name": name})],
                             lambda event: event[-1]["source"]["name"], False),
    "appsync prev result": (lambda name: appsync_event(prev={"name": name}),
                            lambda event: event["prev"]["result"]["name"], False),
    "appsync request header": (lambda name: appsync_event(headers={"x-user": name}),
                               lambda event: event["request"]["headers"]["x-user"], False),
    "appsync cookie": (lambda name: appsync_event(headers={"cookie": f"session=1; user={name}"}),
                       lambda event: event["request"]["headers"]["cookie"].split("user=")[1], False),
    "cognito user attribute": (lambda name: cognito_event(user_attributes={"custom:nickname": name}),
                               lambda event: event["request"]["userAttributes"]["custom:nickname"], False),
    "cognito client metadata": (lambda name: cognito_event(client_metadata={"referrer": name}),
                                lambda event: event["request"]["clientMetadata"]["referrer"], False),
    "lattice v1 query": (lambda name: lattice_event(query={"name": name}, version=1),
                         lambda event: event["query_string_parameters"]["name"], True),
    "lattice v2 path segment": (lambda name: lattice_event(path=f"/users/{name}"),
                                lambda event: unquote(event["path"].rsplit("/", 1)[-1]), True),
    "lattice v2 base64 body": (lambda name: lattice_event("POST", "/users", body={"name": name}, base64_body=True),
                               lambda event: _json_b64(event["body"])["name"], True),
    "lattice v2 header": (lambda name: lattice_event(headers={"x-user": name}),
                          lambda event: event["headers"]["x-user"][0], True),
    "edge query string": (lambda name: edge_event(query={"name": name}),
                          lambda event: dict(parse_qsl(_edge_request(event)["querystring"]))["name"], True),
    "edge header": (lambda name: edge_event(headers={"X-User": name}),
                    lambda event: _edge_request(event)["headers"]["x-user"][0]["value"], True),
    "edge body": (lambda name: edge_event("POST", "/users", body={"name": name}),
                  lambda event: _json_b64(_edge_request(event)["body"]["data"])["name"], True),
    "edge origin response uri": (lambda name: edge_event(uri=f"/users/{name}", event_type="origin-response"),
                                 lambda event: unquote(_edge_request(event)["uri"].rsplit("/", 1)[-1]), True),
}


def deleting_handler(db_path: Path, read_name: Callable[[Any], str], http: bool) -> Callable[..., Any]:
    def handler(event: Any, context: Any) -> dict:
        deleted = delete_user(db_path, read_name(event))
        return {"statusCode": 200, "body": str(deleted)} if http else {"deleted": deleted}

    return handler


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_attack_through_the_field_is_blocked_and_no_row_is_deleted(kind: str, db_path: Path, records) -> None:
    build, read_name, http = KINDS[kind]
    protected = protect(deleting_handler(db_path, read_name, http), mode="block")
    if http:
        answer = protected(build(ATTACK), LambdaContext())
        assert answer.get("statusCode", answer.get("status")) in (403, "403")
    else:
        with pytest.raises(RequestBlocked):
            protected(build(ATTACK), LambdaContext())
    assert names_left(db_path) == ["alice", "bob", "carol"]
    [detection] = records.detections()
    assert detection["action"] == "blocked" and detection["protection"] == "sql_injection"


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("name", "deleted"), [("bob", 1), ("Bobby; DROP TABLE users", 0), ("x OR 1=1 --", 0)])
def test_a_benign_name_passes_unchanged(kind: str, name: str, deleted: int, db_path: Path, records) -> None:
    """Words of SQL inside the literal change nothing of the statement's structure: allowed."""
    build, read_name, http = KINDS[kind]
    event = build(name)
    sent = copy.deepcopy(event)
    answer = protect(deleting_handler(db_path, read_name, http), mode="block")(event, LambdaContext())
    assert answer == ({"statusCode": 200, "body": str(deleted)} if http else {"deleted": deleted})
    assert event == sent  # the handler saw the event as sent
    assert len(names_left(db_path)) == 3 - deleted
    assert records.detections() == []


@pytest.mark.parametrize(("build", "shape"), [
    (lambda: lattice_event(query={"name": ATTACK}, version=1), "lattice"),
    (lambda: lattice_event(query={"name": ATTACK}), "lattice"),
    (lambda: edge_event(query={"name": ATTACK}), "edge"),
    (lambda: edge_event(query={"name": ATTACK}, event_type="viewer-response"), "edge"),
])
def test_http_triggers_answer_with_their_own_403(build: Callable[[], dict], shape: str, db_path: Path,
                                                 records) -> None:
    def handler(event: Any, context: Any) -> dict:
        query = event.get("query_string_parameters") or event.get("queryStringParameters")
        if query is None:
            query = dict(parse_qsl(_edge_request(event)["querystring"]))
        name = query["name"]
        return {"statusCode": 200, "body": str(delete_user(db_path, name[0] if isinstance(name, list) else name))}

    answer = protect(handler, mode="block")(build(), LambdaContext())
    if shape == "lattice":
        assert answer["statusCode"] == 403 and answer["statusDescription"] == "403 Forbidden"
        assert answer["headers"] == {"Content-Type": "application/json"} and answer["isBase64Encoded"] is False
    else:
        assert answer["status"] == "403" and answer["statusDescription"] == "Forbidden"
        assert answer["headers"] == {"content-type": [{"key": "Content-Type", "value": "application/json"}]}
    assert json.loads(answer["body"])["message"] == "Forbidden"
    assert names_left(db_path) == ["alice", "bob", "carol"]
    [detection] = records.detections()
    assert detection["request"]["method"] == "GET" and detection["request"]["path"] == "/"
    assert detection["input"]["location"] == "query.name"


def test_the_edge_record_names_the_viewer_and_cloudfronts_request_id(db_path: Path, records) -> None:
    event = edge_event("POST", "/users/" + ATTACK.replace(" ", "%20"), client_ip="203.0.113.9")
    read_name = KINDS["edge origin response uri"][1]
    answer = protect(deleting_handler(db_path, read_name, True), mode="block")(event, LambdaContext())
    assert answer["status"] == "403"
    request = records.detections()[0]["request"]
    assert request == {"kind": "lambda-edge", "id": event["Records"][0]["cf"]["config"]["requestId"],
                       "source_ip": "203.0.113.9", "method": "POST", "path": "/users/x'%20OR%20'1'='1",
                       "user_agent": "test-client/1.0"}


def test_a_gzip_bomb_costs_the_cap_and_is_left_to_on_exceeded(db_path: Path, records) -> None:
    """A CloudWatch Logs payload that expands past the bytes cap is cut there: what is past it is unread,
    so ``limits.on_exceeded`` decides (block, by default in block mode; report lets it through)."""
    bomb = base64.b64encode(gzip.compress(b"{" + b" " * (20 << 20))).decode()
    calls: list[None] = []

    def handler(event: dict, context: object) -> None:
        calls.append(delete_user(db_path, "bob"))

    with pytest.raises(RequestBlocked):
        protect(handler, mode="block")({"awslogs": {"data": bomb}}, LambdaContext())
    assert calls == [] and names_left(db_path) == ["alice", "bob", "carol"]
    [blocked] = records.detections()
    assert (blocked["rule"], blocked["action"]) == ("inspection.exceeded", "blocked")
    assert "decompressed" in blocked["message"]

    protect(handler, policy={"mode": "block", "limits": {"on_exceeded": "report"}})(
        {"awslogs": {"data": bomb}}, LambdaContext())
    assert len(calls) == 1
    reported = records.detections()[-1]
    assert (reported["rule"], reported["action"]) == ("inspection.exceeded", "reported")


def test_an_attack_in_the_second_member_of_a_gzip_file_is_blocked(db_path: Path, records) -> None:
    """``gzip.decompress`` reads every member of a file; so does the reader of CloudWatch Logs data."""
    document = json.dumps({"logEvents": [{"id": "1", "timestamp": 0, "message": ATTACK}]}).encode()
    data = gzip.compress(document[:12]) + gzip.compress(document[12:])
    handler = deleting_handler(db_path, lambda event: _logs(event)[0]["message"], False)
    with pytest.raises(RequestBlocked):
        protect(handler, mode="block")({"awslogs": {"data": base64.b64encode(data).decode()}}, LambdaContext())
    assert names_left(db_path) == ["alice", "bob", "carol"]
    assert records.detections()[0]["input"]["location"] == "logEvents[0].message"


# ------------------------------------------------------------------ through the exec wrapper

KAFKA_MODULE = '''
import base64, json, sqlite3

def handler(event, context):
    deleted = 0
    for records in event["records"].values():
        for record in records:
            name = json.loads(base64.b64decode(record["value"]))["name"]
            with sqlite3.connect(DB) as db:
                deleted += db.execute(f"DELETE FROM users WHERE name = '{name}'").rowcount
    return {"deleted": deleted}
'''


LATTICE_MODULE = '''
import sqlite3

def handler(event, context):
    name = event["query_string_parameters"]["name"]
    with sqlite3.connect(DB) as db:
        deleted = db.execute(f"DELETE FROM users WHERE name = '{name}'").rowcount
    return {"statusCode": 200, "statusDescription": "200 OK", "isBase64Encoded": False, "body": str(deleted)}
'''


@pytest.fixture
def wrap(tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """The bootstrap handler of the exec wrapper, wrapping the function of ``source`` in a task root."""
    name = f"function_{tmp_path.name.replace('-', '_')}"

    def bootstrap(source: str) -> ModuleType:
        (tmp_path / f"{name}.py").write_text(f"DB = {str(db_path)!r}\n" + source)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setenv("APP_PROTECT_MODE", "block")
        monkeypatch.setenv("APP_PROTECT_HANDLER", f"{name}.handler")
        monkeypatch.setenv("_HANDLER", "app_protect_lambda.bootstrap.handler")
        sys.modules.pop("app_protect_lambda.bootstrap", None)
        config.reset()
        return importlib.import_module("app_protect_lambda.bootstrap")

    yield bootstrap
    sys.modules.pop(name, None)
    sys.modules.pop("app_protect_lambda.bootstrap", None)


def test_a_kafka_consumer_under_the_exec_wrapper(wrap: Callable[[str], ModuleType], db_path: Path,
                                                 records) -> None:
    wrapped = wrap(KAFKA_MODULE)
    with pytest.raises(RequestBlocked):
        wrapped.handler(kafka_event({"name": "bob"}, {"name": ATTACK}, self_managed=True), LambdaContext())
    assert names_left(db_path) == ["alice", "carol"]  # the first record's own delete ran; the attack's never did
    assert records.detections()[0]["input"]["location"] == "records.orders-0[1].value.name"
    assert wrapped.handler(kafka_event({"name": "carol"}, {"name": "dave"}), LambdaContext()) == {"deleted": 1}
    assert names_left(db_path) == ["alice"]


def test_a_vpc_lattice_target_under_the_exec_wrapper(wrap: Callable[[str], ModuleType], db_path: Path,
                                                     records) -> None:
    wrapped = wrap(LATTICE_MODULE)
    answer = wrapped.handler(lattice_event(query={"name": ATTACK}, version=1), LambdaContext())
    assert answer["statusCode"] == 403 and answer["statusDescription"] == "403 Forbidden"
    assert names_left(db_path) == ["alice", "bob", "carol"]
    assert records.detections()[0]["request"]["kind"] == "vpc-lattice-v1"
    answer = wrapped.handler(lattice_event(query={"name": "bob"}, version=1), LambdaContext())
    assert answer == {"statusCode": 200, "statusDescription": "200 OK", "isBase64Encoded": False, "body": "1"}
    assert names_left(db_path) == ["alice", "carol"]


# ------------------------------------------------------------------ through Powertools' resolvers

def test_powertools_lattice_and_appsync_resolvers(db_path: Path, records) -> None:
    from aws_lambda_powertools.event_handler import AppSyncResolver, VPCLatticeV2Resolver

    lattice = VPCLatticeV2Resolver()
    appsync = AppSyncResolver()

    @lattice.delete("/users/<name>")
    def delete_by_path(name: str) -> dict:
        return {"deleted": delete_user(db_path, unquote(name))}

    @appsync.resolver(type_name="Mutation", field_name="deleteUser")
    def delete_by_argument(name: str) -> dict:
        return {"deleted": delete_user(db_path, name)}

    serve_lattice = protect(lambda event, context: lattice.resolve(event, context), mode="block")
    serve_appsync = protect(lambda event, context: appsync.resolve(event, context), mode="block")
    answer = serve_lattice(lattice_event("DELETE", "/users/x'%20OR%20'1'='1"), LambdaContext())
    assert answer["statusCode"] == 403
    with pytest.raises(RequestBlocked):
        serve_appsync(appsync_event({"name": ATTACK}, field_name="deleteUser", parent_type="Mutation"),
                      LambdaContext())
    assert names_left(db_path) == ["alice", "bob", "carol"]
    assert [d["input"]["location"] for d in records.detections()] == ["path[1]", "arguments.name"]
    assert json.loads(serve_lattice(lattice_event("DELETE", "/users/bob"), LambdaContext())["body"]) == {"deleted": 1}
    assert serve_appsync(appsync_event({"name": "carol"}, field_name="deleteUser", parent_type="Mutation"),
                         LambdaContext()) == {"deleted": 1}
    assert names_left(db_path) == ["alice"]
