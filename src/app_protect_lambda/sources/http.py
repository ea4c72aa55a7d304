"""One normalised view of the HTTP event shapes: API Gateway v1/v2/WebSocket, ALB, Function URL.

Every field is computed on first access, so a request that nobody inspects
costs almost nothing.
"""
from __future__ import annotations

import binascii
import json
from functools import cached_property

from . import kinds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _add(target: dict[str, list[str]], name: str, value: Any) -> None:
    if isinstance(value, str):
        target.setdefault(name, []).append(value)


class Request:
    """The request behind one event. Non-HTTP events have only ``kind`` and ``request_id``."""

    def __init__(self, event: Any, kind: str, aws_request_id: str | None = None) -> None:
        self.event = event
        self.kind = kind
        self.aws_request_id = aws_request_id
        self.is_http = kind in kinds.HTTP_KINDS
        self._raw = event if isinstance(event, dict) else {}

    @cached_property
    def _context(self) -> dict:
        return _dict(self._raw.get("requestContext"))

    @cached_property
    def uses_multi_value_headers(self) -> bool:
        return isinstance(self._raw.get("multiValueHeaders"), dict)

    @cached_property
    def headers(self) -> dict[str, list[str]]:
        """Header names lower-cased; multi-value and single-value forms merged."""
        result: dict[str, list[str]] = {}
        multi = _dict(self._raw.get("multiValueHeaders"))
        for name, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                _add(result, str(name).lower(), value)
        for name, value in _dict(self._raw.get("headers")).items():
            key = str(name).lower()
            if key not in result or value not in result[key]:
                _add(result, key, value)
        return result

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @cached_property
    def method(self) -> str | None:
        return self._raw.get("httpMethod") or _dict(self._context.get("http")).get("method") \
            or self._context.get("httpMethod") or self._context.get("eventType")

    @cached_property
    def path(self) -> str | None:
        return self._raw.get("path") or self._raw.get("rawPath") \
            or _dict(self._context.get("http")).get("path") or self._context.get("routeKey")

    @cached_property
    def path_params(self) -> dict[str, str]:
        return {str(k): v for k, v in _dict(self._raw.get("pathParameters")).items() if isinstance(v, str)}

    @cached_property
    def query(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qsl, unquote_plus

        result: dict[str, list[str]] = {}
        raw_query = self._raw.get("rawQueryString")
        if isinstance(raw_query, str) and raw_query:
            for name, value in parse_qsl(raw_query, keep_blank_values=True):
                _add(result, name, value)
            return result
        decode = self.kind == kinds.ALB  # the ALB passes the query string as it arrived, still encoded
        multi = _dict(self._raw.get("multiValueQueryStringParameters"))
        single = _dict(self._raw.get("queryStringParameters"))
        for name, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                _add(result, unquote_plus(name) if decode else name,
                     unquote_plus(value) if decode and isinstance(value, str) else value)
        for name, value in single.items():
            key = unquote_plus(name) if decode else name
            value = unquote_plus(value) if decode and isinstance(value, str) else value
            if key not in result or value not in result[key]:
                _add(result, key, value)
        return result

    @cached_property
    def cookies(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        pairs = [c for c in self._raw.get("cookies") or [] if isinstance(c, str)]
        for header in self.headers.get("cookie", []):
            pairs.extend(header.split(";"))
        for pair in pairs:
            name, sep, value = pair.strip().partition("=")
            if sep and name:
                _add(result, name, value)
        return result

    @cached_property
    def body_bytes(self) -> bytes | None:
        body = self._raw.get("body")
        if body is None:
            return None
        if not isinstance(body, str):
            body = json.dumps(body)
        if self._raw.get("isBase64Encoded"):
            try:
                return binascii.a2b_base64(body)
            except (binascii.Error, ValueError):
                return body.encode("utf-8", "surrogatepass")
        return body.encode("utf-8", "surrogatepass")

    @cached_property
    def body(self) -> str | None:
        """The body as text (base64 decoded); undecodable bytes are replaced."""
        raw = self.body_bytes
        return None if raw is None else raw.decode("utf-8", "replace")

    @cached_property
    def content_type(self) -> str:
        return (self.header("content-type") or "").lower()

    @cached_property
    def source_ip(self) -> str | None:
        return self.source_ip_behind(0)

    def source_ip_behind(self, trusted_proxies: int) -> str | None:
        """The client address, skipping ``trusted_proxies`` hops of X-Forwarded-For from the right.

        API Gateway and Function URLs give the TCP peer; the ALB appends the peer
        it saw to X-Forwarded-For, so the rightmost entry is the one it vouches for.
        """
        forwarded = [hop.strip() for header in self.headers.get("x-forwarded-for", [])
                     for hop in header.split(",") if hop.strip()]
        peer = _dict(self._context.get("identity")).get("sourceIp") if self.kind in (
            kinds.APIGW_V1, kinds.WEBSOCKET) else _dict(self._context.get("http")).get("sourceIp")
        chain = forwarded
        if peer and self.kind != kinds.ALB and (not forwarded or forwarded[-1] != peer):
            chain = [*forwarded, peer]  # the peer is the hop API Gateway vouches for
        if not chain:
            return peer
        return chain[max(0, len(chain) - 1 - trusted_proxies)]

    @cached_property
    def request_id(self) -> str | None:
        return self._context.get("requestId") or self.header("x-amzn-trace-id") or self.aws_request_id

    @cached_property
    def user_agent(self) -> str | None:
        return self.header("user-agent") or _dict(self._context.get("identity")).get("userAgent") \
            or _dict(self._context.get("http")).get("userAgent")

    def summary(self) -> dict[str, Any]:
        """The ``request`` object of a detection record."""
        if not self.is_http:
            return {"kind": self.kind, "id": self.aws_request_id}
        return {"kind": self.kind, "id": self.request_id, "source_ip": self.source_ip,
                "method": self.method, "path": self.path, "user_agent": self.user_agent}
