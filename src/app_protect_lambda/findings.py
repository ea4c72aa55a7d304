"""What a detector finds."""
from __future__ import annotations

from collections import namedtuple
from enum import Enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .sources.inputs import Input


class AttackKind(str, Enum):
    """The protections; their values are the policy keys and the records' ``protection``."""

    SQL_INJECTION = "sql_injection"
    COMMAND_INJECTION = "command_injection"
    FILE_ACCESS = "file_access"
    SSRF = "ssrf"
    OPEN_REDIRECT = "open_redirect"
    MALICIOUS_UPLOAD = "malicious_upload"
    MALICIOUS_PAYLOAD = "malicious_payload"
    IP_FILTER = "ip_filter"
    CREDENTIAL_EXFILTRATION = "credential_exfiltration"
    SANDBOX_PERSISTENCE = "sandbox_persistence"
    CODE_INJECTION = "code_injection"
    UNSAFE_DESERIALIZATION = "unsafe_deserialization"

    # Enum's own __hash__ runs in Python (~200 ns here); every sink looks kinds up in dicts.
    __hash__ = str.__hash__


class Action(str, Enum):
    BLOCKED = "blocked"
    REPORTED = "reported"

    __hash__ = str.__hash__


# Plain named tuples rather than dataclasses: `dataclasses` imports `inspect`, ~10 ms of cold start.
class Finding(namedtuple("Finding", "kind rule message input evidence", defaults=(None, ""))):
    """One detected attack.

    ``input`` is the attacker-controlled string that the detector correlated
    with the sink argument (None for findings that need no input, such as a
    read of ``/proc/self/environ`` or an IP deny-list hit). ``kind`` is None only
    for an internal failure that belongs to no single protection (building the
    invocation context, loading the policy) and blocks because the policy fails closed.
    """

    __slots__ = ()
    kind: AttackKind | None
    rule: str
    message: str
    input: Input | None
    evidence: str
