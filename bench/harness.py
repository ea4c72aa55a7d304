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
                setup_protected, number: int = 1000, rounds: int = 7, repeat: int = 7) -> tuple[Timing, Timing]:
    """Baseline and protected timings taken in alternating rounds, so drift hits both alike."""
    base_samples: list[Timing] = []
    prot_samples: list[Timing] = []
    for _ in range(rounds):
        setup_baseline()
        base_samples.append(per_call(baseline, number=number, repeat=repeat))
        setup_protected()
        prot_samples.append(per_call(protected, number=number, repeat=repeat))
    return _merge(base_samples), _merge(prot_samples)


def _merge(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.median_ns for t in timings), statistics.median(t.p95_ns for t in timings))
