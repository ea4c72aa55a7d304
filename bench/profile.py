"""Where the realistic route's added time goes: ``python -m bench.profile``.

Runs the order route of ``bench/route.py`` unprotected and protected under cProfile and
prints, per invocation: the totals; the package's functions ranked by own time and by
inclusive time; and every function (ours or the standard library's) ranked by how much
more own time it took protected than unprotected, which also catches the regex, JSON
and path calls our code makes. cProfile adds a roughly constant cost per Python call,
so it inflates call-heavy code (ours) more than C code: read the figures as a ranking
and as shares, and take absolute added time from ``python -m bench --only route``.
The profiler keeps its default clock (the wall clock, read through the vDSO): with the
CPU-time clock of the bench every call event costs a system call, about 1.3 µs here,
which ranked functions by how often they are called rather than by what they cost.
``--sampler`` adds pyinstrument's call tree of the protected arm (statistical, so
without that per-call distortion) when pyinstrument is installed; it is not a dependency.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections.abc import Callable
from pathlib import Path

import app_protect_lambda
from app_protect_lambda.testing import LambdaContext

from . import route

PACKAGE = str(Path(app_protect_lambda.__file__).resolve().parent)

Key = tuple[str, int, str]  # (file, line, function), as pstats keys them


def profiled(call: Callable[[], object], invocations: int) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(invocations):
        call()
    profiler.disable()
    return pstats.Stats(profiler)


def sampled(call: Callable[[], object], invocations: int) -> str:
    """pyinstrument's call tree of ``invocations`` calls (1 ms sampling would miss most of one call)."""
    from pyinstrument import Profiler  # a profiling tool, installed by hand: not a dependency

    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(invocations):
        call()
    profiler.stop()
    return profiler.output_text(unicode=True, color=False, show_all=False)


def _name(key: Key) -> str:
    file, line, function = key
    if file.startswith(PACKAGE):
        return f"{Path(file).relative_to(PACKAGE)}:{line}({function})"
    if file == "~":
        return function  # a built-in
    return f"{Path(file).name}:{line}({function})"


def _own_times(stats: pstats.Stats) -> dict[Key, tuple[int, float, float]]:
    """key -> (calls, own seconds, inclusive seconds)."""
    return {key: (calls, own, inclusive)
            for key, (_primitive, calls, own, inclusive, _callers) in stats.stats.items()}  # type: ignore[attr-defined]


def _total(stats: pstats.Stats) -> float:
    return stats.total_tt  # type: ignore[attr-defined]


def report(unprotected: pstats.Stats, protected: pstats.Stats, invocations: int, top: int) -> str:
    per = 1e6 / invocations
    before, after = _own_times(unprotected), _own_times(protected)
    lines = [f"{invocations} invocations of the order route, per invocation, under cProfile:",
             f"  unprotected {_total(unprotected) * per:9.1f} µs",
             f"  protected   {_total(protected) * per:9.1f} µs",
             f"  added       {(_total(protected) - _total(unprotected)) * per:9.1f} µs", ""]
    ours = {key: value for key, value in after.items() if key[0].startswith(PACKAGE)}
    ours_total = sum(own for _calls, own, _inclusive in ours.values())
    lines.append(f"app_protect_lambda's own code: {ours_total * per:.1f} µs per invocation; "
                 f"the rest of the added time is in what it calls (see the last table)")
    lines += ["", f"Package functions by own time (top {top}): µs/inv, share of added, calls/inv, function"]
    added_total = max(_total(protected) - _total(unprotected), 1e-12)
    for key, (calls, own, _inclusive) in sorted(ours.items(), key=lambda item: -item[1][1])[:top]:
        lines.append(f"  {own * per:8.1f} {own / added_total:6.1%} {calls / invocations:7.1f}  {_name(key)}")
    lines += ["", f"Package functions by inclusive time (top {top}): µs/inv, calls/inv, function"]
    for key, (calls, _own, inclusive) in sorted(ours.items(), key=lambda item: -item[1][2])[:top]:
        lines.append(f"  {inclusive * per:8.1f} {calls / invocations:7.1f}  {_name(key)}")
    lines += ["", f"Every function by added own time, protected minus unprotected (top {top}): "
                  "µs/inv, calls/inv added, function"]
    deltas = []
    for key in after.keys() | before.keys():
        calls_after, own_after, _ = after.get(key, (0, 0.0, 0.0))
        calls_before, own_before, _ = before.get(key, (0, 0.0, 0.0))
        deltas.append((own_after - own_before, calls_after - calls_before, key))
    for delta, calls, key in sorted(deltas, reverse=True)[:top]:
        lines.append(f"  {delta * per:8.1f} {calls / invocations:7.1f}  {_name(key)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--invocations", type=int, default=300, help="invocations per arm (default 300)")
    parser.add_argument("--top", type=int, default=30, help="rows per table (default 30)")
    parser.add_argument("--dump", type=Path, help="also write the protected run's pstats file here")
    parser.add_argument("--sampler", action="store_true", help="also print pyinstrument's tree of the protected arm")
    options = parser.parse_args(argv)
    lambda_context, orders = LambdaContext(), route.Orders()
    with route.open_route() as order_route:
        for arm in (False, True):  # warm both arms: lazy imports, compiled patterns, sqlite caches
            order_route.use(arm)
            handler = order_route.protected_handler if arm else order_route.handler
            orders.refill(20)
            for _ in range(20):
                handler(orders.take(), lambda_context)
        order_route.use(False)
        orders.refill(options.invocations)
        unprotected = profiled(lambda: order_route.handler(orders.take(), lambda_context), options.invocations)
        order_route.use(True)
        orders.refill(options.invocations)
        protected = profiled(lambda: order_route.protected_handler(orders.take(), lambda_context),
                             options.invocations)
        tree = ""
        if options.sampler:
            orders.refill(options.invocations)
            tree = sampled(lambda: order_route.protected_handler(orders.take(), lambda_context), options.invocations)
    if options.dump:
        protected.dump_stats(options.dump)
    print(report(unprotected, protected, options.invocations, options.top))
    if tree:
        print(f"\npyinstrument, protected arm, {options.invocations} invocations:\n{tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
