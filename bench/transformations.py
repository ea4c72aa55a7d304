"""What transformation-tolerant correlation (sources/fragments.py) adds on the realistic route.

`python -m bench.transformations` times the route protected with the correlation switched off
(the baseline arm: every call site answers "no fragment") against the route protected with it on,
in alternating rounds (bench/harness.py), so that only what it adds is measured: the whole
route, then each sink call as the first of its invocation (the per-invocation index is built
there), then the correlation alone on the route's two SQL statements. Both arms are instrumented
and protected; the unprotected route is the denominator of the share.
"""
from __future__ import annotations

import json
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from app_protect_lambda.detectors import command_injection, file_access, open_redirect, sql_injection, ssrf
from app_protect_lambda.sinks import sql as sql_sinks
from app_protect_lambda.sources import fragments
from app_protect_lambda.sources.inputs import Input, Inputs
from app_protect_lambda.testing import LambdaContext

from . import internals, route
from .harness import Timing, calls_made, interleaved

_CALL_SITES = (sql_sinks, sql_injection, command_injection, file_access, open_redirect)


class _NoFragments:
    forms: tuple = ()
    values: tuple = ()


def _none(*args: Any) -> list:
    return []


def _nothing_transformed(*args: Any) -> _NoFragments:
    return _NoFragments()


def switch(on: bool) -> None:
    """The correlation on (as shipped) or off (every call site finds nothing), in place."""
    for module in _CALL_SITES:
        module.transformed = fragments.transformed if on else _none  # type: ignore[attr-defined]
    ssrf.transformed_inputs = fragments.transformed_inputs if on else _nothing_transformed  # type: ignore[assignment]


@contextmanager
def restored() -> Iterator[None]:
    try:
        yield
    finally:
        switch(True)


def whole(order_route: route.Route, *, number: int = 10, rounds: int = 15, repeat: int = 5) -> tuple[Timing, Timing]:
    lambda_context, orders = LambdaContext(), route.Orders()

    def setup(on: bool) -> Callable[[], None]:
        def prepare() -> None:
            order_route.use(True)
            switch(on)
            orders.refill(calls_made(number, repeat))
        return prepare

    handler = order_route.protected_handler
    return interleaved(lambda: handler(orders.take(), lambda_context), lambda: handler(orders.take(), lambda_context),
                       setup_baseline=setup(False), setup_protected=setup(True),
                       number=number, rounds=rounds, repeat=repeat)


def first_call(order_route: route.Route, call: Callable[[dict[str, Any]], object], *, number: int,
               rounds: int = 9, repeat: int = 5) -> tuple[Timing, Timing]:
    """``call(order)`` as the first sink call of a fresh invocation whose inputs are decoded already."""
    orders = route.Orders()
    prepared: list[tuple[Any, dict[str, Any]]] = []

    def arm(on: bool) -> Callable[[], None]:
        def setup() -> None:
            order_route.use(True)
            switch(on)
            orders.refill(calls_made(number, repeat))
            prepared[:] = [(route._decoded_context(event), json.loads(event["body"])) for event in orders.events]
        return setup

    def invocation() -> object:
        context, order = prepared.pop()
        with internals.active(context):
            return call(order)

    return interleaved(invocation, invocation, setup_baseline=arm(False), setup_protected=arm(True),
                       number=number, rounds=rounds, repeat=repeat)


