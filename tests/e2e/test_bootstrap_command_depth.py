"""Issue 11, command injection in depth, through the exec wrapper's handler: text the user's module
writes to a child's stdin (``run(..., input=...)`` into ``xargs -I {} sh -c``), a script it hands to
``sh -c`` through ``env``, and a here-document it fills; from HTTP and SQS. The marker never appears,
and the benign values run unchanged."""
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
from subprocess import run

FOLDER = os.environ["PROBE_FOLDER"]


def fields(event):
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])
    return event["queryStringParameters"]


def handler(event, context):
    action, text = fields(event)["action"], fields(event)["value"]
    if action == "batch":
        output = run(["xargs", "-I", "{}", "sh", "-c", "echo {}"], input=text + "\\n", capture_output=True,
                     text=True).stdout
    elif action == "greet":
        output = run(["env", "LC_ALL=C", "sh", "-c", f"echo {text}"], capture_output=True, text=True).stdout
    else:
        os.system(f"cat > {FOLDER}/note.txt <<EOF\\n{text}\\nEOF")
        with open(os.path.join(FOLDER, "note.txt")) as note:
            output = note.read()
    return {"statusCode": 200, "body": json.dumps({"output": output})}
'''


@pytest.fixture
def wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    name = f"depth_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "task"
    root.mkdir()
    (root / f"{name}.py").write_text(HANDLER_MODULE)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PROBE_FOLDER", str(folder))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap.handler, folder


def invoke(handler: Any, trigger: str, action: str, text: str) -> Any:
    fields = {"action": action, "value": text}
    event = apigw_v2_event("GET", "/act", query=fields) if trigger == "http" else sqs_event(fields)
    try:
        return handler(event, LambdaContext())
    except RequestBlocked:
        return "blocked"


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize(("action", "attack", "sink"), [
    ("batch", "x; touch {marker}", "subprocess.Popen.communicate"),
    ("greet", "x && touch {marker}", "subprocess.Popen"),
    ("note", "'$(touch {marker})'", "os.system"),
])
def test_attacks_are_blocked_through_the_exec_wrapper(action: str, attack: str, sink: str, trigger: str, wrapped,
                                                       records, tmp_path: Path) -> None:
    handler, _ = wrapped
    marker = tmp_path / "pwned"
    answer = invoke(handler, trigger, action, attack.format(marker=marker))
    assert answer == "blocked" if trigger == "sqs" else answer["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["protection"] == "command_injection" and record["sink"]["name"] == sink


@pytest.mark.parametrize("trigger", ["http", "sqs"])
def test_benign_values_pass_through_the_exec_wrapper(trigger: str, wrapped, records) -> None:
    handler, _ = wrapped
    assert json.loads(invoke(handler, trigger, "batch", "hello")["body"])["output"] == "hello\n"
    assert json.loads(invoke(handler, trigger, "greet", "hello world")["body"])["output"] == "hello world\n"
    note = invoke(handler, trigger, "note", "it's done; see you | soon")
    assert json.loads(note["body"])["output"] == "it's done; see you | soon\n"
    assert records.detections() == []
