"""Figures for the end-of-invocation check of child processes (src/app_protect_lambda/sinks/processes.py).

``python -m bench.processes`` prints: the full /proc scan (what the check avoids: it reads only the
processes new since the baseline), the baseline's listdir, the invocation that starts a process
with the child check on and off, and what the opt-in subreaper
costs (the ctypes import and the prctl call, in a fresh interpreter).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import timeit

from app_protect_lambda import protect, sinks
from app_protect_lambda.sinks import processes
from app_protect_lambda.testing import LambdaContext, apigw_v1_event


def best(function, number: int, repeat: int = 7) -> float:
    """Best per-call time in µs over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def spawning_handler(child_processes: bool):
    policy = {"mode": "off", "protections": {"sandbox_persistence": {"mode": "block",
                                                                       "child_processes": child_processes}}}

    @protect(policy=policy)
    def handler(event, context):
        subprocess.run(["true"], check=True)
        return {"statusCode": 200}

    return handler


def invocation_pair(rounds: int = 40) -> tuple[float, float]:
    """Median µs of an invocation that runs ``true``, child check off and on, interleaved."""
    event, context = apigw_v1_event(), LambdaContext()
    off, on = spawning_handler(False), spawning_handler(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for flag, handler in ((False, off), (True, on)):
            started = time.perf_counter()
            handler(event, context)
            times[flag].append((time.perf_counter() - started) * 1e6)
    return statistics.median(times[False]), statistics.median(times[True])


def subreaper_cost() -> str:
    code = ("import time; t = time.perf_counter(); import ctypes; i = time.perf_counter(); "
            "from app_protect_lambda.sinks import processes; p = time.perf_counter(); "
            "ok = processes.become_subreaper(); e = time.perf_counter(); "
            "print(f'import ctypes {(i - t) * 1e3:.2f} ms, prctl {(e - p) * 1e6:.0f} µs, set: {ok}')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    sinks.instrument()
    count = len(processes.scan())
    scan = best(processes.scan, 20)
    print(f"/proc scan: {scan:.0f} µs for {count} processes ({scan / count:.1f} µs per process)")
    print(f"baseline (listdir /proc): {best(processes.pids, 200):.0f} µs; "
          f"stat of one process: {best(lambda: processes.stat(os.getpid()), 2000):.1f} µs")
    off, on = invocation_pair()
    print(f"invocation running `true`: child check off {off:.0f} µs, on {on:.0f} µs (+{on - off:.0f})")
    print(f"subreaper: {subreaper_cost()}")


if __name__ == "__main__":
    main()
