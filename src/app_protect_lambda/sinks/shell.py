"""Process sinks: subprocess, os.system/popen, the exec*/spawn* families, posix_spawn, asyncio, pty.

Each sink turns its arguments into a ``Command`` (a shell script, or an
argument vector with the program it runs) and asks the guard twice: command
injection, then sandbox persistence (a program run from ``/tmp``).
``subprocess.Popen.__init__`` is the deepest shared point of ``run``, ``call``,
``check_output``, ``getoutput`` and asyncio's subprocesses; higher-level sinks
that go through another sink (``os.popen`` -> ``Popen``, ``os.execlp`` ->
``os.execv``, ``os.spawnv`` -> fork + ``os.execv``) are checked once, at the
outermost call, under their own name.

Every process an invocation starts is remembered; ``finish`` (run when the
invocation ends) reports those still alive, and in block mode kills them (with
the process group of a child that started its own session, and their
descendants) and says so in the record.

What no sink starts (``os.fork``, multiprocessing, a shell's background job, a double
fork) is ``processes.py``'s: its hooks remember forks, and ``finish`` also judges the
processes that appeared during the invocation and still hang below us or in our group.

A process's standard input and environment can choose the code it runs as surely as
its arguments (``sh`` with ``stdin=open("/tmp/x")``, ``input=`` of ``subprocess.run``,
``env={"LD_PRELOAD": ...}``): the sinks pass them along in a ``Launch``, and
``Popen.communicate`` (which ``run(input=...)`` goes through) judges the text it is
about to write; a block there kills the shell that waits for it. Writing to
``proc.stdin`` directly is not read.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from contextvars import ContextVar
from functools import cache

from ..context import current, suppressed
from ..detectors.command_injection import Command, Prefilter
from ..detectors.sandbox_persistence import (
    Launch,
    code_environment,
    dropped_program_prefixes,
    environment_loads,
    may_run_dropped_program,
    path_reaches,
    reads_commands,
)
from ..errors import AttackBlocked
from ..findings import AttackKind, Finding
from ..guard import active, decide, failsafe, inspect
from . import processes
from .base import Instrumentor
from .child_paths import check_child_paths
from .child_stdin import SINK as STDIN_SINK
from .child_stdin import check_stdin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    from ..context import RequestContext
    from .patching import Wrapper

_SIGKILL = 9  # signal.SIGKILL on Linux; importing signal costs a millisecond of cold start

KIND = AttackKind.COMMAND_INJECTION
PERSISTENCE = AttackKind.SANDBOX_PERSISTENCE

# Set while a sink runs, so that the sinks it goes through are not checked again;
# a forked child inherits it, so the exec of os.spawn*/pty.spawn is not checked twice either.
inside: ContextVar[bool] = ContextVar("app_protect_shell_inside", default=False)


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(value))
    return os.fsdecode(os.fspath(value))


def _vector(values: Any) -> list[str]:
    if type(values) is list or type(values) is tuple:
        return [value if type(value) is str else _text(value) for value in values]
    if isinstance(values, (str, bytes, bytearray, os.PathLike)):
        return [_text(values)]
    return [_text(value) for value in values]


class ShellState:
    """Per invocation: the fast path's gates and the processes started."""

    __slots__ = ("baseline", "children", "environ_loads", "injection", "path_reaches", "persistence", "subreaper")

    def __init__(self, context: RequestContext) -> None:
        self.injection: Prefilter | None = Prefilter(context.inputs) if active(context, KIND) else None
        self.persistence: tuple[str, ...] | None = None
        self.path_reaches = False
        self.environ_loads = False  # our environment makes every child load code from a denied place
        if active(context, PERSISTENCE):
            self.persistence = dropped_program_prefixes(context.policy.options(PERSISTENCE))
            self.path_reaches = path_reaches(self.persistence)
            self.environ_loads = environment_loads(self.persistence)
        self.children: list[Child] = []
        # The processes alive before the invocation's first process call: what is new at its end and hangs
        # below us was started by it, whichever way (processes.strays). None: children are not checked.
        self.baseline: frozenset[str] | None = None
        self.subreaper = False
        if self.persistence is not None:
            options = context.policy.options(PERSISTENCE)
            if options.get("child_processes", True):
                with suppressed():
                    self.subreaper = bool(options.get("subreaper", False)) and processes.become_subreaper()
                    self.baseline = processes.pids()


def _state(context: RequestContext) -> ShellState:
    state = context.shell
    if state is None:
        state = context.shell = ShellState(context)
    return state


