"""Sink functions bound by value before ``@protect`` (``from os import system``) are rebound and judged.

The handler's module and a helper module of the same task root bind sink functions with the
sinks uninstrumented, as a module does above its decorated handler; applying ``@protect`` (or
the exec wrapper's init) points those names at the protected functions. Attacks leave no
marker file, no row changed and no connection to the local server; benign calls run unchanged.
"""
from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.sinks.patching import is_patched
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event
from tests.functional.network_support import LocalServer
from tests.functional.sql_app import count_users, create_database

HELPERS = '''
from subprocess import check_output
from os import popen as read_command


def report(name):
    return check_output(f"echo report {name}", shell=True, text=True).strip()


def first_line(name):
    with read_command(f"echo {name}") as out:
        return out.read().strip()
'''
APP = '''
import json
from os import system
from sqlite3 import connect
from urllib.request import urlopen

from rb_helpers import first_line, report

DATABASE = {database!r}


def value(event):
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])
    return event["queryStringParameters"]


def handler(event, context):
    params = value(event)
    action, name = params["action"], params["name"]
    if action == "system":
        result = system(f"echo {{name}} > /dev/null")
    elif action == "check_output":
        result = report(name)
    elif action == "popen":
        result = first_line(name)
    elif action == "connect":
        db = connect(DATABASE)
        try:
            db.execute(f"DELETE FROM users WHERE name = '{{name}}'")
            db.commit()
        finally:
            db.close()
        result = "deleted"
    else:
        with urlopen(name, timeout=3) as response:
            result = response.read().decode()
    if "Records" in event:
        return {{"result": result}}
    return {{"statusCode": 200, "body": json.dumps(result)}}
'''
VENDORED = '''
from os import system
'''
OUTSIDE = '''
from os import system
'''
MODULES = ("rb_app", "rb_helpers", "rb_vendored", "rb_outside", "app_protect_lambda.bootstrap")


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A task root with the handler, a helper module, and a vendored copy under site-packages."""
    root = tmp_path / "task"
    (root / "site-packages").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = create_database(tmp_path / "app.db")
    (root / "rb_app.py").write_text(APP.format(database=str(database)))
    (root / "rb_helpers.py").write_text(HELPERS)
    (root / "site-packages" / "rb_vendored.py").write_text(VENDORED)
    (elsewhere / "rb_outside.py").write_text(OUTSIDE)
    for path in (root, root / "site-packages", elsewhere):
        monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_HANDLER", "rb_app.handler")
    yield root
    for name in MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def early_app(task_root: Path) -> Iterator[Any]:
    """The handler's modules, imported with the sinks uninstrumented."""
    sinks.uninstrument()
    for name in ("rb_vendored", "rb_outside"):
        importlib.import_module(name)
    app = importlib.import_module("rb_app")
    assert not is_patched(app.system) and not is_patched(sys.modules["rb_helpers"].check_output)
    yield app
    sinks.instrument()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def http(action: str, name: str) -> dict:
    return apigw_v1_event(query={"action": action, "name": name})


def sqs(action: str, name: str) -> dict:
    return sqs_event({"action": action, "name": name})


def invoke(handler: Any, event: dict) -> Any:
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def assert_blocked(result: Any, records: Any, protection: str) -> None:
    if isinstance(result, RequestBlocked):
        assert result.finding.kind.value == protection
    else:
        assert result["statusCode"] == 403, result
    [record] = records.detections()
    assert record["protection"] == protection and record["action"] == "blocked"


def result_of(answer: dict) -> Any:
    return answer["result"] if "result" in answer else json.loads(answer["body"])


TRIGGERS = [http, sqs]
SHELL_ACTIONS = ["system", "check_output", "popen"]


def test_applying_protect_rebinds_the_names_of_the_handlers_own_code(early_app) -> None:
    helpers = sys.modules["rb_helpers"]
    protected = protect(mode="block")(early_app.handler)
    assert protected.__app_protect__
    assert early_app.system is os.system and is_patched(early_app.system)
    assert early_app.connect is sqlite3.connect and is_patched(early_app.connect)
    assert helpers.check_output is subprocess.check_output  # not patched itself: it goes through Popen
    assert helpers.read_command is os.popen and is_patched(helpers.read_command)
    # Neither a module under site-packages nor one from outside the function's directory is touched.
    assert not is_patched(sys.modules["rb_vendored"].system)
    assert not is_patched(sys.modules["rb_outside"].system)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
