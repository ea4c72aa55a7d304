"""The instrumentor base: idempotent patching, version gates, post-import hooks.

What may escape a hook is decided by one wrapper, ``guard.failsafe``.
"""
from __future__ import annotations

import sys

from ..context import suppressed
from .patching import when_imported, wrap_callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar

__all__ = ["Instrumentor", "suppressed"]

_INHERITED = object()


def major_version(text: Any) -> int | None:
    """The leading number of a version string ("2.9.9 (dt dec pq3 ext lo64)" -> 2), else None."""
    if not isinstance(text, str):
        return None
    digits = text.lstrip()[:8].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


class Instrumentor:
    """Patches one module's sinks, once; modules imported later are patched on import.

    Subclasses set ``module`` and implement ``patch(module)``, using ``wrap`` or
    ``replace`` so that ``uninstrument`` can put every original back. A driver
    names the major versions its hooks were tested with (``tested_majors``, read
    from ``version_module.__version__``); any other version is left unpatched and
    said so in a notice at init, rather than patched blindly. Standard-library
    modules have no gate: they move with the Python versions we test.
    """

    module: ClassVar[str]
    version_module: ClassVar[str | None] = None
    tested_majors: ClassVar[tuple[int, ...]] = ()

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []
        self._replacements: list[Any] = []  # what each entry of _originals was replaced with
        self._wanted = False
        self._installed = False
        self._hook_registered = False

    @property
    def installed(self) -> bool:
        return self._installed

    def untested_version(self) -> str | None:
        """The driver's version when its major version is not one we tested, else None."""
        if not self.tested_majors:
            return None
        version = getattr(sys.modules.get(self.version_module or self.module), "__version__", None)
        return None if major_version(version) in self.tested_majors else str(version)

    def patch(self, module: Any) -> None:
        raise NotImplementedError

    def live_object_hooks(self) -> dict[type, Callable[[Any], Any]]:
        """Hooks for objects created before the patch that it does not reach, by exact type.

        Called once the patch is installed; ``live_objects.adopt`` finds those objects.
        """
        return {}

    def patched_functions(self) -> dict[int, tuple[Any, Any]]:
        """``id(original) -> (original, replacement)`` for the module-level functions this patched.

        What ``rebinding`` needs to point names bound by value (``from os import system``)
        at the replacement.
        """
        if not self._installed:
            return {}
        return {id(original): (original, replacement)
                for (owner, attribute, original), replacement in zip(self._originals, self._replacements, strict=True)
                if not isinstance(owner, type) and original is not _INHERITED
                and vars(owner).get(attribute) is replacement}  # still ours, not someone's patch over it

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
        self._replacements.clear()
        self._installed = False

    def _on_import(self, module: Any) -> None:
        if self._wanted and not self._installed:
            self._apply(module)

    def _apply(self, module: Any) -> None:
        from .. import reporting

        try:
            untested = self.untested_version()
            if untested is not None:
                majors = ", ".join(f"{major}.x" for major in self.tested_majors)
                reporting.notice(None, "untested_driver_version",
                                 f"{self.module} {untested} is not patched: its hooks were tested with {majors}")
                return
            self.patch(module)
            self._installed = True
        except Exception as error:
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
        self._replacements.append(replacement)
        setattr(owner, attribute, replacement)

    def wrap(self, owner: Any, attribute: str, wrapper: Callable[..., Any]) -> None:
        """Route calls of ``owner.attribute`` through ``wrapper(wrapped, instance, args, kwargs)``."""
        self.replace(owner, attribute, wrap_callable(owner, attribute, wrapper))
