"""The instrumentor base and the patching primitives, on throwaway modules."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from app_protect_lambda.sinks.base import Instrumentor
from app_protect_lambda.sinks.patching import is_patched

SOURCE = textwrap.dedent('''
    __version__ = "2.9.1 (dt dec)"

    def shout(text):
        """Say it louder."""
        return text.upper()

    class Base:
        def greet(self, name):
            return f"hello {name}"

    class Child(Base):
        @staticmethod
        def helper(x):
            return x * 2

        @classmethod
        def make(cls, value):
            return (cls.__name__, value)
''')


@pytest.fixture
def module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    name = f"throwaway_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def recording_instrumentor(name: str, calls: list, tested: tuple[int, ...] = (), fail: bool = False) -> Instrumentor:
    class Recording(Instrumentor):
        module = name
        tested_majors = tested

        def patch(self, module) -> None:
            def wrapper(wrapped, instance, args, kwargs):
                calls.append((wrapped.__name__, instance, args))
                return wrapped(*args, **kwargs)
            self.wrap(module, "shout", wrapper)
            self.wrap(module.Child, "greet", wrapper)  # inherited from Base
            self.wrap(module.Child, "helper", wrapper)
            self.wrap(module.Child, "make", wrapper)
            if fail:
                raise RuntimeError("patch failed half way")

    return Recording()


def test_wrap_keeps_calling_convention_and_metadata(module_name: str) -> None:
    module = __import__(module_name)
    calls: list = []
    instrumentor = recording_instrumentor(module_name, calls)
    instrumentor.instrument()
    child = module.Child()
    assert module.shout("hi") == "HI"
    assert child.greet("ada") == "hello ada"
    assert module.Child.helper(4) == 8 and child.helper(5) == 10
    assert module.Child.make(1) == ("Child", 1)
    assert module.Base().greet("bob") == "hello bob"  # the parent class is untouched
    assert [c[0] for c in calls] == ["shout", "greet", "helper", "helper", "make"]
    assert calls[0][1] is None and calls[1][1] is child and calls[1][2] == ("ada",)
    assert module.shout.__doc__ == "Say it louder." and module.shout.__name__ == "shout"
    assert is_patched(module.shout)


def test_instrument_is_idempotent_and_uninstrument_restores(module_name: str) -> None:
    module = __import__(module_name)
    original_shout = module.shout
    calls: list = []
    instrumentor = recording_instrumentor(module_name, calls)
    instrumentor.instrument()
    patched = module.shout
    instrumentor.instrument()
    assert module.shout is patched
    instrumentor.uninstrument()
    assert module.shout is original_shout
    assert "greet" not in vars(module.Child)  # the inherited method was not copied down
    assert isinstance(vars(module.Child)["helper"], staticmethod)
    assert module.Child.make(2) == ("Child", 2)
    module.shout("x")
    assert calls == []


def test_modules_imported_later_are_patched_on_import(module_name: str) -> None:
    assert module_name not in sys.modules
    calls: list = []
    instrumentor = recording_instrumentor(module_name, calls)
    instrumentor.instrument()
    module = __import__(module_name)
    assert module.shout("late") == "LATE"
    assert calls and instrumentor.installed
    instrumentor.uninstrument()


def test_an_untested_major_version_is_left_alone_with_a_notice(module_name: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    module = __import__(module_name)
    original = module.shout
    instrumentor = recording_instrumentor(module_name, [], tested=(3,))
    instrumentor.instrument()
    assert module.shout is original and not instrumentor.installed
    notice = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert notice["schema"] == "app-protect/notice/1" and notice["notice"] == "untested_driver_version"
    assert "2.9.1" in notice["detail"] and "3.x" in notice["detail"]


def test_a_tested_major_version_is_patched(module_name: str) -> None:
    calls: list = []
    instrumentor = recording_instrumentor(module_name, calls, tested=(1, 2))
    instrumentor.instrument()
    assert __import__(module_name).shout("ok") == "OK" and calls and instrumentor.installed
    instrumentor.uninstrument()


def test_a_failing_patch_is_rolled_back_and_recorded(module_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = __import__(module_name)
    original = module.shout
    instrumentor = recording_instrumentor(module_name, [], fail=True)
    instrumentor.instrument()
    assert module.shout is original and not instrumentor.installed
    assert '"where": "instrument.' in capsys.readouterr().out
