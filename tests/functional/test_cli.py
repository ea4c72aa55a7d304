"""The app-protect command: validate, replay, summarize."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app_protect_lambda.testing import apigw_v1_event

CLI = [sys.executable, "-m", "app_protect_lambda.cli"]

HANDLER = '''
import sqlite3

def handler(event, context):
    name = event["queryStringParameters"]["name"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE users (name TEXT)")
    return {"statusCode": 200, "body": str(db.execute(f"SELECT * FROM users WHERE name = '{name}'").fetchall())}
'''


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, input=stdin)


def test_validate_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nprotections:\n  sql_injection: block\n")
    result = run("validate", str(good))
    assert result.returncode == 0
    assert json.loads(result.stdout)["protections"]["sql_injection"] == "block"
    assert json.loads(result.stdout)["protections"]["malicious_upload"] == "off (not enforced by this build)"
    assert json.loads(result.stdout)["protections"]["malicious_payload"] == "off"  # opt-in (checks/payload.py)
    assert json.loads(result.stdout)["protections"]["ip_filter"] == "report"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nprotections:\n  sql_injection: {mode: sometimes}\n")
    result = run("validate", str(bad))
    assert result.returncode == 2
    assert f"policy {bad}, line 3: protections.sql_injection.mode: 'sometimes'" in result.stderr


def test_replay_blocks_and_allows(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(HANDLER)
    attack = tmp_path / "attack.json"
    attack.write_text(json.dumps(apigw_v1_event(query={"name": "' OR '1'='1"})))
    benign = tmp_path / "benign.json"
    benign.write_text(json.dumps(apigw_v1_event(query={"name": "O Brien"})))
    blocked = run("replay", "app.handler", str(attack), cwd=tmp_path)
    assert blocked.returncode == 0
    assert json.loads(blocked.stdout.splitlines()[-1])["response"]["statusCode"] == 403
    allowed = run("replay", "app.handler", str(benign), cwd=tmp_path)
    assert json.loads(allowed.stdout.splitlines()[-1])["response"]["statusCode"] == 200

    summary = run("summarize", stdin=blocked.stdout + allowed.stdout)
    assert summary.returncode == 0
    assert summary.stdout.splitlines()[1].split() == ["sql_injection", "blocked", "query.name", "1"]


def test_validate_never_shows_an_unenforced_protection_as_on(tmp_path: Path) -> None:
    staged = tmp_path / "staged.yaml"
    staged.write_text("version: 1\nmode: block\nprotections:\n  malicious_upload: {mode: off, max_bytes: 1024}\n")
    shown = json.loads(run("validate", str(staged)).stdout)["protections"]
    assert shown["sql_injection"] == "block"
    assert {name for name, mode in shown.items() if mode == "off (not enforced by this build)"} == {
        "malicious_upload", "code_injection", "unsafe_deserialization"}
    assert shown["malicious_payload"] == "off"  # enforced, and opt-in

    refused = tmp_path / "refused.yaml"
    refused.write_text("version: 1\nprotections:\n  sql_injection: block\n  malicious_upload:\n    mode: block\n")
    result = run("validate", str(refused))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        f"policy {refused}, line 5: protections.malicious_upload.mode: malicious_upload is not enforced")


SHELL_HANDLER = '''
from os import system  # bound at import: protected only when the sinks are instrumented first

def handler(event, context):
    system(f"echo {event['queryStringParameters']['name']} > /dev/null")
    return {"statusCode": 200, "body": "done"}
'''


def test_replay_instruments_before_the_handler_module_binds_names(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shell.py").write_text(SHELL_HANDLER)
    marker = tmp_path / "pwned"
    attack = tmp_path / "attack.json"
    attack.write_text(json.dumps(apigw_v1_event(query={"name": f"x; touch {marker}"})))
    result = run("replay", "functions/shell.handler", str(attack), cwd=tmp_path)
    assert json.loads(result.stdout.splitlines()[-1])["response"]["statusCode"] == 403
    assert not marker.exists()


@pytest.mark.parametrize(("handler", "message"), [
    ("app", "app-protect: bad handler 'app': expected module.function"),
    ("sys.exit", "app-protect: cannot use the built-in module 'sys' as a handler module"),
    ("absent.handler", "app-protect: unable to import module 'absent' for handler 'absent.handler'"),
    ("app.nope", "app-protect: handler 'nope' missing on module 'app'"),
])
def test_replay_names_a_handler_it_cannot_load(tmp_path: Path, handler: str, message: str) -> None:
    (tmp_path / "app.py").write_text(HANDLER)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(apigw_v1_event()))
    result = run("replay", handler, str(event), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
