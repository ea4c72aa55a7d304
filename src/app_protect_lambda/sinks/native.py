"""Native libraries loaded with ctypes: ``CDLL``, ``PyDLL``, ``cdll.LoadLibrary``, ``cdll.<name>``.

A shared object the function wrote to ``/tmp`` (or ``/dev/shm``, or a memfd reached through
``/proc/self/fd/N``) and then loaded is native code that arrived at run time, the same
persistence as a dropped program, and it runs inside our own process where no process sink
sees it. Every way ctypes loads a library goes through ``CDLL.__init__`` (``PyDLL`` is a subclass,
``LibraryLoader.LoadLibrary`` and attribute access construct one), so that one method is wrapped,
under protection ``sandbox_persistence`` with its ``exec_deny_paths``/``exec_allow_paths``.

Lazily: ctypes costs ~2.3 ms to import, so nothing here imports it; the patch is installed by a
post-import hook when the function's code (or a library) first imports it. A bare name
(``CDLL("libc.so.6")``, what ``ctypes.util.find_library`` returns) is found by the loader in the
system's folders and is not judged; judging a path costs one detector call (a few µs) next to a
``dlopen`` of tens of µs or more.

Python code is the same persistence when it comes from there: ``sys.path.insert(0, "/tmp/lib")``
then ``import evil``, ``importlib.util.spec_from_file_location("/tmp/x.py")`` and ``exec_module``,
``runpy.run_path("/tmp/x.py")``, a zip on ``sys.path``. Each of them ends in ``exec`` of a code object
compiled from the file, and ``exec`` raises the audit event of that name, with the code object,
whatever importer or loader got there: an audit hook reads its ``co_filename`` during an invocation
(imports at init, such as a package unzipped to ``/tmp`` at cold start, are not judged, nor a file
last written before the sinks were instrumented: a checkout under /tmp on a build machine). The hook
looks at the event's name first (one comparison, ~0.2 µs on every other audit event, as
``sinks.sends`` measured for its own); a code object compiled from a file in the writable space is
judged as a ``PythonFile``. Not covered: code compiled under a name the code chose
(``exec(compile(open("/tmp/x").read(), "x", "exec"))``): its file name says nothing.

Not covered: ``_ctypes.dlopen`` called directly, and cffi's ``ffi.dlopen``.
"""
from __future__ import annotations

import os
import time

from ..context import current
from ..detectors.sandbox_persistence import Library, PythonFile, dropped_program_prefixes
from ..findings import AttackKind
from ..guard import active, failsafe, inspect
from .audit import AuditEvents
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..context import RequestContext

KIND = AttackKind.SANDBOX_PERSISTENCE


@failsafe(KIND)
def _check(context: RequestContext, sink: str, name: Any) -> None:
    text = name if type(name) is str else os.fsdecode(name)
    if "/" in text and active(context, KIND):
        inspect(KIND, sink, Library(text), argument=text, context=context)


class Ctypes(Instrumentor):
    module = "ctypes"

    def patch(self, module: Any) -> None:
        def init(wrapped, instance, args, kwargs):
            name = args[0] if args else kwargs.get("name")
            if name is not None and isinstance(name, (str, bytes, os.PathLike)):
                context = current()
                if context is not None:
                    _check(context, f"ctypes.{type(instance).__name__}", name)
            return wrapped(*args, **kwargs)

        self.wrap(module.CDLL, "__init__", init)




# When the sinks were instrumented (init): a file last written before then was not written by an invocation.
_INSTRUMENTED_AT = time.time()


# Our own modules, imported lazily on first need (a detector's second stage), are never the function's drop.
_OWN_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _written_before_init(filename: str) -> bool:
    """A package that was on the disk before the function's init (a checkout or a virtualenv under /tmp on
    a build machine, a file the image ships) is not code an invocation dropped. Read only for a file in a
    denied place."""
    try:
        return os.stat(filename).st_mtime < _INSTRUMENTED_AT
    except (OSError, ValueError):
        return False


@failsafe(KIND)
def _check_code(context: RequestContext, filename: str) -> None:
    if not active(context, KIND):
        return
    prefixes = dropped_program_prefixes(context.policy.options(KIND))
    if prefixes and ("" in prefixes or filename.startswith(prefixes) or filename.startswith("/proc/")) \
            and not filename.startswith(_OWN_PACKAGE) and not _written_before_init(filename):
        inspect(KIND, "exec", PythonFile(filename), argument=filename, context=context)


def _on_exec(event: str, args: tuple) -> None:
    filename = getattr(args[0], "co_filename", None) if args else None
    if type(filename) is not str or not filename.startswith("/"):
        return  # a string exec'd, or code compiled under a made-up name ("<string>")
    context = current()
    if context is not None:
        _check_code(context, filename)


class DroppedPythonCode(AuditEvents):
    """The ``exec`` audit event, read while the sinks are instrumented."""

    def handlers(self) -> dict[str, Callable[[str, tuple], None]]:
        return {"exec": _on_exec}


INSTRUMENTORS = [Ctypes, DroppedPythonCode]
