"""Network sinks: name resolution, socket connects, and HTTP requests.

Every Python HTTP client we know ends in these: urllib.request and http.client
(``socket.create_connection``), urllib3, requests and botocore (urllib3's own
``create_connection``), httpx (httpcore's ``socket.create_connection``). All of
them resolve through ``socket.getaddrinfo`` and connect through
``socket.socket.connect``, so hooking those two covers them without patching
each client; ``socket.create_connection`` needs no hook of its own, since it
resolves and connects through the two.

- ``socket.getaddrinfo``: an IP literal (any notation) is judged before it is
  resolved, so a blocked literal never reaches the resolver; a name is
  resolved first and judged on the addresses it actually resolved to (DNS
  rebinding, names that point inside). The pairs it returns are remembered for
  the invocation, so the connect that follows is not judged a second time.
- ``socket.socket.connect`` / ``connect_ex``: judge the literal address of a
  connect that did not come from a judged resolution (raw sockets, asyncio,
  whose resolver thread runs outside the invocation). A host *name* given to
  connect is resolved inside C; we resolve it ourselves only when an input
  names it, so plain connects by name cost no extra lookup.
- ``http.client.HTTPConnection`` and urllib3's: ``request`` is checked whole
  (request line, headers, body) for the function's own credentials before its
  first byte is sent; ``send`` checks what goes out otherwise (hand-built
  requests, streamed bodies); ``putrequest`` notes the request line for the
  records; ``getresponse`` carries the input behind an input-chosen URL over
  to the host its 3xx ``Location`` names, so that redirect hops are judged as
  they connect.

Redirect semantics: a Location received from a server that an input chose is
as attacker-controlled as the input itself. The next hop to that host is judged
as if the input had named it: allowed when it is public, an SSRF (rule
``ssrf.redirect``) when it is internal, even when the first hop was allowed by
``allow_hosts``. Clients that follow redirects without http.client (httpx
with ``follow_redirects=True``) still have every hop judged, but a hop to an
internal address is then only an SSRF when an input names it.

Cost: outside an invocation a hook is one ContextVar read. Inside, a public
destination is dismissed by its (memoised) address class before any input is
looked at, and a destination judged benign once is not judged again in the
same invocation. The verdict ``guard.inspect`` returns feeds that memo; the
credential check asks it with ``uses_inputs=False``, so that it never makes an
invocation flatten its event.
"""
from __future__ import annotations

import sys
from functools import cache

from ..context import current
from ..findings import AttackKind
from ..guard import active, failsafe, inspect
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

    from ..context import RequestContext
    from ..sources import Input
    from .patching import Wrapper

KIND = AttackKind.SSRF
EXFILTRATION = AttackKind.CREDENTIAL_EXFILTRATION
_SDK_CREDENTIAL_MODULES = frozenset({"botocore.utils", "botocore.credentials"})
_MAX_REMEMBERED = 256

@cache
def _modules() -> tuple[Any, Any]:
    """The ssrf and credential_exfiltration detectors, imported on the first judged call."""
    from ..detectors import credential_exfiltration, ssrf

    return ssrf, credential_exfiltration


class NetworkState:
    """Per-invocation memory of the network sinks."""

    __slots__ = ("benign", "benign_literals", "carried", "checked", "requests", "resolved")

    def __init__(self) -> None:
        self.resolved: set[tuple[str, int]] = set()   # (address, port) pairs a judged getaddrinfo returned
        self.benign: set[tuple] = set()               # destinations already judged harmless
        self.benign_literals: set[tuple] = set()      # (host, port) of harmless IP literals, as passed
        self.carried: dict[str, Input] = {}           # host key -> input behind the redirect that named it
        self.requests: dict[str, tuple] = {}          # host -> (connection, method, url) of its last request
        self.checked: set[int] = set()                # connections inside a request() judged whole


def _state(context: RequestContext) -> NetworkState:
    state = context.network
    if state is None:
        state = context.network = NetworkState()
    return state


