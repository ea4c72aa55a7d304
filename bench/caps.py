"""`python -m bench.caps`: what a large event costs to inspect, per shape and size, and an event at every cap.

For each body shape (JSON, many keys, deep nesting, form, multipart, many headers, many query
parameters, an SQS batch) at 1 MB and 6 MB (Lambda's synchronous payload limit), the handler
runs once unprotected and once under ``@protect`` (block mode), calling sqlite once (and, in the
second figure, twice) with a statement no input occurs in: the whole inspection an invocation
pays, flattening, values, decoded forms and the check. Figures are CPU time, the median of a few
runs each (one run of a 6 MB event takes long enough that its own noise is small).

"The cost of an event at every cap" pads an event just past each cap (input count, bytes,
depth, headers, query parameters, form fields, multipart parts, SQS records) with an attack
after the padding, and says what became of it: blocked by correlation, or by ``on_exceeded``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event, sqs_event

MB = 1 << 20
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "----bench7MA4YWxkTrZu0gW"
ATTACK = "x' OR '1'='1"
_LAMBDA_CONTEXT = LambdaContext()


def _text(index: int) -> str:
    return f"Leave parcel {index} by the blue door, please"


def _record(index: int) -> dict[str, Any]:
    return {"id": index, "sku": f"SKU-{index:07d}", "name": _text(index), "qty": index % 7 + 2,
            "price": 12.5 + index % 100, "tags": ["red", "large", f"lot-{index % 50}"],
            "address": {"street": f"{index} Main Street", "city": "Springfield", "zip": f"{index % 99999:05d}"}}


def json_body(count: int) -> dict[str, Any]:
    """Records of a dozen fields each, as an API's batch upload sends them."""
    return {"records": [_record(index) for index in range(count)]}


def many_keys(count: int) -> dict[str, Any]:
    """One flat object of short keys and values (100,000 keys at about 2.5 MB)."""
    return {f"key{index:06d}": f"v{index}" for index in range(count)}


def deep(count: int) -> Any:
    """Objects nested 100 levels deep, side by side, each level with a field of its own."""
    chain: list[Any] = []
    for _ in range(count):
        node: Any = {"leaf": "the end"}
        for level in range(100):
            node = {"level": f"level {level}", "child": node}
        chain.append(node)
    return chain


def form(count: int) -> str:
    return "&".join(f"field{index}={_text(index).replace(' ', '+')}" for index in range(count))


