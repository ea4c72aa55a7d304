"""Children no process sink starts: ``os.fork``, ``os.forkpty``, multiprocessing, and what they leave.

The process sinks (``shell.py``) remember the children they start, and the end-of-invocation
check (``shell.finish``) kills or reports those still running. Three more ways leave a process
behind:

- ``os.fork``/``os.forkpty`` (wrapped here; ``os.spawn*``, which fork inside a sink, are not
  counted twice) and ``multiprocessing.Process.start`` (fork, spawn and forkserver start
  methods alike; its ``Popen`` handle is kept so a termination leaves the object's bookkeeping
  right). Remembered like a sink's child, with the line of the function's code that started it.
- Processes no hook sees: a shell's background job (``os.system("sleep 100 &")``: the shell exits,
  its job is reparented to init), a double fork, a C library's fork. At the invocation's first
  process call the baseline is taken: the pids /proc lists (one ``listdir``, no file read); at its
  end, only the processes new since then are read, and ``strays`` are those alive and either our
  children or, when we lead our process group (the Lambda runtime does: the Runtime Interface
  Emulator starts it with ``Setpgid``), members of our group reparented away from us. The
  multiprocessing helpers (resource tracker, forkserver), which outlive every pool by design, and
  the children of multiprocessing objects made before the invocation are not strays. A pid that
  died and was reused within the invocation is missed (pids are allocated cyclically).
- A double fork that also calls ``setsid`` leaves both our tree and our group; only the opt-in
  ``subreaper`` option sees it: ``prctl(PR_SET_CHILD_SUBREAPER)`` makes every orphan of our
  descendants our child instead of init's. Opt-in because it changes the process: orphans'
  zombies become ours to reap (``reap_adopted`` reaps those of new processes no one owns, which a C
  library that forks and waits later would find reaped) and ctypes must be imported to call prctl.

Measured with ``python -m bench.processes`` on this 2-core machine under load (load average 6-8,
~108 processes; a Lambda sandbox holds a handful): the baseline's ``listdir`` of /proc 119-126 µs,
reading one process's ``stat`` 16-20 µs (10 µs unloaded; ``os.open``/``os.read``, the ``open()``
builtin took 14), a full scan 1.8-2.7 ms, which is why only new processes are read: an invocation
that runs ``true`` took +170 to +680 µs with the check on (two listdirs and the stat of what is
new), against 1.2-4.7 ms for the invocation itself; none of this runs in an invocation that starts
no process. The subreaper costs the ctypes import once (1.9-6.7 ms here, 2.3 ms unloaded) and
~100 µs for the prctl, then nothing per invocation: it needs the same reading of /proc, since
``/proc/<pid>/task/<tid>/children`` (CONFIG_PROC_CHILDREN) cannot be relied upon (absent here).
Both are taken at the first process call of an invocation, not at cold start.
"""
from __future__ import annotations

import os
import sys
from contextlib import suppress
from contextvars import ContextVar
from functools import cache

from ..context import current
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from ..context import RequestContext

Proc = tuple[str, int, int, int]  # state letter, parent pid, process group, start time (clock ticks)

_PR_SET_CHILD_SUBREAPER = 36
# Set while multiprocessing starts a process: its os.fork is that process, remembered once. Not the shell's
# ``inside``, which a forked child would inherit and then run its whole target unchecked.
_starting: ContextVar[bool] = ContextVar("app_protect_process_starting", default=False)
_MAX_PROCESSES = 65536  # a bound on the scan; pid_max is 4 million, a Lambda sandbox holds a handful


@cache
def _shell() -> ModuleType:
    from . import shell  # shell imports this module

    return shell


# ---------------------------------------------------------------- reading /proc

def stat(pid: int) -> Proc | None:
    """(state, parent, group, start) of a process, from /proc; None when it is gone."""
    try:
        descriptor = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(descriptor, 1024)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def pids() -> frozenset[str]:
    """The pids of every process now, as /proc lists them: one ``listdir``, no file read."""
    try:
        return frozenset(os.listdir("/proc"))
    except OSError:
        return frozenset()


def scan(baseline: frozenset[str] = frozenset()) -> dict[int, Proc]:
    """Every process we can see that is not in ``baseline`` (the pids of an earlier ``pids()``)."""
    table: dict[int, Proc] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries[:_MAX_PROCESSES]:
        if entry.isdigit() and entry not in baseline:
            found = stat(int(entry))
            if found is not None:
                table[int(entry)] = found
    return table


