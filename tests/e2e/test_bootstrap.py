"""app_protect_lambda.bootstrap in-process: handler names, import errors, and the protected handler.

(The same module through the real runtime client: test_layer_runtime.py, test_attach.py.)
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from app_protect_lambda import config
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

HANDLER_MODULE = '''
import sqlite3
CALLS = []

def handler(event, context):
    CALLS.append(event)
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (name TEXT)")
    name = (event.get("queryStringParameters") or {}).get("name", "")
    rows = connection.execute(f"SELECT name FROM t WHERE name = '{name}'").fetchall()
    return {"statusCode": 200, "body": str(rows)}

NOT_CALLABLE = 42
'''


def fresh_bootstrap() -> ModuleType:
    sys.modules.pop("app_protect_lambda.bootstrap", None)
    config.reset()
    return importlib.import_module("app_protect_lambda.bootstrap")


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    name = f"probe_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "functions"
    package.mkdir()
    (package / f"{name}.py").write_text(HANDLER_MODULE)
    (tmp_path / "broken.py").write_text("import no_such_dependency_here\n\ndef handler(event, context):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith(("probe_", "functions.", "broken"))] + ["functions"]:
        sys.modules.pop(module, None)
    sys.modules.pop("app_protect_lambda.bootstrap", None)


def probe(task_root: Path) -> str:
    return f"functions/probe_{task_root.name.replace('-', '_')}.handler"


def test_wraps_the_handler_named_by_the_wrapper_and_blocks(task_root: Path, monkeypatch, records) -> None:
    monkeypatch.setenv("APP_PROTECT_HANDLER", probe(task_root))
    monkeypatch.setenv("_HANDLER", "app_protect_lambda.bootstrap.handler")
    bootstrap = fresh_bootstrap()
    assert bootstrap.handler.__app_protect__ is True
    assert bootstrap.handler(apigw_v1_event(query={"name": "ann"}), LambdaContext())["statusCode"] == 200
    assert bootstrap.handler(apigw_v1_event(query={"name": "' OR 1=1 --"}), LambdaContext())["statusCode"] == 403
    [detection] = records.detections()
    assert detection["sink"]["frame"].startswith("probe_")


def test_falls_back_to_the_runtime_handler_when_the_wrapper_did_not_run(task_root: Path, monkeypatch) -> None:
    monkeypatch.delenv("APP_PROTECT_HANDLER", raising=False)
    monkeypatch.setenv("_HANDLER", probe(task_root))
    assert fresh_bootstrap().handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200


@pytest.mark.parametrize("value", [None, "app_protect_lambda.bootstrap.handler"])
def test_without_a_user_handler_the_init_fails_with_a_clear_import_error(value, monkeypatch) -> None:
    monkeypatch.delenv("APP_PROTECT_HANDLER", raising=False)
    if value is None:
        monkeypatch.delenv("_HANDLER", raising=False)
    else:
        monkeypatch.setenv("_HANDLER", value)
    with pytest.raises(ImportError, match=r"APP_PROTECT_HANDLER is not set.*AWS_LAMBDA_EXEC_WRAPPER=/opt/app-protect"):
        fresh_bootstrap()
    assert "app_protect_lambda.bootstrap" not in sys.modules


@pytest.mark.parametrize(("name", "message"), [
    ("app", "bad handler 'app'"),
    ("app.", "bad handler 'app.'"),
    (".handler", "bad handler '.handler'"),
    ("my app.handler", "bad handler 'my app.handler'"),
    ("app.handler-v2", "bad handler 'app.handler-v2'"),
    ("sys.exit", "cannot use the built-in module 'sys'"),
    ("no_such_module.handler", "unable to import module 'no_such_module'"),
    ("broken.handler", "unable to import module 'broken' for handler 'broken.handler': No module named "
                       "'no_such_dependency_here'"),
])
def test_malformed_or_missing_handlers_fail_at_init(name: str, message: str, task_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("APP_PROTECT_HANDLER", name)
    with pytest.raises(ImportError, match="app-protect: ") as raised:
        fresh_bootstrap()
    assert message in str(raised.value)


def test_missing_and_non_callable_attributes_fail_at_init(task_root: Path, monkeypatch) -> None:
    module = probe(task_root).rsplit(".", 1)[0]
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{module}.nope")
    with pytest.raises(ImportError, match=r"handler .nope. missing on module .functions\.probe_"):
        fresh_bootstrap()
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{module}.NOT_CALLABLE")
    with pytest.raises(ImportError, match="is not callable"):
        fresh_bootstrap()


def test_dotted_package_handlers_are_imported_like_the_runtime_does(task_root: Path, monkeypatch) -> None:
    dotted = probe(task_root).replace("/", ".")
    monkeypatch.setenv("APP_PROTECT_HANDLER", dotted)
    assert fresh_bootstrap().handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200


def test_a_policy_that_promises_an_unenforced_protection_fails_the_init(task_root: Path, monkeypatch) -> None:
    policy = task_root / "policy.yaml"
    policy.write_text("version: 1\nprotections:\n  sql_injection: block\n  malicious_upload: block\n")
    monkeypatch.setenv("APP_PROTECT_POLICY", f"file:{policy}")
    monkeypatch.setenv("APP_PROTECT_HANDLER", probe(task_root))
    with pytest.raises(PolicyError) as raised:
        fresh_bootstrap()
    assert str(raised.value).startswith(
        f"policy {policy}, line 4: protections.malicious_upload: malicious_upload is not enforced")
