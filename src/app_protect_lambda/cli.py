"""`app-protect`: validate a policy, replay an event against a handler, summarize records.

    app-protect validate POLICY              exit 0 when the policy is valid, 2 with the reason
    app-protect replay MODULE.FUNCTION EVENT.json [--mode block]
                                             exit 0 with the response, 1 when a non-HTTP event is
                                             blocked, 2 when the handler cannot be loaded
    app-protect summarize [LOG ...]          count detection records (stdin when no file)

A command line tool, not a cold start: it imports what its commands need at once.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from . import sinks
from .decorator import protect
from .errors import PolicyError, RequestBlocked
from .handler_loader import HandlerImportError, load_handler
from .policy import ENFORCED
from .policy_store import load
from .reporting.record import DETECTION_SCHEMA, from_log_line
from .testing import LambdaContext

DESCRIPTION = "validate a policy, replay an event against a handler, summarize records"
NOT_ENFORCED = "off (not enforced by this build)"


def _validate(options: argparse.Namespace) -> int:
    try:
        policy = load(options.policy)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 2
    modes = {kind.value: policy.mode_for(kind).value if kind in ENFORCED else NOT_ENFORCED
             for kind in policy.protections}
    print(json.dumps({"valid": True, "source": policy.source, "default_mode": policy.mode.value,
                      "fail": policy.fail, "protections": modes}, indent=2))
    return 0


def _replay(options: argparse.Namespace) -> int:
    with open(options.event, encoding="utf-8") as event_file:
        event = json.load(event_file)
    if os.getcwd() not in sys.path:  # the handler's directory plays the runtime's task root
        sys.path.insert(0, os.getcwd())
    sinks.instrument()  # before the handler's module binds anything, as the layer does
    try:
        function = load_handler(options.handler)
    except HandlerImportError as error:
        print(error, file=sys.stderr)
        return 2
    handler = protect(mode=options.mode)(function)
    try:
        result = handler(event, LambdaContext())
    except RequestBlocked as blocked:
        print(json.dumps({"blocked": str(blocked)}))
        return 1
    print(json.dumps({"response": result}, default=str))
    return 0


def _records(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        record = from_log_line(line)
        if record is not None and record.get("schema") == DETECTION_SCHEMA:
            yield record


def _summarize(options: argparse.Namespace) -> int:
    counts: Counter[tuple[str, str, str]] = Counter()
    streams: list[TextIO] = [open(path, encoding="utf-8") for path in options.logs] or [sys.stdin]  # noqa: SIM115
    try:
        for stream in streams:
            for record in _records(stream):
                location = (record.get("input") or {}).get("location") or "-"
                counts[(record["protection"], record["action"], location)] += 1
    finally:
        for stream in streams:
            if stream is not sys.stdin:
                stream.close()
    print(f"{'protection':<26}{'action':<10}{'input':<34}count")
    for (protection, action, location), count in sorted(counts.items()):
        print(f"{protection:<26}{action:<10}{location:<34}{count}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app-protect", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a policy (file:, ssm:, appconfig: or a path)")
    validate.add_argument("policy")
    validate.set_defaults(run=_validate)
    replay = commands.add_parser("replay", help="run an event through a handler under @protect")
    replay.add_argument("handler", help="module.function")
    replay.add_argument("event", help="a JSON event file")
    replay.add_argument("--mode", choices=("off", "report", "block"), default="block")
    replay.set_defaults(run=_replay)
    summarize = commands.add_parser("summarize", help="count detection records in logs")
    summarize.add_argument("logs", nargs="*")
    summarize.set_defaults(run=_summarize)
    options = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = options.run
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
