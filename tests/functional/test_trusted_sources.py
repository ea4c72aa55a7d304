"""`sources: {<trigger>: trusted | untrusted}`: an owner may say a trigger carries no attacker's string.

The default trusts nothing. A trusted trigger's events contribute no inputs, so nothing of them is
judged at a sink: the tests show both that and the risk (an attack through a trusted queue reaches
the table), and that the trust is the trigger's alone.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.context import RequestContext
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.policy import Policy
from app_protect_lambda.policy_store import load
from app_protect_lambda.sources.kinds import ALL_KINDS
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, kafka_event, sns_event, sqs_event

ATTACK = "x' OR '1'='1"


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("version: 1\nsources:\n  sqs: trusted\n  sqss: trusted\n", 4, "sources.sqss: unknown key (expected one of: "),
    ("version: 1\nsources:\n  sqs: yes\n", 3, "sources.sqs: True is not one of trusted, untrusted"),
    ("version: 1\nsources:\n  kinesis: trust\n", 3, "sources.kinesis: 'trust' is not one of trusted, untrusted"),
    ("version: 1\nsources: [sqs]\n", 2, "sources: expected a mapping of trigger to trusted or untrusted"),
])
def test_a_bad_sources_key_names_the_file_line_and_key(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load(str(path))
    assert str(raised.value).startswith(f"policy {path}, line {line}: "), str(raised.value)
    assert fragment in str(raised.value)


def test_every_trigger_may_be_named_and_the_default_trusts_nothing(tmp_path: Path) -> None:
    assert Policy().trusted_sources == frozenset()
    assert Policy.from_dict({}).trusted_sources == frozenset()
    everything = Policy.from_dict({"sources": dict.fromkeys(ALL_KINDS, "untrusted")})
    assert everything.trusted_sources == frozenset()
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"sources": {"sqs": "trusted", "msk": "trusted", "s3": "untrusted"}}))
    assert load(str(path)).trusted_sources == {"sqs", "msk"}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", [("alice",), ("bob",)])
    db.close()
    return path


def count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(*) FROM users").fetchone()[0]


def consumer(db_path: Path, policy: dict) -> Any:
    """Deletes the user each message names: from a queue, a topic, a Kafka topic or a query string."""
    @protect(policy={"mode": "block", **policy})
    def handler(event: dict, context: Any) -> dict:
        if "Records" in event:
            names = [json.loads(r["body"] if "body" in r else r["Sns"]["Message"])["name"] for r in event["Records"]]
        elif "records" in event:
            names = [ATTACK]
        else:
            names = [event["queryStringParameters"]["name"]]
        deleted = 0
        with sqlite3.connect(db_path) as db:
            for name in names:
                deleted += db.execute(f"DELETE FROM users WHERE name = '{name}'").rowcount
        return {"deleted": deleted}

    return handler


def test_by_default_an_attack_through_a_queue_is_blocked(db_path: Path, records) -> None:
    with pytest.raises(RequestBlocked):
        consumer(db_path, {})(sqs_event({"name": ATTACK}), LambdaContext())
    assert count(db_path) == 2


def test_a_trusted_queue_contributes_no_inputs_and_that_is_the_risk(db_path: Path, records) -> None:
    """What the README warns of: a trusted queue fed by anything an attacker controls is unchecked."""
    handler = consumer(db_path, {"sources": {"sqs": "trusted"}})
    assert handler(sqs_event({"name": ATTACK}), LambdaContext()) == {"deleted": 2}
    assert count(db_path) == 0
    assert records.detections() == []
    inputs = RequestContext(sqs_event({"name": ATTACK}), None, Policy.from_dict({"sources": {"sqs": "trusted"}}))
    assert inputs.inputs.raw == () and inputs.inputs.values == ()


@pytest.mark.parametrize("event", [
    pytest.param(sns_event({"name": ATTACK}), id="another trigger"),
    pytest.param(apigw_v1_event(query={"name": ATTACK}), id="an HTTP trigger"),
    pytest.param({"Records": [*sqs_event({"name": "bob"})["Records"], *sns_event({"name": ATTACK})["Records"]]},
                 id="a batch that mixes a trusted trigger's records with another's"),
])
def test_the_trust_is_the_triggers_alone(event: dict, db_path: Path, records) -> None:
    answer: Any = None
    try:
        answer = consumer(db_path, {"sources": {"sqs": "trusted"}})(event, LambdaContext())
    except RequestBlocked:
        pass
    else:
        assert answer["statusCode"] == 403
    assert count(db_path) >= 1 and records.detections()[0]["action"] == "blocked"


def test_a_trusted_kafka_cluster(db_path: Path, records) -> None:
    handler = consumer(db_path, {"sources": {"msk": "trusted"}})
    assert handler(kafka_event({"name": ATTACK}), LambdaContext()) == {"deleted": 2}
    with pytest.raises(RequestBlocked):  # the self-managed cluster is another trigger, still untrusted
        consumer(db_path, {"sources": {"msk": "trusted"}})(kafka_event({"name": ATTACK}, self_managed=True),
                                                         LambdaContext())
