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
- ``socket.gethostbyname`` / ``gethostbyname_ex``: the same, without ports (the C
  resolvers do not go through ``getaddrinfo``; code that resolves with them and
  then connects to the address it got would otherwise connect to a literal no
  input names).
- ``socket.socket.connect`` / ``connect_ex``: judge the literal address of a
  connect that did not come from a judged resolution (raw sockets, a resolution
  made before the invocation). A host *name* given to connect is resolved
  inside C; we resolve it ourselves only when an input names it, so plain
  connects by name cost no extra lookup.
- ``http.client.HTTPConnection`` and urllib3's: ``request`` is checked whole
  (request line, headers, body) for the function's own credentials before its
  first byte is sent; ``send`` checks what goes out otherwise (hand-built
  requests, streamed bodies), each piece with the last 4 KB the connection sent
  before it and without chunked framing, so a credential split across pieces
  is found as its last piece is about to leave; ``putrequest`` notes the request line for the
  records; ``getresponse`` carries the input behind an input-chosen URL over
  to the host its 3xx ``Location`` names, so that redirect hops are judged as
  they connect.

Per request, not per socket: a keep-alive connection a client pools (a
module-level ``requests.Session``, ``httpx.Client``, ``urllib3.PoolManager``)
from before protection or from an earlier invocation reaches no socket hook
when it is reused, and a request sent through an HTTP proxy connects to the
proxy, not to its target. So the request layer judges the target the code
asked for wherever the socket hooks cannot:

- http.client's ``putrequest`` (urllib3's goes through it): an absolute-form
  URL (what a client sends to a proxy) by its host; a connection connected
  before this invocation by the address it is connected to (or by its tunnel
  target). A connection
  connected in this invocation was judged by the socket hooks: its descriptor
  is noted at connect, and the request costs one set lookup.
- ``connect`` (http.client, urllib3): the target of a proxy tunnel (CONNECT),
  before the proxy is asked for it.
- httpx's transports (``handle_request``, ``handle_async_request``): the URL's
  host, since httpcore pools and proxies without http.client.

