"""Helpers for users' own tests: event builders for every trigger and a fake LambdaContext.

The shapes follow the sample events in AWS's documentation, trimmed to what
handlers read. Every builder returns a fresh ``dict``.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode


@dataclass
class LambdaContext:
    """A stand-in for the runtime's context object."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"
    remaining_ms: int = 30000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _body(body: Any) -> tuple[str | None, dict[str, str]]:
    if body is None or isinstance(body, str):
        return body, {}
    return json.dumps(body), {"content-type": "application/json"}


# Lone surrogates (a JSON "\udcff" escape gives one) are encoded, not refused: tests send them on purpose.
def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def _quote(text: str) -> str:
    return quote_plus(text, errors="surrogatepass")


def apigw_v1_event(method: str = "GET", path: str = "/", *, query: dict[str, str | list[str]] | None = None,
                   headers: dict[str, str] | None = None, body: Any = None, base64_body: bool = False,
                   path_parameters: dict[str, str] | None = None, source_ip: str = "198.51.100.7",
                   resource: str | None = None) -> dict[str, Any]:
    """API Gateway REST API (payload 1.0). List values in ``query`` become multi-value parameters."""
    text, extra = _body(body)
    all_headers = {"user-agent": "test-client/1.0", **extra, **(headers or {})}
    single = {k: (v[-1] if isinstance(v, list) else v) for k, v in (query or {}).items()} or None
    multi = {k: (v if isinstance(v, list) else [v]) for k, v in (query or {}).items()} or None
    if text is not None and base64_body:
        text = _base64(text)
    return {
        "resource": resource or path, "path": path, "httpMethod": method,
        "headers": all_headers, "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": single, "multiValueQueryStringParameters": multi,
        "pathParameters": path_parameters, "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "1234567890", "httpMethod": method,
            "path": f"/prod{path}", "resourcePath": resource or path, "stage": "prod",
            "requestId": str(uuid.uuid4()), "requestTimeEpoch": 1700000000000,
            "identity": {"sourceIp": source_ip, "userAgent": all_headers.get("user-agent")},
        },
        "body": text, "isBase64Encoded": base64_body,
    }


def _v2(method: str, path: str, query: dict[str, str | list[str]] | None, headers: dict[str, str] | None,
        body: Any, base64_body: bool, cookies: list[str] | None, source_ip: str, domain: str,
        path_parameters: dict[str, str] | None) -> dict[str, Any]:
    text, extra = _body(body)
    all_headers = {"user-agent": "test-client/1.0", **extra, **(headers or {})}
    pairs = [(k, item) for k, v in (query or {}).items() for item in (v if isinstance(v, list) else [v])]
    joined: dict[str, str] = {}
    for k, v in pairs:
        joined[k] = f"{joined[k]},{v}" if k in joined else v
    if text is not None and base64_body:
        text = _base64(text)
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path,
        "rawQueryString": urlencode(pairs, errors="surrogatepass"), "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": domain.split(".")[0], "domainName": domain,
            "domainPrefix": domain.split(".")[0], "requestId": str(uuid.uuid4()), "routeKey": f"{method} {path}",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1767225600000,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": all_headers.get("user-agent")},
        },
        "isBase64Encoded": base64_body,
    }
    if joined:
        event["queryStringParameters"] = joined
    if cookies:
        event["cookies"] = cookies
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


