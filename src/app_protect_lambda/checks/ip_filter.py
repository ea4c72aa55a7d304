"""The IP filter: the perimeter's check of the client address, before any user code runs.

Deny wins over allow: an address in a deny entry (the policy's ``deny`` or a list of ``lists``) is
refused, allowed or not; with an allow list (``allow`` or ``allow_lists``), every address outside it
is refused, an address that cannot be read included. Events without a client (SQS, S3, a direct
invocation, ...) are not filtered: they have no address to judge.

The lists are built into ``ip_ranges.Table`` once per policy version and list version, and kept
beside the objects they came from (a policy's options, each list's copy): a request does one
identity comparison per list to know the table is current, then one bisect per family and kind.
With ``ip_filter`` off the perimeter adds ~1.4 µs a request; on, ~5 µs for an API Gateway client and
~7 µs for an ALB client read from X-Forwarded-For (``python -m bench.ip_filter``).

A list that is unavailable (never read: ``ip_lists``) is our failure, through ``guard.failed``: with
``fail: closed`` the request is blocked (at the protection's mode); with ``fail: open`` the filter
goes on with what it has: the other lists still deny, and an allow judgement that misses one of its
lists is not made at all (it would refuse clients that list admits).
"""
from __future__ import annotations

from functools import cache

from ..findings import AttackKind, Finding
from ..guard import decide, failed
from ..policy import Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any

    from ..context import RequestContext
    from .ip_lists import ListCopy
    from .ip_ranges import Table

KIND = AttackKind.IP_FILTER
SINK = "perimeter.ip_filter"
DENIED = "ip_filter.denied"
NOT_ALLOWED = "ip_filter.not-allowed"
_MAX_TABLES = 8  # policies (several @protect handlers in one process) whose tables are kept
_LIST_KEYS = ("deny", "allow", "lists", "allow_lists")

# id(options) -> (options, list copies, table): the objects are kept so that no id is reused meanwhile.
_tables: dict[int, tuple[Mapping[str, Any], tuple[ListCopy | None, ...], Table]] = {}


def check(context: RequestContext, where: str) -> None:
    policy = context.policy
    mode = policy.mode_for(KIND)
    if mode is Mode.OFF or not context.request.is_http:
        return
    options = policy.options(KIND)
    deny_lists, allow_lists = options["lists"], options["allow_lists"]
    if not (options["deny"] or options["allow"] or deny_lists or allow_lists):
        return
    client_address = _modules()[0]
    copies = tuple(_copy(source, context, where) for source in (*deny_lists, *allow_lists)) if \
        deny_lists or allow_lists else ()
    table = _table(options, copies)
    client = client_address.client_of(context.request, options)
    if client is None:
        return
    denied = table.denied(client.family, client.number)
    if denied is not None:
        name, entry = denied
        finding = Finding(KIND, DENIED, f"client {client} ({client.origin}) is in {name}: {entry}",
                          None, f"{name} {entry}")
        decide(context, finding, SINK, str(client), mode)
        return
    has_allow = bool(options["allow"] or allow_lists)
    allow_complete = None not in copies[len(deny_lists):]
    if has_allow and allow_complete and table.allowed(client.family, client.number) is None:
        finding = Finding(KIND, NOT_ALLOWED, f"client {client} ({client.origin}) is outside the allow list",
                          None, "allow: no entry holds it")
        decide(context, finding, SINK, str(client), mode)


def warm(options: Mapping[str, Any]) -> None:
    """At init: read the lists and build the table, so that the first request does not wait for them.

    Never raises: a list that cannot be read now is unavailable, and the first request that needs it
    records that and fails open or closed (``_copy``), as it would have without this.
    """
    copies = []
    for source in (*options["lists"], *options["allow_lists"]):
        try:
            copies.append(_modules()[1].current(source))
        except Exception:
            copies.append(None)
    _table(options, tuple(copies))


@cache
def _modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """client_address, ip_lists, ip_ranges, loaded by the first request a policy with addresses judges: a
    function whose policy names none loads none of them (socket, array, the list readers)."""
    from . import client_address, ip_lists, ip_ranges

    return client_address, ip_lists, ip_ranges


def _copy(source: str, context: RequestContext, where: str) -> ListCopy | None:
    """The list in force, or None when it is unavailable (recorded; blocks when the policy fails closed)."""
    try:
        return _modules()[1].current(source)
    except Exception as error:
        failed(KIND, f"{where}:{source}", error, context)
        return None


def _same(old: tuple[ListCopy | None, ...], new: tuple[ListCopy | None, ...]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _table(options: Mapping[str, Any], copies: tuple[ListCopy | None, ...]) -> Table:
    kept = _tables.get(id(options))
    if kept is not None and kept[0] is options and _same(kept[1], copies):
        return kept[2]
    for old_options, old_copies, table in list(_tables.values()):
        # A policy reloaded after its TTL is a new object with, most often, the same lists: keep the table
        # (rebuilding 100,000 entries is ~0.25 s, every TTL, for nothing).
        if _same(old_copies, copies) and all(old_options[key] == options[key] for key in _LIST_KEYS):
            return _keep(options, copies, table)
    ip_ranges = _modules()[2]
    deny_count = len(options["lists"])
    deny = [("deny", ip_ranges.parse_networks(options["deny"]))]
    deny += [(copy.source, copy.parsed) for copy in copies[:deny_count] if copy is not None]
    allow = [("allow", ip_ranges.parse_networks(options["allow"]))]
    allow += [(copy.source, copy.parsed) for copy in copies[deny_count:] if copy is not None]
    return _keep(options, copies, ip_ranges.Table(deny, allow))


def _keep(options: Mapping[str, Any], copies: tuple[ListCopy | None, ...], table: Table) -> Table:
    if len(_tables) >= _MAX_TABLES:
        _tables.clear()
    _tables[id(options)] = (options, copies, table)
    return table
