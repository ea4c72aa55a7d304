"""The client's address, per event kind, as an integer of its family; never raises.

Where the address comes from (``Request.source_ip_behind``, one place for every kind; ``_peer`` reads
API Gateway's ``sourceIp`` directly when no hop is trusted, the same answer without merging the headers):

- API Gateway REST and WebSocket: ``requestContext.identity.sourceIp``; HTTP API and Function URLs:
  ``requestContext.http.sourceIp``. That is the TCP peer the service saw, which no header moves.
- ALB: the ALB appends the peer it saw to ``X-Forwarded-For``, so the rightmost entry is the one it
  vouches for. ``trusted_proxies: N`` skips N more entries from the right, each appended by a proxy
  the owner runs in front (CloudFront before the ALB: 1). Entries a client prepends stay on the left,
  where counting from the right never reaches them.
- API Gateway behind CloudFront: ``sourceIp`` is then CloudFront's edge, and CloudFront appended the
  viewer to ``X-Forwarded-For``; ``trusted_proxies: 1`` judges that entry. Or the distribution sends
  ``CloudFront-Viewer-Address`` (an origin request policy) and ``client_header:
  cloudfront-viewer-address`` reads it. Either way the API must be reachable only through the
  distribution: a client that calls it directly writes both headers itself. When the configured header
  is absent, the address is read as without it.
- Lambda@Edge: CloudFront's ``clientIp``; VPC Lattice: ``X-Forwarded-For``, as the ALB.

The chosen text is read strictly (``inet_pton``): a port (``203.0.113.5:4711``), brackets
(``[2001:db8::1]:443``), a zone id (``fe80::1%eth0``) and quotes are taken off; an IPv4-mapped IPv6
address (``::ffff:203.0.113.5``) is the IPv4 address it maps. Anything else is no address at all
(``0x7f.1``, ``127.1``, ``unknown``): it is in no list, so an allow list refuses it and a deny list
lets it pass; under a correct ``trusted_proxies`` the chosen entry is written by a proxy, never by the
client. One lookup costs ~1 µs here (Python 3.11, a shared 2-core machine).
"""
from __future__ import annotations

import socket

from ..sources import kinds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..sources import Request

V4, V6 = 4, 6
_MAPPED = 0xFFFF  # ::ffff:0:0/96, the IPv4-mapped block, shifted right by 32
_MAX_TEXT = 128  # the longest address with a port, brackets and a zone id is well under this
_inet_pton = socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_from_bytes = int.from_bytes


class Client:
    """What the filter judges: ``text`` as found, ``family`` (4, 6, or 0: no address) and ``number``."""

    __slots__ = ("family", "number", "origin", "text")

    def __init__(self, text: str | None, family: int, number: int, origin: str) -> None:
        self.text = text
        self.family = family
        self.number = number
        self.origin = origin

    def __str__(self) -> str:
        if self.family == V4:
            return socket.inet_ntop(_AF_INET, self.number.to_bytes(4, "big"))
        if self.family == V6:
            return socket.inet_ntop(_AF_INET6, self.number.to_bytes(16, "big"))
        return "no address" if self.text is None else f"{self.text!r} (not an address)"


def parse(text: str, *, port_last: bool = False) -> tuple[int, int]:
    """(family, number) of an address as a client's header or a platform field writes it; (0, 0) if none.

    ``port_last``: the text always ends in ``:port``, bare IPv6 included (CloudFront-Viewer-Address).
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return 0, 0
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text, closed, rest = text[1:].partition("]")
        if not closed or (rest and (rest[0] != ":" or not _is_port(rest[1:]))):
            return 0, 0
    elif port_last or text.count(":") == 1:  # v4:port; an IPv6 address has at least two colons
        text, _, port = text.rpartition(":")
        if not _is_port(port):
            return 0, 0
    text, percent, zone = text.partition("%")  # a zone id names an interface of the sender, not an address
    if percent and not zone:
        return 0, 0
    try:
        if ":" in text:
            number = _from_bytes(_inet_pton(_AF_INET6, text), "big")
            if number >> 32 == _MAPPED:
                return V4, number & 0xFFFFFFFF
            return V6, number
        return V4, _from_bytes(_inet_pton(_AF_INET, text), "big")
    except (OSError, ValueError):  # not an address; a NUL byte is a ValueError
        return 0, 0


def _is_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()


def client_of(request: Request, options: Mapping[str, Any]) -> Client | None:
    """The client of an HTTP request (None for any other event: it has no client address to judge)."""
    if not request.is_http:
        return None
    header = options.get("client_header")
    if header:
        value = request.header(header)
        if value is not None:
            family, number = parse(value, port_last=header == "cloudfront-viewer-address")
            return Client(value, family, number, f"header {header}")
    trusted = options.get("trusted_proxies", 0)
    text = _peer(request) if not trusted else None
    if text is None:
        text = request.source_ip_behind(trusted)
    if text is None:
        return Client(None, 0, 0, "the event")
    family, number = parse(text)
    return Client(text, family, number, _origin(request.kind, trusted))


_PEER_PATHS = {kinds.APIGW_V1: "identity", kinds.WEBSOCKET: "identity", kinds.APIGW_V2: "http",
               kinds.FUNCTION_URL: "http"}


def _peer(request: Request) -> str | None:
    """API Gateway's or a Function URL's ``sourceIp`` read straight from the event: what
    ``source_ip_behind(0)`` answers for them, without merging every header first (~5 µs here)."""
    part = _PEER_PATHS.get(request.kind)
    if part is None:
        return None
    event = request.event
    context = event.get("requestContext") if isinstance(event, dict) else None
    holder = context.get(part) if isinstance(context, dict) else None
    peer = holder.get("sourceIp") if isinstance(holder, dict) else None
    return peer if isinstance(peer, str) and peer else None


def _origin(kind: str, trusted: int) -> str:
    """Where the address was read, for the record."""
    if kind in (kinds.ALB, kinds.LATTICE_V1, kinds.LATTICE_V2) or trusted:
        return f"x-forwarded-for, {trusted} trusted hop{'s' if trusted != 1 else ''} from the right"
    if kind == kinds.EDGE:
        return "clientIp"
    return "sourceIp"