def tree(table: dict[int, Proc]) -> dict[int, list[int]]:
    """Parent pid -> child pids."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc[1], []).append(pid)
    return children


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return os.fsdecode(handle.read(4096)).replace("\x00", " ").strip()
    except OSError:
        return ""


def _owned_elsewhere() -> set[int]:
    """Processes multiprocessing keeps for itself or for an object made before the invocation."""
    pids: set[int] = set()
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    pid = getattr(getattr(tracker, "_resource_tracker", None), "_pid", None)
    if isinstance(pid, int):
        pids.add(pid)
    server = sys.modules.get("multiprocessing.forkserver")
    pid = getattr(getattr(server, "_forkserver", None), "_forkserver_pid", None)
    if isinstance(pid, int):
        pids.add(pid)
    process = sys.modules.get("multiprocessing.process")
    for child in list(getattr(process, "_children", ())):
        pid = getattr(child, "pid", None)
        if isinstance(pid, int):
            pids.add(pid)
    return pids


def strays(table: dict[int, Proc], tracked: set[int]) -> list[int]:
    """The processes the invocation left running without a hook seeing them start (the module docstring),
    from the ``scan`` of what is new since its baseline: only the top of each such tree; the rest are its
    descendants."""
    me, group = os.getpid(), os.getpgrp()
    new = {pid for pid, proc in table.items() if proc[0] not in "ZX" and pid != me}
    if not new:
        return []
    owned = _owned_elsewhere() | tracked
    found = []
    for pid in sorted(new):
        _, parent, own_group, _ = table[pid]
        if pid in owned:
            continue
        if parent == me:
            found.append(pid)
        elif group == me and own_group == group and parent not in new and parent not in tracked \
                and _group_of(parent) != group:
            found.append(pid)  # reparented out of our tree (to init), still in the group only we fill
    return found


def _group_of(pid: int) -> int | None:
    """The process group of a process; a process of ours made before the invocation (a sidecar started
    at init) that starts a child now is its parent, and that child is the sidecar's business."""
    found = stat(pid)
    return found[2] if found is not None else None


def reap_adopted(table: dict[int, Proc], tracked: set[int]) -> None:
    """With the subreaper: the zombies of orphans adopted by us, which no one else will ever wait for."""
    me = os.getpid()
    owned = _owned_elsewhere() | tracked
    for pid, proc in table.items():
        if proc[0] == "Z" and proc[1] == me and pid not in owned:
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


_subreaper: bool | None = None


def become_subreaper() -> bool:
    """``prctl(PR_SET_CHILD_SUBREAPER, 1)``, once per process; False where it is not available."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes  # ~2.3 ms, once, and only when the policy asks for the subreaper

                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), ctypes.c_ulong(0),
                                        ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
            except (OSError, AttributeError):
                _subreaper = False
    return _subreaper


# ---------------------------------------------------------------- hooks

def _started(context: RequestContext, sink: str) -> None:
    """Before a process starts: the invocation's process state, and with it the baseline snapshot."""
    _shell().prepare(context, sink)


def _fork_sink(sink: str) -> Any:
    def wrapper(wrapped, instance, args, kwargs):
        shell = _shell()
        if shell.inside.get() or _starting.get():  # a sink's own fork (os.spawn*), which remembers the child
            return wrapped(*args, **kwargs)
        context = current()
        if context is None:
            return wrapped(*args, **kwargs)
        _started(context, sink)
        result = wrapped(*args, **kwargs)
        pid = result if type(result) is int else result[0]
        if pid:  # in the parent
            shell.remember(context, sink, pid, None, None)
        return result
    return wrapper


class Fork(Instrumentor):
    module = "os"

    def patch(self, module: Any) -> None:
        for name in ("fork", "forkpty"):
            if hasattr(module, name):
                self.wrap(module, name, _fork_sink(f"os.{name}"))


def _target(process: Any) -> str:
    target = getattr(process, "_target", None)
    name = getattr(target, "__qualname__", None) or type(target).__name__ if target is not None else "run"
    return f"{getattr(process, 'name', 'Process')}: {name}"


class Multiprocessing(Instrumentor):
    module = "multiprocessing.process"

    def patch(self, module: Any) -> None:
        def start(wrapped, instance, args, kwargs):
            shell = _shell()
            context = current()
            if context is None or shell.inside.get():
                return wrapped(*args, **kwargs)
            _started(context, "multiprocessing.Process.start")
            label = _target(instance)  # start() drops the target
            token = _starting.set(True)
            try:
                result = wrapped(*args, **kwargs)
            finally:
                _starting.reset(token)
            from ..detectors.command_injection import Command

            shell.remember(context, "multiprocessing.Process.start", instance.pid,
                           getattr(instance, "_popen", None), Command([label]))
            return result

        self.wrap(module.BaseProcess, "start", start)


INSTRUMENTORS = [Fork, Multiprocessing]
