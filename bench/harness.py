"""A small timing harness: per-call medians and p95, baseline and protected, in alternating rounds.

Every sample is taken on two clocks. The budget figures use the process's CPU time
(``time.process_time_ns``): what we add is CPU work in the function's own process,
and on this 2-core machine shared with test runs (run queue of 5-6) the wall clock
of a pure-Python loop ranged 37-72 µs across nine samples while its CPU time stayed
within 29-30 µs. The wall clock is kept beside it: it is what an invocation lasts,
the denominator of the "share of the unprotected run", and the figure that would
show a wait we add (a sleep or a blocking call costs no CPU).
"""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_ns: float  # CPU time per call
    p95_ns: float
    wall_ns: float  # wall-clock median per call
    fastest_wall_ns: float = 0.0  # the least disturbed round's wall-clock median (baselines only)
    error_ns: float = 0.0  # standard error of the median per-round difference (protected only)

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.median_ns - other.median_ns, self.p95_ns - other.p95_ns, self.wall_ns - other.wall_ns,
                      error_ns=self.error_ns)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def calls_made(number: int, repeat: int) -> int:
    """How many times ``per_call`` calls its function: the warm-up, then ``repeat`` samples of ``number``."""
    return min(number, 200) + number * repeat


def median_error(values: list[float]) -> float:
    """Standard error of the median of ``values``, from their interquartile range (robust to outliers)."""
    quartiles = statistics.quantiles(values, n=4)
    sigma = (quartiles[2] - quartiles[0]) / 1.349
    return 1.2533 * sigma / len(values) ** 0.5


def per_call(function: Callable[[], object], *, number: int = 1000, repeat: int = 31) -> Timing:
    """Per-call time of ``function``: ``repeat`` samples of ``number`` calls each."""
    for _ in range(min(number, 200)):  # warm up caches and lazy imports
        function()
    cpu: list[float] = []
    wall: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start_cpu, start_wall = time.process_time_ns(), time.perf_counter_ns()
            for _ in range(number):
                function()
            cpu.append((time.process_time_ns() - start_cpu) / number)
            wall.append((time.perf_counter_ns() - start_wall) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(statistics.median(cpu), _p95(cpu), statistics.median(wall))


def interleaved(baseline: Callable[[], object], protected: Callable[[], object], *,
                setup_baseline: Callable[[], object], setup_protected: Callable[[], object],
                number: int = 1000, rounds: int = 15, repeat: int = 5) -> tuple[Timing, Timing]:
    """Baseline and protected timings in alternating rounds, so drift hits both alike.

    The arms take turns to go first: an A/A run of the realistic route (the same handler in
    both arms) measured -105 and -203 µs when the baseline always went first.

    Returns the baseline and the protected timing; the protected one is the baseline's median
    plus the median (and p95) of the per-round differences, which is steadier on a busy machine
    than a difference of two medians, with that median's standard error.
    """
    base_samples: list[Timing] = []
    cpu_differences: list[float] = []
    wall_differences: list[float] = []
    for round_number in range(rounds):
        # Which arm runs first alternates, so that neither always inherits the other's warm state.
        if round_number % 2:
            setup_protected()
            prot = per_call(protected, number=number, repeat=repeat)
            setup_baseline()
            base = per_call(baseline, number=number, repeat=repeat)
        else:
            setup_baseline()
            base = per_call(baseline, number=number, repeat=repeat)
            setup_protected()
            prot = per_call(protected, number=number, repeat=repeat)
        base_samples.append(base)
        cpu_differences.append(prot.median_ns - base.median_ns)
        wall_differences.append(prot.wall_ns - base.wall_ns)
    base_cpu = statistics.median(t.median_ns for t in base_samples)
    base_wall = statistics.median(t.wall_ns for t in base_samples)
    # Shaped so that ``protected - baseline`` is (median difference, p95 difference, wall median difference).
    return (Timing(base_cpu, base_cpu, base_wall, min(t.wall_ns for t in base_samples)),
            Timing(base_cpu + statistics.median(cpu_differences), base_cpu + _p95(cpu_differences),
                   base_wall + statistics.median(wall_differences), error_ns=median_error(cpu_differences)))
