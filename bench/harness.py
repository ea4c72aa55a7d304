"""A small timing harness on perf_counter_ns: medians and p95 of per-call times, baseline and protected."""
from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_ns: float
    p95_ns: float

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.median_ns - other.median_ns, self.p95_ns - other.p95_ns)


def per_call(function: Callable[[], object], *, number: int = 1000, repeat: int = 31) -> Timing:
    """Per-call time of ``function``: ``repeat`` samples of ``number`` calls each."""
    for _ in range(min(number, 200)):  # warm up caches and lazy imports
        function()
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter_ns()
            for _ in range(number):
                function()
            samples.append((time.perf_counter_ns() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    samples.sort()
    return Timing(statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))])


def interleaved(baseline: Callable[[], object], protected: Callable[[], object], *, setup_baseline,
                setup_protected, number: int = 1000, rounds: int = 15, repeat: int = 5) -> tuple[Timing, Timing]:
    """Baseline and protected timings in alternating rounds, so drift hits both alike.

    Returns the baseline and the protected timing; the protected one is the baseline's median
    plus the median (and p95) of the per-round differences, which is steadier on a busy machine
    than a difference of two medians.
    """
    base_samples: list[Timing] = []
    differences: list[float] = []
    for _ in range(rounds):
        setup_baseline()
        base = per_call(baseline, number=number, repeat=repeat)
        setup_protected()
        prot = per_call(protected, number=number, repeat=repeat)
        base_samples.append(base)
        differences.append(prot.median_ns - base.median_ns)
    differences.sort()
    base_median = statistics.median(t.median_ns for t in base_samples)
    p95 = differences[min(len(differences) - 1, int(len(differences) * 0.95))]
    # Shaped so that ``protected - baseline`` is (median difference, p95 difference).
    return (Timing(base_median, base_median),
            Timing(base_median + statistics.median(differences), base_median + p95))
