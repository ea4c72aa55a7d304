"""Which trigger an event came from, judged by the shape AWS gives each one."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

APIGW_V1 = "apigw-v1"
APIGW_V2 = "apigw-v2"
WEBSOCKET = "apigw-websocket"
ALB = "alb"
FUNCTION_URL = "function-url"
SQS = "sqs"
SNS = "sns"
S3 = "s3"
EVENTBRIDGE = "eventbridge"
DYNAMODB = "dynamodb-stream"
KINESIS = "kinesis"
DIRECT = "direct"

HTTP_KINDS = frozenset({APIGW_V1, APIGW_V2, WEBSOCKET, ALB, FUNCTION_URL})

_RECORD_SOURCES = {
    "aws:sqs": SQS,
    "aws:sns": SNS,
    "aws:s3": S3,
    "aws:dynamodb": DYNAMODB,
    "aws:kinesis": KINESIS,
}
RECORD_KINDS = frozenset(_RECORD_SOURCES.values())


def event_kind(event: Any) -> str:
    """The trigger behind ``event``; a shape that matches none, however malformed, is a direct invocation."""
    if not isinstance(event, dict):
        return DIRECT
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        kind = _http_kind(event, request_context)
        if kind is not None:
            return kind
    records = event.get("Records")
    if isinstance(records, list) and records:
        kind = record_kind(records[0])
        if kind is not None:
            return kind
    if "detail-type" in event and "detail" in event and "source" in event:
        return EVENTBRIDGE
    return DIRECT


def _http_kind(event: dict[Any, Any], request_context: dict[Any, Any]) -> str | None:
    if "elb" in request_context:
        return ALB
    if "connectionId" in request_context and "eventType" in request_context:
        return WEBSOCKET
    if event.get("version") == "2.0" or isinstance(request_context.get("http"), dict):
        domain = request_context.get("domainName")
        return FUNCTION_URL if isinstance(domain, str) and ".lambda-url." in domain else APIGW_V2
    if "httpMethod" in event or "resourcePath" in request_context:
        return APIGW_V1
    return None


def record_kind(record: Any) -> str | None:
    """The service that delivered one record of a ``Records`` batch, or None if the record names none we know."""
    if not isinstance(record, dict):
        return None
    source = record.get("eventSource") or record.get("EventSource")
    return _RECORD_SOURCES.get(source) if isinstance(source, str) else None
