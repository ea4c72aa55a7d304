"""Sandbox persistence: running a program dropped in the sandbox's writable space.

In Lambda only ``/tmp`` is writable, and it survives between invocations of a
warm sandbox; a program that runs from there was written by the function (or
by an attacker through it). During an invocation, a process sink that runs a
program under ``exec_deny_paths`` (default ``/tmp`` and ``/dev/shm``), or an
interpreter on a script there, is a finding unless ``exec_allow_paths`` covers
it. Shell commands are read with the command-injection detector's shell reader,
so every program of a pipeline or list is judged, and which programs are
interpreters (and how a shell's options are read) comes from that module's one
table. Inputs are not needed; when one occurs in the program's path, the record
names it.

The other half of this protection, children that outlive the invocation, is
checked by ``sinks.shell.finish`` when the invocation ends.
"""
from __future__ import annotations

import os
import posixpath
import re
from functools import cache, lru_cache

from ..findings import AttackKind, Finding
from .command_injection import (
    INTERPRETERS,
    SHELLS,
    Command,
    program_name,
    runnable,
    shell_operand,
    simple_commands,
)
from .file_access import absolute, compile_globs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from ..sources import Inputs

# Options of language interpreters whose value is the code itself (python -c, perl -e, node --eval...).
_INLINE_CODE = frozenset(("-c", "-e", "-E", "-m", "-r", "--eval", "--command"))


def _any(value: str) -> bool:
    return True


# Programs that run the rest of their arguments as a command (``env X=1 /tmp/x``, ``timeout 5 /tmp/x``):
# for each, its options that take a value as the next word, and how many operands precede the command.
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "env": (frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "nohup": (frozenset(), 0),
    "setsid": (frozenset(), 0),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), 0),
    "ionice": (frozenset({"-c", "-n", "-p", "-P", "-u"}), 0),
    "chrt": (frozenset(), 1),
    "taskset": (frozenset(), 1),
    "time": (frozenset({"-f", "--format", "-o", "--output"}), 0),
    "command": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "ld.so": (frozenset({"--library-path", "--preload", "--argv0", "--audit"}), 0),
}
# A dynamic loader runs the program it is given, whatever its name (ld-linux-x86-64.so.2, ld-musl-...).
_LOADERS = ("ld-linux", "ld-musl", "ld64.so", "ld.so")


def _wrapper(name: str) -> tuple[frozenset[str], int] | None:
    if name.startswith(_LOADERS):
        return _WRAPPERS["ld.so"]
    return _WRAPPERS.get(name)


def _wrapped(argv: tuple[str, ...] | list[str], options: frozenset[str], operands: int) -> list[str]:
    """The command a wrapper runs: what follows its options, ``NAME=VALUE`` words (env's) and operands."""
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "--":
            index += 1
            break
        if word.startswith("-") and len(word) > 1:
            index += 2 if word in options else 1
        elif "=" in word and not word.startswith("/") and word.partition("=")[0].isidentifier():
            index += 1
        else:
            break
    return list(argv[index + operands:])


def _programs(command: Command) -> Iterator[tuple[str, str]]:
    """(role, path as written) of every program and interpreted script the command runs."""
    if command.shell:
        if command.executable:
            yield "program", command.executable
        yield from _script(command.script)
        return
    yield from _vector(command.argv, command.program)


def _script(text: str) -> Iterator[tuple[str, str]]:
    """The programs and scripts of a shell script, a relative one joined to the folder an earlier ``cd``
    of the script moved to (``cd /tmp && ./x``); ``. file`` and ``source file`` run a script."""
    folder: str | None = None
    for words in simple_commands(text):
        values = [word.value for word in words]
        if not values:
            continue
        if values[0] == "cd" and len(values) > 1 and not values[1].startswith("-"):
            folder = posixpath.join(folder or "", values[1]) if folder else values[1]
            continue
        found = [("script", values[1])] if values[0] in (".", "source") and len(values) > 1 \
            else _vector(values, None)
        for role, written in found:
            relative = not written.startswith(("/", "$", "~")) and ("/" in written or role == "script")
            yield role, posixpath.join(folder, written) if folder and relative else written


def _vector(argv: tuple[str, ...] | list[str], program: str | None) -> Iterator[tuple[str, str]]:
    if not argv and not program:
        return
    program = program or argv[0]
    yield "program", program
    name = program_name(program)
    wrapper = _wrapper(name)
    if wrapper is not None:
        yield from _vector(_wrapped(argv, *wrapper), None)
        if name == "env":  # env -S "/tmp/x args" splits its value into the command
            for index, word in enumerate(argv[:-1]):
                if word in ("-S", "--split-string"):
                    yield from _vector(argv[index + 1].split(), None)
    elif name == "busybox" and len(argv) > 1:  # busybox APPLET ARGS...: the applet runs the rest
        yield from _vector(argv[1:], None)
    elif name in SHELLS:
        operand = shell_operand(argv)
        if operand is None:  # the commands come from standard input
            return
        inline, text = operand
        if not inline:
            yield "script", text
            return
        yield from _script(text)
    elif name in INTERPRETERS:
        for arg in argv[1:]:
            if arg in _INLINE_CODE:
                return
            if not arg.startswith("-"):
                yield "script", arg
                return