def _judge(context: RequestContext, sink: str, command: Command) -> None:
    """Judge one command before ``sink`` runs it."""
    state = _state(context)
    shown = None
    if state.injection is not None and state.injection.may_inject(command):
        shown = command.display()
        inspect(KIND, sink, command, argument=shown, context=context)
    if state.persistence is not None and (state.environ_loads or
                                          may_run_dropped_program(command, state.persistence, state.path_reaches)):
        inspect(PERSISTENCE, sink, command, argument=shown or command.display(), context=context)
    check_child_paths(context, sink, command)


@failsafe(KIND)
def _extract_and_check(context: RequestContext, sink: str, extract: Callable[[tuple, dict], Command], args: tuple,
                       kwargs: dict, judge: bool = True) -> Command | None:
    """The command a sink's arguments describe, judged (unless a sink around it judges it)."""
    command = extract(args, kwargs)
    if judge:
        _judge(context, sink, command)
    return command


def _sink(sink: str, extract: Callable[[tuple, dict], Command],
          spawned: Callable[[tuple, dict, Any], int | None] | None = None) -> Wrapper:
    """A wrapper: check once at the outermost sink, then call through with ``inside`` set."""
    def wrapper(wrapped, instance, args, kwargs):
        if inside.get():
            return wrapped(*args, **kwargs)
        context = current()
        if context is None:
            return wrapped(*args, **kwargs)
        command = _extract_and_check(context, sink, extract, args, kwargs)
        token = inside.set(True)
        try:
            result = wrapped(*args, **kwargs)
        finally:
            inside.reset(token)
        if spawned is not None:
            remember(context, sink, spawned(args, kwargs, result), None, command)
        return result
    return wrapper


# ---------------------------------------------------------------- extractors: (args, kwargs) -> Command

def _shell_command(args: tuple, kwargs: dict, name: str = "command") -> Command:
    return Command([_text(args[0] if args else kwargs[name])], shell=True)


def _stdin(value: Any) -> tuple[tuple[str, str], ...]:
    """The file a child's standard input is (``stdin=open(...)`` or a descriptor), as a Launch source:
    its path from /proc (a memfd's or a deleted file's as its descriptor). Pipes and devices: none."""
    if value is None or value is True or value is False or (type(value) is int and value < 0):
        return ()
    try:
        descriptor = value if type(value) is int else value.fileno()
        target = os.readlink(f"/proc/self/fd/{descriptor}")
    except (OSError, AttributeError, ValueError, TypeError):
        return ()
    if target.endswith(" (deleted)") or target.startswith("/memfd:"):
        return (("file", f"/proc/self/fd/{descriptor}"),)
    return (("file", target),) if target.startswith("/") and not target.startswith("/dev/") else ()


def _popen_command(args: tuple, kwargs: dict) -> Command:
    # Popen(args, bufsize, executable, stdin, stdout, stderr, preexec_fn, close_fds, shell, cwd, env, ...)
    command = args[0] if args else kwargs["args"]
    executable = args[2] if len(args) > 2 else kwargs.get("executable")
    stdin = args[3] if len(args) > 3 else kwargs.get("stdin")
    shell = args[8] if len(args) > 8 else kwargs.get("shell", False)
    cwd = args[9] if len(args) > 9 else kwargs.get("cwd")
    env = args[10] if len(args) > 10 else kwargs.get("env")
    cwd = _text(cwd) if cwd is not None else None
    executable = _text(executable) if executable is not None else None
    if shell:
        return Launch(_vector(command), shell=True, executable=executable, cwd=cwd, stdin_sources=_stdin(stdin),
                      env=code_environment(env))
    argv = _vector(command)
    if stdin is not None and not reads_commands(executable or (argv[0] if argv else "")):
        stdin = None  # sort < file: data, and no readlink for it
    return Launch(argv, program=executable, cwd=cwd, stdin_sources=_stdin(stdin), env=code_environment(env))


def _exec_v(args: tuple, kwargs: dict) -> Command:
    # execv(path, argv), execve(path, argv, env), execvp(file, args), execvpe(file, args, env)
    env = args[2] if len(args) > 2 else None
    return Launch(_vector(args[1]), program=_text(args[0]), env=code_environment(env))


def _exec_l(with_env: bool) -> Callable[[tuple, dict], Command]:
    # execl(file, *args), execle(file, *args, env)
    def extract(args: tuple, kwargs: dict) -> Command:
        rest = args[1:-1] if with_env else args[1:]
        return Launch(_vector(rest), program=_text(args[0]), env=code_environment(args[-1]) if with_env else None)
    return extract


