"""`make bench`: measure every budget row against its baseline and print one table.

`python -m bench --write` also keeps the table in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

from .scenarios import Row, rows_cold_start, rows_facts, rows_per_call


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {unit}" if unit != "calls" else f"{value:.0f}"


def table(rows: list[Row]) -> str:
    lines = ["| what | budget | added (median) | added (p95) | of budget | |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        budget = "—" if row.budget is None else f"≤ {row.budget:g} {row.unit}"
        if row.budget is None or row.measured is None:
            ratio, verdict = "—", ""
        elif row.budget == 0:
            ratio, verdict = "—", "ok" if row.measured == 0 else "MISS"
        else:
            ratio = f"{row.measured / row.budget:.0%}"
            verdict = "ok" if row.measured <= row.budget else "MISS"
        lines.append(f"| {row.what} | {budget} | {_format(row.measured, row.unit)} | "
                     f"{_format(row.p95, row.unit) if row.p95 is not None else '—'} | {ratio} | {verdict} "
                     f"{row.note} |".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="skip the fresh-process cold-start rows")
    options = parser.parse_args(argv)
    rows = [] if options.quick else rows_cold_start()
    rows += rows_per_call() + rows_facts()
    header = (f"Measured {datetime.date.today().isoformat()} on {platform.machine()}, "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"{platform.system()} {platform.release()}; every figure is protected minus baseline in one run.")
    output = f"{header}\n\n{table(rows)}\n"
    print(output)
    if options.write:
        Path(__file__).with_name("RESULTS.md").write_text(f"# Benchmark results\n\n{output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
