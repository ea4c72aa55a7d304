"""The inputs of the non-HTTP triggers that carry their payload in shapes of their own.

Kinesis Data Firehose transformations, MSK and self-managed Kafka, CloudWatch Logs
subscriptions, AppSync resolvers and Cognito user-pool triggers. Each adapter reads
every field a producer, a viewer or a user chose, decoded as the handler decodes it
(base64, Kafka's header byte lists, CloudWatch's base64 of gzip); what the service
fills in itself (ARNs, offsets, timestamps, the schema's field names) is not input.
A part in an unexpected shape is walked as it is, as a direct invocation's would be,
and so is any field the service never sends: only a custom invoker adds one.

CloudWatch Logs data is decompressed to at most ``max_bytes`` (the cap on all inputs
together; anything past it could not be an input anyway): a gzip bomb costs what
the cap costs, never what it expands to, and the record says it was cut. Measured
here (``python -m bench.triggers``): a 64 MB bomb (87 kB of base64) costs about
20 ms; 6 MB of decompressed log JSON (42,000 log events) 60-90 ms across runs, of which
decompression 9 ms and parsing 46 ms; 250 kB of log JSON 10 ms.
"""
from __future__ import annotations

import zlib

from .flatten import header_inputs
from .http import decode_base64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .flatten import _Collector

    Adapter = Callable[[_Collector, Any], None]

_FIREHOSE_FIELDS = frozenset({"invocationId", "deliveryStreamArn", "sourceKinesisStreamArn", "region", "records"})
_FIREHOSE_RECORD_FIELDS = frozenset({"recordId", "approximateArrivalTimestamp", "data", "kinesisRecordMetadata"})
_KAFKA_FIELDS = frozenset({"eventSource", "eventSourceArn", "bootstrapServers", "records"})
_KAFKA_RECORD_FIELDS = frozenset({"topic", "partition", "offset", "timestamp", "timestampType", "key", "value",
                                  "headers"})
_LOGS_FIELDS = frozenset({"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents",
                          "policyLevel"})
_LOG_EVENT_FIELDS = frozenset({"id", "timestamp"})
# What an AppSync resolver's event holds; of ``info`` only the query's variables are the caller's (the
# selection set and the names are the schema's, validated before the resolver runs).
_APPSYNC_FIELDS = frozenset({"arguments", "identity", "source", "request", "prev", "info", "stash"})
_COGNITO_FIELDS = frozenset({"version", "triggerSource", "region", "userPoolId", "userName", "callerContext",
                             "request", "response"})
# Gzip or zlib, by the header: CloudWatch Logs sends gzip.
_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS
# CloudWatch sends one member. Each further one costs a copy of the rest (``unused_data``), so an
# unbounded count is quadratic: 1 MB of 50,000 empty members took 0.46 s here, 46 ms with this cap.
_MAX_GZIP_MEMBERS = 100


def _rest(collector: _Collector, part: dict[Any, Any], known: frozenset[str], location: str) -> None:
    """The fields of ``part`` its service never sends: a custom invoker's, walked as they are."""
    for name, value in part.items():
        if name not in known:
            collector.walk(value, f"{location}.{name}" if location else str(name))


def _base64_text(collector: _Collector, data: Any, location: str) -> bytes | None:
    """Base64 ``data`` decoded as ``base64.b64decode`` does, its text walked; the text as sent too when the
    base64 was not clean. Returns the bytes, if any."""
    if not isinstance(data, str):
        collector.walk(data, location)
        return None
    decoded, clean = decode_base64(data)
    if not clean:
        collector.walk(data, location)
    if decoded is not None:
        collector.walk(decoded.decode("utf-8", "replace"), location)
    return decoded


