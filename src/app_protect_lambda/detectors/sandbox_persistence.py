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

A program is also run from the writable space when its text reaches a reader by
another way than its path: a shell or an interpreter reading its commands from
standard input (``sh < /tmp/x``, ``cat /tmp/x | sh``, ``bash <<< "/tmp/x"``, a
sink's ``stdin=`` file or ``input=`` script, carried by ``Launch``), Python inline
code that runs a file (``python -c "exec(open('/tmp/x').read())"``, read with
``ast``, imported only when the code names a denied place: ~3 ms once), ``python -m``
of a module found in a denied working directory, and an environment that makes the
loader or an interpreter take code from there (``LD_PRELOAD``, ``LD_LIBRARY_PATH``,
``PYTHONPATH``, ``BASH_ENV``...: rule ``sandbox.tmp-load``), or a ``PATH`` under which
a bare program name finds a dropped file first. The same rule judges native
libraries loaded with ctypes (``Library``, from ``sinks/native.py``).

The other half of this protection, children that outlive the invocation, is
checked by ``sinks.shell.finish`` when the invocation ends (``sinks/processes.py``
finds those no sink started).
"""
from __future__ import annotations

import os
import posixpath
import re
from functools import cache, lru_cache

from ..findings import AttackKind, Finding
from .command_injection import (
    INTERPRETERS,
    OPERATOR,
    QUOTE,
    SHELLS,
    WORD_BREAKS,
    Command,
    classify,
    program_name,
    runnable,
    shell_operand,
    unquoted_word,
    word_token,
)
from .file_access import absolute, compile_globs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
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


def reads_commands(program: str) -> bool:
    """Whether a program may run what its standard input carries: a shell, an interpreter, or a wrapper
    of one. The sinks resolve a ``stdin=`` file (a readlink) only for these."""
    name = program_name(program)
    return name in INTERPRETERS or _wrapper(name) is not None


def _wrapped(argv: Sequence[str], options: frozenset[str], operands: int) -> list[str]:
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


# xargs's options that take a value as the next word; what follows them is the command it runs.
_XARGS_VALUES = frozenset({"-a", "--arg-file", "-d", "--delimiter", "-E", "-e", "-I", "-i", "-L", "-l", "-n",
                           "--max-args", "-P", "--max-procs", "-s", "--max-chars", "--process-slot-var"})
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def _find_commands(argv: Sequence[str]) -> list[list[str]]:
    """The commands ``find ROOT... -exec CMD {} ;`` runs, each ``{}`` standing for a file under the first
    root (``find /tmp/d -name x -exec {} \\;`` runs the files it finds there)."""
    roots = []
    for word in argv[1:]:
        if word.startswith(("-", "(", "!")):
            break
        roots.append(word)
    root = roots[0] if roots else "."
    commands, index = [], 1
    while index < len(argv):
        if argv[index] not in _FIND_ACTIONS:
            index += 1
            continue
        end = index + 1
        while end < len(argv) and argv[end] not in (";", "+"):
            end += 1
        command = [word.replace("{}", posixpath.join(root, "{}")) for word in argv[index + 1:end]]
        if command:
            commands.append(command)
        index = end + 1
    return commands


# Environment variables through which the loader or an interpreter takes code from a file or a
# directory: the variable -> whether its value lists files (True) or directories searched (False).
_CODE_VARIABLES: dict[str, bool] = {
    "LD_PRELOAD": True, "LD_AUDIT": True, "BASH_ENV": True,
    "LD_LIBRARY_PATH": False, "PYTHONPATH": False, "PYTHONHOME": False,
    "PERL5LIB": False, "PERLLIB": False, "RUBYLIB": False, "NODE_PATH": False,
}
# Python options whose value is the next word (python -W ignore /tmp/x.py runs /tmp/x.py).
_ENV_NAMES = (*_CODE_VARIABLES, "PATH")
_PYTHON_VALUES = frozenset(("-W", "-X", "--check-hash-based-pycs"))
# Python calls that run code or a program named by their arguments (the last part of the callee's name):
# a string constant inside their arguments that names a denied file is run (exec(open('/tmp/x').read()),
# runpy.run_path, importlib's loaders, ctypes), or is the program or shell script of a process call.
_PY_RUNS_FILE = frozenset(("exec", "eval", "compile", "run_path", "spec_from_file_location", "SourceFileLoader",
                           "SourcelessFileLoader", "ExtensionFileLoader", "load_source", "load_dynamic",
                           "zipimporter", "CDLL", "PyDLL", "LoadLibrary", "dlopen", "insert", "append"))
_PY_SHELL = frozenset(("system", "popen", "getoutput", "getstatusoutput"))
_PY_PROCESS = frozenset(("Popen", "run", "call", "check_call", "check_output", "execv", "execve", "execl",
                         "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                         "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp",
                         "create_subprocess_exec", "create_subprocess_shell"))
_MAX_DEPTH = 8  # scripts inside scripts (sh -c "python -c \"os.system('...')\"")

Source = tuple[str, str]  # ("file", path) or ("text", script) on a program's standard input


class Launch(Command):
    """A ``Command`` with what the child inherits that can choose the code it runs.

    ``stdin_sources``: the files and texts its standard input carries (a sink's ``stdin=`` file, the
    ``input=`` of ``subprocess.run``); ``env``: the code-loading variables (and ``PATH``) of the
    environment the sink passes, None when the child inherits ours (``code_environment``).
    """

    __slots__ = ("env", "stdin_sources")

    def __init__(self, argv: Sequence[str], *, stdin_sources: tuple[Source, ...] = (),
                 env: dict[str, str] | None = None, shell: bool = False, program: str | None = None,
                 executable: str | None = None, cwd: str | None = None) -> None:
        super().__init__(argv, shell=shell, program=program, executable=executable, cwd=cwd)
        self.stdin_sources = stdin_sources
        self.env = env


def code_environment(env: Any) -> dict[str, str] | None:
    """The variables of ``env`` (a mapping with str or bytes keys) that choose where code comes from.

    ~8 µs for ``os.environ`` (whose lookups decode), ~1 µs for a dict.
    """
    if env is None:
        return None
    try:
        raw = isinstance(next(iter(env), ""), bytes)
        found: dict[str, str] = {}
        for name in _ENV_NAMES:
            value = env.get(name.encode() if raw else name)
            if value is not None:
                found[name] = value if isinstance(value, str) else os.fsdecode(value)
    except (TypeError, AttributeError, ValueError):
        return None
    return found


# The code-loading variables the sandbox started with: the function's configuration (PYTHONPATH to a
# vendor folder, LD_LIBRARY_PATH), set at deploy time, not chosen by code at run time. A child given
# the same value is not loading code from a place the invocation chose.
_CONFIGURED = code_environment(os.environ) or {}


def _chosen_at_run_time(values: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in values.items() if _CONFIGURED.get(name) != value}


def environment_loads(prefixes: tuple[str, ...]) -> bool:
    """Whether our own environment makes every child load code from a denied place; once per invocation.
    Only what changed since the sandbox started counts (``_CONFIGURED``)."""
    if not prefixes:
        return False
    found = _chosen_at_run_time(code_environment(os.environ) or {})
    return any(prefix in value for name, value in found.items() if name != "PATH" for prefix in prefixes)


class Library:
    """A native library about to be loaded (``ctypes.CDLL(name)``): the name as the code gave it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Library({self.name!r})"


class PythonFile(Library):
    """Python code about to run inside our own process, compiled from the file ``name`` (its
    ``co_filename``): a module imported from a folder on ``sys.path``, ``runpy.run_path``, a loader's
    ``exec_module``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"PythonFile({self.name!r})"


class _Simple:
    """One simple command of a script: its words, leading assignments, standard input, and the command
    whose output its standard input is when it is piped."""

    __slots__ = ("assigned", "piped_from", "stdin", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.assigned: dict[str, str] = {}
        self.stdin: list[Source] = []
        self.piped_from: list[str] | None = None


def _simple_commands(text: str) -> list[_Simple]:
    """The simple commands of a shell script with what ``command_injection.simple_commands`` leaves out:
    leading assignments, ``< file`` and ``<<< text`` on standard input, pipes between commands."""
    classes = classify(text)[0]
    commands: list[_Simple] = []
    current = _Simple()
    operator, operator_end = "", -1
    target: str | None = None  # after a redirection: what its word is
    for token in word_token().finditer(classes):
        start, end = token.span()
        if classes[start] in WORD_BREAKS:
            if classes[start] != OPERATOR:
                continue
            operator = operator + text[start] if start == operator_end else text[start]
            operator_end = end
            continue
        if operator:  # the operator before this word is complete
            target = _operator(operator, current, commands)
            if target == "pipe" or target == "end":
                previous = current
                current = _Simple()
                if target == "pipe":
                    current.piped_from = previous.words
                target = None
            operator = ""
        word = text[start:end] if classes.find(QUOTE, start, end) == -1 \
            else unquoted_word(text, classes, start, end).value
        if target is not None:
            if target == "<":
                current.stdin.append(("file", word))
            elif target == "<<<":
                current.stdin.append(("text", word))
            elif target == "<<":
                current.stdin.append(("text", _here_document_body(text, end, word)))
            target = None
        elif not current.words and _assignment(text, start, word):
            name, _, value = word.partition("=")
            current.assigned[name] = value
        else:
            current.words.append(word)
    if current.words:
        commands.append(current)
    return commands


def _operator(operator: str, current: _Simple, commands: list[_Simple]) -> str:
    """What an operator does: "pipe", "end" (of the command), or the redirection its next word completes."""
    if "<" in operator or ">" in operator:
        descriptor = current.words[-1] if current.words and current.words[-1].isdigit() else None
        if descriptor is not None and operator[0] in "<>":
            current.words.pop()  # the descriptor of 2>file (a space would make it an argument; close enough)
        if operator.startswith("<<<"):
            return "<<<" if descriptor in (None, "0") else "skip"
        if operator == "<<":  # a here-document: its body (text to command_injection) is this command's stdin
            return "<<" if descriptor in (None, "0") else "skip"
        if operator in ("<", "<>") and descriptor in (None, "0"):
            return "<"
        return "skip"  # output, a here-document's delimiter, a descriptor copy (2>&1)
    if current.words or current.assigned:
        commands.append(current)
    return "pipe" if operator in ("|", "|&") else "end"


def _here_document_body(text: str, end: int, delimiter: str) -> str:
    """The body of the here-document whose delimiter word ends at ``end``: the lines after that line up
    to the delimiter's own line (``<<-WORD``: tabs before it are ignored), or to the end of the text."""
    strip_tabs = delimiter.startswith("-")
    if strip_tabs:
        delimiter = delimiter[1:]
    newline = text.find("\n", end)
    if newline == -1:
        return ""
    body: list[str] = []
    for line in text[newline + 1:].split("\n"):
        if (line.lstrip("\t") if strip_tabs else line) == delimiter:
            break
        body.append(line)
    return "\n".join(body)


@cache
def _variable() -> re.Pattern[str]:
    return re.compile(r"^\$(?:\{(\w+)\}|(\w+))")


def _expand(word: str, variables: Mapping[str, str]) -> str:
    """``word`` with the variable it begins with replaced by its known value (else unchanged)."""
    if not word.startswith("$"):
        return word
    match = _variable().match(word)
    if match is None:
        return word
    value = variables.get(match.group(1) or match.group(2))
    return word if value is None else value + word[match.end():]


def _assignment(text: str, start: int, word: str) -> bool:
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier() and text.startswith(f"{name}=", start)


class _Walk:
    """Every program, script and code-loading path a command runs, as (role, path as written)."""

    __slots__ = ("depth", "prefixes")

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.depth = 0

    def command(self, command: Command) -> Iterator[tuple[str, str]]:
        env: dict[str, str] | None = getattr(command, "env", None)
        stdin: tuple[Source, ...] = getattr(command, "stdin_sources", ())
        yield from _environment(code_environment(os.environ) or {} if env is None else env)
        if command.shell:
            if command.executable:
                yield "program", command.executable
            yield from self.script(command.script, env, stdin)
            return
        yield from self.vector(command.argv, command.program, env, stdin, command.cwd)

    def script(self, text: str, env: dict[str, str] | None, stdin: Sequence[Source] = (),
               positional: Sequence[str] = ()) -> Iterator[tuple[str, str]]:
        """The programs and scripts of a shell script, a relative one joined to the folder an earlier ``cd``
        of the script moved to (``cd /tmp && ./x``); ``. file`` and ``source file`` run a script, and
        ``export`` sets the environment of what follows. A variable the script assigned (``D=/tmp/d;
        $D/x``) or a positional parameter (``sh -c '"$0"' /tmp/x``) is expanded where a word begins."""
        if self.depth >= _MAX_DEPTH:
            return
        self.depth += 1
        try:
            folder: str | None = None
            exported = dict(env) if env else {}
            variables = {str(index): value for index, value in enumerate(positional)}
            for simple in _simple_commands(text):
                values = simple.words
                if simple.assigned:
                    yield from _environment(simple.assigned)
                    variables.update(simple.assigned)
                if not values:
                    continue
                if variables:
                    values = [_expand(word, variables) for word in values]
                if values[0] == "cd" and len(values) > 1 and not values[1].startswith("-"):
                    folder = posixpath.join(folder or "", values[1]) if folder else values[1]
                    continue
                if values[0] == "export":
                    assigned = dict(value.partition("=")[::2] for value in values[1:] if "=" in value)
                    yield from _environment(assigned)
                    exported.update(assigned)
                    continue
                own = {**exported, **simple.assigned} if simple.assigned else exported
                sources: list[Source] = list(simple.stdin)
                if simple.piped_from and program_name(simple.piped_from[0]) == "cat":
                    sources += [("file", word) for word in simple.piped_from[1:] if not word.startswith("-")]
                elif simple.piped_from and program_name(simple.piped_from[0]) in ("echo", "printf"):
                    echoed = [word for word in simple.piped_from[1:] if not word.startswith("-")]
                    sources.append(("text", " ".join(echoed)))  # echo /tmp/x | sh, echo /tmp/x | xargs sh
                elif not sources and simple.piped_from is None:
                    sources = list(stdin)  # the script's own standard input
                found = [("script", values[1])] if values[0] in (".", "source") and len(values) > 1 \
                    else self.vector(values, None, own or None, sources, folder)
                for role, written in found:
                    relative = not written.startswith(("/", "$", "~")) and ("/" in written or role != "program")
                    yield role, posixpath.join(folder, written) if folder and relative else written
        finally:
            self.depth -= 1

    def vector(self, argv: Sequence[str], program: str | None, env: dict[str, str] | None,
               stdin: Sequence[Source], cwd: str | None) -> Iterator[tuple[str, str]]:
        if not argv and not program:
            return
        program = program or argv[0]
        if env and "PATH" in env and "/" not in program:  # PATH=/tmp/bin:$PATH tool, env PATH=... tool
            yield "program", _resolve(program, None, self.prefixes, env["PATH"])
        else:
            yield "program", program
        name = program_name(program)
        wrapper = _wrapper(name)
        if wrapper is not None:
            if name == "env":
                assigned = dict(word.partition("=")[::2] for word in argv[1:len(argv) - len(_wrapped(argv, *wrapper))]
                                if "=" in word and not word.startswith("-"))
                if assigned:
                    yield from _environment(assigned)
                    env = {**(env or {}), **assigned}
            yield from self.vector(_wrapped(argv, *wrapper), None, env, stdin, cwd)
            if name == "env":  # env -S "/tmp/x args" splits its value into the command
                for index, word in enumerate(argv[:-1]):
                    if word in ("-S", "--split-string"):
                        yield from self.vector(argv[index + 1].split(), None, env, stdin, cwd)
        elif name == "busybox" and len(argv) > 1:  # busybox APPLET ARGS...: the applet runs the rest
            yield from self.vector(argv[1:], None, env, stdin, cwd)
        elif name == "xargs":  # xargs CMD ARGS: CMD runs with the words of its standard input appended
            words = [word for kind, text in stdin if kind == "text" for word in text.replace("\0", " ").split()]
            yield from self.vector([*(_wrapped(argv, _XARGS_VALUES, 0) or ["echo"]), *words], None, env, (), cwd)
        elif name == "find":
            for command in _find_commands(argv):
                yield from self.vector(command, None, env, (), cwd)
        elif name in SHELLS:
            operand = shell_operand(argv)
            if operand is None:  # the commands come from standard input
                yield from self.standard_input(stdin, env, shell=True)
                return
            inline, text = operand
            if not inline:
                yield "script", text
                return
            after = len(argv) - 1 - list(reversed(argv)).index(text) if text in argv else len(argv)
            yield from self.script(text, env, stdin, argv[after + 1:])
        elif name in INTERPRETERS:
            yield from self.interpreter(argv, name, env, stdin, cwd)
        elif name in _AWKS:
            yield from self.awk(argv, env)

    def interpreter(self, argv: Sequence[str], name: str, env: dict[str, str] | None, stdin: Sequence[Source],
                    cwd: str | None) -> Iterator[tuple[str, str]]:
        python = name in ("python", "pypy")
        index = 1
        while index < len(argv):
            arg = argv[index]
            if arg in _INLINE_CODE:
                if python and index + 1 < len(argv):
                    if arg == "-c":
                        yield from self.python(argv[index + 1], env)
                    elif arg == "-m":
                        yield from _python_module(argv[index + 1], env, cwd)
                elif index + 1 < len(argv):
                    yield from self.foreign(argv[index + 1], env)
                return
            if arg == "-":
                break
            if not arg.startswith("-"):
                yield "script", arg
                return
            index += 2 if python and arg in _PYTHON_VALUES else 1
        yield from self.standard_input(stdin, env, shell=False, python=python)

    def awk(self, argv: Sequence[str], env: dict[str, str] | None) -> Iterator[tuple[str, str]]:
        """awk's program: ``-f FILE`` is a script, else the first operand is the code itself."""
        index = 1
        while index < len(argv):
            arg = argv[index]
            if arg in ("-f", "--file") and index + 1 < len(argv):
                yield "script", argv[index + 1]
                return
            if arg == "--":
                index += 1
                break
            if not arg.startswith("-"):
                break
            index += 2 if arg in ("-v", "-F", "--assign", "--field-separator") else 1
        if index < len(argv):
            yield from self.foreign(argv[index], env)

    def foreign(self, code: str, env: dict[str, str] | None) -> Iterator[tuple[str, str]]:
        """What inline code of perl, ruby, node, php, lua or awk runs from a denied place: a string
        constant naming one that the code hands to a command runner (``system("/tmp/x")``, backticks,
        ``"cmd" | getline``: read as a shell command) or a file loader (``require``, ``do``, ``dofile``)."""
        if self.depth >= _MAX_DEPTH or not any(prefix in code for prefix in self.prefixes):
            return
        for match in _foreign_loads().finditer(code):  # the file right after the loader's name
            yield "script", match.group(3)
        if _foreign_runs().search(code) is None:
            return
        self.depth += 1
        try:
            for match in _string_literal().finditer(code):
                literal = match.group(2)
                if any(prefix in literal for prefix in self.prefixes):
                    yield from self.script(literal, env)
        finally:
            self.depth -= 1

    def standard_input(self, stdin: Sequence[Source], env: dict[str, str] | None, *, shell: bool,
                       python: bool = False) -> Iterator[tuple[str, str]]:
        """What a shell or an interpreter runs from its standard input: the file, or the text read as
        the script it is."""
        for kind, value in stdin:
            if kind == "file":
                yield "stdin", value
            elif shell:
                yield from self.script(value, env)
            elif python:
                yield from self.python(value, env)

    def python(self, code: str, env: dict[str, str] | None) -> Iterator[tuple[str, str]]:
        """The files Python code runs: a string constant naming a denied place inside a call that runs
        what its arguments name. Read only when the code names such a place."""
        if self.depth >= _MAX_DEPTH or not any(prefix in code for prefix in self.prefixes):
            return
        tree = _parse_python(code)
        if tree is None:
            return
        self.depth += 1
        try:
            yield from self._python_calls(tree, env)
        finally:
            self.depth -= 1

    def _python_calls(self, tree: Any, env: dict[str, str] | None) -> Iterator[tuple[str, str]]:
        ast = _ast()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name in ("insert", "append") and not (isinstance(callee, ast.Attribute)
                                                    and getattr(callee.value, "attr", None) == "path"):
                continue  # only sys.path.insert(0, "/tmp/lib") makes later imports come from there
            if name in _PY_RUNS_FILE:
                for inner in (*node.args, *(keyword.value for keyword in node.keywords)):
                    for constant in ast.walk(inner):
                        if isinstance(constant, ast.Constant) and isinstance(constant.value, str) \
                                and constant.value.startswith(("/", ".")):
                            yield "script", constant.value
            elif name in _PY_SHELL or name in _PY_PROCESS:
                shell = name in _PY_SHELL or name == "create_subprocess_shell" or any(
                    keyword.arg == "shell" and getattr(keyword.value, "value", False) is True
                    for keyword in node.keywords)
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield from (self.script(arg.value, env) if shell
                                    else self.vector([arg.value], None, env, (), None))
                        break
                    if isinstance(arg, (ast.List, ast.Tuple)):
                        words = [item.value for item in arg.elts if isinstance(item, ast.Constant)
                                 and isinstance(item.value, str)]
                        if words and len(words) == len(arg.elts):
                            yield from self.vector(words, None, env, (), None)
                        break


_AWKS = frozenset(("awk", "gawk", "mawk", "nawk"))


@cache
def _foreign_runs() -> re.Pattern[str]:
    """The command runners of perl, ruby, node, php, lua and awk (and backticks, and awk's pipes)."""
    return re.compile(r"\b(?:system|exec|execSync|execFileSync|spawn|spawnSync|popen|qx|shell_exec|passthru|"
                      r"proc_open|pcntl_exec|execute|getline)\b|`|\|\s*getline|open\s*\(?[^;]*\|")


@cache
def _foreign_loads() -> re.Pattern[str]:
    return re.compile(r"\b(require|require_relative|load|do|dofile|loadfile|include|include_once|"
                      r"require_once)\s*\(?\s*([\"'])(/[^\"']*)\2")


@cache
def _string_literal() -> re.Pattern[str]:
    return re.compile(r"""(["'`])((?:\\.|(?!\1)[^\\])*)\1""")


@cache
def _ast() -> Any:
    import ast  # only for Python code that names a denied place: ~3 ms once

    return ast


@lru_cache(maxsize=64)
def _parse_python(code: str) -> Any:
    try:
        return _ast().parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _environment(values: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(role "env:NAME", path) for every file or directory a code-loading variable names, unless the
    sandbox started with that value (``_CONFIGURED``)."""
    for name, value in _chosen_at_run_time(values).items():
        files = _CODE_VARIABLES.get(name)
        if files is None or not value:
            continue
        for entry in value.replace(" ", ":").split(":") if files else value.split(":"):
            if entry.startswith("/"):  # a relative entry follows the child's working directory: not chosen here
                yield f"env:{name}", entry


def _python_module(name: str, env: dict[str, str] | None, cwd: str | None) -> Iterator[tuple[str, str]]:
    """``python -m NAME`` imports NAME from its working directory first, then PYTHONPATH: the file it finds."""
    if not name or name.startswith("-"):
        return
    try:
        here = posixpath.join(os.getcwd(), cwd) if cwd else os.getcwd()
    except OSError:
        return
    if not all(part.isidentifier() for part in name.split(".")):  # no module: python only reports it
        return
    relative = name.replace(".", "/")
    for folder in (here, *(env or {}).get("PYTHONPATH", "").split(":")):
        if not folder:
            continue
        for candidate in (f"{relative}.py", f"{relative}/__main__.py", relative.split("/")[0]):
            path = posixpath.join(folder, candidate)
            if os.path.exists(path):
                yield "module", path
                return


def _resolve(path: str, cwd: str | None, deny_prefixes: tuple[str, ...], search: str | None = None) -> str:
    """The absolute path of a program, looking it up in PATH (``search``: the one the sink passes, else
    ours) only when PATH reaches a denied directory; ``/proc/self/root/tmp/x`` (and another process's
    root, ours in Lambda's one-process sandbox) is ``/tmp/x``, and ``/proc/self/cwd/x`` is ``x`` in the
    child's working directory (the process that opens the path is the child, started in ``cwd``)."""
    if "/" in path:
        if cwd and not path.startswith("/"):
            path = posixpath.join(cwd, path)
        path = absolute(path)
        root = _proc_root().match(path)
        if root is None:
            return path
        base = posixpath.join(_here(), cwd or "") if root.group(1) == "cwd" else "/"
        return absolute(posixpath.join(base, path[root.end():].lstrip("/")))
    ours = os.environ.get("PATH", "")
    search = ours if search is None else search.replace("${PATH}", ours).replace("$PATH", ours)
    if _path_reaches(search, deny_prefixes):
        import shutil  # only here: shutil pulls in bz2 and lzma, milliseconds of cold start

        found = shutil.which(path, path=search)
        if found:
            return absolute(found)
    return path


@cache
def _proc_root() -> re.Pattern[str]:
    return re.compile(r"/proc/(?:self|thread-self|\d+)/(?:task/\d+/)?(root|cwd)(?=/)")


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
    one (its arguments, working directory, standard input, the code-loading variables
    of the environment it is given), the program is not looked up through a PATH that
    reaches one (``through_path``, computed once per invocation by the sink; the PATH
    of a given environment is read here), and relative programs do not start from one.
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
    env: dict[str, str] | None = getattr(command, "env", None)
    stdin: tuple[Source, ...] = getattr(command, "stdin_sources", ())
    if stdin:
        texts.extend(value for _, value in stdin)
    if env:
        texts.extend(value for name, value in env.items() if name != "PATH")
        if "PATH" in env:
            through_path = _path_reaches(env["PATH"], prefixes)
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
    if command.shell or (program and not program.startswith("/") and "/" in program) or \
            (program_name(program) in INTERPRETERS and any(
                arg == "-m" or arg[:1] not in ("-", "/") for arg in command.argv[1:])):
        try:
            return os.getcwd().startswith(prefixes)
        except OSError:
            return True
    return False


def _here() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "/"


_WHAT = {"program": "runs the program", "script": "runs the script", "module": "imports the module",
         "stdin": "runs the script on the standard input of a shell or interpreter"}


def detect(subject: Command | Library, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    deny = compile_globs(tuple(options.get("exec_deny_paths", ())))
    if deny is None:
        return None
    allow = compile_globs(tuple(options.get("exec_allow_paths", ())))
    if isinstance(subject, Library):
        return _library(subject, inputs, deny, allow)
    command: Command = subject
    if not runnable(command):  # a command execve refuses runs nothing
        return None
    cwd = command.cwd
    env: dict[str, str] | None = getattr(command, "env", None)
    search = env.get("PATH") if env else None
    for role, written in _Walk(deny.prefixes).command(command):
        if not written or written.startswith(("$", "~")):
            continue
        variable = role[4:] if role.startswith("env:") else None
        if variable is not None or role in ("stdin", "module", "script"):  # a file or a folder, never looked
            # up in PATH: a relative one is opened in the child's working directory (cd /tmp/d; sh x)
            path = _resolve(written if written.startswith("/") else posixpath.join(_here(), cwd or "", written),
                            None, deny.prefixes)
        else:
            path = _resolve(written, cwd, deny.prefixes, search)
        what = f"loads code through {variable}={path}" if variable else f"{_WHAT[role]} {path}"
        if _descriptor().fullmatch(path):
            item = next(iter(inputs.occurring_in(written, _any)), None)
            return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.fd-exec",
                           f"the invocation {what}, an open descriptor (a memfd or a deleted file: "
                           "a program with no path left on disk)", item, path)
        if not path.startswith("/") or not deny.match((path,)) or (allow is not None and allow.match((path,))):
            continue
        if variable is None and _links_out(path, deny):
            continue
        item = next(iter(inputs.occurring_in(written, _any)), None)
        if variable is not None:
            return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.tmp-load",
                           f"the invocation {what}, which lives in the sandbox's writable space "
                           "(the child loads code dropped there)", item, path)
        return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.tmp-exec",
                       f"the invocation {what}, which lives in the sandbox's writable space "
                       "(a dropped binary)", item, path)
    return None


def _links_out(path: str, deny: Any) -> bool:
    """Whether ``path`` is a symbolic link to a file outside the denied places: what runs is the
    target (a virtualenv's ``bin/python`` under /tmp links to the system's interpreter), not a
    file written into the sandbox. Read only for a path already judged denied."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return real != path and not deny.match((real,))


def _library(library: Library, inputs: Inputs, deny: Any, allow: Any) -> Finding | None:
    """A native library loaded by path: one in the writable space (or behind a descriptor) is native code
    the function wrote at run time. A bare name is looked up by the loader in the system's folders."""
    written = library.name
    if "/" not in written:
        return None
    try:
        path = _resolve(written, None, deny.prefixes)
    except OSError:
        return None
    item = next(iter(inputs.occurring_in(written, _any)), None)
    what = "runs the Python code of" if type(library) is PythonFile else "loads the native library"
    if _descriptor().fullmatch(path):
        return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.fd-exec",
                       f"the invocation {what} {path}, an open descriptor (a memfd or a "
                       "deleted file: code with no path left on disk)", item, path)
    if not deny.match((path,)) or (allow is not None and allow.match((path,))):
        return None
    return Finding(AttackKind.SANDBOX_PERSISTENCE, "sandbox.tmp-load",
                   f"the invocation {what} {path}, which lives in the sandbox's writable "
                   "space (code written at run time)", item, path)
