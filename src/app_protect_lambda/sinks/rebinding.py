"""Names bound by value before instrumentation, pointed at the protected functions.

``from os import system`` copies the function into the importing module: patching
``os.system`` afterwards leaves that name on the original, and with ``@protect`` alone
(the decorator instruments when it is applied, after the module's imports ran) such a
call was never checked. When ``@protect`` is applied, the globals of the handler's module,
and of the modules loaded from the function's own code (under the task root, else the
handler's directory; never a path through a ``site-packages`` or ``dist-packages``
directory, nor this package), that still hold an original sink function are pointed at its
replacement. The replacement behaves as the original outside an invocation.

On Lambda the deployment package's dependencies usually sit in the task root itself, next to
the handler (``pip install -t .`` puts ``/var/task/requests/``, with no ``site-packages`` in
the path), so the globals of those vendored libraries are rebound too, as if they were the
function's own code: their sink calls are then judged as the exec wrapper would judge them.
Dependencies in a layer (``/opt/python``) or a virtualenv's ``site-packages`` are not.

Only module globals are rebound: a sink function kept in a class attribute, a closure, a
default argument or a container is still the original (the exec wrapper and
``import app_protect_lambda.start`` instrument before the code binds anything, and cover
those too). A module that stores the original is found with one membership test per
global, run in C; the Python loop runs only for a module that holds one: about 0.1 ms per
``@protect`` with 208 modules loaded (``python -m bench.early_connections``).
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    Replacements = Mapping[int, tuple[Any, Any]]  # id(original) -> (original, replacement)

OWN_PACKAGE = __name__.split(".", 1)[0]
MAX_UNWRAP = 16
_THIRD_PARTY = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")

# What was rebound, to put back by ``restore``: (namespace, name, original, replacement).
_rebound: list[tuple[dict[str, Any], str, Any, Any]] = []


def rebind(function: Any, replacements: Replacements) -> int:
    """Point the names ``function``'s code bound to an original at its replacement; return how many."""
    if not replacements:
        return 0
    count = 0
    for namespace in _namespaces(function):
        count += _rebind_namespace(namespace, replacements)
    return count


def restore() -> None:
    """Put back every name rebound here that still holds our replacement."""
    for namespace, name, original, replacement in reversed(_rebound):
        if namespace.get(name) is replacement:
            namespace[name] = original
    _rebound.clear()


def _rebind_namespace(namespace: dict[str, Any], replacements: Replacements) -> int:
    if not any(map(replacements.__contains__, map(id, list(namespace.values())))):
        return 0
    count = 0
    for name, value in list(namespace.items()):
        entry = replacements.get(id(value))
        if entry is not None and entry[0] is value:
            namespace[name] = entry[1]
            _rebound.append((namespace, name, value, entry[1]))
            count += 1
    return count


def _namespaces(function: Any) -> Iterator[dict[str, Any]]:
    """The handler's globals (through ``functools.wraps`` layers), then its code's other modules."""
    seen: set[int] = set()
    files: list[str] = []
    for _ in range(MAX_UNWRAP):
        namespace = getattr(function, "__globals__", None)
        if isinstance(namespace, dict) and id(namespace) not in seen:
            seen.add(id(namespace))
            file = namespace.get("__file__")
            if isinstance(file, str):
                files.append(file)
            if not _is_own_package(str(namespace.get("__name__", ""))):
                yield namespace
        function = getattr(function, "__wrapped__", None)
        if function is None:
            break
    roots = _roots(files)
    if not roots:
        return
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or id(namespace) in seen:
            continue
        file = namespace.get("__file__")
        name = namespace.get("__name__")
        if isinstance(file, str) and isinstance(name, str) and _is_own_code(file, name, roots):
            seen.add(id(namespace))
            yield namespace


def _roots(files: list[str]) -> tuple[str, ...]:
    """Where the function's own code lives: the task root holding its file, else the file's directory."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    roots = []
    for file in files:
        path = os.path.abspath(file)
        if task_root and path.startswith(os.path.join(os.path.abspath(task_root), "")):
            root = os.path.abspath(task_root)
        else:
            root = os.path.dirname(path)
        if not any(part in root + os.sep for part in _THIRD_PARTY):
            roots.append(os.path.join(root, ""))
    return tuple(dict.fromkeys(roots))


def _is_own_package(name: str) -> bool:
    return name == OWN_PACKAGE or name.startswith(OWN_PACKAGE + ".")


def _is_own_code(file: str, name: str, roots: tuple[str, ...]) -> bool:
    path = file if os.path.isabs(file) else os.path.abspath(file)
    return path.startswith(roots) and not _is_own_package(name) and not any(part in path for part in _THIRD_PARTY)