def multipart(filler: int) -> str:
    """As many parts as the reader takes (1,000), each with ``filler`` more characters."""
    text = ("lorem ipsum " * (filler // 12 + 1))[:filler]
    parts = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"field{index}\"\r\n\r\n"
             f"{_text(index)} {text}\r\n" for index in range(1000)]
    return "".join(parts) + f"--{BOUNDARY}--\r\n"


def http_event(body: Any, content_type: str | None = None, **extra: Any) -> dict[str, Any]:
    headers = {"content-type": content_type} if content_type else {}
    headers.update(extra.pop("headers", {}))
    return apigw_v1_event("POST", "/orders", headers=headers, body=body, **extra)


def many_headers(count: int) -> dict[str, Any]:
    return http_event(None, headers={f"x-custom-{index}": f"value {index} of the header" for index in range(count)})


def many_query(filler: int) -> dict[str, Any]:
    """As many parameters as the reader takes (10,000), each value with ``filler`` more characters."""
    text = "x" * filler
    return apigw_v2_event("GET", "/search", query={f"q{index}": f"value {index} {text}" for index in range(10_000)})


def sqs_batch(count: int) -> dict[str, Any]:
    """``count`` messages, each a JSON body of eight records."""
    return sqs_event(*({"orders": [_record(index * 8 + offset) for offset in range(8)]} for index in range(count)))


def event_size(event: dict[str, Any]) -> int:
    return len(json.dumps(event))


def sized(build: Callable[[int], dict[str, Any]], size: int) -> dict[str, Any]:
    """``build(n)`` with the n that makes its JSON about ``size`` bytes (two proportional steps from n = 100)."""
    count = max(1, 100 * size // event_size(build(100)))
    event = build(count)
    return build(max(1, count * size // event_size(event)))


SHAPES: dict[str, Callable[[int], dict[str, Any]]] = {
    "json": lambda size: sized(lambda n: http_event(json_body(n), "application/json"), size),
    "many keys": lambda size: sized(lambda n: http_event(many_keys(n), "application/json"), size),
    "deep nesting": lambda size: sized(lambda n: http_event(deep(n), "application/json"), size),
    "form": lambda size: sized(lambda n: http_event(form(n), FORM), size),
    "multipart": lambda size: sized(
        lambda n: http_event(multipart(n), f"multipart/form-data; boundary={BOUNDARY}"), size),
    "headers": lambda size: sized(many_headers, size),
    "query": lambda size: sized(many_query, size),
    "sqs batch": lambda size: sized(sqs_batch, size),
}


def handler_with(calls: int, spent: list[float] | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """A handler that runs ``calls`` sqlite statements no input occurs in, the CPU time of each in ``spent``."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE orders (id INTEGER, note TEXT)")
    times = spent if spent is not None else []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for _ in range(calls):
            started = time.process_time()
            connection.execute("SELECT count(*) FROM orders WHERE id = 7").fetchone()
            times.append(time.process_time() - started)
        return {"statusCode": 200, "body": "ok"}

    return handler


def cpu_ms(function: Callable[[], object], runs: int) -> float:
    """The median CPU time of ``function``, its records (printed to stdout as in Lambda) kept out of the table."""
    samples = []
    for _ in range(runs):
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.process_time()
            function()
            samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def shape_rows(sizes: tuple[int, ...] = (MB, 6 * MB), runs: int = 3) -> None:
    """Per shape and size: the invocation unprotected and protected, the added ms per MB, and the first
    and second sink calls of the protected invocation (the first pays the inspection)."""
    policy = Policy(mode=Mode.BLOCK)
    protect(policy=policy)(handler_with(0))  # instrument before the handlers' connections are opened
    print(f"{'shape':<14}{'size':>8}{'unprotected':>13}{'protected':>11}{'ms/MB':>7}{'1st call':>10}{'2nd call':>10}"
          f"{'runtime parse':>15}{'added/parse':>13}")
    for name, build in SHAPES.items():
        for size in sizes:
            event = build(size)
            megabytes = event_size(event) / MB
            spent: list[float] = []
            plain, guarded = handler_with(2), protect(policy=policy)(handler_with(2, spent))
            unprotected = cpu_ms(partial(plain, event, _LAMBDA_CONTEXT), runs)
            protected = cpu_ms(partial(guarded, event, _LAMBDA_CONTEXT), runs)
            first = statistics.median(spent[0::2]) * 1000
            second = statistics.median(spent[1::2]) * 1000
            added = protected - unprotected
            # What the Lambda runtime client itself pays to hand the event over (json.loads of the
            # payload): a yardstick measured in the same run, steadier than ms on a shared machine.
            text = json.dumps(event)
            parse = cpu_ms(partial(json.loads, text), runs)
            print(f"{name:<14}{megabytes:>6.2f}MB{unprotected:>11.2f}ms{protected:>9.1f}ms{added / megabytes:>7.1f}"
                  f"{first:>8.2f}ms{second:>8.3f}ms{parse:>13.1f}ms{added / parse:>12.1f}x", flush=True)


def _attack_handler() -> tuple[Callable[[dict[str, Any], Any], Any], sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE users (name TEXT)")
    connection.execute("INSERT INTO users VALUES ('alice')")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        connection.execute(f"DELETE FROM users WHERE name = '{ATTACK}'")
        return {"statusCode": 200, "body": "ok"}

    return handler, connection


def _in_strings(value: Any, levels: int) -> Any:
    """``value`` as JSON in a string, in a string..., ``levels`` deep."""
    for _ in range(levels):
        value = {"wrapped": json.dumps(value)}
    return value


def padded_events() -> dict[str, dict[str, Any]]:
    """An event just past each cap, the attack after the padding."""
    from app_protect_lambda.sources.http import MAX_QUERY_FIELDS
    from app_protect_lambda.sources.multipart import MAX_PARTS

    limits = Policy().limits
    parts = "".join(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"p{index}\"\r\n\r\npad\r\n"
                    for index in range(MAX_PARTS + 10))
    deep_text = '{"a":' * 5000 + json.dumps({"name": ATTACK}) + "}" * 5000
    return {
        f"input count ({limits.max_inputs})": http_event({"pad": ["x"] * (limits.max_inputs + 10), "name": ATTACK},
                                                         "application/json"),
        f"bytes ({limits.max_bytes})": http_event({"pad": "x" * limits.max_bytes, "name": ATTACK}, "application/json"),
        f"depth ({limits.max_depth})": http_event(_nested({"name": ATTACK}, limits.max_depth + 8), "application/json"),
        "depth past json's recursion": http_event(deep_text, "application/json"),
        "JSON in strings past max_bytes": http_event(_in_strings({"pad": "x" * (5 * MB // 2), "name": ATTACK}, 4),
                                                     "application/json"),
        "headers (20,000)": http_event(None, headers={**{f"x-pad-{index}": "pad" for index in range(20_000)},
                                                      "x-name": ATTACK}),
        f"query ({MAX_QUERY_FIELDS})": apigw_v2_event("GET", "/", query={
            **{f"p{index}": "pad" for index in range(MAX_QUERY_FIELDS + 10)}, "name": ATTACK}),
        "form fields (100,000)": http_event(
            "&".join([*(f"p{index}=pad" for index in range(100_000)), f"name={ATTACK}"]), FORM),
        f"multipart parts ({MAX_PARTS})": http_event(
            parts + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{ATTACK}\r\n"
            f"--{BOUNDARY}--\r\n", f"multipart/form-data; boundary={BOUNDARY}"),
        "sqs records (10,010)": sqs_event(*[{"pad": "x"}] * 10_009, {"name": ATTACK}),
        f"values to decode ({limits.max_decoded})": http_event(
            {"pad": [f"%{index:x}" for index in range(limits.max_decoded + 5000)], "name": ATTACK},
            "application/json"),
    }


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"a": value}
    return value


def _outcome(guarded: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> tuple[float, str]:
    """CPU time of one protected invocation, and what became of it: the response or error, and the rule
    of each detection record (``inspection.exceeded``: on_exceeded decided; any other: correlation did)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        started = time.process_time()
        try:
            response = guarded(event, _LAMBDA_CONTEXT)
        except RequestBlocked:
            answer = "RequestBlocked"
        else:
            answer = f"status {response.get('statusCode')}"
        spent = (time.process_time() - started) * 1000
    rules = []
    for line in printed.getvalue().splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("rule"):
            rules.append(f"{record['rule']} {record.get('action')}")
        elif record.get("notice"):
            rules.append(record["notice"])
    return spent, f"{answer}; {', '.join(rules) or 'no record'}"


def cap_rows() -> None:
    policy = Policy(mode=Mode.BLOCK)
    protect(policy=policy)(handler_with(0))  # instrument before the handlers' connections are opened
    print(f"\n{'the cost of an event at every cap':<34}{'size':>8}{'protected':>12}  outcome")
    for name, event in padded_events().items():
        handler, connection = _attack_handler()
        spent, outcome = _outcome(protect(policy=policy)(handler), event)
        rows = connection.execute("SELECT count(*) FROM users").fetchone()[0]
        print(f"{name:<34}{event_size(event) / MB:>6.2f}MB{spent:>10.1f}ms  {outcome}; rows left {rows}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.caps", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,6", help="event sizes in MB, comma-separated (default 1,6)")
    parser.add_argument("--only", choices=("shapes", "caps"), help="one of the two tables")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is printed)")
    arguments = parser.parse_args()
    if arguments.only != "caps":
        shape_rows(tuple(int(float(size) * MB) for size in arguments.sizes.split(",")), arguments.runs)
    if arguments.only != "shapes":
        cap_rows()


if __name__ == "__main__":
    main()
