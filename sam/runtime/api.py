"""A local Lambda Runtime API: the HTTP endpoints a runtime client polls and posts to.

    GET  /2018-06-01/runtime/invocation/next          -> the next event (blocks until there is one)
    POST /2018-06-01/runtime/invocation/{id}/response -> the handler's result
    POST /2018-06-01/runtime/invocation/{id}/error    -> the handler's error
    POST /2018-06-01/runtime/init/error               -> the init failed

One runtime process talks to one ``RuntimeAPI``; ``invoke`` queues an event and waits for
what the runtime posts back. The time of the first ``next`` call marks the end of init,
as it does for Lambda's "Init Duration".
"""
from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"


@dataclass
class Result:
    """What the runtime posted for one invocation."""

    request_id: str
    ok: bool
    payload: Any
    error_type: str | None = None
    duration_ms: float = 0.0

    @property
    def status_code(self) -> int | None:
        return self.payload.get("statusCode") if self.ok and isinstance(self.payload, dict) else None

    @property
    def body(self) -> Any:
        """The JSON body of an HTTP response, parsed when it is JSON."""
        if not (self.ok and isinstance(self.payload, dict)):
            return None
        body = self.payload.get("body")
        try:
            return json.loads(body) if isinstance(body, str) else body
        except ValueError:
            return body


@dataclass
class _Pending:
    request_id: str
    body: bytes
    done: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    result: Result | None = None


class RuntimeAPIError(RuntimeError):
    pass


class RuntimeAPI:
    """The server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, function_name: str = "app-protect-demo", timeout_s: float = 30.0) -> None:
        self.function_name = function_name
        self.timeout_s = timeout_s
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._stopping = threading.Event()
        self._in_flight: set[str] = set()
        self.stray_requests: list[str] = []  # `next` calls made while an invocation was in progress
        self.ready = threading.Event()  # the first `next`: init is over
        self.first_next_at: float | None = None
        self.init_error: dict[str, Any] | None = None
        self.init_error_type: str | None = None
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> RuntimeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def submit(self, event: Any) -> str:
        """Queue an event for the runtime; returns its request id."""
        request_id = str(uuid.uuid4())
        pending = _Pending(request_id, json.dumps(event).encode())
        self._pending[request_id] = pending
        self._queue.put(pending)
        return request_id

    def result(self, request_id: str, timeout: float = 30.0) -> Result | None:
        """The result of a submitted event; None when the runtime posted nothing in time."""
        pending = self._pending[request_id]
        if not pending.done.wait(timeout):
            return None
        del self._pending[request_id]
        return pending.result

    # ---------------------------------------------------------------- HTTP

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _read(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND, b'{"errorMessage": "not found"}')
                    return
                if api._in_flight:
                    api.stray_requests.append(f"GET {self.path}")
                    # Only the runtime client may ask for work, and only once it has answered: a `next` while an
                    # invocation is in progress comes from somewhere else (the function's own code, say).
                    self._reply(HTTPStatus.FORBIDDEN, json.dumps({
                        "errorType": "Runtime.InvalidStateTransition",
                        "errorMessage": f"local Runtime API: invocation {sorted(api._in_flight)[0]} is in progress",
                    }).encode())
                    return
                api._mark_ready()
                while not api._stopping.is_set():
                    try:
                        pending = api._queue.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    pending.started = time.perf_counter()
                    api._in_flight.add(pending.request_id)
                    deadline = int((time.time() + api.timeout_s) * 1000)
                    self._reply(HTTPStatus.OK, pending.body, {
                        "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(name=api.function_name),
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};"
                                                   "Sampled=0",
                    })
                    return
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, b'{"errorMessage": "shutting down"}')

            def do_POST(self) -> None:
                body = self._read()
                if self.path == f"{PREFIX}/init/error":
                    api.init_error = _json(body)
                    api.init_error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                    api._mark_ready()
                    self._reply(HTTPStatus.ACCEPTED, b'{"status": "OK"}')
                    return
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    pending = api._pending.get(parts[1])
                    if pending is None:
                        self._reply(HTTPStatus.BAD_REQUEST, b'{"errorMessage": "unknown request id"}')
                        return
                    ok = parts[2] == "response"
                    payload = _json(body)
                    error_type = None if ok else (self.headers.get("Lambda-Runtime-Function-Error-Type")
                                                  or (payload or {}).get("errorType"))
                    api._in_flight.discard(pending.request_id)
                    pending.result = Result(parts[1], ok, payload, error_type,
                                            (time.perf_counter() - pending.started) * 1000)
                    pending.done.set()
                    self._reply(HTTPStatus.ACCEPTED, b'{"status": "OK"}')
                    return
                self._reply(HTTPStatus.NOT_FOUND, b'{"errorMessage": "not found"}')

        return Handler

    def _mark_ready(self) -> None:
        if self.first_next_at is None:
            self.first_next_at = time.perf_counter()
        self.ready.set()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime process that was stopped mid-request leaves a broken connection behind: not news.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")