def firehose(collector: _Collector, event: dict[Any, Any]) -> None:
    """A transformation batch: each record's ``data`` (base64), and the producer's partition key when a
    Kinesis stream feeds the delivery stream."""
    records = event.get("records")
    for index, record in enumerate(records if isinstance(records, list) else ()):
        prefix = f"records[{index}]"
        if not isinstance(record, dict):
            collector.walk(record, prefix)
            continue
        _base64_text(collector, record.get("data"), f"{prefix}.data")
        metadata = record.get("kinesisRecordMetadata")
        if isinstance(metadata, dict):
            collector.walk(metadata.get("partitionKey"), f"{prefix}.partitionKey")
        elif metadata is not None:
            collector.walk(metadata, f"{prefix}.kinesisRecordMetadata")
        _rest(collector, record, _FIREHOSE_RECORD_FIELDS, prefix)
    _rest(collector, event, _FIREHOSE_FIELDS, "event")


def kafka(collector: _Collector, event: dict[Any, Any]) -> None:
    """MSK and self-managed Kafka: per ``topic-partition``, each record's key and value (base64) and its
    headers (``[{name: [byte, ...]}]``, the bytes as text). The producer chose all of them."""
    batches = event.get("records")
    for batch_name, batch in (batches.items() if isinstance(batches, dict) else ()):
        batch_location = f"records.{batch_name}"
        if not isinstance(batch, list):
            collector.walk(batch, batch_location)
            continue
        for index, record in enumerate(batch):
            prefix = f"{batch_location}[{index}]"
            if not isinstance(record, dict):
                collector.walk(record, prefix)
                continue
            for field in ("key", "value"):
                if record.get(field) is not None:
                    _base64_text(collector, record[field], f"{prefix}.{field}")
            _kafka_headers(collector, record.get("headers"), f"{prefix}.headers")
            _rest(collector, record, _KAFKA_RECORD_FIELDS, prefix)
    _rest(collector, event, _KAFKA_FIELDS, "event")


def _kafka_headers(collector: _Collector, headers: Any, location: str) -> None:
    if not isinstance(headers, list):
        collector.walk(headers, location)
        return
    for header in headers:
        if not isinstance(header, dict):
            collector.walk(header, location)
            continue
        for name, value in header.items():
            collector.add(f"{location}.{name}#key", str(name))
            try:
                text = bytes(value).decode("utf-8", "replace") if isinstance(value, list) else None
            except (TypeError, ValueError):  # not a list of byte values: walked as sent
                text = None
            collector.walk(value if text is None else text, f"{location}.{name}")


def cloudwatch_logs(collector: _Collector, event: dict[Any, Any]) -> None:
    """A subscription's ``awslogs.data``: base64 of gzip of JSON; each log event's message is input
    (what the logging code wrote, often a request's fields), and JSON in it is opened as anywhere."""
    awslogs = event["awslogs"]
    location = "awslogs.data"
    _rest(collector, awslogs, frozenset({"data"}), "awslogs")
    _rest(collector, event, frozenset({"awslogs"}), "event")
    data = awslogs.get("data")
    if not isinstance(data, str):
        collector.walk(data, location)
        return
    compressed, clean = decode_base64(data)
    if not clean:  # the base64 wraps gzip, not text: the text as sent matters only when it was not clean
        collector.walk(data, location)
    if compressed is None:
        return
    cap = collector.limits.max_bytes
    inflated = _gunzip(compressed, cap)
    if inflated is None:  # not gzip: the decoded bytes are what a handler would read
        collector.walk(compressed.decode("utf-8", "replace"), location)
        return
    text, whole = inflated
    if not whole:
        collector.drop(f"CloudWatch Logs data larger than {cap} bytes once decompressed, or of more "
                       f"than {_MAX_GZIP_MEMBERS} gzip members")
        return
    document = _json(text)
    if not isinstance(document, dict):
        collector.walk(text.decode("utf-8", "replace"), location)
        return
    log_events = document.get("logEvents")
    for index, log_event in enumerate(log_events if isinstance(log_events, list) else ()):
        prefix = f"logEvents[{index}]"
        if isinstance(log_event, dict):
            _rest(collector, log_event, _LOG_EVENT_FIELDS, prefix)  # message, extractedFields
        else:
            collector.walk(log_event, prefix)
    if not isinstance(log_events, list):
        collector.walk(log_events, "logEvents")
    _rest(collector, document, _LOGS_FIELDS, "awslogs")


