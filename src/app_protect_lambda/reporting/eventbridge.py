"""EventBridge shipping: one PutEvents call per 10 records, boto3 imported on first use."""
from __future__ import annotations

import json

from ..context import suppressed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SOURCE = "app-protect"
DETAIL_TYPE = "App Protect Detection"
_BATCH = 10  # PutEvents takes at most 10 entries

_client: Any = None


def _events_client() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("events")
    return _client


def reset_client() -> None:
    global _client
    _client = None


def ship(records: list[dict[str, Any]], event_bus: str, resources: list[str]) -> int:
    """Send detection records; returns how many EventBridge did not accept."""
    entries = [{
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(record, ensure_ascii=False, default=str),
        "EventBusName": event_bus,
        "Resources": resources,
    } for record in records]
    failed = 0
    with suppressed():
        client = _events_client()
        for start in range(0, len(entries), _BATCH):
            response = client.put_events(Entries=entries[start:start + _BATCH])
            failed += response.get("FailedEntryCount", 0)
    return failed
