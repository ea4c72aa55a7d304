"""Exceptions raised by app-protect-lambda.

``AttackBlocked`` deliberately derives from ``BaseException``. It is raised at a
sink *inside* the user's handler, and handlers very often wrap their work in
``except Exception:`` to turn failures into a 500 or to log and carry on. If a
block were an ``Exception`` such a handler would swallow it and the request
would continue as if nothing happened. As a ``BaseException`` it travels up to
``@protect``, which turns it into a 403 (or into ``RequestBlocked``). The
dangerous call never runs either way: the sink raises before calling through.

``RequestBlocked`` is what leaves the handler for non-HTTP events. It must be an
``Exception``: the Lambda runtime client catches only ``Exception`` around the
handler, and anything else escaping it kills the runtime process.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .findings import Finding


def protection_name(finding: Finding) -> str:
    """The protection a finding belongs to; an internal failure that fails closed belongs to none."""
    return finding.kind.value if finding.kind is not None else "app-protect"


class AttackBlocked(BaseException):
    """Raised at a sink when policy blocks the attack it detected."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(f"{protection_name(finding)} blocked: {finding.message}")
        self.finding = finding


class RequestBlocked(Exception):
    """The invocation was blocked; raised out of the handler for non-HTTP events."""

    def __init__(self, finding: Finding, request_id: str | None = None) -> None:
        detail = f"{protection_name(finding)} blocked ({finding.rule})"
        if finding.input is not None:
            detail += f" at {finding.input.location}"
        super().__init__(detail)
        self.finding = finding
        self.request_id = request_id


class ConfigurationError(ValueError):
    """An environment variable holds a value we cannot use."""


class PolicyError(ValueError):
    """A policy could not be loaded or failed validation.

    The message names where the policy came from, the line when known, the key
    path and the offending value.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 key_path: str | None = None) -> None:
        self.source = source
        self.line = line
        self.key_path = key_path
        where = ""
        if source:
            where = f"policy {source}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        prefix = f"{key_path}: " if key_path else ""
        super().__init__(f"{where}{prefix}{message}")
