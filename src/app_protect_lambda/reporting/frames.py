"""Which line of the user's code called the sink."""
from __future__ import annotations

import os
import sys
from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@cache
def _library_roots() -> tuple[str, ...]:
    import sysconfig

    roots = {_PACKAGE, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    for name in ("sqlite3",):
        filename = getattr(sys.modules.get(name), "__file__", None)
        if filename:
            roots.add(os.path.dirname(os.path.abspath(filename)))
    return tuple(sorted(roots, key=len, reverse=True))


def _is_library(filename: str) -> bool:
    if filename.startswith("<"):
        return True
    path = os.path.abspath(filename)
    return path.startswith(_library_roots()) or f"{os.sep}site-packages{os.sep}" in path


def _describe(frame: FrameType) -> str:
    filename = frame.f_code.co_filename
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    shown = os.path.relpath(filename, task_root) if filename.startswith(task_root) else os.path.basename(filename)
    return f"{shown}:{frame.f_lineno} in {frame.f_code.co_name}"


def user_frames(limit: int = 8) -> list[str]:
    """The innermost frames outside this package, the standard library and installed packages."""
    frame: FrameType | None = sys._getframe(1)
    found: list[str] = []
    fallback: str | None = None
    depth = 0
    while frame is not None and len(found) < limit and depth < 200:
        if not _is_library(frame.f_code.co_filename):
            found.append(_describe(frame))
        elif fallback is None and not os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
            fallback = _describe(frame)
        frame = frame.f_back
        depth += 1
    return found or ([fallback] if fallback else [])
