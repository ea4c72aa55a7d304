"""What a blocked invocation returns: a 403 shaped for the HTTP event kind (API Gateway, ALB, Function URL,
VPC Lattice, Lambda@Edge), or RequestBlocked."""
from __future__ import annotations

import json

from .errors import RequestBlocked
from .sources import kinds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .context import RequestContext
    from .errors import AttackBlocked


def forbidden(context: RequestContext) -> dict[str, Any]:
    request = context.request
    body = json.dumps({"message": "Forbidden", "requestId": request.request_id or request.aws_request_id})
    if request.kind == kinds.ALB:
        response: dict[str, Any] = {"statusCode": 403, "statusDescription": "403 Forbidden",
                                    "isBase64Encoded": False, "body": body}
        if request.uses_multi_value_headers:
            response["multiValueHeaders"] = {"Content-Type": ["application/json"]}
        else:
            response["headers"] = {"Content-Type": "application/json"}
        return response
    if request.kind in (kinds.LATTICE_V1, kinds.LATTICE_V2):  # one response format for both payload versions
        return {"isBase64Encoded": False, "statusCode": 403, "statusDescription": "403 Forbidden",
                "headers": {"Content-Type": "application/json"}, "body": body}
    if request.kind == kinds.EDGE:  # CloudFront's: a string status, headers as lists of {key, value}
        return {"status": "403", "statusDescription": "Forbidden",
                "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]}, "body": body}
    return {"statusCode": 403, "headers": {"Content-Type": "application/json"},
            "body": body, "isBase64Encoded": False}


def blocked_response(context: RequestContext, blocked: AttackBlocked) -> dict[str, Any]:
    """The 403 for HTTP events; for any other event, raise RequestBlocked from the block."""
    if context.request.is_http:
        return forbidden(context)
    raise RequestBlocked(blocked.finding, context.request.aws_request_id) from blocked
