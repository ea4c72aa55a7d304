"""Which new processes the end-of-invocation check takes for the invocation's strays (sinks/processes.py).

Tables of (state, parent, group, start) as /proc gives them, around this process's own pid; the group
rules apply only when this process leads its group, as the Lambda runtime does.
"""
from __future__ import annotations

import os

import pytest

from app_protect_lambda.sinks import processes

ME = os.getpid()
INIT = 1
OTHER_GROUP = ME + 50_000


@pytest.fixture
def leader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes.os, "getpgrp", lambda: ME)


# (table of new processes, pids of older processes with their group, tracked pids, strays expected)
ROWS = [
    # attacks: a child no sink saw, a background job reparented to init, a double fork's grandchild
    ({ME + 1: ("S", ME, ME, 0)}, {}, set(), [ME + 1]),
    ({ME + 2: ("S", INIT, ME, 0)}, {INIT: 0}, set(), [ME + 2]),
    ({ME + 3: ("S", INIT, ME, 0), ME + 4: ("S", ME + 3, ME, 0)}, {INIT: 0}, set(), [ME + 3]),  # the top only
    ({ME + 5: ("R", ME, OTHER_GROUP, 0)}, {}, set(), [ME + 5]),  # setsid, still our child
    # benign: dead, tracked (judged as such), a tracked child's descendant, a sidecar's child, others' group
    ({ME + 6: ("Z", ME, ME, 0)}, {}, set(), []),
    ({ME + 7: ("S", ME, ME, 0)}, {}, {ME + 7}, []),
    ({ME + 8: ("S", ME + 7, ME, 0)}, {}, {ME + 7}, []),
    ({ME + 9: ("S", ME - 1, ME, 0)}, {ME - 1: ME}, set(), []),
    ({ME + 10: ("S", INIT, OTHER_GROUP, 0)}, {INIT: 0}, set(), []),
]


@pytest.mark.parametrize(("table", "older", "tracked", "expected"), ROWS)
def test_strays(table, older, tracked, expected, leader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_group_of", older.get)
    assert processes.strays(table, tracked) == expected


def test_without_leading_the_group_only_children_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes.os, "getpgrp", lambda: OTHER_GROUP)
    monkeypatch.setattr(processes, "_group_of", {INIT: 0}.get)
    table = {ME + 1: ("S", ME, OTHER_GROUP, 0), ME + 2: ("S", INIT, OTHER_GROUP, 0)}
    assert processes.strays(table, set()) == [ME + 1]  # a worker sharing its group judges no sibling's orphan


def test_multiprocessing_helpers_are_not_strays(leader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_owned_elsewhere", lambda: {ME + 1})
    assert processes.strays({ME + 1: ("S", ME, ME, 0), ME + 2: ("S", ME, ME, 0)}, set()) == [ME + 2]


def test_stat_reads_this_process() -> None:
    state, parent, group, start = processes.stat(os.getpid())
    assert state in "RS" and parent == os.getppid() and group == os.getpgrp() and start > 0
    assert processes.stat(2 ** 22 + 7) is None
    assert str(os.getpid()) in processes.pids()
