"""`app-protect`: validate a policy, replay an event against a handler, summarize records.

    app-protect validate POLICY              exit 0 when the policy is valid, 2 with the reason
    app-protect replay MODULE.FUNCTION EVENT.json [--mode block]
                                             exit 0 with the response, 1 when a non-HTTP event is
                                             blocked, 2 when the handler cannot be loaded
    app-protect summarize [LOG ...]          count detection records (stdin when no file)
    app-protect rules [--policy POLICY]      the payload rules: id, mode, severity, tags, why active
    app-protect rules test RULES_FILE EVENT.json [--pack]
                                             the rules of RULES_FILE (and the shipped pack) an event
                                             triggers; exit 0, or 2 when the file is refused

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
from .checks.payload import payload_mode
from .decorator import protect
from .errors import PolicyError, RequestBlocked
from .findings import AttackKind
from .handler_loader import HandlerImportError, load_handler
from .policy import ENFORCED
from .policy_store import load
from .reporting.record import DETECTION_SCHEMA, from_log_line
from .testing import LambdaContext

DESCRIPTION = "validate a policy, replay an event against a handler, summarize records, list and test payload rules"
NOT_ENFORCED = "off (not enforced by this build)"


def _validate(options: argparse.Namespace) -> int:
    try:
        policy = load(options.policy)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 2
    modes = {kind.value: policy.mode_for(kind).value if kind in ENFORCED else NOT_ENFORCED
             for kind in policy.protections}
    modes[AttackKind.MALICIOUS_PAYLOAD.value] = payload_mode(policy).value  # off unless the policy says
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


def _rules(options: argparse.Namespace) -> int:
    if options.rules_command == "test":
        return _rules_test(options)
    from .checks import payload, payload_rules

    try:
        policy = load(options.policy)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 2
    settings = policy.options(AttackKind.MALICIOUS_PAYLOAD)
    default = payload.payload_mode(policy)
    disabled = set(settings["disabled_rules"])
    print(f"{'id':<32}{'mode':<9}{'severity':<10}{'tags':<44}why active")
    for rule in payload_rules.rule_set(settings["rules_files"]):
        mode = settings["rules"].get(rule.id, default).value
        why = payload_rules.why_active(rule)
        if rule.id in disabled:
            mode, why = "off", "disabled_rules"
        elif why is None:
            why = f"inactive: {payload_rules.why_inactive(rule)}"
        elif rule.id in settings["rules"]:
            why += f"; mode from rules.{rule.id}"
        print(f"{rule.id:<32}{mode:<9}{rule.severity:<10}{', '.join(rule.tags)[:42]:<44}{why}")
    return 0


def _rules_test(options: argparse.Namespace) -> int:
    from .checks import payload, payload_rules
    from .context import RequestContext
    from .policy import Mode, Policy

    try:
        rules = payload_rules.load_file(options.rules_file)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 2
    if options.pack:
        rules = payload_rules.shipped() + rules
    with open(options.event, encoding="utf-8") as event_file:
        event = json.load(event_file)
    engine = payload.Engine([(rule, Mode.REPORT) for rule in rules])
    context = RequestContext(event, LambdaContext(), Policy())
    found = engine.matches(payload.Subjects(context))
    triggered = {rule.id for rule, *_ in found}
    for rule in rules:
        if rule.id not in triggered and payload_rules.why_active(rule) is None:
            print(f"{rule.id}: inactive ({payload_rules.why_inactive(rule)})")
    for rule, _, item, fragment in found:
        print(json.dumps({"rule": rule.id, "name": rule.name, "tags": list(rule.tags), "input": item.location,
                          "matched": fragment}))
    print(f"{len(found)} of {len(rules)} rules triggered")
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
    rules = commands.add_parser("rules", help="list the payload rules, or test rules against an event")
    rules.add_argument("--policy", default=None, help="the policy whose modes and rules files apply")
    rules.set_defaults(run=_rules, rules_command=None)
    rules_commands = rules.add_subparsers(dest="rules_command")
    test = rules_commands.add_parser("test", help="which rules of RULES_FILE an event triggers")
    test.add_argument("rules_file")
    test.add_argument("event", help="a JSON event file")
    test.add_argument("--pack", action="store_true", help="run the shipped pack too")
    options = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = options.run
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
