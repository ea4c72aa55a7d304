"""The realistic route: one benign API request doing what a real route does, protected and not.

The per-sink rows time one call on a warm invocation; the issue's held-out routes (SQL,
shell, files, outbound HTTP) measured x1.30-1.39 the unprotected invocation, about +100 µs,
while the no-sink row said 12 µs: the cost is in what a whole request does. So this
module times one whole invocation of an order route (an HTTP API event with a JSON body
of about thirty fields; a string-formatted and a parameterised sqlite query; a bundled
file read; an ``urlopen`` to a stock service on 127.0.0.1; a ``subprocess.run`` with an
argument vector; a 2 KB JSON response), against the same handler unprotected and
uninstrumented, in alternating rounds. Then the same route in parts, each alone: the
envelope (``@protect`` around a handler that calls no sink), flattening and decoding the
inputs, the response checks, and each sink call as the first of its family in a fresh
invocation (memos start empty, as they do in a real request).

Every invocation gets a new order (see ``Orders``). The stock service listens on
127.0.0.1, a destination the SSRF check must look into; a call to a public host would be
dismissed sooner, so the urlopen part is the dearer case of an outbound call.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app_protect_lambda import protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v2_event

from . import internals
from .harness import Timing, calls_made, interleaved

PRICING = Path(__file__).with_name("route_pricing.json")  # the route's bundled file

ORDER: dict[str, Any] = {
    "order_id": "ord-2026-118734", "created_at": "2026-03-14T09:26:53Z", "channel": "web",
    "currency": "EUR", "locale": "en-GB",
    "customer": {"id": 48213, "email": "jane.smith@example.com", "name": "Jane Smith",
                 "phone": "+44 20 7946 0958", "tier": "gold", "marketing_opt_in": False},
    "shipping": {"name": "Jane Smith", "line1": "221B Baker Street", "line2": "Flat 2", "city": "London",
                 "postcode": "NW1 6XE", "country": "GB", "method": "express",
                 "instructions": "Leave it by the door, please."},
    "billing_same_as_shipping": True,
    "items": [{"sku": "X-100", "name": "Espresso cups, set of 4", "qty": 2, "unit_price": 18.5},
              {"sku": "K-220", "name": "Milk jug 350 ml", "qty": 1, "unit_price": 12.0}],
    "coupon": "SPRING10", "gift_message": "Happy birthday, Tom!",
    "payment": {"method": "card", "brand": "visa", "last4": "4242", "token": "tok_1Nv0a2LkdIwHu7ix"},
    "total": 49.0, "notes": "",
    "utm": {"source": "newsletter", "medium": "email", "campaign": "spring-2026"},
}

# A stock service: one JSON answer per request, in its own process so that it takes
# neither the GIL nor the instrumented sinks of the process being timed.
_STOCK_SERVER = r"""
import json
from http.server import BaseHTTPRequestHandler, HTTPServer