def _sdk_credential_fetch() -> bool:
    """True when botocore's container/instance credential providers are on the stack."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(96):
        if frame is None:
            return False
        if frame.f_globals.get("__name__") in _SDK_CREDENTIAL_MODULES:
            return True
        frame = frame.f_back
    return False


def _host_text(host: Any) -> str | None:
    if isinstance(host, str):
        return host
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", "replace")
    return None


def _request_line(state: NetworkState, host: str) -> str:
    noted = state.requests.get(host)
    if noted is None:
        return ""
    connection, method, url = noted
    if not (isinstance(url, str) and "://" in url):
        url = f"{_origin(connection, *_connection_host(connection))}{url}"
    return f"{method} {url}"


def _argument(state: NetworkState, destination: Any) -> str:
    where = destination.host if destination.port is None else f"{destination.host}:{destination.port}"
    text = f"{where} -> {', '.join(destination.addresses)}" if destination.addresses else where
    request = _request_line(state, destination.host)
    return f"{text} [{request}]" if request else text


def _judge(context: RequestContext, sink: str, host: str, port: Any, addresses: tuple[str, ...]) -> bool:
    """Judge a connection to ``host`` (resolved to ``addresses``); record, and raise in block mode.

    True when the destination is harmless and may be remembered as such for the invocation.
    """
    ssrf, _ = _modules()
    state = _state(context)
    port_number = ssrf.port_number(port)
    key = ssrf.host_key(host)
    carried = state.carried.get(key) if state.carried else None
    memo = (key, port_number, addresses)
    if carried is None and memo in state.benign:
        return True
    destination = ssrf.Destination(host, port_number, addresses, carried, _sdk_credential_fetch)
    if ssrf.worth_judging(destination) and inspect(
            KIND, sink, destination, describe=lambda: _argument(state, destination), context=context):
        return False  # reported (a block has raised)
    remember = carried is None and not ssrf.is_special(destination)
    if remember and len(state.benign) < _MAX_REMEMBERED:
        state.benign.add(memo)
    return remember


# ---------------------------------------------------------------- socket

_NAME, _LITERAL, _HARMLESS_LITERAL, _SKIP = range(4)


@failsafe(KIND, fallback=_SKIP)
def _before_resolution(context: RequestContext, sink: str, host: Any, port: Any) -> int:
    """Judge an IP literal before it is resolved, so a blocked one never reaches the resolver."""
    if not active(context, KIND):
        return _SKIP
    text = _host_text(host)
    literal = _modules()[0].parse_literal(text) if text else None
    if text is None or literal is None:
        return _NAME
    harmless = _judge(context, sink, text, port, (str(literal),))
    return _HARMLESS_LITERAL if harmless else _LITERAL


@failsafe(KIND)
def _after_resolution(context: RequestContext, sink: str, host: Any, port: Any, result: Any, before: int) -> None:
    """Remember what a resolution returned (the connects that follow); judge what a name resolved to."""
    state = _state(context)
    addresses: list[str] = []
    for entry in result:
        sockaddr = entry[4]
        if isinstance(sockaddr, tuple) and len(sockaddr) >= 2 and isinstance(sockaddr[0], str):
            if len(state.resolved) < _MAX_REMEMBERED:
                state.resolved.add((sockaddr[0], sockaddr[1]))
            if sockaddr[0] not in addresses:
                addresses.append(sockaddr[0])
    if before == _HARMLESS_LITERAL and len(state.benign_literals) < _MAX_REMEMBERED:
        state.benign_literals.add((host, port))  # the same call again needs no look at all
    text = _host_text(host)
    if before == _NAME and addresses and text:
        _judge(context, sink, text, port, tuple(addresses))


@failsafe(KIND)
def _check_connect(context: RequestContext, sink: str, address: Any) -> None:
    if not isinstance(address, tuple) or len(address) < 2:
        return  # AF_UNIX paths and other families
    host, port = _host_text(address[0]), address[1]
    if not host:
        return
    state = context.network
    if state is not None and (host, port) in state.resolved:
        return  # the continuation of a resolution we already judged
    if not active(context, KIND):
        return
    ssrf, _ = _modules()
    literal = ssrf.parse_literal(host)
    if literal is not None:
        _judge(context, sink, host, port, (str(literal),))
        return
    state = _state(context)
    carried = bool(state.carried) and ssrf.host_key(host) in state.carried
    if not carried and ssrf.source_of(host, ssrf.port_number(port), context.inputs) is None:
        return
    import _socket

    resolved = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    _judge(context, sink, host, port, tuple(dict.fromkeys(str(entry[4][0]) for entry in resolved)))


class Socket(Instrumentor):
    module = "socket"

    def patch(self, module: Any) -> None:
        original_getaddrinfo = module.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            context = current()
            if context is None or host is None:
                return original_getaddrinfo(host, port, *args, **kwargs)
            state = context.network
            if state is not None and state.benign_literals and (host, port) in state.benign_literals:
                return original_getaddrinfo(host, port, *args, **kwargs)
            before = _before_resolution(context, "socket.getaddrinfo", host, port)
            result = original_getaddrinfo(host, port, *args, **kwargs)
            _after_resolution(context, "socket.getaddrinfo", host, port, result, before)
            return result

        getaddrinfo.__doc__ = original_getaddrinfo.__doc__
        getaddrinfo.__wrapped__ = original_getaddrinfo  # type: ignore[attr-defined]
        self.replace(module, "getaddrinfo", getaddrinfo)

        original_connect = module.socket.connect
        original_connect_ex = module.socket.connect_ex

        def connect(self, address):
            context = current()
            if context is not None:
                _check_connect(context, "socket.socket.connect", address)
            return original_connect(self, address)

        def connect_ex(self, address):
            context = current()
            if context is not None:
                _check_connect(context, "socket.socket.connect_ex", address)
            return original_connect_ex(self, address)

        connect.__doc__, connect_ex.__doc__ = original_connect.__doc__, original_connect_ex.__doc__
        self.replace(module.socket, "connect", connect)
        self.replace(module.socket, "connect_ex", connect_ex)


# ---------------------------------------------------------------- HTTP connections

def _connection_host(connection: Any) -> tuple[str, Any]:
    return str(getattr(connection, "host", "") or ""), getattr(connection, "port", None)


def _origin(connection: Any, host: str, port: Any) -> str:
    client = sys.modules.get("http.client")
    secure = client is not None and isinstance(connection, client.HTTPSConnection)
    scheme = "https" if secure else "http"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}" if port else f"{scheme}://{shown}"


@failsafe(KIND)
def _note_request(context: RequestContext, sink: str, connection: Any, method: Any, url: Any) -> None:
    """Remember the request line for the records; it is formatted only if one is written."""
    state = _state(context)
    if len(state.requests) < _MAX_REMEMBERED:
        state.requests[getattr(connection, "host", "")] = (connection, method, url)


@failsafe(KIND)
def _carry_redirect(context: RequestContext, sink: str, connection: Any, response: Any) -> None:
    """A 3xx from a server an input chose: the host its Location names is input-chosen too."""
    location = response.getheader("Location")
    if not location:
        return
    ssrf, _ = _modules()
    host, port = _connection_host(connection)
    state = _state(context)
    origin = state.carried.get(ssrf.host_key(host)) if state.carried else None
    if origin is None:
        origin = ssrf.source_of(host, ssrf.port_number(port), context.inputs)
    if origin is None or len(state.carried) >= _MAX_REMEMBERED:
        return
    from urllib.parse import urljoin, urlsplit

    target = urlsplit(urljoin(f"{_origin(connection, host, port)}/", location.strip())).hostname
    if target:
        transform = f"{origin.transform}+redirect" if origin.transform else "redirect"
        state.carried[ssrf.host_key(target)] = type(origin)(origin.location, origin.value, transform)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return bytes(value).decode("latin-1") if isinstance(value, (bytes, bytearray, memoryview)) else str(value)


def _header_lines(headers: Any) -> str:
    items = headers.items() if hasattr(headers, "items") else headers or ()
    return "\r\n".join([f"{_text(name)}: {_text(value)}" for name, value in items])


def _needs_outbound_check(context: RequestContext, host: str) -> bool:
    """Requests to AWS endpoints carry SigV4 by design; without credentials there is nothing to find."""
    if not active(context, EXFILTRATION):
        return False
    _, credentials = _modules()
    return not credentials.is_aws_endpoint(host) and bool(credentials.own_secrets())


def _judge_outbound(context: RequestContext, connection: Any, sink: str, parts: tuple, size: int) -> None:
    _, credentials = _modules()
    host, port = _connection_host(connection)
    inspect(EXFILTRATION, sink, credentials.Payload(parts, True, host), argument=f"{size} bytes to {host}:{port}",
            uses_inputs=False, context=context)


@failsafe(EXFILTRATION, fallback=False)
def _check_request(context: RequestContext, sink: str, connection: Any, args: tuple, kwargs: dict) -> bool:
    """Judge a whole request before its first byte is sent; True when the body was judged too."""
    body = args[2] if len(args) > 2 else kwargs.get("body")
    whole = body is None or isinstance(body, (bytes, bytearray, memoryview, str))
    if not _needs_outbound_check(context, _connection_host(connection)[0]):
        return whole
    method = args[0] if args else kwargs.get("method")
    url = args[1] if len(args) > 1 else kwargs.get("url")
    headers = args[3] if len(args) > 3 else kwargs.get("headers")
    parts: list[tuple[str, Any]] = [("request line", f"{method} {url}"), ("headers", _header_lines(headers))]
    if whole and body is not None:
        parts.append(("body", body if isinstance(body, str) else bytes(body)))
    _judge_outbound(context, connection, sink, tuple(parts), sum(len(part) for _, part in parts))
    return whole


def _checked_request(sink: str) -> Wrapper:
    def request(wrapped, instance, args, kwargs):
        context = current()
        if context is None or not _check_request(context, sink, instance, args, kwargs):
            return wrapped(*args, **kwargs)
        checked = _state(context).checked
        checked.add(id(instance))
        try:
            return wrapped(*args, **kwargs)
        finally:
            checked.discard(id(instance))
    return request


@failsafe(EXFILTRATION)
def _check_sent(context: RequestContext, sink: str, connection: Any, data: Any) -> None:
    """What ``send`` puts on the wire outside a request() judged whole (hand-built requests, streams)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return  # file objects are read inside send, in pieces we do not see
    state = context.network
    if state is not None and id(connection) in state.checked:
        return
    host = _connection_host(connection)[0]
    if _needs_outbound_check(context, host):
        _judge_outbound(context, connection, sink, ((f"request to {host}", bytes(data)),), len(data))