A host *name* there is resolved by us only when an input (or a redirect it led)
chose it, as it came or as code commonly makes it (HTML-unescaped, split on
``,;|``: the detector's transformed view); that no input chose a name is
remembered for the invocation. A request reported at this layer is not reported
again by the socket hooks it goes on to. Measured (``python -m bench.per_request``,
2 shared cores): a request on a warm connection already judged in the invocation
adds 0.36 µs, its first request of an invocation to 127.0.0.1 (internal, so the
inputs are asked) 13-16 µs; httpx adds 0.9 µs per request to a name judged
before, 11 µs the first time (7 µs before the transformed view was asked too);
against requests of 110-460 µs on loopback.

``urllib.request.FileHandler.file_open``: ``urlopen`` of a ``file:`` URL reads a
file without touching a socket; it is judged as an SSRF when an input chose the
scheme (``detectors.ssrf.LocalURL``).

aiohttp speaks HTTP over asyncio transports, without http.client: its requests are judged at
``BaseConnector.connect`` (each request's URL host, pooled or not), at ``TCPConnector._resolve_host``
(what its resolver, aiodns or its DNS cache, answered) and at ``ClientResponse.start`` (the 3xx it
follows). What any client puts on a socket below the HTTP layer is searched for the function's
credentials by ``sinks.sends``.

Redirect semantics: a Location received from a server that an input chose is
as attacker-controlled as the input itself. The next hop to that host is judged
as if the input had named it: allowed when it is public, an SSRF (rule
``ssrf.redirect``) when it is internal, even when the first hop was allowed by
``allow_hosts``. httpx follows redirects above its transport, without
http.client: its transport's responses carry the input the same way.

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
from .sends import INSTRUMENTORS as _SENDS
from .sends import layer as _layer

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

    __slots__ = ("benign", "benign_literals", "carried", "checked", "connected", "in_flight", "layered",
                 "requests", "resolved", "sent_tails", "tails", "unchosen")

    def __init__(self) -> None:
        self.resolved: set[tuple[str, int]] = set()   # (address, port) pairs a judged getaddrinfo returned
        self.benign: set[tuple] = set()               # destinations already judged harmless
        self.benign_literals: set[tuple] = set()      # (host, port) of harmless IP literals, as passed
        self.carried: dict[str, Input] = {}           # host key -> input behind the redirect that named it
        self.requests: dict[str, tuple] = {}          # host -> (connection, method, url) of its last request
        self.checked: set[int] = set()                # connections inside a request() judged whole
        self.connected: set[int] = set()              # descriptors of the sockets connected in this invocation
        self.unchosen: set[tuple] = set()             # (host key, port) of names no input chose
        self.in_flight: set[tuple] = set()            # (host key, port) a request in progress was reported for
        self.tails: dict[int, bytes] = {}             # connection -> the end of what it streamed so far
        self.sent_tails: dict[int, tuple] = {}        # socket -> (weak reference to it, the end of what it sent)
        self.layered: set[int] = set()                # threads inside a send judged above the socket


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


def _chosen_by(context: RequestContext, host: str, port: int | None) -> Input | None:
    """The input that chose ``host``, as it came or as code commonly makes it (unescaped, split).

    The detector asks both when it judges; a layer that decides by this whether a name is worth
    resolving at all (a request through a proxy, a connect by name) must ask both too, or a name
    an input spells only once transformed is never resolved, so never judged.
    """
    from ..sources.fragments import transformed_inputs

    ssrf, _ = _modules()
    inputs = context.inputs
    return ssrf.source_of(host, port, inputs) or ssrf.source_of(
        host, port, transformed_inputs(inputs, ssrf.host_key(host)))


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


def _judge(context: RequestContext, sink: str, host: str, port: Any, addresses: tuple[str, ...]) -> bool | None:
    """Judge a connection to ``host`` (resolved to ``addresses``); record, and raise in block mode.

    True when the destination is harmless and may be remembered as such for the invocation,
    None when it was reported (a block has raised).
    """
    ssrf, _ = _modules()
    state = _state(context)
    port_number = ssrf.port_number(port)
    key = ssrf.host_key(host)
    if state.in_flight and (key, port_number) in state.in_flight:
        return None  # the request being sent was reported for this destination already
    carried = state.carried.get(key) if state.carried else None
    memo = (key, port_number, addresses)
    if carried is None and memo in state.benign:
        return True
    destination = ssrf.Destination(host, port_number, addresses, carried, _sdk_credential_fetch, context.request.kind)
    if ssrf.worth_judging(destination) and inspect(
            KIND, sink, destination, describe=lambda: _argument(state, destination), context=context):
        return None
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
    if not carried and _chosen_by(context, host, ssrf.port_number(port)) is None:
        return
    import _socket

    resolved = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    _judge(context, sink, host, port, tuple(dict.fromkeys(str(entry[4][0]) for entry in resolved)))


def _resolver_by_name(module: Any, name: str) -> Any:
    """``gethostbyname``/``gethostbyname_ex``: C resolvers that bypass ``getaddrinfo``, judged like it.

    Code that resolves a name this way and connects to the address it got connects to an IP
    literal no input names; the name is judged here, on the addresses it resolved to, so the
    resolution an input chose is the one that is refused.
    """
    original = getattr(module, name)
    sink = f"socket.{name}"

    def resolve(host):
        context = current()
        if context is None:
            return original(host)
        before = _before_resolution(context, sink, host, None)
        result = original(host)
        _after_name_resolution(context, sink, host, result, before)
        return result

    resolve.__doc__, resolve.__name__ = original.__doc__, name
    resolve.__wrapped__ = original  # type: ignore[attr-defined]
    return resolve


@failsafe(KIND)
def _after_name_resolution(context: RequestContext, sink: str, host: Any, result: Any, before: int) -> None:
    text = _host_text(host)
    if before != _NAME or not text:
        return
    addresses = [result] if isinstance(result, str) else list(result[2]) if isinstance(result, tuple) else []
    if addresses:
        _judge(context, sink, text, None, tuple(dict.fromkeys(str(address) for address in addresses)))


def _note_connected(context: RequestContext, sock: Any) -> None:
    """The socket hooks saw where this socket goes: a request on it needs no judgement of its own.

    Kept by descriptor, which an SSL socket wrapped around it shares. A descriptor noted here
    cannot belong to a socket connected before the invocation: that one holds its descriptor.
    """
    connected = _state(context).connected
    if len(connected) < _MAX_REMEMBERED:
        connected.add(sock.fileno())


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
        for name in ("gethostbyname", "gethostbyname_ex"):
            self.replace(module, name, _resolver_by_name(module, name))

        original_connect = module.socket.connect
        original_connect_ex = module.socket.connect_ex

        def connect(self, address):
            context = current()
            if context is not None:
                _check_connect(context, "socket.socket.connect", address)
                _note_connected(context, self)
            return original_connect(self, address)

        def connect_ex(self, address):
            context = current()
            if context is not None:
                _check_connect(context, "socket.socket.connect_ex", address)
                _note_connected(context, self)
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


def _requested_origin(state: NetworkState, connection: Any) -> tuple[str, Any, str]:
    """(host, port, origin URL) the request on ``connection`` asked for: through a proxy, the target
    its absolute-form URL or its tunnel names, not the proxy's."""
    host, port = _connection_host(connection)
    noted = state.requests.get(host)
    url = noted[2] if noted is not None and noted[0] is connection else None
    if isinstance(url, str) and "://" in url[:16] and url[:1] != "/":
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.hostname:
            return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower()), \
                f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    tunnel = getattr(connection, "_tunnel_host", None)
    if tunnel:
        tunnel_port = getattr(connection, "_tunnel_port", None)
        return tunnel, tunnel_port, _origin(connection, tunnel, tunnel_port)
    return host, port, _origin(connection, host, port)


@failsafe(KIND)
def _carry_redirect(context: RequestContext, sink: str, connection: Any, response: Any) -> None:
    """A 3xx from a server an input chose: the host its Location names is input-chosen too."""
    location = response.getheader("Location")
    if location:
        _carry(context, *_requested_origin(_state(context), connection), location)


def _carry(context: RequestContext, host: str, port: Any, base: str, location: str) -> None:
    ssrf, _ = _modules()
    state = _state(context)
    origin = state.carried.get(ssrf.host_key(host)) if state.carried else None
    if origin is None:
        origin = _chosen_by(context, host, ssrf.port_number(port))
    if origin is None or len(state.carried) >= _MAX_REMEMBERED:
        return
    from urllib.parse import urljoin, urlsplit

    target = urlsplit(urljoin(f"{base}/", location.strip())).hostname
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


def _judge_outbound(context: RequestContext, connection: Any, sink: str, parts: tuple, size: int) -> bool:
    """True when a finding was reported (in block mode it has raised)."""
    _, credentials = _modules()
    host, port = _connection_host(connection)
    tunnelled = bool(getattr(connection, "_tunnel_host", None))  # the peer is a proxy, not the destination
    payload = credentials.Payload(parts, True, host, None if tunnelled else port)
    return inspect(EXFILTRATION, sink, payload, argument=f"{size} bytes to {host}:{port}",
                   uses_inputs=False, context=context) is not None


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
            return _layer(context, wrapped, args, kwargs)  # its socket sends are judged here, whole
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
    if not _needs_outbound_check(context, host):
        return
    state = _state(context)
    payload = _unchunked(bytes(data))
    tail = state.tails.get(id(connection), b"")
    sent = tail + payload
    if _judge_outbound(context, connection, sink, ((f"request to {host}", sent),), len(data)):
        state.tails.pop(id(connection), None)  # reported: the next piece starts afresh
    elif len(state.tails) < _MAX_REMEMBERED or id(connection) in state.tails:
        state.tails[id(connection)] = sent[-_TAIL:]


_TAIL = 4096  # bytes of a streamed body kept to find a credential split across two sends


def _unchunked(data: bytes) -> bytes:
    """The payload of one chunk of a chunked body (``<size>\r\n<payload>\r\n``), else ``data``:
    a credential split across chunks must meet itself without the framing between."""
    head = data.find(b"\r\n", 0, 18)
    if head <= 0 or not data.endswith(b"\r\n"):
        return data
    size = data[:head].split(b";")[0].strip()
    try:
        length = int(size, 16)
    except ValueError:
        return data
    return data[head + 2:-2] if length == len(data) - head - 4 else data


# ---------------------------------------------------------------- per request

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _resolved_if_chosen(context: RequestContext, host: str, port: Any) -> tuple[str, ...]:
    """What a host *name* resolves to, when an input (or a redirect it led) chose it; else ().

    Only a chosen name can be an SSRF, so the lookup is paid on suspicion only; that no input
    chose a name holds for the whole invocation, so it is asked once per (name, port).
    """
    ssrf, _ = _modules()
    state = _state(context)
    key, number = ssrf.host_key(host), ssrf.port_number(port)
    carried = bool(state.carried) and key in state.carried
    if not carried:
        if (key, number) in state.unchosen:
            return ()
        if _chosen_by(context, host, number) is None:
            if len(state.unchosen) < _MAX_REMEMBERED:
                state.unchosen.add((key, number))
            return ()
    import _socket

    try:
        resolved = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    except OSError:
        return ()  # a name only the proxy can resolve: the proxy's own network decides
    return tuple(dict.fromkeys(str(entry[4][0]) for entry in resolved))


@failsafe(KIND, fallback=False)
def _judge_target(context: RequestContext, sink: str, host: Any, port: Any, peer: str | None) -> bool | None:
    """Judge the host a request asks for where no socket hook sees it (a pooled connection, a proxy).

    ``peer`` is the address a connection opened earlier is connected to. As ``_judge``: True when
    harmless and remembered, None when a record was written (a block has raised), else False.
    """
    text = _host_text(host)
    if not text or not active(context, KIND):
        return False
    if peer is not None:
        addresses: tuple[str, ...] = (peer,)
    else:
        literal = _modules()[0].parse_literal(text)
        addresses = (str(literal),) if literal is not None else _resolved_if_chosen(context, text, port)
        if not addresses:
            return False
    return _judge(context, sink, text, port, addresses)


def _reported(host: Any, port: Any) -> tuple:
    """The in-flight key of a reported request: the socket hooks it goes on to do not report it again."""
    ssrf, _ = _modules()
    return ssrf.host_key(_host_text(host) or ""), ssrf.port_number(port)


def _url_target(url: str) -> tuple[str | None, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())


@failsafe(KIND, fallback=None)
def _check_connection_target(context: RequestContext, sink: str, connection: Any, url: Any) -> None:
    """The per-request judgement of an http.client/urllib3 connection, where the socket hooks miss it.

    - an absolute-form URL (``GET http://host/path``, what a client sends to an HTTP proxy): the
      socket hooks saw the proxy, the URL names the target;
    - a connection connected before this invocation (a pooled keep-alive connection, a module-level
      client): no socket hook runs; it is judged by the peer it is connected to, or by its tunnel
      target when it goes through a proxy, once per invocation when harmless.

    A connection connected in this invocation was judged as it connected (its tunnel target by
    ``connect``), so the request costs one set lookup. It runs at ``putrequest``, which ``request``
    and hand-built requests both go through, before the connection is opened or written to.
    """
    if isinstance(url, str) and "://" in url[:16] and url[:1] != "/":
        host, port = _url_target(url)
        if host:
            _judge_target(context, sink, host, port, None)
        return
    sock = getattr(connection, "sock", None)
    if sock is None:
        return  # it connects inside this request: the socket hooks judge it
    descriptor = sock.fileno()
    state = _state(context)
    tunnel = getattr(connection, "_tunnel_host", None)
    host, port = (tunnel, getattr(connection, "_tunnel_port", None)) if tunnel else (connection.host, connection.port)
    if descriptor in state.connected and not (state.carried and _modules()[0].host_key(host) in state.carried):
        return  # judged in this invocation, and no redirect has named its host since
    peer = None
    if not tunnel:
        try:
            address = sock.getpeername()
        except OSError:
            return  # no longer connected: the client reconnects, through the socket hooks
        if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
            return
        peer = address[0]
    if _judge_target(context, sink, host, port, peer) and len(state.connected) < _MAX_REMEMBERED:
        state.connected.add(descriptor)  # harmless: the next request on it costs a set lookup


def _tunnel_connect(sink: str) -> Wrapper:
    """A connection through a proxy asks it to CONNECT to its tunnel target: judged before it connects."""
    def connect(wrapped, instance, args, kwargs):
        tunnel = getattr(instance, "_tunnel_host", None)
        if tunnel:
            context = current()
            if context is not None:
                _judge_target(context, sink, tunnel, getattr(instance, "_tunnel_port", None), None)
        return wrapped(*args, **kwargs)
    return connect


class HTTPClient(Instrumentor):
    module = "http.client"

    def patch(self, module: Any) -> None:
        cls = module.HTTPConnection

        def putrequest(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and len(args) >= 2:
                _note_request(context, "http.client.HTTPConnection.putrequest", instance, args[0], args[1])
                _check_connection_target(context, "http.client.HTTPConnection.putrequest", instance, args[1])
            return wrapped(*args, **kwargs)

        def send(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and args:
                _check_sent(context, "http.client.HTTPConnection.send", instance, args[0])
                return _layer(context, wrapped, args, kwargs)
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
        self.wrap(cls, "connect", _tunnel_connect("http.client.HTTPConnection.connect"))


class URLLib3(Instrumentor):
    """urllib3 (requests, botocore) has its own ``request``, which sends the headers before the body."""

    module = "urllib3.connection"
    version_module = "urllib3"
    tested_majors = (1, 2)

    def patch(self, module: Any) -> None:
        self.wrap(module.HTTPConnection, "request", _checked_request("urllib3.connection.HTTPConnection.request"))
        for cls in (module.HTTPConnection, module.HTTPSConnection):
            if "connect" in vars(cls):
                self.wrap(cls, "connect", _tunnel_connect(f"urllib3.connection.{cls.__name__}.connect"))


# ---------------------------------------------------------------- urllib's non-network schemes

@failsafe(KIND)
def _check_local_url(context: RequestContext, sink: str, request: Any) -> None:
    url = getattr(request, "full_url", request)
    if isinstance(url, str) and active(context, KIND):
        inspect(KIND, sink, _modules()[0].LocalURL(url), argument=url, context=context)


class URLLibLocalSchemes(Instrumentor):
    """``urlopen`` of a ``file:`` URL reads a file: judged when an input chose that scheme.

    The opener looks its handlers' ``file_open`` up at each call, so an opener built before
    protection (urllib's module-level one) goes through the wrapper too.
    """

    module = "urllib.request"

    def patch(self, module: Any) -> None:
        def file_open(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and args:
                _check_local_url(context, "urllib.request.FileHandler.file_open", args[0])
            return wrapped(*args, **kwargs)

        self.wrap(module.FileHandler, "file_open", file_open)


# ---------------------------------------------------------------- httpx

def _httpx_target(request: Any) -> tuple[Any, Any]:
    url = request.url
    return url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


@failsafe(KIND)
def _carry_httpx_redirect(context: RequestContext, request: Any, response: Any) -> None:
    """httpx follows redirects itself, above its transport: a 3xx seen here carries the input
    behind the request to the host its Location names, as ``getresponse`` does for http.client."""
    if not 300 <= (getattr(response, "status_code", 0) or 0) < 400:
        return
    location = response.headers.get("location")
    host, port = _httpx_target(request)
    if location and isinstance(host, str):
        url = request.url
        _carry(context, host, port, f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}", location)


async def _carried_async(context: RequestContext, request: Any, sending: Any) -> Any:
    response = await sending
    _carry_httpx_redirect(context, request, response)
    return response


async def _sent_while_reported(state: NetworkState, reported: tuple, sending: Any) -> Any:
    state.in_flight.add(reported)
    try:
        return await sending
    finally:
        state.in_flight.discard(reported)


class HTTPX(Instrumentor):
    """httpx's transports: each request is judged by its URL's host, whichever connection carries it.

    httpcore pools connections and speaks to proxies itself (no http.client underneath), so the
    transport is the one place that sees the target of every request, pooled or proxied. A
    connection it opens is judged again by the socket hooks: a public or a harmless destination
    is remembered, so the second look is a set lookup.
    """

    module = "httpx._transports.default"
    version_module = "httpx"
    tested_majors = (0,)

    def patch(self, module: Any) -> None:
        def handle_request(wrapped, instance, args, kwargs):
            context = current()
            if context is None or not args:
                return wrapped(*args, **kwargs)
            target = _httpx_target(args[0])
            if _judge_target(context, "httpx.HTTPTransport.handle_request", *target, None) is not None:
                response = wrapped(*args, **kwargs)
                _carry_httpx_redirect(context, args[0], response)
                return response
            reported = _reported(*target)
            state = _state(context)
            state.in_flight.add(reported)
            try:
                return wrapped(*args, **kwargs)
            finally:
                state.in_flight.discard(reported)

        def handle_async_request(wrapped, instance, args, kwargs):
            context = current()
            if context is None or not args:
                return wrapped(*args, **kwargs)
            target = _httpx_target(args[0])
            if _judge_target(context, "httpx.AsyncHTTPTransport.handle_async_request", *target, None) is not None:
                return _carried_async(context, args[0], wrapped(*args, **kwargs))
            return _sent_while_reported(_state(context), _reported(*target), wrapped(*args, **kwargs))

        self.wrap(module.HTTPTransport, "handle_request", handle_request)
        self.wrap(module.AsyncHTTPTransport, "handle_async_request", handle_async_request)


# ---------------------------------------------------------------- aiohttp

def _aiohttp_addresses(state: NetworkState, port: Any, result: Any) -> tuple[str, ...]:
    """The addresses aiohttp is about to connect to, () when a judged resolution returned them all."""
    addresses = tuple(dict.fromkeys(str(entry.get("host")) for entry in result
                                    if isinstance(entry, dict) and entry.get("host")))
    if all((address, port) in state.resolved for address in addresses):
        return ()
    return addresses


@failsafe(KIND)
def _judge_aiohttp_resolution(context: RequestContext, sink: str, host: Any, port: Any, result: Any) -> None:
    """What aiohttp's connector resolved ``host`` to, whoever resolved it.

    Its resolver may not be ours to see (aiodns asks c-ares, not ``getaddrinfo``) and its DNS cache
    answers for 10 s, across invocations, without asking anyone: a name an input chose is judged on
    the addresses aiohttp will connect to. A resolution our ``getaddrinfo`` judged is not judged again.
    """
    text = _host_text(host)
    if not text or not isinstance(result, list) or not active(context, KIND):
        return
    addresses = _aiohttp_addresses(_state(context), port, result)
    if addresses:
        _judge(context, sink, text, port, addresses)


async def _resolved_by_aiohttp(context: RequestContext, host: Any, port: Any, resolving: Any) -> Any:
    result = await resolving
    _judge_aiohttp_resolution(context, "aiohttp.TCPConnector._resolve_host", host, port, result)
    return result


@failsafe(KIND)
def _carry_aiohttp_redirect(context: RequestContext, response: Any) -> None:
    """aiohttp follows redirects in ``ClientSession._request``: a 3xx it read carries the input behind
    the URL to the host its Location names, as ``getresponse`` does for http.client."""
    if not 300 <= (getattr(response, "status", 0) or 0) < 400:
        return
    location = response.headers.get("Location")
    url = response.url
    if location and isinstance(url.host, str):
        _carry(context, url.host, url.port, f"{url.scheme}://{url.raw_authority}", location)


async def _started(context: RequestContext, response: Any, starting: Any) -> Any:
    started = await starting
    _carry_aiohttp_redirect(context, response)
    return started


class AIOHTTP(Instrumentor):
    """aiohttp: each request's target, its connector's resolution (any resolver, its DNS cache), its redirects.

    Its requests reach the socket hooks too: the resolution through ``getaddrinfo`` in asyncio's
    executor threads (``sinks.threads`` carries the invocation there), the connect through
    ``socket.connect``; what they cannot see is a connection the connector pools from an earlier
    invocation (``BaseConnector.connect``, which every request goes through, judges the URL's host
    as httpx's transport does), a name resolved by aiodns or answered from the connector's cache
    (``_resolve_host``), and the Location of a response it follows (``ClientResponse.start``).
    """

    module = "aiohttp.connector"
    version_module = "aiohttp"
    tested_majors = (3,)

    def patch(self, module: Any) -> None:
        def resolve_host(wrapped, instance, args, kwargs):
            context = current()
            if context is None or len(args) < 2:
                return wrapped(*args, **kwargs)
            return _resolved_by_aiohttp(context, args[0], args[1], wrapped(*args, **kwargs))

        def start(wrapped, instance, args, kwargs):
            context = current()
            if context is None:
                return wrapped(*args, **kwargs)
            return _started(context, instance, wrapped(*args, **kwargs))

        def connect(wrapped, instance, args, kwargs):
            context = current()
            if context is None or not args:
                return wrapped(*args, **kwargs)
            url = args[0].url
            target = (url.host, url.port)
            if _judge_target(context, "aiohttp.BaseConnector.connect", *target, None) is not None:
                return wrapped(*args, **kwargs)
            return _sent_while_reported(_state(context), _reported(*target), wrapped(*args, **kwargs))

        from aiohttp import client_reqrep

        self.wrap(module.BaseConnector, "connect", connect)
        self.wrap(module.TCPConnector, "_resolve_host", resolve_host)
        self.wrap(client_reqrep.ClientResponse, "start", start)


INSTRUMENTORS = [Socket, HTTPClient, URLLib3, URLLibLocalSchemes, HTTPX, AIOHTTP, *_SENDS]
