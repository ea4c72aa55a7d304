"""Cold start of the demo function through the real runtime client, with and without the layer.

    python -m sam.runtime.coldstart [--python 3.12] [--runs 10]

Init duration as Lambda reports it: from the start of the runtime process to its first
``next`` call on the Runtime API. Each run is a new process (a cold sandbox); the two
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


def measure(version: str, runs: int) -> dict[str, list[float]]:
    python = environment.runtime_python(version)
    layer = environment.build_layer("all", "all")
    results: dict[str, list[float]] = {"without the layer": [], "with the layer (exec wrapper)": []}
    with tempfile.TemporaryDirectory(prefix="app-protect-coldstart-") as scratch:
        opt = environment.unpack_layer(layer, Path(scratch) / "opt")
        for _ in range(runs):
            for label, options in (("without the layer", {}),
                                   ("with the layer (exec wrapper)", {"opt": opt, "exec_wrapper": True})):
                with LocalFunction(python, FUNCTION, "app.handler", environment={"APP_PROTECT_MODE": "block"},
                                   **options) as function:
                    results[label].append(function.wait_ready())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args(argv)
    results = measure(options.python, options.runs)
    print(f"init duration of the demo function, python{options.python}, median of {options.runs}:")
    medians = {}
    for label, values in results.items():
        medians[label] = statistics.median(values)
        spread = f"min {min(values):.0f}, max {max(values):.0f}"
        print(f"  {label:<31} {medians[label]:6.0f} ms  ({spread})")
    with_layer, without = medians["with the layer (exec wrapper)"], medians["without the layer"]
    print(f"  {'added by the layer':<31} {with_layer - without:+6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