def inside(order_route: route.Route, *, invocations: int = 400) -> dict[str, float]:
    """CPU µs per invocation spent inside the correlation, per call site, over whole protected
    invocations of the route (each call timed by ``time.process_time_ns``, about 0.5 µs a pair)."""
    spent: dict[str, int] = {}

    def timed(function: Callable[..., Any], site: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            started = time.process_time_ns()
            try:
                return function(*args)
            finally:
                spent[site] = spent.get(site, 0) + time.process_time_ns() - started
        return call

    order_route.use(True)
    for module in _CALL_SITES:
        module.transformed = timed(fragments.transformed, module.__name__.rsplit(".", 1)[1])  # type: ignore
    ssrf.transformed_inputs = timed(fragments.transformed_inputs, "ssrf")  # type: ignore[assignment]
    events = [route.order_event(serial) for serial in range(invocations + 100)]
    lambda_context = LambdaContext()
    for event in events[:100]:
        order_route.protected_handler(event, lambda_context)
    spent.clear()
    for event in events[100:]:
        order_route.protected_handler(event, lambda_context)
    switch(True)
    return {site: total / invocations / 1000 for site, total in spent.items()}


def correlation_alone(statement: str, other: str, *, warm: bool) -> float:
    """µs per ``transformed`` call on ``statement`` over the route's inputs: with the invocation's
    index built already (``warm``: the mean of it and ``other`` called in turn, so that the memo
    of the last argument never answers), or as the first call of an invocation (the index built)."""
    contexts = [route._decoded_context(route.order_event(serial)) for serial in range(400)]
    family = sql_injection.FRAGMENTS
    if warm:
        inputs = contexts[0].inputs
        count = 20000
        pair = min(timeit.repeat(lambda: (fragments.transformed(statement, inputs, family),
                                          fragments.transformed(other, inputs, family)), number=count, repeat=7))
        return pair / count / 2 * 1e6  # per call, the two alike
    samples = []
    for _ in range(5):
        pending = list(contexts)
        samples.append(timeit.timeit(lambda pending=pending: fragments.transformed(statement, pending.pop().inputs,
                                                                                    family),
                                     number=len(contexts)) / len(contexts) * 1e6)
    return min(samples)


DOCUMENTS = {
    "ASCII": "Hello from Cologne, a quiet road by the river. ",
    "non-ASCII": "Grüße aus Köln, schöne Straße am Rhein. ",
    "runs of blanks": "Hello  from\tCologne,\n  a quiet road. ",
}


def long_document(document: str, *, size: int = 1 << 20) -> tuple[float, float]:
    """ms (best of 5) of the correlation on a statement carrying ``size`` characters of ``document``
    and one lower-cased payload (one window, mapped back to the argument), and of ``normal`` alone
    over the same statement: the floor any correlation over a normal form pays."""
    text = (document * (size // len(document) + 1))[:size]
    statement = f"INSERT INTO notes VALUES ('{text}'); UPDATE users SET e = 'x' WHERE name = 'nobody' or '1'='1'"
    values = Inputs([Input("query.name", "NOBODY' OR '1'='1"), Input("query.q", "x")])
    family = sql_injection.FRAGMENTS

    def correlation() -> None:
        fragments._last.clear()  # the memo of the last argument must not answer
        assert fragments.transformed(statement, values, family)

    spent = min(timeit.repeat(correlation, number=1, repeat=5)) * 1000
    floor = min(timeit.repeat(lambda: fragments.normal(statement), number=1, repeat=5)) * 1000
    return spent, floor


def main() -> None:
    route.lambda_environment()
    with restored(), route.open_route() as order_route:
        print("transformation-tolerant correlation on the realistic route: added CPU µs "
              "(median of per-round differences ± its standard error; p95)")
        baseline, protected = route.whole_route(order_route, number=10, rounds=9)
        unprotected = baseline.median_ns
        rows = [("whole route, per invocation", whole(order_route, rounds=15))]
        for what, call, number in (
                ("sqlite, input inside a literal (first call)", order_route.find_customer, 100),
                ("sqlite, parameterised (first call)", order_route.find_prices, 100),
                ("open() a bundled file (first call)", lambda order: order_route.read_pricing(), 100),
                ("urlopen to 127.0.0.1 (first call)", order_route.fetch_stock, 40),
                ("subprocess.run argv (first call)", order_route.run_tool, 20)):
            rows.append((what, first_call(order_route, call, number=number)))
        for what, (base, prot) in rows:
            added: Timing = prot - base
            print(f"  {what:<48} {added.median_ns / 1000:+7.2f} ± {added.error_ns / 1000:.2f} µs"
                  f"  (p95 {added.p95_ns / 1000:+.2f})")
        print(f"  the unprotected route: {unprotected / 1000:.0f} µs CPU; protected as shipped: "
              f"{(protected.median_ns - unprotected) / 1000:+.0f} µs")
        sites = inside(order_route)
        print("CPU µs per invocation inside the correlation, whole protected invocations of the route: "
              + ", ".join(f"{site} {cost:.1f}" for site, cost in sites.items()) + f"; in all {sum(sites.values()):.1f}")
    statements = {
        "find_customer (its email occurs verbatim)":
            "SELECT id, tier FROM customers WHERE email = 'jane.smith.0@example.com'",
        "find_prices (no input)": "SELECT sku, price FROM products WHERE sku IN (?,?)",
    }
    print("the correlation alone on the route's statements, µs per call (best of 7):")
    for what, statement in statements.items():
        other = next(text for text in statements.values() if text != statement)
        print(f"  {what:<48} warm (mean of the two) {correlation_alone(statement, other, warm=True):.2f}"
              f"   first of its invocation (index built) {correlation_alone(statement, other, warm=False):.2f}")
    print("a statement carrying a 1 MB document and one transformed payload, ms (best of 5):")
    for what, document in DOCUMENTS.items():
        spent, floor = long_document(document)
        print(f"  {what:<48} correlation {spent:6.1f}   its normal form alone {floor:6.1f}")


if __name__ == "__main__":
    main()
