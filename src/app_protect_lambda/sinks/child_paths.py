"""The process sinks' file check: paths an input put in a child's arguments (detectors/command_paths.py).

Called by every process sink after its command checks. What a command must hold before its file
arguments are read: an input that can make a path climb or start at the root (tested against the
few such inputs, as ``open``'s fast path does), or else both a location the file rules care about
(a sensitive or denied prefix, in the arguments or the ``cwd``) and an input. A command that names
none of the tools, or holds neither, is not parsed. Measured with timeit on ``shell._judge`` (the
checks a process sink makes before it spawns), an API Gateway event of 115 input values, best of 7
alternating rounds with this check replaced by a no-op: ``cat`` of a path without input 5.7 -> 6.8 µs,
with a benign input 5.6 -> 6.8, ``git status`` (no file tool) 6.5 -> 6.8, a shell pipeline without
input 14.5 -> 15.5, with a quoted benign input 43.8 -> 45.6; a spawn itself costs a millisecond or more.
A vector that runs a shell (``["sh", "-c", "cat /tmp/uploads/report.txt"]``) is read for files too
since issue 11: the whole ``Popen`` hook with the fork stubbed, a 43-value event holding the file's
name, best CPU time of 7x300 calls in 3-4 alternating runs on a loaded machine, 55 -> 87-101 µs; ``cat`` of
the same path 20 -> 23.5 µs.

A relative path is read against the process's working directory; on Lambda that is ``/var/task``,
where every file is sensitive whatever an input adds below it, so a plain input in a relative
path cannot choose a location there (only the climbing rules can fire, and they are tested).
"""
from __future__ import annotations

from ..detectors.command_paths import file_arguments, names_files
from ..detectors.file_access import Rules, relevant
from ..findings import AttackKind
from ..guard import failsafe
from . import filesystem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..context import RequestContext
    from ..detectors.command_injection import Command

KIND = AttackKind.FILE_ACCESS

_prefixes: dict[int, tuple[Rules, tuple[str, ...]]] = {}


def _locations(rules: Rules) -> tuple[str, ...]:
    """The literal prefixes of the sensitive and denied locations ("" when a glob matches anywhere)."""
    entry = _prefixes.get(id(rules))
    if entry is None or entry[0] is not rules:
        if len(_prefixes) > 32:
            _prefixes.clear()
        sensitive = rules.sensitive.prefixes if rules.sensitive is not None else ()
        entry = _prefixes[id(rules)] = (rules, tuple(dict.fromkeys((*sensitive, *rules.deny_gate))))
    return entry[1]


def check_child_paths(context: RequestContext, sink: str, command: Command) -> None:
    """Judge, under ``file_access``, the arguments of ``command`` that name files and hold an input.

    The fast path runs inside the process sink's own ``failsafe``; the judging under ``file_access``'s.
    """
    if command.shell:
        text = command.script
    else:
        if len(command.argv) < 2 or not names_files(command.program):
            return
        text = "\x00".join(command.argv[1:])
    gate = context.files
    if gate is None:
        gate = filesystem.file_gate(context)
    if gate is False:
        return  # the protection is off in this invocation
    inputs = context.inputs
    if not inputs.any_in(text, relevant):
        where = text if command.cwd is None else f"{text}\x00{command.cwd}"
        if not any(map(where.__contains__, _locations(gate.rules))) or not any(map(text.__contains__, inputs.values)):
            return
    _judge_files(context, sink, command)


@failsafe(KIND)
def _judge_files(context: RequestContext, sink: str, command: Command) -> None:
    values = context.inputs.values
    for path, written in file_arguments(command):
        if path and any(map(path.__contains__, values)):
            filesystem.check_path(context, sink, path, written)
