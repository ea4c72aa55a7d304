"""Paths an input put in a child process's arguments, judged through the exec wrapper
(``APP_PROTECT_HANDLER`` naming a module in a task root), from an HTTP and a queue trigger."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event
from tests.bootstrap_support import wrapping

HANDLER_MODULE = '''
import json
import os
import subprocess

PUBLIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "public")


def handler(event, context):
    if "Records" in event:
        name = json.loads(event["Records"][0]["body"])["name"]
    else:
        name = event["queryStringParameters"]["name"]
    output = subprocess.run(["cat", f"{PUBLIC}/{name}"], capture_output=True, text=True).stdout
    return {"statusCode": 200, "body": output}
'''


@pytest.fixture
def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    name = f"childpaths_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(HANDLER_MODULE)
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "readme.txt").write_text("hello\n")
    (tmp_path / "private.txt").write_text("db-password=hunter2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap


def test_http_input_climbing_out_of_the_public_folder_is_blocked(bootstrap, records) -> None:
    handler = bootstrap.handler  # type: ignore[attr-defined]
    assert handler(apigw_v1_event(query={"name": "readme.txt"}), LambdaContext())["body"] == "hello\n"
    result = handler(apigw_v1_event(query={"name": "../private.txt"}), LambdaContext())
    assert result["statusCode"] == 403 and "hunter2" not in json.dumps(result)
    [detection] = records.detections()
    assert detection["protection"] == "file_access" and detection["rule"] == "file.traversal"


def test_queue_input_climbing_out_of_the_public_folder_is_blocked(bootstrap) -> None:
    handler = bootstrap.handler  # type: ignore[attr-defined]
    assert handler(sqs_event({"name": "readme.txt"}), LambdaContext())["body"] == "hello\n"
    with pytest.raises(RequestBlocked) as blocked:
        handler(sqs_event({"name": "../private.txt"}), LambdaContext())
    assert blocked.value.finding.rule == "file.traversal"