def apigw_v2_event(method: str = "GET", path: str = "/", *, query: dict[str, str | list[str]] | None = None,
                   headers: dict[str, str] | None = None, body: Any = None, base64_body: bool = False,
                   cookies: list[str] | None = None, source_ip: str = "198.51.100.7",
                   path_parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0)."""
    return _v2(method, path, query, headers, body, base64_body, cookies, source_ip,
               "r3pmxmplak.execute-api.us-east-1.amazonaws.com", path_parameters)


def function_url_event(method: str = "GET", path: str = "/", *, query: dict[str, str | list[str]] | None = None,
                       headers: dict[str, str] | None = None, body: Any = None, base64_body: bool = False,
                       cookies: list[str] | None = None, source_ip: str = "198.51.100.7") -> dict[str, Any]:
    """Lambda Function URL (payload 2.0 on a ``lambda-url`` domain)."""
    return _v2(method, path, query, headers, body, base64_body, cookies, source_ip,
               "abcdefghijklmnop.lambda-url.us-east-1.on.aws", None)


def alb_event(method: str = "GET", path: str = "/", *, query: dict[str, str | list[str]] | None = None,
              headers: dict[str, str] | None = None, body: Any = None, base64_body: bool = False,
              multi_value: bool = False, source_ip: str = "198.51.100.7") -> dict[str, Any]:
    """Application Load Balancer target; query values arrive URL-encoded, as the ALB sends them."""
    text, extra = _body(body)
    all_headers = {"user-agent": "test-client/1.0", "x-forwarded-for": source_ip, **extra, **(headers or {})}
    encoded = {_quote(k): [_quote(i) for i in (v if isinstance(v, list) else [v])]
               for k, v in (query or {}).items()}
    if text is not None and base64_body:
        text = _base64(text)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                      "targetgroup/lambda-target/abcdef0123456789"}},
        "httpMethod": method, "path": path, "body": text or "", "isBase64Encoded": base64_body,
    }
    if multi_value:
        event["multiValueHeaders"] = {k: [v] for k, v in all_headers.items()}
        event["multiValueQueryStringParameters"] = encoded
    else:
        event["headers"] = all_headers
        event["queryStringParameters"] = {k: v[-1] for k, v in encoded.items()}
    return event


def websocket_event(route: str = "$default", *, body: Any = None, connection_id: str = "ZlXzOc2ZoAMCJoQ=",
                    source_ip: str = "198.51.100.7", event_type: str = "MESSAGE") -> dict[str, Any]:
    text, _ = _body(body)
    return {
        "requestContext": {
            "routeKey": route, "eventType": event_type, "connectionId": connection_id,
            "requestId": str(uuid.uuid4()), "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "stage": "prod", "apiId": "abc123", "identity": {"sourceIp": source_ip},
        },
        "body": text, "isBase64Encoded": False,
    }


def sqs_event(*bodies: Any, attributes: dict[str, str] | None = None) -> dict[str, Any]:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "AQEB...", "body": _body(b)[0] or "",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767225600000"},
        "messageAttributes": {k: {"stringValue": v, "dataType": "String"} for k, v in (attributes or {}).items()},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:my-queue", "awsRegion": "us-east-1",
    } for b in bodies]}


def sns_event(*messages: Any, subject: str | None = None) -> dict[str, Any]:
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:topic:0123",
        "Sns": {"Type": "Notification", "MessageId": str(uuid.uuid4()),
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic", "Subject": subject,
                "Message": _body(m)[0] or "", "Timestamp": "2026-01-01T00:00:00.000Z", "MessageAttributes": {}},
    } for m in messages]}


def s3_event(*keys: str, bucket: str = "uploads-bucket") -> dict[str, Any]:
    """S3 notifications; ``keys`` are given plain and URL-encoded here, as S3 delivers them."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/", errors="surrogatepass"), "size": 1024,
                          "eTag": "0123456789abcdef"}},
    } for key in keys]}


def eventbridge_event(detail: dict[str, Any], *, source: str = "com.example.orders",
                      detail_type: str = "Order Placed") -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail}


def _dynamo(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: _dynamo(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"L": [_dynamo(v) for v in value]}
    if value is None:
        return {"NULL": True}
    return {"S": str(value)}


def dynamodb_event(*new_images: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{
        "eventID": str(uuid.uuid4()), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {"id": {"S": str(image.get("id", "1"))}},
                     "NewImage": {k: _dynamo(v) for k, v in image.items()},
                     "StreamViewType": "NEW_AND_OLD_IMAGES", "SequenceNumber": "111", "SizeBytes": 26},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Example/stream/2026-01-01T00:00:00.000",
    } for image in new_images]}


