"""A loopback HTTP server that logs what reaches it, and a test resolver that never leaves the machine."""
from __future__ import annotations

import _socket
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TIMEOUT = 3


class LocalServer:
    """An HTTP server on 127.0.0.1 that logs every connection it accepts and every request it reads.

    ``redirect_to`` (a Location, or a function of the path that returns one or None) makes it
    answer 302; ``body`` is what it answers otherwise; ``keep_alive`` speaks HTTP/1.1, so that
    clients pool the connection.
    """

    def __init__(self, body: bytes = b"internal-secret",
                 redirect_to: str | Callable[[str], str | None] | None = None, keep_alive: bool = False) -> None:
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        self.body = body
        self.redirect_to = redirect_to
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                owner.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": self.rfile.read(length)})
                location = owner.redirect_to(self.path) if callable(owner.redirect_to) else owner.redirect_to
                if location:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if owner.body[:1] == b"{" else "text/plain")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that hang up early (a blocked send, a short read) are part of the tests

            def verify_request(self, request: Any, client_address: Any) -> bool:
                owner.connections += 1
                return True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.requests


_LOOPBACK_ONLY = {"on": False}


def _refuse_leaving_the_machine(event: str, args: tuple) -> None:
    if event != "socket.connect" or not _LOOPBACK_ONLY["on"]:
        return
    address = args[1]
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0].partition("%")[0]
        if not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1", "localhost")):
            raise ConnectionRefusedError(f"a network test tried to reach {address!r}")


_audit_hook_installed = False


def install_resolver(monkeypatch: pytest.MonkeyPatch, names: dict[str, str | Callable[[], str]]) -> list[str]:
    """Resolve ``names`` to the given addresses underneath our hook; refuse every other name.

    IP literals and ``localhost`` go to the real resolver (neither leaves the machine); any
    other name fails, so no test can send a DNS query; and for the test's duration every
    connect to anything but loopback is refused (an audit hook, inert outside these tests),
    so a regression can never reach the metadata addresses the tests name. Returns the log
    of names looked up.
    """
    global _audit_hook_installed
    if not _audit_hook_installed:
        sys.addaudithook(_refuse_leaving_the_machine)
        _audit_hook_installed = True
    monkeypatch.setitem(_LOOPBACK_ONLY, "on", True)
    original = _socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        looked_up.append(name)
        key = name.lower().rstrip(".") if isinstance(name, str) else name
        if key in names:
            target = names[key]
            address = target() if callable(target) else target
            return original(address, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        if key == "localhost":
            return original("localhost", port, family, type, proto, flags)
        if key is None:
            return original(host, port, family, type, proto, flags)
        return original(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(_socket, "getaddrinfo", getaddrinfo)
    return looked_up
