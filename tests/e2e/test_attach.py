"""The other ways a function meets the layer, through the real awslambdaric.

- layer + ``@protect`` (no exec wrapper), on every Python present;
- the init error of a bad handler behind the exec wrapper, on every Python present;
- a function that sets PYTHONPATH itself (the runtime then leaves /opt/python off sys.path);
- the same function without the layer: the attacks the other tests block really work.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sam.runtime.process import FAKE_CREDENTIALS, LocalFunction

from app_protect_lambda.testing import apigw_v1_event, sqs_event

from .conftest import FUNCTION, PYTHONS, host_version, runtime_or_skip

pytestmark = pytest.mark.e2e

SECRET = FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def get(path: str, **query: str) -> dict:
    return apigw_v1_event("GET", path, query=query or None)


def wordcount_attack(marker: Path) -> dict:
    return get("/notes/wordcount", name=f'welcome.txt"; env; touch {marker}; echo "')


@pytest.mark.parametrize("version", PYTHONS, ids=lambda version: f"py{version}")
def test_layer_and_protect_decorator_without_the_wrapper(version: str, opt: Path, tmp_path: Path) -> None:
    python = runtime_or_skip(version)
    with LocalFunction(python, FUNCTION, "app_decorated.handler", opt=opt,
                       environment={"APP_PROTECT_MODE": "block"}) as function:
        function.wait_ready()
        assert function.invoke(get("/ping")).body == {"ok": True}
        assert function.invoke(get("/notes", name="release.v1.2.txt")).body["text"].startswith("v1.2: faster")

        blocked = function.invoke(get("/users", name="' OR ''='"))
        assert blocked.status_code == 403
        marker = tmp_path / "pwned"
        blocked_shell = function.invoke(wordcount_attack(marker))
        assert blocked_shell.status_code == 403 and not marker.exists()
        failed = function.invoke(sqs_event({"name": "x', 'y', 'admin') --", "email": "z"}))
        assert failed.error_type == "RequestBlocked"
        assert function.invoke(get("/users", name="bob")).body["users"][0]["email"] == "bob@example.com"
        assert function.invoke(sqs_event({"name": "dave", "email": "dave@example.com"})).payload == {"imported": 1}

        records = function.records(wait_for=3)
        assert [(r["protection"], r["action"]) for r in records] == [
            ("sql_injection", "blocked"), ("command_injection", "blocked"), ("sql_injection", "blocked")]
        # Powertools' Logger, outside @protect, still sees the invocation context.
        [logged] = [json.loads(line) for line in function.lines_starting('{"level"')]
        assert logged["message"] == "imported users"
        assert logged["function_name"] == function.function_name and logged["cold_start"] is False


@pytest.mark.parametrize("version", PYTHONS, ids=lambda version: f"py{version}")
def test_missing_handler_module_fails_the_init_with_import_module_error(version: str, opt: Path) -> None:
    python = runtime_or_skip(version)
    with LocalFunction(python, FUNCTION, "no_such_module.handler", opt=opt, exec_wrapper=True) as function:
        function.wait_ready()
        assert function.api.init_error_type == "Runtime.ImportModuleError"
        message = function.api.init_error["errorMessage"]
        assert "no_such_module" in message and "app-protect" in message
        function.process.wait(timeout=10)
        assert function.process.returncode != 0


@pytest.mark.parametrize(("handler", "expected"), [
    ("app", "bad handler 'app'"),
    ("app.no_such_function", "handler 'no_such_function' missing on module 'app'"),
    ("function/app.handler", "unable to import module 'function.app'"),
])
def test_bad_handlers_fail_the_init_with_a_clear_message(handler: str, expected: str, opt: Path) -> None:
    python = runtime_or_skip(host_version())
    with LocalFunction(python, FUNCTION, handler, opt=opt, exec_wrapper=True) as function:
        function.wait_ready()
        assert function.api.init_error_type == "Runtime.ImportModuleError"
        assert expected in function.api.init_error["errorMessage"]


def test_directory_handler_form_is_imported_like_the_runtime_does(opt: Path) -> None:
    python = runtime_or_skip(host_version())
    with LocalFunction(python, FUNCTION.parent, "function/app.handler", opt=opt, exec_wrapper=True,
                       environment={"APP_PROTECT_MODE": "block"}) as function:
        function.wait_ready()
        assert function.api.init_error is None
        assert function.invoke(get("/ping")).body == {"ok": True}
        assert function.invoke(get("/users", name="1' OR '1'='1")).status_code == 403


def test_function_that_sets_pythonpath_still_gets_the_layer(opt: Path, tmp_path: Path) -> None:
    python = runtime_or_skip(host_version())
    libraries = tmp_path / "vendor"
    libraries.mkdir()
    (libraries / "greeting.py").write_text("WORD = 'hello'\n")
    (tmp_path / "handler.py").write_text(
        "import subprocess\nimport greeting\n\n"
        "def handler(event, context):\n"
        "    name = event['queryStringParameters']['name']\n"
        "    out = subprocess.run(f'echo {greeting.WORD} {name}', shell=True, capture_output=True, text=True)\n"
        "    return {'statusCode': 200, 'body': out.stdout}\n")
    with LocalFunction(python, tmp_path, "handler.handler", opt=opt, exec_wrapper=True,
                       environment={"APP_PROTECT_MODE": "block", "PYTHONPATH": str(libraries)}) as function:
        function.wait_ready()
        assert function.api.init_error is None, function.api.init_error
        assert function.invoke(get("/", name="world")).payload["body"] == "hello world\n"
        marker = tmp_path / "pwned"
        assert function.invoke(get("/", name=f"x; touch {marker}")).status_code == 403
        assert not marker.exists()


def test_without_the_layer_the_same_attacks_succeed(tmp_path: Path) -> None:
    """The control group: the demo function alone really is vulnerable to what the other tests block."""
    python = runtime_or_skip(host_version())
    with LocalFunction(python, FUNCTION, "app.handler") as function:
        function.wait_ready()
        users = function.invoke(get("/users", name="nobody' OR '1'='1")).body["users"]
        assert {user["name"] for user in users} == {"alice", "bob", "山田"}
        marker = tmp_path / "pwned"
        stolen = function.invoke(wordcount_attack(marker))
        assert marker.exists() and SECRET in stolen.body["words"]
        environ = function.invoke(get("/notes", name="/proc/self/environ"))
        assert SECRET in environ.body["text"]
        api = function.api
        reached = function.invoke(get("/preview", url=f"http://{api.address}/2018-06-01/runtime/invocation/next"))
        assert reached.body["status"] == 403 and "InvalidStateTransition" in reached.body["body"]
        assert api.stray_requests == ["GET /2018-06-01/runtime/invocation/next"]
        assert function.records() == []
