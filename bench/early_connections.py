"""Connections opened before instrumentation: cost per execute, and the one-time cost on a large heap.

``python -m bench.early_connections`` prints:

- the CPU time an early sqlite3 connection's trace hook adds to one ``execute`` inside an
  invocation (the same connection with and without its hook, in alternating rounds of one run),
  beside what a connection opened after instrumentation adds (its Python-level subclass);
- the one-time cost of ``instrument()`` finding the live connections, with about one million
  live objects on the heap, beside the same heap without sqlite3's or psycopg2's hook to find
  (no scan), and the ``gc.get_objects()`` call alone;
- what rebinding the names of a handler's module costs when ``@protect`` is applied.

Runs in well under a minute.
"""
from __future__ import annotations

import gc
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable

from app_protect_lambda import protect, sinks
from app_protect_lambda.sinks import live_objects

from . import internals
from .harness import Timing, interleaved
from .scenarios import benign_event

HEAP_OBJECTS = 1_000_000
LITERAL = ("SELECT id, name, email, created_at FROM users WHERE name = 'john smith the third' "
           "AND status = 'active' AND created_at > '2024-01-01' ORDER BY created_at DESC LIMIT 50 OFFSET 100")
PARAMETERISED = "SELECT id, name FROM users WHERE id = ?"
SCHEMA = "CREATE TABLE users (id INTEGER, name TEXT, email TEXT, created_at TEXT, status TEXT)"


def early_connection() -> sqlite3.Connection:
    """A connection opened with the sinks uninstrumented, then adopted by ``instrument()``."""
    sinks.uninstrument()
    connection = sqlite3.connect(":memory:")
    connection.execute(SCHEMA)
    sinks.instrument()
    return connection


def per_execute(what: str, run: Callable[[], object], hook_on: Callable[[], object], hook_off: Callable[[], object]
                ) -> None:
    context = internals.new_context(benign_event())
    internals.decoded_inputs(context)  # as after the invocation's first sink call
    with internals.active(context):
        baseline, protected = interleaved(run, run, setup_baseline=hook_off, setup_protected=hook_on, number=2000)
    show(what, baseline, protected)


def show(what: str, baseline: Timing, protected: Timing) -> None:
    added = protected - baseline
    print(f"{what:<72} +{added.median_ns / 1000:6.2f} ± {added.error_ns / 1000:.2f} µs "
          f"(p95 +{added.p95_ns / 1000:.2f} µs; baseline {baseline.median_ns / 1000:.2f} µs CPU)")


def execute_rows() -> None:
    connection = early_connection()

    def hook_on() -> None:
        early_connection_hook(connection)

    def hook_off() -> None:
        connection.set_trace_callback(None)

    per_execute("early sqlite3 connection, execute, no input in the statement",
                lambda: connection.execute(PARAMETERISED, (7,)).fetchall(), hook_on, hook_off)
    per_execute(f"early sqlite3 connection, execute, input inside one literal ({len(LITERAL)} chars)",
                lambda: connection.execute(LITERAL).fetchall(), hook_on, hook_off)
    per_execute("early sqlite3 connection, executemany of 10 rows, no input",
                lambda: connection.executemany("UPDATE users SET status = ? WHERE id = ?",
                                               [("active", i) for i in range(10)]), hook_on, hook_off)

    later: dict[str, sqlite3.Connection] = {}

    def later_on() -> None:
        sinks.instrument()
        later["db"] = sqlite3.connect(":memory:")
        later["db"].execute(SCHEMA)

    def later_off() -> None:
        sinks.uninstrument()
        later["db"] = sqlite3.connect(":memory:")
        later["db"].execute(SCHEMA)

    per_execute("for comparison: connection opened after instrumentation, no input",
                lambda: later["db"].execute(PARAMETERISED, (7,)).fetchall(), later_on, later_off)
    sinks.instrument()


def early_connection_hook(connection: sqlite3.Connection) -> None:
    from app_protect_lambda.sinks.early_connections import attach_sqlite

    attach_sqlite(connection)


def median_ms(function: Callable[[], object], times: int = 5) -> float:
    samples = []
    for _ in range(times):
        start = time.process_time_ns()
        function()
        samples.append((time.process_time_ns() - start) / 1e6)
    return statistics.median(samples)


def reinstrument() -> None:
    sinks.uninstrument()
    sinks.instrument()


def heap_rows() -> None:
    heap = [[index] for index in range(HEAP_OBJECTS)]  # lists: always tracked by the collector
    connections = [sqlite3.connect(":memory:") for _ in range(3)]
    live = len(gc.get_objects())
    print(f"\nlive objects tracked by the collector: {live:,} (3 sqlite3 connections among them)")
    scanned = median_ms(reinstrument)
    hooks = dict.fromkeys([sqlite3.Connection], lambda connection: None)
    adopt_only = median_ms(lambda: live_objects.adopt(hooks))
    get_objects = median_ms(gc.get_objects)
    modules = {name: sys.modules.pop(name) for name in list(sys.modules) if name == "sqlite3" or
               name.startswith(("sqlite3.", "psycopg2"))}
    try:
        unscanned = median_ms(reinstrument)  # no driver imported: nothing to find, no scan
    finally:
        sys.modules.update(modules)
        sinks.instrument()
    print(f"{'instrument() again, sqlite3 imported (finds the connections)':<72} {scanned:7.1f} ms CPU")
    print(f"{'instrument() again, no driver imported (no scan)':<72} {unscanned:7.1f} ms CPU")
    print(f"{'  of which the scan: live_objects.adopt() alone':<72} {adopt_only:7.1f} ms CPU")
    print(f"{'  of which gc.get_objects() alone':<72} {get_objects:7.1f} ms CPU")
    del heap, connections


def rebind_row() -> None:
    def handler(event: dict, context: object) -> dict:
        return {}

    cost = median_ms(lambda: [sinks.rebind(handler) for _ in range(100)]) * 10  # µs per call
    print(f"{f'rebind() at @protect, {len(sys.modules)} modules loaded':<72} {cost:7.1f} µs CPU")
    protect(handler)


def main() -> None:
    print(f"CPython {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    execute_rows()
    heap_rows()
    rebind_row()


if __name__ == "__main__":
    main()
