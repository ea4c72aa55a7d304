"""What judging each outbound request adds (issue 10, item 8): `python -m bench.per_request`.

Requests on pooled keep-alive connections to a server on 127.0.0.1 (a child process, so its
work is not on our CPU clock), inside one invocation with the benign API Gateway event of the
per-call rows: the clients uninstrumented against instrumented, interleaved. Then the hook
alone, without the request: a warm connection's check, and the first request of an invocation
(the per-invocation memory empty), which is the one that asks the inputs.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import requests
import urllib3

from app_protect_lambda.sinks import network

from . import internals, route
from .harness import interleaved, per_call
from .scenarios import _context, benign_event

_KEEP_ALIVE_SERVER = r"""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Status(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # one write: no delayed ACK

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Status)
print(server.server_port, flush=True)
server.serve_forever()
"""


def keep_alive_server() -> AbstractContextManager[str]:
    """An HTTP/1.1 keep-alive server on 127.0.0.1; yields its base URL."""
    return route.serving(_KEEP_ALIVE_SERVER)


def _clients(base: str) -> dict[str, Callable[[], object]]:
    session, client, pool = requests.Session(), httpx.Client(), urllib3.PoolManager()
    url = f"{base}/status"
    return {"requests.Session": lambda: session.get(url).content,
            "httpx.Client": lambda: client.get(url).content,
            "urllib3.PoolManager": lambda: pool.request("GET", url).data}


def _row(what: str, baseline_ns: float, added_ns: float, error_ns: float) -> str:
    return f"| {what} | {baseline_ns / 1000:.1f} µs | {added_ns / 1000:+.2f} ± {error_ns / 1000:.2f} µs |"


def main() -> None:
    event = benign_event()
    print("| per request, warm connection to 127.0.0.1 | unprotected | added (CPU, median ± s.e.) |")
    print("| --- | --- | --- |")
    with keep_alive_server() as base:
        calls = _clients(base)
        context = _context(event)
        try:
            with internals.active(context):
                for name, call in calls.items():
                    call()  # warm: the connection is pooled before the first timed call
                    baseline, protected = interleaved(
                        call, call, setup_baseline=lambda: route.set_instrumented(False),
                        setup_protected=lambda: route.set_instrumented(True), number=100, rounds=7, repeat=3)
                    print(_row(name, baseline.median_ns, protected.median_ns - baseline.median_ns,
                               protected.error_ns))
        finally:
            route.set_instrumented(True)

        # The hook alone: a pooled urllib3 connection, as a Session reuses it.
        pool = urllib3.PoolManager()
        pool.request("GET", f"{base}/status")  # outside an invocation: connected "before"
        connection = pool.connection_from_url(base)._get_conn()
        sink = "urllib3.connection.HTTPConnection.request"
        print()
        print("| the check alone | CPU per call |")
        print("| --- | --- |")
        with internals.active(context):
            steady = per_call(lambda: network._check_connection_target(context, sink, connection, "/status"))
            print(f"| warm connection, the invocation's memory filled | {steady.median_ns / 1000:.2f} µs |")

            def first() -> None:
                context.network = None
                network._check_connection_target(context, sink, connection, "/status")

            print(f"| warm connection, first request of an invocation | {per_call(first).median_ns / 1000:.2f} µs |")

            def httpx_name() -> None:
                context.network = None
                network._judge_target(context, "httpx", "api.partner.example", 443, None)

            first_name = per_call(httpx_name)
            print(f"| httpx, a host name no input chose, first request | {first_name.median_ns / 1000:.2f} µs |")
            httpx_steady = per_call(lambda: network._judge_target(context, "httpx", "api.partner.example", 443, None))
            print(f"| httpx, the same name again | {httpx_steady.median_ns / 1000:.2f} µs |")


if __name__ == "__main__":
    main()