def _spawn_v(args: tuple, kwargs: dict) -> Command:
    # spawnv(mode, file, args), spawnve(mode, file, args, env), spawnvp, spawnvpe
    env = args[3] if len(args) > 3 else None
    return Launch(_vector(args[2]), program=_text(args[1]), env=code_environment(env))


def _spawn_l(with_env: bool) -> Callable[[tuple, dict], Command]:
    # spawnl(mode, file, *args), spawnle(mode, file, *args, env), spawnlp, spawnlpe
    def extract(args: tuple, kwargs: dict) -> Command:
        rest = args[2:-1] if with_env else args[2:]
        return Launch(_vector(rest), program=_text(args[1]), env=code_environment(args[-1]) if with_env else None)
    return extract


def _posix_spawn(args: tuple, kwargs: dict) -> Command:
    path = args[0] if args else kwargs["path"]
    argv = args[1] if len(args) > 1 else kwargs["argv"]
    env = args[2] if len(args) > 2 else kwargs.get("env")
    return Launch(_vector(argv), program=_text(path), env=code_environment(env))


def _pty_spawn(args: tuple, kwargs: dict) -> Command:
    return Command(_vector(args[0] if args else kwargs["argv"]))


def _asyncio_shell(args: tuple, kwargs: dict) -> Command:
    cwd = kwargs.get("cwd")
    return Launch([_text(args[0] if args else kwargs["cmd"])], shell=True,
                  cwd=_text(cwd) if cwd is not None else None, stdin_sources=_stdin(kwargs.get("stdin")),
                  env=code_environment(kwargs.get("env")))


def _asyncio_exec(args: tuple, kwargs: dict) -> Command:
    cwd = kwargs.get("cwd")
    program = args[0] if args else kwargs["program"]
    stdin = kwargs.get("stdin") if reads_commands(_text(program)) else None
    return Launch(_vector([program, *args[1:]]), cwd=_text(cwd) if cwd is not None else None,
                  stdin_sources=_stdin(stdin), env=code_environment(kwargs.get("env")))


def _spawn_pid(args: tuple, kwargs: dict, result: Any) -> int | None:
    mode = args[0] if args else None
    return result if mode in (os.P_NOWAIT, getattr(os, "P_NOWAITO", os.P_NOWAIT)) else None


def _posix_spawn_pid(args: tuple, kwargs: dict, result: Any) -> int | None:
    return result if isinstance(result, int) else None


# ---------------------------------------------------------------- instrumentors

class Subprocess(Instrumentor):
    module = "subprocess"

    def patch(self, module: Any) -> None:
        def init(wrapped, instance, args, kwargs):
            context = current()
            if context is None:
                return wrapped(*args, **kwargs)
            if args and _is_iterator(args[0]):  # never consume the caller's iterator
                args = (list(args[0]), *args[1:])
            elif "args" in kwargs and _is_iterator(kwargs["args"]):
                kwargs["args"] = list(kwargs["args"])
            nested = inside.get()
            command = _extract_and_check(context, "subprocess.Popen", _popen_command, args, kwargs, not nested)
            if nested:
                wrapped(*args, **kwargs)
            else:
                token = inside.set(True)
                try:
                    wrapped(*args, **kwargs)
                finally:
                    inside.reset(token)
            remember(context, "subprocess.Popen", instance.pid, instance, command)
            if command is not None and instance.stdin is not None and context.shell is not None \
                    and context.shell.persistence:
                instance._app_protect_command = command  # for communicate(input=...): the script it sends

        def communicate(wrapped, instance, args, kwargs):
            text = args[0] if args else kwargs.get("input")
            context = current() if text else None
            if context is not None:
                check_stdin(context, STDIN_SINK, instance, text)  # the commands xargs or a shell builds from it
                command = getattr(instance, "_app_protect_command", None)
                if command is not None:
                    try:
                        _judge_input(context, STDIN_SINK, command, text)
                    except AttackBlocked:
                        _stop(instance)  # the shell waiting for its script never gets it
                        raise
            return wrapped(*args, **kwargs)

        self.wrap(module.Popen, "__init__", init)
        self.wrap(module.Popen, "communicate", communicate)


@failsafe(PERSISTENCE)
def _judge_input(context: RequestContext, sink: str, command: Command, text: Any) -> None:
    """``communicate(input=...)``, which ``subprocess.run(input=...)`` goes through: the text a shell or an
    interpreter reads as its script."""
    state = _state(context)
    if state.persistence is None:
        return
    script = text if isinstance(text, str) else os.fsdecode(bytes(text))
    launch = Launch(command.argv, shell=command.shell, program=command.program, executable=command.executable,
                    cwd=command.cwd, stdin_sources=(("text", script),), env=getattr(command, "env", None))
    if state.environ_loads or may_run_dropped_program(launch, state.persistence, state.path_reaches):
        inspect(PERSISTENCE, sink, launch, argument=script, context=context)


