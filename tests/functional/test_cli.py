"""The app-protect command: validate, replay, summarize."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
