"""Monkey-patching primitives: transparent function wrappers and post-import hooks.

We used wrapt for this first. Measured on the target machine, ``import wrapt``
(1.17) cost 12-18 ms of cold start, most of it ``inspect``, which wrapt imports
and we do not need; the cold-start budget for everything is 20 ms. What we use
of it is small: a wrapper with wrapt's calling convention
``wrapper(wrapped, instance, args, kwargs)`` that keeps the original's name,
docstring and ``__wrapped__``, and hooks that run when a module is imported.
"""
from __future__ import annotations

import contextlib
import functools
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]

ORIGINAL = "__app_protect_original__"


def wrap_callable(owner: Any, attribute: str, wrapper: Wrapper) -> Any:
    """The replacement for ``owner.attribute`` that routes every call through ``wrapper``.

    For a plain function defined on a class, ``instance`` is the object the
    method was called on and ``wrapped`` the bound original, as with wrapt.
    """
    raw = owner.__dict__.get(attribute) if isinstance(owner, type) else None
    original = getattr(owner, attribute)
    if isinstance(raw, staticmethod):
        function = raw.__func__
        replacement: Any = staticmethod(_function_wrapper(function, wrapper))
    elif isinstance(raw, classmethod):
        function = raw.__func__

        def bound_class(cls: Any, *args: Any, **kwargs: Any) -> Any:
            return wrapper(function.__get__(cls, type(cls)), cls, args, kwargs)

        replacement = classmethod(functools.wraps(function)(bound_class))
    elif isinstance(owner, type):
        descriptor = raw if raw is not None else original

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return wrapper(descriptor.__get__(self, type(self)), self, args, kwargs)

        replacement = functools.wraps(original)(method)
    else:
        replacement = _function_wrapper(original, wrapper)
    _mark(replacement, original)
    return replacement


def _function_wrapper(function: Callable[..., Any], wrapper: Wrapper) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return wrapper(function, None, args, kwargs)

    try:
        return functools.wraps(function)(call)
    except (AttributeError, TypeError):  # some builtins lack attributes wraps copies
        return call


def _mark(replacement: Any, original: Any) -> None:
    target = getattr(replacement, "__func__", replacement)
    with contextlib.suppress(AttributeError, TypeError):  # a builtin takes no attributes
        setattr(target, ORIGINAL, original)


def is_patched(value: Any) -> bool:
    return hasattr(getattr(value, "__func__", value), ORIGINAL)


# ------------------------------------------------------------------------------------------ imports

_hooks: dict[str, list[Callable[[Any], None]]] = {}
_lock = threading.RLock()
_finder_installed = False


def when_imported(name: str, hook: Callable[[Any], None]) -> None:
    """Call ``hook(module)`` once ``name`` has been imported (now, if it already is)."""
    global _finder_installed
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
            if not _finder_installed:
                sys.meta_path.insert(0, _HookFinder())
                _finder_installed = True
            return
    hook(module)


def _run_hooks(name: str, module: Any) -> None:
    with _lock:
        hooks = _hooks.pop(name, [])
    for hook in hooks:
        hook(module)


class _HookFinder:
    """Finds nothing itself: for a watched module it asks the other finders and wraps the loader."""

    def __init__(self) -> None:
        self._resolving = threading.local()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _hooks or getattr(self._resolving, "name", None) == fullname:
            return None
        self._resolving.name = fullname
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._resolving.name = None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookLoader(spec.loader)  # type: ignore[assignment]  # a Loader by duck typing
        return spec


class _HookLoader:
    """Delegates to the real loader and runs the hooks after the module has executed.

    Not an ``importlib.abc.Loader`` subclass: importing importlib.abc costs ~13 ms of cold start here.
    """

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _run_hooks(module.__name__, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