def _stop(popen: Any) -> None:
    with suppress(Exception):
        popen.kill()
        popen.wait(timeout=2)


def _is_iterator(value: Any) -> bool:
    kind = type(value)
    if kind is list or kind is tuple or kind is str or kind is bytes:
        return False
    return not isinstance(value, (bytearray, os.PathLike, Sequence))


_OS_SINKS: list[tuple[str, Callable[[tuple, dict], Command], Any]] = [
    ("system", _shell_command, None),
    ("popen", lambda args, kwargs: _shell_command(args, kwargs, "cmd"), None),
    ("execv", _exec_v, None), ("execve", _exec_v, None), ("execvp", _exec_v, None), ("execvpe", _exec_v, None),
    ("execl", _exec_l(False), None), ("execlp", _exec_l(False), None),
    ("execle", _exec_l(True), None), ("execlpe", _exec_l(True), None),
    ("spawnv", _spawn_v, _spawn_pid), ("spawnve", _spawn_v, _spawn_pid),
    ("spawnvp", _spawn_v, _spawn_pid), ("spawnvpe", _spawn_v, _spawn_pid),
    ("spawnl", _spawn_l(False), _spawn_pid), ("spawnlp", _spawn_l(False), _spawn_pid),
    ("spawnle", _spawn_l(True), _spawn_pid), ("spawnlpe", _spawn_l(True), _spawn_pid),
    ("posix_spawn", _posix_spawn, _posix_spawn_pid), ("posix_spawnp", _posix_spawn, _posix_spawn_pid),
]


class OS(Instrumentor):
    module = "os"

    def patch(self, module: Any) -> None:
        for name, extract, spawned in _OS_SINKS:
            if hasattr(module, name):
                self.wrap(module, name, _sink(f"os.{name}", extract, spawned))


class AsyncioSubprocess(Instrumentor):
    module = "asyncio.subprocess"

    def patch(self, module: Any) -> None:
        package = sys.modules.get("asyncio")
        for name, extract in (("create_subprocess_shell", _asyncio_shell),
                              ("create_subprocess_exec", _asyncio_exec)):
            original = getattr(module, name)
            self.wrap(module, name, _coroutine_sink(f"asyncio.{name}", extract))
            if package is not None and getattr(package, name, None) is original:
                self.replace(package, name, getattr(module, name))


def _coroutine_sink(sink: str, extract: Callable[[tuple, dict], Command]) -> Wrapper:
    def wrapper(wrapped, instance, args, kwargs):
        context = current()
        if inside.get() or context is None:
            return wrapped(*args, **kwargs)
        _extract_and_check(context, sink, extract, args, kwargs)
        return _run_inside(wrapped(*args, **kwargs))
    return wrapper


async def _run_inside(coroutine: Any) -> Any:
    token = inside.set(True)
    try:
        return await coroutine
    finally:
        inside.reset(token)


class Pty(Instrumentor):
    module = "pty"

    def patch(self, module: Any) -> None:
        self.wrap(module, "spawn", _sink("pty.spawn", _pty_spawn))


INSTRUMENTORS = [Subprocess, OS, AsyncioSubprocess, Pty]


# ---------------------------------------------------------------- children that outlive the invocation

class Child:
    """A process the invocation started: ``popen`` is its owner's handle when it has one (Popen, or
    multiprocessing's), which waits for it; ``adopted`` when no sink started it (``processes.strays``)."""

    __slots__ = ("adopted", "command", "pid", "popen", "sink", "site")

    def __init__(self, pid: int, popen: Any, sink: str, command: Command | None, site: tuple | None,
                 adopted: bool = False) -> None:
        self.pid, self.popen, self.sink, self.command, self.site = pid, popen, sink, command, site
        self.adopted = adopted

    def shown(self) -> str:
        return self.command.display() if self.command is not None else ""

    def where(self) -> str | None:
        """The line of the user's code that started the process."""
        if self.site is None:
            return None
        code, line = self.site
        root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
        filename = code.co_filename
        shown = os.path.relpath(filename, root) if filename.startswith(root) else os.path.basename(filename)
        return f"{shown}:{line} in {code.co_name}"


_library_code: dict[Any, bool] = {}


@cache
def _library_test() -> Callable[[str], bool]:
    """reporting.frames' test of a file name, imported on the first process an invocation starts."""
    from ..reporting.frames import _is_library

    return _is_library


