"""What the payload rules cost a request, and a cold start: `python -m bench.payload`.

Three tables, each figure against its unprotected baseline in the same run (interleaved rounds, CPU
time, ``harness``):

- the perimeter alone (``checkpoints.run_perimeter`` on a fresh invocation context, as each request
  makes one) with ``malicious_payload`` and ``ip_filter`` off, then the shipped pack in report and in
  block mode, on a browser's request (about twenty inputs) and on a benign 10 kB JSON body;
- a whole invocation through ``@protect`` (every other protection off), beside the bare handler;
- the cold start the engine adds: in fresh interpreters, the first request's perimeter with the pack
  on (importing the engine, reading the pack, building the views, compiling the literals' patterns)
  minus the same with the pack off; median of several processes.

Runs in about a minute.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from app_protect_lambda import checkpoints, protect
from app_protect_lambda.policy import Policy
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from . import internals
from .harness import interleaved
from .scenarios import benign_event


def json_request(size: int = 10_240) -> dict[str, Any]:
    """A benign API Gateway request whose JSON body is about ``size`` characters: an order of catalogue items."""
    items: list[dict[str, Any]] = []
    index = 0
    while len(json.dumps(items)) < size - 200:
        items.append({"sku": f"SKU-{index:06d}", "name": f"Item number {index} in the catalogue",
                      "price": f"${index}.99", "qty": index % 7, "tags": ["blue", "cotton", "summer"]})
        index += 1
    return apigw_v1_event("POST", "/orders", body={"order": {"customer": "Alice Example", "items": items}})


def policy(payload: Any) -> Policy:
    return Policy.from_dict({"mode": "off", "protections": {"malicious_payload": payload}})


def perimeter_row(what: str, event: dict[str, Any], chosen: Policy) -> None:
    def baseline() -> None:
        internals.new_context(event, chosen)

    def protected() -> None:
        checkpoints.run_perimeter(internals.new_context(event, chosen))

    protected()  # warm: the engine is built and the literals' patterns compiled here
    base, prot = interleaved(baseline, protected, setup_baseline=lambda: None, setup_protected=lambda: None,
                             number=500, rounds=9, repeat=3)
    added = prot - base
    print(f"| {what} | {base.median_ns / 1000:.2f} µs | {added.median_ns / 1000:+.2f} ± {added.error_ns / 1000:.2f} µs "
          f"| {added.p95_ns / 1000:+.2f} µs |")


def invocation_row(what: str, event: dict[str, Any], payload: Any) -> None:
    def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": "ok"}

    protected_handler = protect(policy={"mode": "off", "protections": {"malicious_payload": payload}})(handler)
    context = LambdaContext()
    assert protected_handler(event, context)["statusCode"] == 200
    base, prot = interleaved(lambda: handler(event, context), lambda: protected_handler(event, context),
                             setup_baseline=lambda: None, setup_protected=lambda: None,
                             number=500, rounds=9, repeat=3)
    added = prot - base
    print(f"| {what} | {base.median_ns / 1000:.2f} µs | {added.median_ns / 1000:+.2f} ± {added.error_ns / 1000:.2f} µs "
          f"| {added.p95_ns / 1000:+.2f} µs |")


COLD = """
import json, sys, time
from app_protect_lambda import checkpoints
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Policy
from app_protect_lambda.testing import LambdaContext
from bench.payload import json_request
event = json_request()
chosen = Policy.from_dict({"mode": "off", "protections": {"malicious_payload": sys.argv[1]}})
context = RequestContext(event, LambdaContext(), chosen)
started = time.process_time()
checkpoints.run_perimeter(context)
print(json.dumps(time.process_time() - started))
"""


def cold_start_ms(processes: int = 9) -> tuple[float, float]:
    """The first request's perimeter in fresh interpreters, pack on (report) and off: medians in ms.

    The package is compiled to byte code first, as the layer ships it (``rows_cold_start`` does the same):
    otherwise the on arm also pays for compiling the engine's modules from source (~10 ms here)."""
    import app_protect_lambda

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(app_protect_lambda.__file__).resolve().parent)],
                   check=True)
    times: dict[str, list[float]] = {"report": [], "off": []}
    for _ in range(processes):
        for mode in times:
            result = subprocess.run([sys.executable, "-c", COLD, mode], capture_output=True, text=True, check=True)
            times[mode].append(json.loads(result.stdout.strip().splitlines()[-1]) * 1000)
    return statistics.median(times["report"]), statistics.median(times["off"])


def main() -> None:
    browser = benign_event()
    big = json_request()
    print("| the perimeter, per request (benign) | baseline: a fresh context | added (CPU, median ± s.e.) "
          "| added (p95) |")
    print("| --- | --- | --- | --- |")
    perimeter_row("malicious_payload and ip_filter off, browser request", browser, policy("off"))
    perimeter_row("malicious_payload and ip_filter off, 10 kB JSON", big, policy("off"))
    perimeter_row("shipped pack, report, browser request", browser, policy("report"))
    perimeter_row(f"shipped pack, report, {len(big['body']) / 1024:.1f} kB JSON", big, policy("report"))
    perimeter_row(f"shipped pack, block, {len(big['body']) / 1024:.1f} kB JSON", big, policy("block"))

    print()
    print("| a whole invocation through @protect (other protections off) | bare handler | added (CPU) "
          "| added (p95) |")
    print("| --- | --- | --- | --- |")
    invocation_row("malicious_payload off, 10 kB JSON", big, "off")
    invocation_row("shipped pack, report, 10 kB JSON", big, "report")

    on, off = cold_start_ms()
    print()
    print("| cold start: the first request's perimeter, fresh interpreters (median of 9) | CPU |")
    print("| --- | --- |")
    print(f"| malicious_payload off | {off:.2f} ms |")
    print(f"| shipped pack, report (import, read the pack, build, compile the scanners) | {on:.2f} ms |")
    print(f"| added by the rule engine | {on - off:+.2f} ms |")


if __name__ == "__main__":
    main()