class Stock(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = json.dumps({"request": self.path, "available": 12, "warehouse": "fra-2", "eta_days": 2}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Stock)
print(server.server_port, flush=True)
server.serve_forever()
"""


def order_event(serial: int = 0) -> dict[str, Any]:
    """POST /orders on an HTTP API, as a browser sends it; ``serial`` varies what differs between orders."""
    order = json.loads(json.dumps(ORDER))
    order["order_id"] = f"ord-2026-{118734 + serial}"
    order["created_at"] = f"2026-03-14T09:{serial // 60 % 60:02d}:{serial % 60:02d}Z"
    order["customer"].update(id=48213 + serial, email=f"jane.smith.{serial}@example.com",
                             phone=f"+44 20 7946 {serial % 10000:04d}")
    order["shipping"]["line1"] = f"{serial % 300 + 1} Baker Street"
    order["payment"]["token"] = f"tok_1Nv0a2{serial:010x}"
    return apigw_v2_event(
        "POST", "/orders", query={"expand": "items", "source": "checkout"},
        headers={"accept": "application/json", "accept-language": "en-GB,en;q=0.9",
                 "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
                 "origin": "https://shop.example.com", "referer": "https://shop.example.com/checkout",
                 "x-request-id": f"{serial:08x}-42f1"},
        cookies=["session=3f9a8b7c6d5e4f3a2b1c", "theme=dark"], body=order)


class Orders:
    """Distinct order events, never the same one twice: a real function sees a new order id,
    address and token in every request (its headers repeat), so a memo across invocations
    must not look better here than it would be there."""

    def __init__(self) -> None:
        self._serial = 0
        self.events: list[dict[str, Any]] = []

    def refill(self, count: int) -> None:
        """Make ``count`` fresh events, to be taken by ``take`` from the first to the last."""
        self.events = [order_event(self._serial + index) for index in range(count)][::-1]
        self._serial += count

    def take(self) -> dict[str, Any]:
        return self.events.pop()


def lambda_environment() -> None:
    """What Lambda always sets and the credential check looks for in every response."""
    for name, value in (("AWS_ACCESS_KEY_ID", "ASIABENCHEXAMPLE0001"),
                        ("AWS_SECRET_ACCESS_KEY", "benchSecretKey/0123456789abcdefghijklmnopq"),
                        ("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjBENCHsessionTOKEN0123456789abcdef" * 8),
                        ("AWS_LAMBDA_FUNCTION_NAME", "orders"), ("AWS_REGION", "eu-west-1")):
        os.environ.setdefault(name, value)


def stock_server() -> AbstractContextManager[str]:
    """The route's stock service on 127.0.0.1; yields its base URL."""
    return serving(_STOCK_SERVER)


@contextmanager
def serving(script: str) -> Iterator[str]:
    """A local HTTP server run by ``script`` (which prints its port) in a child process; yields its base
    URL, stops it on exit."""
    process = subprocess.Popen([sys.executable, "-I", "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        port = (process.stdout.readline() if process.stdout else "").strip()
        if not port.isdigit():
            raise RuntimeError("the local server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def _connect(database: str, instrumented: bool) -> sqlite3.Connection:
    """A connection opened at init, as a function's module does, with the sinks as the arm has them."""
    set_instrumented(instrumented)
    return sqlite3.connect(database, check_same_thread=False)


def set_instrumented(on: bool) -> None:
    (sinks.instrument if on else sinks.uninstrument)()


class Route:
    """The order route's handler and its parts, over fixtures made by ``open_route``."""

    def __init__(self, database: str, stock_url: str) -> None:
        self.stock_url = stock_url
        self._connections = {arm: _connect(database, arm) for arm in (False, True)}
        self.db = self._connections[False]
        self.protected_handler = protect(mode="block")(self.handler)
        self.protected_envelope = protect(mode="block")(self.envelope)

    def use(self, protected: bool) -> None:
        """Switch to one arm: sinks instrumented or not, and the connection opened that way."""
        set_instrumented(protected)
        self.db = self._connections[protected]

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()

    # ---- the sink calls, one per method, in the order the handler makes them

    def find_customer(self, order: dict[str, Any]) -> Any:
        # String-formatted, as much real code still is: a benign input inside a literal.
        return self.db.execute(f"SELECT id, tier FROM customers WHERE email = '{order['customer']['email']}'"
                               ).fetchone()

    def find_prices(self, order: dict[str, Any]) -> list[Any]:
        skus = [item["sku"] for item in order["items"]]
        return self.db.execute(f"SELECT sku, price FROM products WHERE sku IN ({','.join('?' * len(skus))})",
                               skus).fetchall()

    def read_pricing(self) -> dict[str, Any]:
        with open(PRICING) as handle:
            return json.load(handle)

    def fetch_stock(self, order: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.stock_url}/stock?sku={quote(order['items'][0]['sku'])}&warehouse=fra-2"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return json.load(reply)

    def run_tool(self, order: dict[str, Any]) -> int:
        return subprocess.run(["true", "--order", order["order_id"]], check=True).returncode

    # ---- the whole route, and the route with its sink calls left out

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        order = json.loads(event["body"])
        account = self.find_customer(order)
        prices = self.find_prices(order)
        pricing = self.read_pricing()
        stock = self.fetch_stock(order)
        self.run_tool(order)
        return respond(order, account, prices, pricing, stock)

    def envelope(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        order = json.loads(event["body"])
        return respond(order, (48213, "gold"), [("K-220", 12.0), ("X-100", 18.5)], _PRICING_COPY, _STOCK_COPY)


_PRICING_COPY = json.loads(PRICING.read_text())
_STOCK_COPY = {"request": "/stock?sku=X-100&warehouse=fra-2", "available": 12, "warehouse": "fra-2", "eta_days": 2}


def respond(order: dict[str, Any], account: Any, prices: list[Any], pricing: dict[str, Any],
            stock: dict[str, Any]) -> dict[str, Any]:
    """The route's answer: the order confirmed, about 2 KB of JSON."""
    price_of = dict(prices)
    lines = [{**item, "unit_price": price_of.get(item["sku"], item["unit_price"]),
              "line_total": round(price_of.get(item["sku"], item["unit_price"]) * item["qty"], 2)}
             for item in order["items"]]
    subtotal = sum(line["line_total"] for line in lines)
    discount = round(subtotal * pricing["tiers"].get(account[1] if account else "standard", 0.0), 2)
    shipping = pricing["shipping"][order["shipping"]["method"]]
    body = {
        "order_id": order["order_id"], "status": "confirmed", "customer_id": account[0] if account else None,
        "lines": lines, "subtotal": subtotal, "discount": discount, "shipping": shipping,
        "tax": round((subtotal - discount) * pricing["tax_rate"], 2),
        "total": round(subtotal - discount + shipping, 2), "currency": pricing["currency"],
        "ship_to": order["shipping"], "stock": stock, "gift_message": order["gift_message"],
        "timeline": [{"at": f"2026-03-14T09:2{minute}:00Z", "event": event, "by": "orders-service"}
                     for minute, event in enumerate(("received", "validated", "priced", "reserved", "paid",
                                                     "confirmed", "queued-for-picking", "label-requested"))],
        "links": {name: f"https://shop.example.com/api/orders/{order['order_id']}/{name}"
                  for name in ("self", "invoice", "tracking", "cancel", "returns", "receipt")},
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps(body)}


def _database(directory: str) -> str:
    path = os.path.join(directory, "shop.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT UNIQUE, tier TEXT)")
        db.execute("CREATE TABLE products (sku TEXT PRIMARY KEY, price REAL)")
        db.executemany("INSERT INTO customers (id, email, tier) VALUES (?, ?, ?)",
                       [(48213, "jane.smith@example.com", "gold"), (48214, "tom@example.com", "standard")])
        db.executemany("INSERT INTO products VALUES (?, ?)", [("X-100", 18.5), ("K-220", 12.0), ("Z-9", 3.2)])
    db.close()
    return path


@contextmanager
def open_route() -> Iterator[Route]:
    """The route with its fixtures: a sqlite database, the stock server; all removed on exit."""
    lambda_environment()
    with tempfile.TemporaryDirectory(prefix="app-protect-bench-") as directory, stock_server() as url:
        route = Route(_database(directory), url)
        try:
            yield route
        finally:
            route.close()
            set_instrumented(True)


# ---- timings


def _fresh(orders: Orders, number: int, repeat: int, before: Callable[[], object] = lambda: None) -> Callable[[], None]:
    """A round's setup: ``before``, then exactly as many fresh events as the round will take."""
    def setup() -> None:
        before()
        orders.refill(calls_made(number, repeat))
    return setup


def whole_route(route: Route, *, protected: bool = True, number: int = 10, rounds: int = 15,
                repeat: int = 5) -> tuple[Timing, Timing]:
    """The route's handler unprotected (sinks uninstrumented) against ``@protect`` (instrumented).

    ``protected=False`` runs the unprotected handler in both arms: the noise floor of the row.
    """
    lambda_context, orders = LambdaContext(), Orders()
    handler = route.protected_handler if protected else route.handler
    return interleaved(lambda: route.handler(orders.take(), lambda_context),
                       lambda: handler(orders.take(), lambda_context),
                       setup_baseline=_fresh(orders, number, repeat, lambda: route.use(False)),
                       setup_protected=_fresh(orders, number, repeat, lambda: route.use(protected)),
                       number=number, rounds=rounds, repeat=repeat)


def envelope(route: Route, *, number: int = 200, repeat: int = 5) -> tuple[Timing, Timing]:
    """``@protect`` around the route's work without its sink calls: context, response checks, flush."""
    lambda_context, orders = LambdaContext(), Orders()
    route.use(True)
    return interleaved(lambda: route.envelope(orders.take(), lambda_context),
                       lambda: route.protected_envelope(orders.take(), lambda_context),
                       setup_baseline=_fresh(orders, number, repeat), setup_protected=_fresh(orders, number, repeat),
                       number=number, repeat=repeat)


def inputs(*, decode: bool, repeat: int = 5) -> tuple[Timing, Timing]:
    """Flattening the event into inputs (and decoding every form) over a bare context."""
    number = 20 if decode else 50
    touch = internals.decoded_inputs if decode else internals.raw_inputs
    orders = Orders()
    return interleaved(lambda: internals.new_context(orders.take()),
                       lambda: touch(internals.new_context(orders.take())),
                       setup_baseline=_fresh(orders, number, repeat), setup_protected=_fresh(orders, number, repeat),
                       number=number, repeat=repeat)


def response_checks(event: dict[str, Any], response: dict[str, Any]) -> tuple[Timing, Timing]:
    context = internals.new_context(event)
    with internals.active(context):
        return interleaved(lambda: response, lambda: internals.run_response_checks(context, response),
                           setup_baseline=_nothing, setup_protected=_nothing, number=500)


def first_sink_call(route: Route, call: Callable[[dict[str, Any]], object], *, number: int,
                    rounds: int = 9, repeat: int = 5) -> tuple[Timing, Timing]:
    """``call(order)`` as the first sink call of its invocation, in both arms alike.

    Each call gets a fresh order and a fresh context whose inputs are already flattened and
    decoded (built before the clock starts: they are the "flatten and decode" row), so the
    difference is the sink hook's own cost with its per-invocation memos empty.
    """
    orders = Orders()
    prepared: list[tuple[Any, dict[str, Any]]] = []

    def arm(protected: bool) -> Callable[[], None]:
        def setup() -> None:
            route.use(protected)
            orders.refill(calls_made(number, repeat))
            prepared[:] = [(_decoded_context(event), json.loads(event["body"])) for event in orders.events]
        return setup

    def invocation() -> object:
        context, order = prepared.pop()
        with internals.active(context):
            return call(order)

    return interleaved(invocation, invocation, setup_baseline=arm(False), setup_protected=arm(True),
                       number=number, rounds=rounds, repeat=repeat)


def _decoded_context(event: dict[str, Any]) -> Any:
    context = internals.new_context(event)
    internals.decoded_inputs(context)
    return context


def _nothing() -> None:
    return None
