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

Not covered: ``_ctypes.dlopen`` called directly, and cffi's ``ffi.dlopen``.
"""
from __future__ import annotations

import os

from ..context import current
from ..detectors.sandbox_persistence import Library
from ..findings import AttackKind
from ..guard import active, failsafe, inspect
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
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


INSTRUMENTORS = [Ctypes]
