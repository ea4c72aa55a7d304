"""CloudWatch: one JSON line per record on stdout, and EMF metrics once per invocation.

Writing never raises. A stdout that cannot encode the line (ASCII, Latin-1) gets the same
JSON with ``\\u`` escapes; a stdout that fails outright (closed, broken pipe) is reported
to the caller, which records that once and goes on.
"""
from __future__ import annotations

import sys
import time
from collections import Counter

from .. import config
from .record import DETECTION_SCHEMA, INTERNAL_ERROR_SCHEMA, NOTICE_SCHEMA, to_ascii, to_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def emit(record: dict[str, Any]) -> Exception | None:
    """Write ``record`` as one line on stdout; returns the error if it could not be written."""
    try:
        line = to_json(record)
        try:
            sys.stdout.write(line + "\n")
        except UnicodeEncodeError:  # TextIOWrapper encodes the whole line first: nothing was written
            sys.stdout.write(to_ascii(line) + "\n")
        sys.stdout.flush()
    except Exception as error:
        return error
    return None


def metrics(records: list[dict[str, Any]], function_name: str | None) -> list[dict[str, Any]]:
    """EMF documents: Detections and Blocked per protection and in all (for one alarm on every block);
    InternalErrors and notices without dimensions."""
    namespace = config.get("APP_PROTECT_METRICS_NAMESPACE")
    timestamp = int(time.time() * 1000)
    detections: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    errors = notices = 0
    unattributed = unattributed_blocks = 0  # a fail-closed block that belongs to no single protection
    for record in records:
        schema = record.get("schema")
        if schema == DETECTION_SCHEMA:
            protection = record.get("protection")
            if protection is None:
                unattributed += 1
                unattributed_blocks += record.get("action") == "blocked"
                continue
            detections[protection] += 1
            blocked[protection] += record.get("action") == "blocked"
        elif schema == INTERNAL_ERROR_SCHEMA:
            errors += 1
        elif schema == NOTICE_SCHEMA:
            notices += 1
    documents = []
    for protection, count in sorted(detections.items()):
        documents.append({
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [["Protection"], []],  # per protection, and in all
                "Metrics": [{"Name": "Detections", "Unit": "Count"}, {"Name": "Blocked", "Unit": "Count"}],
            }]},
            "Protection": protection, "FunctionName": function_name,
            "Detections": count, "Blocked": blocked[protection],
        })
    if unattributed:
        documents.append({
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [[]],
                "Metrics": [{"Name": "Detections", "Unit": "Count"}, {"Name": "Blocked", "Unit": "Count"}],
            }]},
            "FunctionName": function_name, "Detections": unattributed, "Blocked": unattributed_blocks,
        })
    if errors or notices:
        documents.append({
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [{
                "Namespace": namespace, "Dimensions": [[]],
                "Metrics": [{"Name": "InternalErrors", "Unit": "Count"},
                            {"Name": "InspectionNotices", "Unit": "Count"}],
            }]},
            "FunctionName": function_name, "InternalErrors": errors, "InspectionNotices": notices,
        })
    return documents
