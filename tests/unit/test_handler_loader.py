"""The one handler loader (bootstrap and `app-protect replay`): the runtime's handler forms and its errors."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda.handler_loader import HandlerImportError, load_handler, split_handler

MODULE = '''
def handler(event, context):
    return {"module": __name__, "event": event}

NOT_CALLABLE = 42
NOTHING = None
'''


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A task root on sys.path holding ``<name>.py``, ``src/<name>.py`` and modules that fail on import."""
    name = f"loader_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{name}.py").write_text(MODULE)
    (tmp_path / "src" / f"{name}-v2.py").write_text(MODULE)
    (tmp_path / f"{name}_missing_dependency.py").write_text("import no_such_dependency_here\n")
    (tmp_path / f"{name}_raises.py").write_text("raise RuntimeError('the module itself failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m.startswith(name) or m.startswith(f"src.{name}")] + ["src"]:
        sys.modules.pop(module, None)


@pytest.mark.parametrize(("name", "expected"), [
    ("app.handler", ("app", "handler")),
    ("src/app.handler", ("src.app", "handler")),
    ("src/api/users.get", ("src.api.users", "get")),
    ("pkg.module.handler", ("pkg.module", "handler")),
    ("  app.handler\n", ("app", "handler")),
    ("my-function.handler", ("my-function", "handler")),
])
def test_handler_forms_the_runtime_accepts(name: str, expected: tuple[str, str]) -> None:
    assert split_handler(name) == expected


@pytest.mark.parametrize("name", ["", "app", "app.", ".handler", "/.handler", "my app.handler", "app.handler-v2",
                                  "app.2fa", "app.handler()", "src//app.handler", "my\tapp.handler"])
def test_malformed_handlers_are_refused_by_name(name: str) -> None:
    with pytest.raises(HandlerImportError) as raised:
        load_handler(name)
    assert str(raised.value) == (f"app-protect: bad handler {name!r}: expected module.function, for example "
                                 "app.handler or src/app.handler")


@pytest.mark.parametrize("name", ["sys.exit", "builtins.print", "posix/x.system"])
def test_built_in_modules_are_never_handlers(name: str) -> None:
    with pytest.raises(HandlerImportError, match=r"^app-protect: cannot use the built-in module '\w+"):
        load_handler(name)


def test_module_and_directory_forms_load_the_function(task_root: str) -> None:
    assert load_handler(f"{task_root}.handler")("e", None) == {"module": task_root, "event": "e"}
    assert load_handler(f"src/{task_root}.handler")("e", None)["module"] == f"src.{task_root}"
    assert load_handler(f"src.{task_root}.handler") is load_handler(f"src/{task_root}.handler")
    # A file name that is no identifier imports under the runtime, so it must with the layer too.
    assert load_handler(f"src/{task_root}-v2.handler")("e", None)["module"] == f"src.{task_root}-v2"


def test_missing_module(task_root: str) -> None:
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"src/{task_root}_absent.handler")
    assert str(raised.value).startswith(
        f"app-protect: unable to import module 'src.{task_root}_absent' for handler 'src/{task_root}_absent.handler': "
        "No module named ")
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_an_import_error_inside_the_module_keeps_its_cause(task_root: str) -> None:
    module = f"{task_root}_missing_dependency"
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"{module}.handler")
    assert str(raised.value) == (f"app-protect: unable to import module {module!r} for handler '{module}.handler': "
                                 "No module named 'no_such_dependency_here'")


def test_other_errors_of_the_module_propagate_unchanged(task_root: str) -> None:
    with pytest.raises(RuntimeError, match=r"^the module itself failed$"):
        load_handler(f"{task_root}_raises.handler")


def test_missing_attribute(task_root: str) -> None:
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"{task_root}.nope")
    assert str(raised.value) == f"app-protect: handler 'nope' missing on module {task_root!r}"


@pytest.mark.parametrize("attribute", ["NOT_CALLABLE", "NOTHING"])
def test_non_callable_attribute(task_root: str, attribute: str) -> None:
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"src/{task_root}.{attribute}")
    assert str(raised.value) == f"app-protect: 'src/{task_root}.{attribute}' is not callable"