def _gunzip(compressed: bytes, cap: int) -> tuple[bytes, bool] | None:
    """What ``gzip.decompress`` makes of ``compressed`` (every member of a multi-member file), up to
    ``cap`` bytes and ``_MAX_GZIP_MEMBERS`` members, and whether that was all of it; None if it is not
    gzip (or zlib) at all."""
    chunks: list[bytes] = []
    room = cap + 1  # one byte past the cap tells a file of exactly ``cap`` bytes from a longer one
    rest = compressed
    for _ in range(_MAX_GZIP_MEMBERS):
        inflater = zlib.decompressobj(_GZIP_OR_ZLIB)
        try:
            chunk = inflater.decompress(rest, room)
        except zlib.error:
            if not chunks:
                return None
            break  # trailing bytes that are no member: the members before them stand
        chunks.append(chunk)
        room -= len(chunk)
        rest = inflater.unused_data
        if room <= 0 or not inflater.eof or not rest:
            break
    else:
        return b"".join(chunks), False  # more members than the cap
    return b"".join(chunks), room > 0


def _json(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def appsync(collector: _Collector, event: Any) -> None:
    """A direct Lambda resolver's event, or a batch of them (a list, one per parent item)."""
    if isinstance(event, list):
        for index, item in enumerate(event):
            if isinstance(item, dict):
                _resolver(collector, item, f"[{index}]")
            else:
                collector.walk(item, f"[{index}]")
    else:
        _resolver(collector, event, "")


def _resolver(collector: _Collector, event: dict[Any, Any], prefix: str) -> None:
    """The caller's arguments and query variables; the parent's ``source`` and earlier functions' ``prev``
    and ``stash`` (data stored from earlier requests); the identity's claims (users edit their own
    attributes); the request's headers, except a client's standard constants."""
    dot = f"{prefix}." if prefix else ""
    for name in ("arguments", "source", "identity", "prev", "stash"):
        collector.walk(event.get(name), dot + name)
    info = event.get("info")
    if isinstance(info, dict):
        collector.walk(info.get("variables"), f"{dot}info.variables")
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict) and all(isinstance(value, str) for value in headers.values()):
            lowered = {str(name).lower(): [value] for name, value in headers.items()}
            for name, values in header_inputs(lowered).items():
                for value in values:
                    collector.add(f"{dot}header.{name}", value)
            for pair in lowered.get("cookie", [""])[0].split(";"):  # header_inputs leaves cookies to their reader
                name, sep, value = pair.strip().partition("=")
                if sep and name:
                    collector.add(f"{dot}cookie.{name}#key", name)
                    collector.add(f"{dot}cookie.{name}", value)
        else:
            collector.walk(headers, f"{dot}header")
        _rest(collector, request, frozenset({"headers", "domainName"}), f"{dot}request")
    else:
        collector.walk(request, f"{dot}request")
    _rest(collector, event, _APPSYNC_FIELDS, prefix)


def cognito(collector: _Collector, event: dict[Any, Any]) -> None:
    """A user-pool trigger: the user name and everything under ``request`` (user attributes, client
    metadata, validation data, challenge answers, a migrating user's password): the user typed them."""
    collector.walk(event.get("userName"), "userName")
    collector.walk(event.get("request"), "request")
    _rest(collector, event, _COGNITO_FIELDS, "event")


def adapters() -> dict[str, Adapter]:
    from . import kinds

    return {kinds.FIREHOSE: firehose, kinds.MSK: kafka, kinds.KAFKA: kafka,
            kinds.CLOUDWATCH_LOGS: cloudwatch_logs, kinds.APPSYNC: appsync, kinds.COGNITO: cognito}