class HTTPClient(Instrumentor):
    module = "http.client"

    def patch(self, module: Any) -> None:
        cls = module.HTTPConnection

        def putrequest(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and len(args) >= 2:
                _note_request(context, "http.client.HTTPConnection.putrequest", instance, args[0], args[1])
            return wrapped(*args, **kwargs)

        def send(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and args:
                _check_sent(context, "http.client.HTTPConnection.send", instance, args[0])
            return wrapped(*args, **kwargs)

        def getresponse(wrapped, instance, args, kwargs):
            response = wrapped(*args, **kwargs)
            if 300 <= (getattr(response, "status", 0) or 0) < 400:
                context = current()
                if context is not None:
                    _carry_redirect(context, "http.client.HTTPConnection.getresponse", instance, response)
            return response

        self.wrap(cls, "putrequest", putrequest)
        self.wrap(cls, "request", _checked_request("http.client.HTTPConnection.request"))
        self.wrap(cls, "send", send)
        self.wrap(cls, "getresponse", getresponse)


class URLLib3(Instrumentor):
    """urllib3 (requests, botocore) has its own ``request``, which sends the headers before the body."""

    module = "urllib3.connection"
    version_module = "urllib3"
    tested_majors = (1, 2)

    def patch(self, module: Any) -> None:
        self.wrap(module.HTTPConnection, "request", _checked_request("urllib3.connection.HTTPConnection.request"))


INSTRUMENTORS = [Socket, HTTPClient, URLLib3]
