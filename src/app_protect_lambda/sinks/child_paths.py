"""The process sinks' file check: paths an input put in a child's arguments (detectors/command_paths.py).

Called by every process sink after its command checks. A command whose arguments hold no input
costs one containment test in C per input value (and nothing when ``file_access`` is off);
only then are its file arguments read and each judged as the file sinks judge a path.
"""
from __future__ import annotations

from ..detectors.command_paths import file_arguments, names_files
from ..findings import AttackKind
from ..guard import active, failsafe
from .filesystem import check_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..context import RequestContext
    from ..detectors.command_injection import Command


@failsafe(AttackKind.FILE_ACCESS)
def check_child_paths(context: RequestContext, sink: str, command: Command) -> None:
    """Judge, under ``file_access``, the arguments of ``command`` that name files and hold an input."""
    if command.shell:
        text = command.script
    else:
        if len(command.argv) < 2 or not names_files(command.program):
            return
        text = "\x00".join(command.argv[1:])
    gate = context.files
    if gate is False or (gate is None and not active(context, AttackKind.FILE_ACCESS)):
        return  # the protection is off in this invocation
    values = context.inputs.values
    if not any(map(text.__contains__, values)):
        return
    for path, written in file_arguments(command):
        if path and any(map(path.__contains__, values)):
            check_path(context, sink, path, written)
