"""File access through the exec wrapper's handler (app_protect_lambda.bootstrap with APP_PROTECT_HANDLER):
a user module in a task root that serves bundled files, normalises paths, unpacks archives with its own
loop, and opens files through io.FileIO and bz2 imported before instrumentation. From HTTP and SQS, the
harm never happens; the bundled files are served for short inputs and mirrored routes."""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event
from tests.bootstrap_support import wrapping

SECRET = "TOP-SECRET-CONTENT"

HANDLER_MODULE = '''
import bz2
import json
import os
import zipfile
from io import BytesIO, FileIO

BUNDLE = os.environ["PROBE_BUNDLE"]  # stands in for /var/task, declared sensitive in the policy
UPLOADS = os.environ["PROBE_UPLOADS"]


def request(event):
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])
    return {**(event.get("queryStringParameters") or {}), "route": event.get("rawPath"), "body": event.get("body")}


def handler(event, context):
    ask = request(event)
    action = ask.get("action")
    if action == "locale":
        with open(f"{BUNDLE}/locales/{ask['lang']}.json", encoding="utf-8") as handle:
            return {"statusCode": 200, "body": handle.read()}
    if action == "static":
        with FileIO(f"{BUNDLE}{ask['route']}") as handle:
            return {"statusCode": 200, "body": handle.read().decode()}
    if action == "normalised":
        with open(os.path.abspath(os.path.join(UPLOADS, ask["name"])), encoding="utf-8") as handle:
            return {"statusCode": 200, "body": handle.read()}
    if action == "compressed":
        with bz2.open(os.path.join(UPLOADS, ask["name"]), "rb") as handle:
            return {"statusCode": 200, "body": handle.read().decode()}
    if action == "unpack":
        with zipfile.ZipFile(BytesIO(bytes.fromhex(ask["archive"]))) as archive:
            for info in archive.infolist():
                with open(os.path.normpath(os.path.join(UPLOADS, info.filename)), "wb") as handle:
                    handle.write(archive.read(info))
        return {"statusCode": 200, "body": ",".join(sorted(os.listdir(UPLOADS)))}
    return {"statusCode": 400, "body": "unknown"}
'''


@pytest.fixture
def wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    name = f"probe_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "task"
    root.mkdir()
    (root / f"{name}.py").write_text(HANDLER_MODULE)
    bundle = tmp_path / "bundle"
    for path, text in {"locales/ar.json": '{"hello": "marhaba"}', "static/app.js": "console.log(1)",
                       "app.py": SECRET}.items():
        (bundle / path).parent.mkdir(parents=True, exist_ok=True)
        (bundle / path).write_text(text)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text(SECRET)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"protections": {"file_access": {"sensitive_paths": [str(bundle)]}}}))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PROBE_BUNDLE", str(bundle))
    monkeypatch.setenv("PROBE_UPLOADS", str(uploads))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_POLICY", f"file:{policy}")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap.handler, tmp_path


def invoke(handler: Any, trigger: str, ask: dict) -> Any:
    if trigger == "http":
        route = ask.pop("route", "/")
        event = apigw_v2_event("GET", route, query=ask)
    else:
        event = sqs_event(ask)
    try:
        return handler(event, LambdaContext())
    except RequestBlocked:
        return "blocked"


def _zip(names: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue().hex()


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize("ask", [
    {"action": "static", "route": "/static/../app.py"},
    {"action": "normalised", "name": "../secret.txt"},
    {"action": "compressed", "name": "../secret.txt"},
    {"action": "unpack", "archive": _zip({"ok.txt": b"ok", "../evil.txt": b"pwned"})},
], ids=["mirrored route leaving its folder", "normalised climb", "bz2 bound before", "own unpack loop"])
def test_file_attacks_are_blocked_through_the_exec_wrapper(ask: dict, trigger: str, wrapped, records) -> None:
    handler, root = wrapped
    answer = invoke(handler, trigger, dict(ask))
    assert answer == "blocked" if trigger == "sqs" else answer["statusCode"] == 403
    assert SECRET not in json.dumps(answer)
    assert not (root / "evil.txt").exists()
    assert records.detections(without="malicious_payload")[0]["protection"] == "file_access"


@pytest.mark.parametrize("trigger", ["http", "sqs"])
@pytest.mark.parametrize(("ask", "body"), [
    ({"action": "locale", "lang": "ar"}, '{"hello": "marhaba"}'),
    ({"action": "static", "route": "/static/app.js"}, "console.log(1)"),
    ({"action": "normalised", "name": "a.txt"}, "a"),
    ({"action": "unpack", "archive": _zip({"b.txt": b"b", "c..d.txt": b"c"})}, "a.txt,b.txt,c..d.txt"),
])
def test_bundled_files_and_benign_names_pass_through_the_exec_wrapper(ask: dict, body: str, trigger: str,
                                                                       wrapped, records) -> None:
    handler, _ = wrapped
    answer = invoke(handler, trigger, dict(ask))
    assert answer["statusCode"] == 200 and answer["body"] == body
    assert records.detections() == []
