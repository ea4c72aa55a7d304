"""Cold start of the demo function through the real runtime client, with and without the layer.

    python -m sam.runtime.coldstart [--python 3.12] [--runs 10]

Init duration as Lambda reports it: from the start of the runtime process to its first
``next`` call on the Runtime API; and the CPU time the process used until then, which a
busy machine disturbs far less. Each run is a new process (a cold sandbox); the two
variants alternate so that a busy machine hurts both alike. Byte code is not written
(``/var/task`` and ``/opt`` are read-only on Lambda), so what the layer ships is what counts.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from . import environment
from .process import LocalFunction

FUNCTION = environment.ROOT / "sam" / "demo" / "function"


WITHOUT, WITH = "without the layer", "with the layer (exec wrapper)"


def measure(version: str, runs: int) -> dict[str, list[tuple[float, float]]]:
    """(init duration, init CPU time) in ms, per variant."""
    python = environment.runtime_python(version)
    layer = environment.build_layer("all", "all")
    results: dict[str, list[tuple[float, float]]] = {WITHOUT: [], WITH: []}
    with tempfile.TemporaryDirectory(prefix="app-protect-coldstart-") as scratch:
        opt = environment.unpack_layer(layer, Path(scratch) / "opt")
        for _ in range(runs):
            for label, options in ((WITHOUT, {}), (WITH, {"opt": opt, "exec_wrapper": True})):
                with LocalFunction(python, FUNCTION, "app.handler", environment={"APP_PROTECT_MODE": "block"},
                                   **options) as function:
                    results[label].append((function.wait_ready(), function.cpu_ms()))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args(argv)
    results = measure(options.python, options.runs)
    print(f"init of the demo function, python{options.python}, median of {options.runs} cold starts:")
    print(f"  {'':<31} {'duration':>8}  {'CPU':>6}")
    medians = {}
    for label, values in results.items():
        durations, cpu = [d for d, _ in values], [c for _, c in values]
        medians[label] = (statistics.median(durations), statistics.median(cpu))
        print(f"  {label:<31} {medians[label][0]:5.0f} ms  {medians[label][1]:3.0f} ms"
              f"  (duration min {min(durations):.0f}, max {max(durations):.0f})")
    added = [w - o for w, o in zip(medians[WITH], medians[WITHOUT], strict=True)]
    print(f"  {'added by the layer':<31} {added[0]:+5.0f} ms  {added[1]:+3.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
