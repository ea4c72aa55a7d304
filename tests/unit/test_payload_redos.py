"""Linear time, shown: every shipped rule on 64 KB of hostile text stays within a tight CPU budget, and users'
patterns outside the linear-time subset are refused at load, with the reason."""
from __future__ import annotations

import time

import pytest

from app_protect_lambda.checks import payload_regex, payload_rules
from app_protect_lambda.checks.payload import Engine, Subjects
from app_protect_lambda.checks.payload_transforms import apply
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.testing import LambdaContext, apigw_v1_event
from tests.payload_rows import ATTACKS, GATED

SIZE = 64 * 1024
# CPU seconds for one rule's pattern on one 64 KB text. The slowest measured here is ~11 ms; a quadratic
# pattern takes 0.17 s on a quarter of it (test_the_budget_catches_a_quadratic_pattern).
BUDGET = 0.05
GENERIC = ["a", " ", "\n", "\\", '"', "%", "$", "{", "(", "<", ";", "_", "0", "${", "{{", "%{", "${${", "(#",
           "<!entity ", "class.", "\\u0024", "%2e", "..", "\x80\x04", "rO0AB", "O:1:\"", "cos\n", "on", "javascript"]


def hostile_texts(rule: payload_rules.Rule) -> list[str]:
    """Texts built to make the rule's pattern work hardest: its literals repeated, each followed by filler
    its repetitions take, near-misses of its attack rows (the last character dropped) repeated."""
    seeds = list(GENERIC)
    seeds += sorted(rule.anchors or ())
    seeds += [value[:-1] for rule_id, _, event in ATTACKS if rule_id == rule.id for value in _strings(event)]
    texts = []
    for seed in seeds:
        if not seed:
            continue
        texts.append((seed * (SIZE // len(seed) + 1))[:SIZE])
        for filler in ("a", " "):
            unit = seed + filler * 60
            texts.append((unit * (SIZE // len(unit) + 1))[:SIZE])
    return texts


def _strings(event: dict) -> list[str]:
    found = [value for value in (event.get("queryStringParameters") or {}).values() if isinstance(value, str)]
    found += [value for value in (event.get("headers") or {}).values() if isinstance(value, str)]
    if isinstance(event.get("body"), str):
        found.append(event["body"])
    return [value for value in found if len(value) > 1]


def _cpu(function, *args) -> float:
    started = time.process_time()
    function(*args)
    return time.process_time() - started


RULES = payload_rules.shipped()


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_every_shipped_rule_is_linear_on_64kb_of_hostile_text(rule: payload_rules.Rule) -> None:
    payload_regex.check_linear(rule.pattern)  # inside the subset, by the bound
    pattern = payload_regex.re.compile(rule.pattern)
    worst = 0.0
    for text in hostile_texts(rule):
        transformed = apply(text, rule.transforms)
        spent = _cpu(pattern.search, transformed)
        if spent >= BUDGET:  # once more, in case the machine was busy
            spent = _cpu(pattern.search, transformed)
        worst = max(worst, spent)
    assert worst < BUDGET, f"{rule.id}: {worst * 1000:.1f} ms on 64 KB"


def test_the_whole_pack_on_a_64kb_hostile_request() -> None:
    """The engine end to end (transforms, the literals' scan, every rule it lets through) on one request
    whose query, header and body are each 64 KB of the pack's literals."""
    literals = "".join(sorted({anchor for rule in RULES for anchor in rule.anchors or ()}))
    text = (literals * (SIZE // len(literals) + 1))[:SIZE]
    event = apigw_v1_event("POST", query={"q": text}, headers={"user-agent": text, "x-a": text}, body=text)
    engine = Engine([(rule, Mode.REPORT) for rule in RULES])
    spent = min(_cpu(lambda: engine.matches(Subjects(RequestContext(event, LambdaContext(), Policy()))))
                for _ in range(2))
    assert spent < 1.0


def test_the_budget_catches_a_quadratic_pattern() -> None:
    """What the subset keeps out: ``[^b]{0,65536}b`` (an unbounded run, in effect) on 16 KB without a b
    already passes the budget (64 KB: ~5 s here)."""
    pattern = payload_regex.re.compile(r"a[^b]{0,65536}b")
    assert _cpu(pattern.search, "a" * (SIZE // 4)) > BUDGET
    with pytest.raises(payload_regex.UnsafePatternError):
        payload_regex.check_linear(r"a[^b]{0,65536}b")


REFUSED = [
    (r"(a+)+$", "unbounded repetition"),
    (r"a.*b", "unbounded repetition"),
    (r"x\s+y", "unbounded repetition"),
    (r"(a)\1", "backreference"),
    (r"(?P<x>a)?(?(x)b|c)", "conditional"),
    (r"\$\{[^}]{0,64}j[^}]{0,64}n[^}]{0,64}d", "backtrack"),
    (r"(a|ab){0,20}c", "backtrack"),
    (r"(?:a|a){0,30}", "backtrack"),
]


@pytest.mark.parametrize(("pattern", "reason"), REFUSED)
def test_a_users_rule_outside_the_subset_is_refused_at_load_with_the_reason(tmp_path, pattern: str,
                                                                              reason: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules:\n  - id: my.rule\n    name: mine\n    severity: low\n"
                    f"    targets: [all]\n    regex: '{pattern}'\n")
    with pytest.raises(payload_rules.RuleError) as refused:
        payload_rules.load_file(str(path))
    message = str(refused.value)
    assert message.startswith(f"rules {path}, line 7: rules[0].regex: refused, not linear-time")
    assert reason in message


ACCEPTED = [r"\$\{\s{0,8}jndi", r"<script[\s>/]", r"a[^b]{0,64}b", r"(?:ab|cd){0,20}e", r"(?i)select\s{1,8}from"]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_bounded_patterns_are_accepted(pattern: str) -> None:
    assert payload_regex.check_linear(pattern) <= payload_regex.MAX_STEPS


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_every_literal_a_rule_names_is_in_each_of_its_attack_matches(rule: payload_rules.Rule) -> None:
    """The literals prefilter may only skip a rule that cannot match: each match of the attack rows holds one."""
    for rule_id, _, event in ATTACKS + [(r, w, e) for r, _, w, e in GATED]:
        if rule_id != rule.id or not rule.anchors:
            continue
        for value in _strings(event):
            match = payload_regex.re.search(rule.pattern, apply(value, rule.transforms))
            if match:
                assert any(anchor in match.group() for anchor in rule.anchors), (rule.id, match.group())