@pytest.mark.parametrize("action", SHELL_ACTIONS)
def test_shell_functions_bound_before_protect_are_judged(early_app, marker: Path, records, action: str,
                                                          trigger) -> None:
    handler = protect(mode="block")(early_app.handler)
    assert_blocked(invoke(handler, trigger(action, f"x; touch {marker}")), records, "command_injection")
    assert not marker.exists()
    records.clear()
    benign = result_of(invoke(handler, trigger(action, "report-2024.pdf")))
    assert benign == {"system": 0, "check_output": "report report-2024.pdf", "popen": "report-2024.pdf"}[action]
    assert records.detections() == []


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_sqlite_connect_bound_before_protect_is_judged(early_app, tmp_path: Path, records, trigger) -> None:
    handler = protect(mode="block")(early_app.handler)
    assert_blocked(invoke(handler, trigger("connect", "x' OR 1=1 --")), records, "sql_injection")
    assert count_users(tmp_path / "app.db") == 5
    records.clear()
    assert result_of(invoke(handler, trigger("connect", "nobody"))) == "deleted"
    assert count_users(tmp_path / "app.db") == 5 and records.detections() == []


def test_urlopen_bound_before_protect_is_judged(early_app, records) -> None:
    handler = protect(mode="block")(early_app.handler)
    with LocalServer() as server:
        assert_blocked(invoke(handler, http("urlopen", f"{server.url}/latest/meta-data/")), records, "ssrf")
        assert server.untouched


def test_uninstrument_puts_back_what_it_rebound(early_app) -> None:
    original = early_app.system
    protect(mode="block")(early_app.handler)
    assert early_app.system is not original
    sinks.uninstrument()
    assert early_app.system is original


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_exec_wrapper_rebinds_a_module_imported_before_it(early_app, marker: Path, records, trigger) -> None:
    bootstrap = importlib.import_module("app_protect_lambda.bootstrap")
    assert is_patched(early_app.system)
    assert_blocked(invoke(bootstrap.handler, trigger("system", f"x; touch {marker}")), records, "command_injection")
    assert not marker.exists()
    records.clear()
    assert result_of(invoke(bootstrap.handler, trigger("popen", "hello"))) == "hello"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["http", "sqs"])
def test_exec_wrapper_protects_names_bound_after_it(task_root: Path, marker: Path, records, trigger) -> None:
    bootstrap = importlib.import_module("app_protect_lambda.bootstrap")
    assert_blocked(invoke(bootstrap.handler, trigger("check_output", f"x; touch {marker}")), records,
                   "command_injection")
    assert not marker.exists()


def test_the_task_root_bounds_the_functions_own_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      marker: Path, records) -> None:
    """With LAMBDA_TASK_ROOT set, a helper beside the handler's folder is the function's own code too."""
    root = tmp_path / "var-task"
    (root / "functions").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared" / "rb_shell.py").write_text("from os import system\n\n\ndef run(name):\n"
                                                 "    return system(f'echo {name} > /dev/null')\n")
    (root / "functions" / "rb_entry.py").write_text(
        "from rb_shell import run\n\n\ndef handler(event, context):\n"
        "    run(event['queryStringParameters']['name'])\n    return {'statusCode': 200, 'body': 'ok'}\n")
    for path in (root / "functions", root / "shared"):
        monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(root))
    sinks.uninstrument()
    try:
        entry = importlib.import_module("rb_entry")
        handler = protect(mode="block")(entry.handler)
        assert is_patched(sys.modules["rb_shell"].system)
        assert_blocked(invoke(handler, http("system", f"x; touch {marker}")), records, "command_injection")
        assert not marker.exists()
    finally:
        sinks.instrument()
        for name in ("rb_entry", "rb_shell"):
            sys.modules.pop(name, None)


def test_a_dependency_packaged_in_the_task_root_is_rebound_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                marker: Path, records) -> None:
    """``pip install -t .`` puts a dependency beside the handler, with no site-packages in its path: its
    module globals are rebound like the function's own (the rebinding docstring says so)."""
    root = tmp_path / "var-task"
    (root / "rb_vendorlib").mkdir(parents=True)
    (root / "rb_vendorlib" / "__init__.py").write_text(
        "from os import system\n\n\ndef thumbnail(name):\n    return system(f'echo {name} > /dev/null')\n")
    (root / "rb_lambda.py").write_text(
        "from rb_vendorlib import thumbnail\n\n\ndef handler(event, context):\n"
        "    code = thumbnail(event['queryStringParameters']['name'])\n"
        "    return {'statusCode': 200, 'body': str(code)}\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(root))
    sinks.uninstrument()
    try:
        handler = protect(mode="block")(importlib.import_module("rb_lambda").handler)
        assert is_patched(sys.modules["rb_vendorlib"].system)
        assert_blocked(invoke(handler, http("system", f"x; touch {marker}")), records, "command_injection")
        assert not marker.exists()
        records.clear()
        assert invoke(handler, http("system", "holiday photo-2024_v2.png")) == {"statusCode": 200, "body": "0"}
        assert records.detections() == []
    finally:
        sinks.instrument()
        for name in ("rb_lambda", "rb_vendorlib"):
            sys.modules.pop(name, None)
