"""The instrumentor base: idempotent patching, version gates, post-import hooks, fail-open hooks."""
from __future__ import annotations

import sys

from ..context import current, suppressed
from ..errors import AttackBlocked
from .patching import when_imported, wrap_callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar

    from ..findings import AttackKind

__all__ = ["Instrumentor", "checked", "report_hook_error", "suppressed"]

_INHERITED = object()


def report_hook_error(kind: AttackKind, where: str, error: Exception) -> None:
    """A hook failed: record it once; block only when the policy fails closed."""
    from .. import reporting
    from ..findings import Finding
    from ..guard import enforce

    context = current()
    reporting.internal_error(where, error, context)
    if context is not None and context.policy.fail == "closed":
        enforce(context, Finding(kind, "internal.fail-closed", f"the check at {where} failed"), where, "")


def checked(kind: AttackKind, sink: str, check: Callable[..., None]) -> Callable[..., Any]:
    """A wrapper (``wrapper(wrapped, instance, args, kwargs)``) that runs ``check(*args, **kwargs)``
    before the call, failing open.

    Outside an invocation the call goes straight through. Only AttackBlocked
    escapes the check; any other exception is recorded as an internal error.
    """
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if current() is not None:
            try:
                check(*args, **kwargs)
            except AttackBlocked:
                raise
            except Exception as error:
                report_hook_error(kind, sink, error)
        return wrapped(*args, **kwargs)
    return wrapper


class Instrumentor:
    """Patches one module's sinks, once; modules imported later are patched on import.

    Subclasses set ``module`` and implement ``patch(module)``, using ``wrap`` or
    ``replace`` so that ``uninstrument`` can put every original back.
    """

    module: ClassVar[str]

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []
        self._wanted = False
        self._installed = False
        self._hook_registered = False

    @property
    def installed(self) -> bool:
        return self._installed

    def supported(self, module: Any) -> bool:
        """Version gate: return False to leave a module version we do not know untouched."""
        return True

    def patch(self, module: Any) -> None:
        raise NotImplementedError

    def instrument(self) -> None:
        self._wanted = True
        if self._installed:
            return
        loaded = sys.modules.get(self.module)
        if loaded is not None:
            self._apply(loaded)
        elif not self._hook_registered:
            self._hook_registered = True
            when_imported(self.module, self._on_import)

    def uninstrument(self) -> None:
        self._wanted = False
        for owner, attribute, original in reversed(self._originals):
            if original is _INHERITED:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, original)
        self._originals.clear()
        self._installed = False

    def _on_import(self, module: Any) -> None:
        if self._wanted and not self._installed:
            self._apply(module)

    def _apply(self, module: Any) -> None:
        try:
            if self.supported(module):
                self.patch(module)
                self._installed = True
        except Exception as error:
            from .. import reporting

            self.uninstrument()
            self._wanted = True
            reporting.internal_error(f"instrument.{self.module}", error)

    def replace(self, owner: Any, attribute: str, replacement: Any) -> None:
        # Keep the raw class attribute (a staticmethod stays a staticmethod when put back);
        # an inherited one is removed again rather than copied onto the subclass.
        if isinstance(owner, type):
            self._originals.append((owner, attribute, owner.__dict__.get(attribute, _INHERITED)))
        else:
            self._originals.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, replacement)

    def wrap(self, owner: Any, attribute: str, wrapper: Callable[..., Any]) -> None:
        """Route calls of ``owner.attribute`` through ``wrapper(wrapped, instance, args, kwargs)``."""
        self.replace(owner, attribute, wrap_callable(owner, attribute, wrapper))