def _resolve(path: str, cwd: str | None, deny_prefixes: tuple[str, ...]) -> str:
    """The absolute path of a program, looking it up in PATH only when PATH reaches a denied directory;
    ``/proc/self/root/tmp/x`` (and another process's root, ours in Lambda's one-process sandbox) is
    ``/tmp/x``."""
    if "/" in path:
        if cwd and not path.startswith("/"):
            path = posixpath.join(cwd, path)
        path = absolute(path)
        root = _proc_root().match(path)
        return absolute("/" + path[root.end():]) if root else path
    search = os.environ.get("PATH", "")
    if _path_reaches(search, deny_prefixes):
        import shutil  # only here: shutil pulls in bz2 and lzma, milliseconds of cold start

        found = shutil.which(path, path=search)
        if found:
            return absolute(found)
    return path


@cache
def _proc_root() -> re.Pattern[str]:
    return re.compile(r"/proc/(?:self|thread-self|\d+)/(?:task/\d+/)?(?:root|cwd)(?=/)")


@cache
def _descriptor() -> re.Pattern[str]:
    """A program run from an open descriptor: a memfd or a deleted file, no path left on disk."""
    return re.compile(r"/(?:proc/(?:self|thread-self|\d+)/(?:task/\d+/)?fd|dev/fd)/\d+")


@lru_cache(maxsize=16)
def _path_reaches(search: str, prefixes: tuple[str, ...]) -> bool:
    return any(entry.startswith(prefixes) for entry in search.split(os.pathsep) if entry)


def dropped_program_prefixes(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The literal prefixes of ``exec_deny_paths`` ("" when a glob can match anywhere)."""
    deny = compile_globs(tuple(options.get("exec_deny_paths", ())))
    return deny.prefixes if deny is not None else ()


def path_reaches(prefixes: tuple[str, ...]) -> bool:
    """Whether a program looked up through PATH could come from a denied directory."""
    return bool(prefixes) and _path_reaches(os.environ.get("PATH", ""), prefixes)


def may_run_dropped_program(command: Command, prefixes: tuple[str, ...], through_path: bool | None = None) -> bool:
    """The sinks' fast path: False when ``detect`` cannot find anything in this command.

    Nothing can run from a denied directory when no part of the command names
    one, the program is not looked up through a PATH that reaches one
    (``through_path``, computed once per invocation by the sink), and relative
    programs do not start from one.
    """
    if not prefixes:
        return False
    if "" in prefixes:
        return True
    texts = [command.program, *command.argv]
    if command.executable:
        texts.append(command.executable)
    if command.cwd:
        texts.append(command.cwd)
    for text in texts:
        for prefix in prefixes:
            if prefix in text:
                return True
        if "/proc/" in text or "/dev/fd/" in text:  # a program run from a descriptor or another root
            return True
    program = command.program
    if command.shell or "/" not in program:
        if through_path is None:
            through_path = path_reaches(prefixes)
        if through_path:
            return True
    if command.shell or (program and not program.startswith("/") and "/" in program):
        try:
            return os.getcwd().startswith(prefixes)
        except OSError:
            return True
    return False


def detect(command: Command, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    deny = compile_globs(tuple(options.get("exec_deny_paths", ())))
    if deny is None or not runnable(command):  # a command execve refuses runs nothing
        return None
    allow = compile_globs(tuple(options.get("exec_allow_paths", ())))
    cwd = command.cwd
    for role, written in _programs(command):
        if not written or written.startswith(("$", "~")):
            continue
        path = _resolve(written, cwd, deny.prefixes)
        what = "runs the program" if role == "program" else "runs the script"
        if _descriptor().fullmatch(path):
            item = next(iter(inputs.occurring_in(written, _any)), None)
            return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.fd-exec",
                           f"the invocation {what} {path}, an open descriptor (a memfd or a deleted file: "
                           "a program with no path left on disk)", item, path)
        if not path.startswith("/") or not deny.match((path,)) or (allow is not None and allow.match((path,))):
            continue
        item = next(iter(inputs.occurring_in(written, _any)), None)
        return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.tmp-exec",
                       f"the invocation {what} {path}, which lives in the sandbox's writable space "
                       "(a dropped binary)", item, path)
    return None