def _spawn_site() -> tuple | None:
    """(code, line) of the innermost frame of the user's code; library verdicts cached per code object."""
    is_library = _library_test()
    if len(_library_code) > 4096:
        _library_code.clear()
    frame: FrameType | None = sys._getframe(3)
    depth = 0
    while frame is not None and depth < 64:
        code = frame.f_code
        library = _library_code.get(code)
        if library is None:
            library = _library_code[code] = is_library(code.co_filename)
        if not library:
            return code, frame.f_lineno
        frame = frame.f_back
        depth += 1
    return None


@failsafe(PERSISTENCE)
def prepare(context: RequestContext, sink: str) -> None:
    """Before a hook without a command of its own starts a process: the state, with its baseline."""
    _state(context)


def remember(context: RequestContext, sink: str, pid: int | None, popen: Any, command: Command | None) -> None:
    if pid:
        _track(context, sink, pid, popen, command)


@failsafe(PERSISTENCE)
def _track(context: RequestContext, sink: str, pid: int, popen: Any, command: Command | None) -> None:
    _state(context).children.append(Child(pid, popen, sink, command, _spawn_site()))


def finish(context: RequestContext, where: str) -> None:
    """At the end of an invocation: report (and in block mode kill) the children still running, those a
    sink started and those none did (``processes.strays``: a shell's background job, a double fork)."""
    state = context.shell
    if state is None or not active(context, PERSISTENCE):
        return
    if (state.baseline is None and not state.children) or \
            not context.policy.options(PERSISTENCE).get("child_processes", True):
        return
    with suppressed():  # our reads of /proc are not the function's file access
        table = processes.scan(state.baseline or frozenset())
        children = list(state.children)
        if state.baseline is not None:
            tracked = {child.pid for child in children}
            children += [Child(pid, None, "process", Command([processes.command_line(pid)]), None, adopted=True)
                         for pid in processes.strays(table, tracked)]
            if state.subreaper:
                processes.reap_adopted(table, tracked)
        _judge_alive(context, children, table)


def _judge_alive(context: RequestContext, children: list[Child], table: dict[int, processes.Proc]) -> None:
    alive = [child for child in children if _alive(child)]
    if not alive:
        return
    tree = processes.tree(table)
    for child in alive:
        descendants = _descendants(child.pid, tree)
        shown = child.shown()
        what = f"process {child.pid} ({shown if len(shown) <= 60 else shown[:57] + '...'})"
        if descendants:
            what += f" and {len(descendants)} descendant(s)"
        if child.adopted:
            what += ", started without a process sink (a background job, a double fork or a library's own fork)"
        where = child.where()
        finding = Finding(PERSISTENCE, "sandbox.child-alive",
                          f"{what} started by this invocation is still running after it ended", None,
                          f"started at {where}" if where else "")

        def terminate(finding: Finding, child: Child = child, descendants: list[int] = descendants,
                      what: str = what) -> Finding:
            outcome = "terminated" if _terminate(child, descendants) else "could not be terminated"
            return finding._replace(
                message=f"{what} started by this invocation was still running when it ended; {outcome}")

        with suppress(AttackBlocked):  # the invocation is over: the block is the termination, and its record
            decide(context, finding, child.sink, child.shown(), on_block=terminate)


def _alive(child: Child) -> bool:
    """Still running; checked without reaping, so the owner of the process can still wait for it. A stray
    that left our tree (reparented to init) counts wherever it now hangs."""
    if child.popen is not None and child.popen.returncode is not None:
        return False
    stat = processes.stat(child.pid)
    return stat is not None and stat[0] not in "ZX" and (child.adopted or stat[1] == os.getpid())


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found: list[int] = []
    pending = list(tree.get(pid, ()))
    while pending and len(found) < 1024:
        child = pending.pop()
        found.append(child)
        pending.extend(tree.get(child, ()))
    return found


def _terminate(child: Child, descendants: list[int]) -> bool:
    """SIGKILL the child, its own process group if it has one, and its descendants; reap the child (or,
    for one that is not ours to reap, wait until it is gone)."""
    with suppress(OSError):
        group = os.getpgid(child.pid)
        if group != os.getpgrp():
            os.killpg(group, _SIGKILL)
    for pid in (child.pid, *descendants):
        with suppress(OSError):
            os.kill(pid, _SIGKILL)
    if child.popen is not None:
        try:
            child.popen.wait(timeout=2)
            return True
        except Exception:
            return False
    for _ in range(200):  # up to ~2 s
        try:
            if os.waitpid(child.pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:  # not our child (reparented to init): gone or a zombie of its new parent
            stat = processes.stat(child.pid)
            if stat is None or stat[0] in "ZX":
                return True
        time.sleep(0.01)
    return False
