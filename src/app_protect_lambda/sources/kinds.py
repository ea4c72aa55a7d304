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
FIREHOSE = "firehose"
MSK = "msk"
KAFKA = "self-managed-kafka"
CLOUDWATCH_LOGS = "cloudwatch-logs"
APPSYNC = "appsync"
COGNITO = "cognito"
LATTICE_V1 = "vpc-lattice-v1"
LATTICE_V2 = "vpc-lattice-v2"
EDGE = "lambda-edge"
DIRECT = "direct"

HTTP_KINDS = frozenset({APIGW_V1, APIGW_V2, WEBSOCKET, ALB, FUNCTION_URL, LATTICE_V1, LATTICE_V2, EDGE})
# The kinds whose adapters live in triggers.py.
TRIGGER_KINDS = frozenset({FIREHOSE, MSK, KAFKA, CLOUDWATCH_LOGS, APPSYNC, COGNITO})

_RECORD_SOURCES = {
    "aws:sqs": SQS,
    "aws:sns": SNS,
    "aws:s3": S3,
    "aws:dynamodb": DYNAMODB,
    "aws:kinesis": KINESIS,
}
RECORD_KINDS = frozenset(_RECORD_SOURCES.values())
_KAFKA_SOURCES = {"aws:kafka": MSK, "SelfManagedKafka": KAFKA}
# Every kind a policy's `sources` may name.
ALL_KINDS = frozenset({*HTTP_KINDS, *RECORD_KINDS, *TRIGGER_KINDS, EVENTBRIDGE, DIRECT})


def event_kind(event: Any) -> str:
    """The trigger behind ``event``; a shape that matches none, however malformed, is a direct invocation."""
    if not isinstance(event, dict):
        return APPSYNC if isinstance(event, list) and event and _is_appsync(event[0]) else DIRECT
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
        if isinstance(records[0], dict) and isinstance(records[0].get("cf"), dict):
            return EDGE
    if "detail-type" in event and "detail" in event and "source" in event:
        return EVENTBRIDGE
    return _other_kind(event)


def _other_kind(event: dict[Any, Any]) -> str:
    """The shapes without ``requestContext`` or ``Records``, each told by fields only its service sends."""
    source = event.get("eventSource")
    if isinstance(source, str) and source in _KAFKA_SOURCES and isinstance(event.get("records"), dict):
        return _KAFKA_SOURCES[source]
    if "deliveryStreamArn" in event and isinstance(event.get("records"), list):
        return FIREHOSE
    if isinstance(event.get("awslogs"), dict):
        return CLOUDWATCH_LOGS
    if "triggerSource" in event and "userPoolId" in event:
        return COGNITO
    if "raw_path" in event and "method" in event:
        return LATTICE_V1
    return APPSYNC if _is_appsync(event) else DIRECT


def _is_appsync(event: Any) -> bool:
    """A direct Lambda resolver's event (one field, or one item of a batch): its ``info`` names the field."""
    if not isinstance(event, dict) or "arguments" not in event:
        return False
    info = event.get("info")
    return isinstance(info, dict) and "fieldName" in info and "parentTypeName" in info


def _http_kind(event: dict[Any, Any], request_context: dict[Any, Any]) -> str | None:
    if "elb" in request_context:
        return ALB
    if "serviceArn" in request_context or "serviceNetworkArn" in request_context:
        return LATTICE_V2
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