def kinesis_event(*payloads: Any) -> dict[str, Any]:
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": "4959",
                    "data": _base64(_body(p)[0] or ""),
                    "approximateArrivalTimestamp": 1767225600.0},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000006:4959",
        "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/example",
    } for p in payloads]}


def firehose_event(*payloads: Any, partition_key: str | None = None) -> dict[str, Any]:
    """A Kinesis Data Firehose transformation batch; ``partition_key`` adds a Kinesis stream's metadata."""
    event: dict[str, Any] = {
        "invocationId": str(uuid.uuid4()), "region": "us-east-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/example",
        "records": [{"recordId": f"4959{index}", "approximateArrivalTimestamp": 1767225600000,
                     "data": _base64(_body(p)[0] or "")} for index, p in enumerate(payloads)],
    }
    if partition_key is not None:
        event["sourceKinesisStreamArn"] = "arn:aws:kinesis:us-east-1:123456789012:stream/source"
        for record in event["records"]:
            record["kinesisRecordMetadata"] = {"shardId": "shardId-000000000000", "partitionKey": partition_key,
                                               "approximateArrivalTimestamp": 1767225600000,
                                               "sequenceNumber": "4959", "subsequenceNumber": ""}
    return event


def kafka_event(*values: Any, key: str | None = None, headers: dict[str, str] | None = None,
                topic: str = "orders", self_managed: bool = False) -> dict[str, Any]:
    """MSK (or, with ``self_managed``, self-managed Kafka): values and key base64, headers as byte lists."""
    records = []
    for offset, value in enumerate(values):
        record: dict[str, Any] = {
            "topic": topic, "partition": 0, "offset": offset, "timestamp": 1767225600000,
            "timestampType": "CREATE_TIME", "value": _base64(_body(value)[0] or ""),
            "headers": [{name: list(text.encode("utf-8", "surrogatepass"))} for name, text in (headers or {}).items()],
        }
        if key is not None:
            record["key"] = _base64(key)
        records.append(record)
    event: dict[str, Any] = {"eventSource": "SelfManagedKafka" if self_managed else "aws:kafka",
                             "bootstrapServers": "b-1.example.kafka.us-east-1.amazonaws.com:9092",
                             "records": {f"{topic}-0": records}}
    if not self_managed:
        event["eventSourceArn"] = "arn:aws:kafka:us-east-1:123456789012:cluster/example/0123"
    return event


def cloudwatch_logs_event(*messages: str, log_group: str = "/aws/lambda/web") -> dict[str, Any]:
    """A CloudWatch Logs subscription: the log events as JSON, gzipped, then base64, as CloudWatch sends them."""
    import gzip

    document = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": log_group,
                "logStream": "2026/01/01/[$LATEST]0123", "subscriptionFilters": ["all"],
                "logEvents": [{"id": str(index), "timestamp": 1767225600000, "message": message}
                              for index, message in enumerate(messages)]}
    raw = json.dumps(document).encode("utf-8", "surrogatepass")
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def appsync_event(arguments: dict[str, Any] | None = None, *, field_name: str = "getUser",
                  parent_type: str = "Query", source: Any = None, identity: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None, prev: Any = None,
                  variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """An AppSync direct Lambda resolver's event; a list of them is a batch (``BatchInvoke``)."""
    return {
        "arguments": arguments or {}, "source": source,
        "identity": identity or {"sub": "0123", "username": "alice", "claims": {"sub": "0123"},
                                 "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
                                 "sourceIp": ["198.51.100.7"], "defaultAuthStrategy": "ALLOW"},
        "request": {"headers": {"user-agent": "test-client/1.0", "content-type": "application/json",
                                **(headers or {})},
                    "domainName": None},
        "prev": None if prev is None else {"result": prev},
        "info": {"fieldName": field_name, "parentTypeName": parent_type, "selectionSetList": ["id", "email"],
                 "selectionSetGraphQL": "{ id email }", "variables": variables or {}},
        "stash": {},
    }


def cognito_event(trigger_source: str = "PreSignUp_SignUp", *, user_name: str = "alice",
                  user_attributes: dict[str, str] | None = None, client_metadata: dict[str, str] | None = None,
                  validation_data: dict[str, str] | None = None) -> dict[str, Any]:
    """A Cognito user-pool trigger; users edit their own attributes, so every one is theirs."""
    request: dict[str, Any] = {"userAttributes": user_attributes or {"email": "alice@example.com"}}
    if client_metadata is not None:
        request["clientMetadata"] = client_metadata
    if validation_data is not None:
        request["validationData"] = validation_data
    return {"version": "1", "triggerSource": trigger_source, "region": "us-east-1",
            "userPoolId": "us-east-1_Example", "userName": user_name,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "0123456789abcdef"},
            "request": request, "response": {}}


