"""What the IP filter costs a request, and what building a large list costs: `python -m bench.ip_filter`.

Three tables, each figure against its unprotected baseline in the same run (interleaved rounds,
CPU time, ``harness``):

- the perimeter alone (``checkpoints.run_perimeter`` on a fresh invocation context, as each
  request makes one) with ``ip_filter`` off, then with 10 and with 100,000 CIDRs (IPv4 and IPv6
  mixed, from a file list), for an API Gateway client, an IPv6 client, and an ALB client read from
  X-Forwarded-For with one trusted hop;
- a whole invocation through ``@protect`` (every other protection off) with 10 and 100,000 CIDRs,
  beside the bare handler;
- the one-time cost of reading and building the 100,000-line list (text to ranges).

Runs in about a minute.
"""
from __future__ import annotations

import ipaddress
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app_protect_lambda import checkpoints, protect
from app_protect_lambda.checks import ip_lists
from app_protect_lambda.checks.ip_ranges import Table, parse_text
from app_protect_lambda.policy import Policy
from app_protect_lambda.testing import LambdaContext, alb_event

from . import internals
from .harness import interleaved
from .scenarios import benign_event

BIG = 100_000
CLIENT_V4 = "198.51.100.7"  # benign_event's sourceIp
CLIENT_V6 = "2001:db8:1234::7"


def cidr_lines(count: int, seed: int = 11) -> list[str]:
    """``count`` CIDR blocks, IPv4 and IPv6 alternately, in random order, none holding the clients above."""
    rng = random.Random(seed)
    clients = [ipaddress.ip_address(CLIENT_V4), ipaddress.ip_address(CLIENT_V6), ipaddress.ip_address("203.0.113.9")]
    lines: list[str] = []
    while len(lines) < count:
        if len(lines) % 2:
            network: Any = ipaddress.IPv6Network((rng.getrandbits(128), rng.randint(32, 128)), strict=False)
        else:
            network = ipaddress.IPv4Network((rng.getrandbits(32), rng.randint(20, 32)), strict=False)
        if not any(client in network for client in clients):
            lines.append(str(network))
    return lines


def policy(settings: dict[str, Any]) -> Policy:
    return Policy.from_dict({"mode": "off", "protections": {"ip_filter": {"mode": "block", **settings}}})


def perimeter_row(what: str, event: dict, settings: dict[str, Any] | None) -> None:
    chosen = policy(settings) if settings is not None else Policy.from_dict({"mode": "off"})

    def baseline() -> None:
        internals.new_context(event, chosen)

    def protected() -> None:
        checkpoints.run_perimeter(internals.new_context(event, chosen))

    base, prot = interleaved(baseline, protected, setup_baseline=lambda: None, setup_protected=lambda: None,
                             number=2000, rounds=9, repeat=3)
    added = prot - base
    print(f"| {what} | {base.median_ns / 1000:.2f} µs | {added.median_ns / 1000:+.2f} ± {added.error_ns / 1000:.2f} µs "
          f"| {added.p95_ns / 1000:+.2f} µs |")


def invocation_row(what: str, event: dict, settings: dict[str, Any]) -> None:
    def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": "ok"}

    protected_handler = protect(policy={"mode": "off", "protections": {"ip_filter": {"mode": "block", **settings}}})(
        handler)
    context = LambdaContext()
    assert protected_handler(event, context)["statusCode"] == 200  # warm: the lists are read and built here
    base, prot = interleaved(lambda: handler(event, context), lambda: protected_handler(event, context),
                             setup_baseline=lambda: None, setup_protected=lambda: None,
                             number=1000, rounds=9, repeat=3)
    added = prot - base
    print(f"| {what} | {base.median_ns / 1000:.2f} µs | {added.median_ns / 1000:+.2f} ± {added.error_ns / 1000:.2f} µs "
          f"| {added.p95_ns / 1000:+.2f} µs |")


def build_seconds(text: str, runs: int = 5) -> tuple[float, float]:
    """CPU seconds to parse ``text`` and to build its table (median of ``runs``)."""
    parse_times, build_times = [], []
    for _ in range(runs):
        start = time.process_time()
        parsed = parse_text(text)
        middle = time.process_time()
        Table([("list", parsed)], [])
        parse_times.append(middle - start)
        build_times.append(time.process_time() - middle)
    return statistics.median(parse_times), statistics.median(build_times)


def main() -> None:
    small = cidr_lines(10)
    big = cidr_lines(BIG)
    with tempfile.TemporaryDirectory() as folder:
        big_file = Path(folder) / "deny.txt"
        big_file.write_text("\n".join(big) + "\n")
        big_list = {"lists": [f"file:{big_file}"]}
        small_file = Path(folder) / "small.txt"
        small_file.write_text("\n".join(small) + "\n")
        small_list = {"lists": [f"file:{small_file}"]}
        v4 = benign_event()
        v6 = benign_event()
        v6["requestContext"]["identity"]["sourceIp"] = CLIENT_V6
        alb = alb_event("POST", "/users/42/orders", headers={"x-forwarded-for": f"203.0.113.9, {CLIENT_V4}, "
                                                                                 "130.176.0.5"})

        print("| the perimeter, per request (allowed client) | baseline: a fresh context | added (CPU, median ± s.e.) "
              "| added (p95) |")
        print("| --- | --- | --- | --- |")
        perimeter_row("ip_filter off", v4, None)
        perimeter_row("ip_filter on, nothing listed", v4, {})
        perimeter_row("10 CIDRs (policy deny), API Gateway sourceIp", v4, {"deny": small})
        perimeter_row("10 CIDRs (file list), API Gateway sourceIp", v4, small_list)
        perimeter_row(f"{BIG:,} CIDRs (file list), API Gateway sourceIp", v4, big_list)
        perimeter_row("10 CIDRs (file list), IPv6 client", v6, small_list)
        perimeter_row(f"{BIG:,} CIDRs (file list), IPv6 client", v6, big_list)
        perimeter_row("10 CIDRs (file list), ALB X-Forwarded-For, 1 trusted hop", alb,
                      {**small_list, "trusted_proxies": 1})
        perimeter_row(f"{BIG:,} CIDRs (file list), ALB X-Forwarded-For, 1 trusted hop", alb,
                      {**big_list, "trusted_proxies": 1})

        print()
        print("| a whole invocation through @protect (other protections off) | bare handler | added (CPU) "
              "| added (p95) |")
        print("| --- | --- | --- | --- |")
        invocation_row("10 CIDRs (file list)", v4, small_list)
        invocation_row(f"{BIG:,} CIDRs (file list)", v4, big_list)

        text = big_file.read_text()
        parse, build = build_seconds(text)
        ip_lists.forget()
        start = time.process_time()
        ip_lists.current(f"file:{big_file}")
        read = time.process_time() - start
        print()
        print(f"| building the {BIG:,}-line list ({len(text) / 1e6:.1f} MB, IPv4 and IPv6 mixed) | CPU |")
        print("| --- | --- |")
        print(f"| parse the text (one inet_pton a line) | {parse * 1000:.0f} ms |")
        print(f"| build the sorted ranges (both families) | {build * 1000:.0f} ms |")
        print(f"| read the file, digest and parse (ip_lists, once per version) | {read * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
