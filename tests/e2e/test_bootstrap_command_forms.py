"""Issue 11 through the exec wrapper's handler (app_protect_lambda.bootstrap with APP_PROTECT_HANDLER):
a vector the user's module splits from a string, program text it hands to awk, a value it gives an
option, from HTTP and SQS; the marker never appears, and benign look-alikes run unchanged."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event
from tests.bootstrap_support import wrapping

HANDLER_MODULE = '''
import json
import os
import shlex
import subprocess

FOLDER = os.environ["PROBE_FOLDER"]


def fields(event):
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])
    return event["queryStringParameters"]


def handler(event, context):
    action, text = fields(event)["action"], fields(event)["value"]
    if action == "search":
        vector = shlex.split(f"find {FOLDER} -name {text}")
    elif action == "lookup":
        vector = ["awk", f'$1 == "{text}" {{print $2}}', os.path.join(FOLDER, "users.txt")]
    else:
        vector = ["git", "-C", FOLDER, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
                  "--allow-empty", "-m", text]
    output = subprocess.run(vector, capture_output=True, text=True).stdout
    return {"statusCode": 200, "body": json.dumps({"output": output})}
'''


@pytest.fixture
def wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    """The bootstrap handler around a user module in a task root; yields it and the work folder."""
    import subprocess

    name = f"probe_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "task"
    root.mkdir()
    (root / f"{name}.py").write_text(HANDLER_MODULE)
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "users.txt").write_text("alice admin\nbob user\n")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PROBE_FOLDER", str(folder))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap.handler, folder


def invoke(handler: Any, trigger: str, value: str) -> Any:
    """``value`` is ``action:text``: the action selects the code path, the text is the input judged."""
    action, _, text = value.partition(":")
    fields = {"action": action, "value": text}
    event = apigw_v2_event("GET", "/act", query=fields) if trigger == "http" else sqs_event(fields)
    try:
        return handler(event, LambdaContext())
    except RequestBlocked:
        return "blocked"


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize(("action", "rule"), [
    ("search:users.txt -exec touch {marker} ;", "cmdi.option"),
    ('lookup:x" || 1 {{system("touch {marker}")}} "', "cmdi.code"),
])
def test_attacks_are_blocked_through_the_exec_wrapper(action: str, rule: str, trigger: str, wrapped, records,
                                                       tmp_path: Path) -> None:
    handler, _ = wrapped
    marker = tmp_path / "pwned"
    answer = invoke(handler, trigger, action.format(marker=marker))
    assert answer == "blocked" if trigger == "sqs" else answer["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["protection"] == "command_injection" and record["rule"] == rule


@pytest.mark.parametrize("trigger", ["http", "sqs"])
def test_benign_values_pass_through_the_exec_wrapper(trigger: str, wrapped, records) -> None:
    handler, folder = wrapped
    found = invoke(handler, trigger, "search:users.txt -o -name notes.txt")
    assert json.loads(found["body"])["output"] == f"{folder / 'users.txt'}\n"
    role = invoke(handler, trigger, "lookup:bob")
    assert json.loads(role["body"])["output"] == "user\n"
    assert invoke(handler, trigger, "commit:- bump git -u version")["statusCode"] == 200
    assert records.detections() == []
