"""EventBridge shipping: PutEvents in batches of 10, within a budget of time per invocation.

Shipping waits at most ``SHIP_BUDGET`` (2 s) per invocation, whatever the number of batches,
and less when the invocation has less time left: a batch is sent only while the budget still
holds a whole attempt (``aws.ATTEMPT_BOUND``, 1.5 s), so a non-answering endpoint costs one
read timeout, 1 s, instead of the SDK's 180 s. Entries PutEvents reports as failed
(``FailedEntryCount``, an ``ErrorCode`` per entry) are sent once more, as is a batch whose call
failed for a transient reason; what is still not shipped is returned by record id, for the
caller to write on stdout (every detection is there already) and to record as an internal error.
The first shipment of a sandbox also pays for importing boto3 and building the client, once.
"""
from __future__ import annotations

from collections import deque
from functools import cache

from .. import aws
from ..context import suppressed
from .record import to_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Entry = tuple[str, dict[str, Any]]  # (record id, PutEvents entry)

SOURCE = "app-protect"
DETAIL_TYPE = "App Protect Detection"
SHIP_BUDGET = 2.0
# Left to the rest of the invocation (the response, the runtime) when its own time runs short.
_RESERVE = 0.5
_BATCH = 10  # PutEvents takes at most 10 entries


@cache
def _events_client() -> Any:
    return aws.client("events")


def budget_for(lambda_context: Any) -> float:
    """``SHIP_BUDGET``, or less when the invocation has less time left than that."""
    try:
        remaining = lambda_context.get_remaining_time_in_millis() / 1000 - _RESERVE
    except Exception:  # no context, or not the runtime's
        return SHIP_BUDGET
    return max(0.0, min(SHIP_BUDGET, remaining))


def ship(records: list[dict[str, Any]], event_bus: str, resources: list[str],
         budget: float = SHIP_BUDGET) -> list[tuple[str, str]]:
    """Send detection records; returns (record id, reason) for each one not shipped. Never raises."""
    entries: list[Entry] = [(str(record.get("id")), {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": to_json(record),
        "EventBusName": event_bus,
        "Resources": resources,
    }) for record in records]
    with suppressed():
        try:
            client = _events_client()
        except Exception as error:
            return [(record_id, f"no EventBridge client: {_reason(error)}") for record_id, _ in entries]
        return _send(client, entries, aws.Deadline(budget))


def _send(client: Any, entries: list[Entry], deadline: aws.Deadline) -> list[tuple[str, str]]:
    batches: deque[tuple[list[Entry], bool]] = deque(
        (entries[start:start + _BATCH], True) for start in range(0, len(entries), _BATCH))
    unshipped: list[tuple[str, str]] = []
    while batches:
        batch, first_try = batches.popleft()
        if not deadline.holds_an_attempt():
            unshipped += [(record_id, "the shipping budget was spent") for record_id, _ in batch]
            continue
        failed, retryable = _put(client, batch)
        if failed and first_try and retryable:
            batches.append(([(record_id, entry) for record_id, entry, _ in failed], False))
        else:
            unshipped += [(record_id, reason) for record_id, _, reason in failed]
    return unshipped


def _put(client: Any, batch: list[Entry]) -> tuple[list[tuple[str, dict[str, Any], str]], bool]:
    """One PutEvents call: the entries that failed with why, and whether sending them again may help."""
    try:
        response = client.put_events(Entries=[entry for _, entry in batch])
    except Exception as error:
        reason = _reason(error)
        return [(record_id, entry, reason) for record_id, entry in batch], aws.is_transient(error)
    if not response.get("FailedEntryCount"):
        return [], False
    results = response.get("Entries") or []
    failed = []
    for index, (record_id, entry) in enumerate(batch):
        result = results[index] if index < len(results) and isinstance(results[index], dict) else {}
        if result.get("ErrorCode") or not result.get("EventId"):
            reason = f"{result.get('ErrorCode') or 'no result'}: {result.get('ErrorMessage') or ''}".rstrip(": ")
            failed.append((record_id, entry, reason))
    return failed, True


def _reason(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:
        return type(error).__name__
