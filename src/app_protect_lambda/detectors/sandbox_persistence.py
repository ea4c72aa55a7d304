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
from functools import lru_cache

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


def _programs(command: Command) -> Iterator[tuple[str, str]]:
    """(role, path as written) of every program and interpreted script the command runs."""
    if command.shell:
        if command.executable:
            yield "program", command.executable
        for words in simple_commands(command.script):
            yield from _vector([w.value for w in words], None)
        return
    yield from _vector(command.argv, command.program)


def _vector(argv: tuple[str, ...] | list[str], program: str | None) -> Iterator[tuple[str, str]]:
    if not argv and not program:
        return
    program = program or argv[0]
    yield "program", program
    name = program_name(program)
    if name == "busybox" and len(argv) > 1:  # busybox APPLET ARGS...: the applet runs the rest
        yield from _vector(argv[1:], None)
    elif name in SHELLS:
        operand = shell_operand(argv)
        if operand is None:  # the commands come from standard input
            return
        inline, text = operand
        if not inline:
            yield "script", text
            return
        for words in simple_commands(text):
            yield from _vector([w.value for w in words], None)
    elif name in INTERPRETERS:
        for arg in argv[1:]:
            if arg in _INLINE_CODE:
                return
            if not arg.startswith("-"):
                yield "script", arg
                return


def _resolve(path: str, cwd: str | None, deny_prefixes: tuple[str, ...]) -> str:
    """The absolute path of a program, looking it up in PATH only when PATH reaches a denied directory."""
    if "/" in path:
        if cwd and not path.startswith("/"):
            path = posixpath.join(cwd, path)
        return absolute(path)
    search = os.environ.get("PATH", "")
    if _path_reaches(search, deny_prefixes):
        import shutil  # only here: shutil pulls in bz2 and lzma, milliseconds of cold start

        found = shutil.which(path, path=search)
        if found:
            return absolute(found)
    return path


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
        if not path.startswith("/") or not deny.match((path,)) or (allow is not None and allow.match((path,))):
            continue
        item = next(iter(inputs.occurring_in(written, _any)), None)
        what = "runs the program" if role == "program" else "runs the script"
        return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.tmp-exec",
                       f"the invocation {what} {path}, which lives in the sandbox's writable space "
                       "(a dropped binary)", item, path)
    return None
