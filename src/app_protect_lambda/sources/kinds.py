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


def event_kind(event: Any) -> str:
    if not isinstance(event, dict):
        return DIRECT
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        if "elb" in request_context:
            return ALB
        if "connectionId" in request_context and "eventType" in request_context:
            return WEBSOCKET
        if event.get("version") == "2.0" or isinstance(request_context.get("http"), dict):
            domain = request_context.get("domainName") or ""
            return FUNCTION_URL if ".lambda-url." in domain else APIGW_V2
        if "httpMethod" in event or "resourcePath" in request_context:
            return APIGW_V1
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        if source in _RECORD_SOURCES:
            return _RECORD_SOURCES[source]
    if "detail-type" in event and "detail" in event and "source" in event:
        return EVENTBRIDGE
    return DIRECT