def lattice_event(method: str = "GET", path: str = "/", *, query: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None, body: Any = None, base64_body: bool = False,
                  version: int = 2, source_ip: str = "10.0.0.7") -> dict[str, Any]:
    """A VPC Lattice request, payload ``version`` 1 (snake_case fields) or 2 (camelCase, header lists)."""
    text, extra = _body(body)
    all_headers = {"user-agent": "test-client/1.0", "x-forwarded-for": source_ip, **extra, **(headers or {})}
    if text is not None and base64_body:
        text = _base64(text)
    if version == 1:
        event: dict[str, Any] = {"raw_path": path, "method": method, "headers": all_headers,
                                 "query_string_parameters": dict(query or {}), "is_base64_encoded": base64_body}
    else:
        event = {"version": "2.0", "path": path, "method": method,
                 "headers": {name: [value] for name, value in all_headers.items()},
                 "queryStringParameters": {name: [value] for name, value in (query or {}).items()},
                 "isBase64Encoded": base64_body,
                 "requestContext": {
                     "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-1:123456789012:servicenetwork/sn-0123",
                     "serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:service/svc-0123",
                     "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/tg-0123",
                     "identity": {"sourceVpcArn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123",
                                  "type": "AWS_IAM"},
                     "region": "us-east-1", "timeEpoch": "1767225600000000"}}
    if text is not None:
        event["body"] = text
    return event


def edge_event(method: str = "GET", uri: str = "/", *, query: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, body: Any = None, event_type: str = "viewer-request",
               client_ip: str = "198.51.100.7") -> dict[str, Any]:
    """A Lambda@Edge (CloudFront) event; a ``*-response`` ``event_type`` adds the origin's response."""
    text, extra = _body(body)
    all_headers = {"host": "d111111abcdef8.cloudfront.net", "user-agent": "test-client/1.0", **extra,
                   **(headers or {})}
    request: dict[str, Any] = {
        "clientIp": client_ip, "method": method, "uri": uri,
        "querystring": urlencode(list((query or {}).items()), errors="surrogatepass"),
        "headers": {name.lower(): [{"key": name, "value": value}] for name, value in all_headers.items()},
    }
    if text is not None and not event_type.endswith("response"):
        request["body"] = {"inputTruncated": False, "action": "read-only", "encoding": "base64",
                           "data": _base64(text)}
    cf: dict[str, Any] = {"config": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                                     "distributionId": "EDFDVBD6EXAMPLE", "eventType": event_type,
                                     "requestId": str(uuid.uuid4())},
                          "request": request}
    if event_type.endswith("response"):
        cf["response"] = {"status": "200", "statusDescription": "OK",
                          "headers": {"content-type": [{"key": "Content-Type", "value": "text/html"}]}}
    return {"Records": [{"cf": cf}]}
