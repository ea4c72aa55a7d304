"""Processes a test starts: their state from /proc, bounded waits, and a fixture that kills what is left."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def state(pid: int) -> str | None:
    """The process state letter from /proc, or None when the process is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].split()[0].decode()


def running(pid: int) -> bool:
    return state(pid) not in (None, "Z", "X")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                data = Path(f"/proc/{entry}/stat").read_bytes()
                if int(data[data.rfind(b")") + 2:].split()[1]) == pid:
                    found.append(int(entry))
    return found


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids a test started; whatever is left is killed and reaped, so no test leaves a process behind."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        for victim in [*children_of(pid), pid]:
            with contextlib.suppress(OSError):
                os.kill(victim, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            for _ in range(250):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.02)
