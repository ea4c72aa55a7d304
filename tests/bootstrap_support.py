"""The exec wrapper's handler as the runtime loads it, around a user module: one helper for the tests that
go through it (the layer's wrapper points ``_HANDLER`` at the bootstrap and keeps the user's handler in
``APP_PROTECT_HANDLER``)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import pytest

from app_protect_lambda import config

BOOTSTRAP = "app_protect_lambda.bootstrap"


@contextmanager
def wrapping(monkeypatch: pytest.MonkeyPatch, module: str, function: str = "handler") -> Iterator[ModuleType]:
    """The bootstrap module, imported afresh with ``APP_PROTECT_HANDLER`` naming ``module.function`` (already
    importable); both modules are forgotten afterwards, so the next test imports them again."""
    monkeypatch.setenv("APP_PROTECT_HANDLER", f"{module}.{function}")
    monkeypatch.setenv("_HANDLER", f"{BOOTSTRAP}.handler")
    sys.modules.pop(BOOTSTRAP, None)
    config.reset()
    try:
        yield importlib.import_module(BOOTSTRAP)
    finally:
        sys.modules.pop(module, None)
        sys.modules.pop(BOOTSTRAP, None)
