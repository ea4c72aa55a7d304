"""`app-protect`: validate a policy, replay an event against a handler, summarize records.

    app-protect validate POLICY              exit 0 when the policy is valid, 2 with the reason
    app-protect replay MODULE.FUNCTION EVENT.json [--mode block]
    app-protect summarize [LOG ...]          count detection records (stdin when no file)
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def _validate(options: argparse.Namespace) -> int:
    from .errors import PolicyError
    from .policy_store import load

    try:
        policy = load(options.policy)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 2
    modes = {kind.value: policy.mode_for(kind).value for kind in policy.protections}
    print(json.dumps({"valid": True, "source": policy.source, "default_mode": policy.mode.value,
                      "fail": policy.fail, "protections": modes}, indent=2))
    return 0


def _load_handler(spec: str):
    module_name, _, function_name = spec.replace("/", ".").rpartition(".")
    if not module_name:
        raise SystemExit(f"app-protect: handler {spec!r} is not of the form module.function")
    sys.path.insert(0, ".")
    return getattr(importlib.import_module(module_name), function_name)


def _replay(options: argparse.Namespace) -> int:
    from .decorator import protect
    from .errors import RequestBlocked
    from .testing import LambdaContext

    with open(options.event, encoding="utf-8") as event_file:
        event = json.load(event_file)
    handler = protect(mode=options.mode)(_load_handler(options.handler))
    try:
        result = handler(event, LambdaContext())
    except RequestBlocked as blocked:
        print(json.dumps({"blocked": str(blocked)}))
        return 1
    print(json.dumps({"response": result}, default=str))
    return 0


def _records(lines: Iterable[str]) -> Iterable[dict]:
    from .reporting.record import DETECTION_SCHEMA, from_log_line

    for line in lines:
        record = from_log_line(line)
        if record is not None and record.get("schema") == DETECTION_SCHEMA:
            yield record


def _summarize(options: argparse.Namespace) -> int:
    counts: Counter[tuple[str, str, str]] = Counter()
    streams = [open(path, encoding="utf-8") for path in options.logs] or [sys.stdin]  # noqa: SIM115
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
    parser = argparse.ArgumentParser(prog="app-protect", description=__doc__.splitlines()[0])
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
    return options.run(options)


if __name__ == "__main__":
    sys.exit(main())
