"""CloudWatch: one JSON line per record on stdout, and EMF metrics once per invocation."""
from __future__ import annotations

import json
import sys
import time
from collections import Counter

from .. import config
from .record import DETECTION_SCHEMA, INTERNAL_ERROR_SCHEMA, NOTICE_SCHEMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def metrics(records: list[dict[str, Any]], function_name: str | None) -> list[dict[str, Any]]:
    """EMF documents: Detections and Blocked per protection and in all (for one alarm on every block);
    InternalErrors and notices without dimensions."""
    namespace = config.get("APP_PROTECT_METRICS_NAMESPACE")
    timestamp = int(time.time() * 1000)
    detections: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    errors = notices = 0
    for record in records:
        schema = record.get("schema")
        if schema == DETECTION_SCHEMA:
            detections[record["protection"]] += 1
            blocked[record["protection"]] += record["action"] == "blocked"
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
