"""Fixtures shared by every test: a clean environment and the records a test produced."""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import config

EVENTS = Path(__file__).parent / "events"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts without APP_PROTECT_* variables and with fake AWS credentials."""
    for name in list(os.environ):
        if name.startswith("APP_PROTECT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAFAKEEXAMPLE00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fakeSecretKeyForTests/0123456789abcdefXYZ")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjFAKEsessionTOKENfortests0123456789abcdef")
    config.reset()
    yield
    config.reset()


class Records:
    """The JSON lines that app-protect printed during a test, parsed."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._seen: list[dict] = []

    def all(self) -> list[dict]:
        out = self._capsys.readouterr().out
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    self._seen.append(json.loads(line))
        return self._seen

    def detections(self, protection: str | None = None, *, without: str | None = None) -> list[dict]:
        """The detection records, of one ``protection`` or ``without`` one (the payload rule pack reports
        beside the sink protections by default: their tests ask for their own records)."""
        return [r for r in self.all() if r.get("schema") == "app-protect/detection/1"
                and (protection is None or r.get("protection") == protection)
                and (without is None or r.get("protection") != without)]

    def internal_errors(self) -> list[dict]:
        return [r for r in self.all() if r.get("schema") == "app-protect/internal-error/1"]

    def metrics(self) -> list[dict]:
        return [r for r in self.all() if "_aws" in r]

    def clear(self) -> None:
        self.all()
        self._seen.clear()


@pytest.fixture
def records(capsys: pytest.CaptureFixture[str]) -> Records:
    return Records(capsys)


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def require_server(host: str, port: int, what: str) -> None:
    """Skip when a server is missing locally; fail in CI, where .ci/run starts it."""
    import socket

    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        message = f"{what} is not reachable on {host}:{port}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
