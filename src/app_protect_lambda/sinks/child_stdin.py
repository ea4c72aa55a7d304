"""What the code writes to a child's standard input: ``subprocess.run(argv, input=text)``.

The process sinks judge a command before it starts, when its standard input is not written yet.
Some programs turn that input into commands: ``xargs`` appends its items to its command or pastes
each line into it (``xargs -I {} sh -c 'echo {}'`` makes every line shell text), a shell without
``-c`` runs it as its script, ``python`` and ``perl`` without a script run it as their program.
``Popen.communicate`` (hooked in sinks/shell.py), which ``run``, ``check_output`` and ``call`` with
``input=`` go through, is where the text appears: there it is judged as the commands the child builds from it
(``command_injection.stdin_commands``), and a block kills the child before it reads a byte (xargs
and the shells read all of their input before they run what it builds). Text written with
``Popen.stdin.write`` is not seen. Cost (best CPU time of 7x300 calls, 4 runs, a 43-value event):
the wrapper on every ``communicate`` 0.17 -> 0.4 µs; text that holds no input 3.3 µs (one scan for the
input values, in C); a benign input in the lines of ``xargs -I {} sh -c`` 49-81 µs, where the
spawn it precedes costs a millisecond or more.
"""
from __future__ import annotations

import os

from ..detectors.command_injection import Command
from ..errors import AttackBlocked
from ..findings import AttackKind
from ..guard import active, failsafe, inspect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext

KIND = AttackKind.COMMAND_INJECTION
SINK = "subprocess.Popen.communicate"  # sinks/shell.py's hook there calls check_stdin


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "surrogateescape")


def _command(args: Any) -> Command:
    """The command a Popen ran, from its ``args``: a string reads as a shell script (``shell=True``;
    without it a string names a program with no argument, which a shell reads the same way)."""
    if isinstance(args, (str, bytes)):
        return Command([_text(args)], shell=True)
    return Command([arg if isinstance(arg, str) else os.fsdecode(arg) for arg in args])


@failsafe(KIND)
def check_stdin(context: RequestContext, sink: str, process: Any, data: Any) -> None:
    """Judge ``data``, about to be written to ``process``'s standard input; kill it on a block."""
    if not active(context, KIND):
        return
    text = _text(data)
    if not any(map(text.__contains__, context.inputs.values)):
        return
    command = _command(process.args)
    command.stdin = text
    try:
        inspect(KIND, sink, command, argument=f"{command.display()} <<< {text[:200]}", context=context)
    except AttackBlocked:
        process.kill()  # the child waits for its input: it never reads the text
        raise
