"""The payload rule format: a bad rule names its file, its line and its key; the policy's payload options."""
from __future__ import annotations

from pathlib import Path

import pytest

from app_protect_lambda.checks import payload_rules
from app_protect_lambda.checks.payload_regex import anchors, phrase_pattern
from app_protect_lambda.errors import PolicyError
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Mode, Policy
from app_protect_lambda.policy_store import load

GOOD = """\
version: 1
rules:
  - id: acme.internal-debug
    name: Internal debug switch
    severity: medium
    tags: [acme, debug]
    targets: [query, "header:x-debug"]
    transforms: [url-decode, lowercase]
    regex: 'debug\\s{0,4}=\\s{0,4}(?:1|true)'
  - id: acme.words
    name: Banned words
    severity: low
    targets: [body]
    transforms: [lowercase]
    phrases: [drop table, xp_cmdshell]
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_valid_file_gives_its_rules(tmp_path: Path) -> None:
    rules = payload_rules.load_file(write(tmp_path, GOOD))
    assert [rule.id for rule in rules] == ["acme.internal-debug", "acme.words"]
    assert rules[0].targets == ("query", "header:x-debug")
    assert rules[1].anchors == frozenset({"drop table", "xp_cmdshell"})


BAD = [
    ("    severity: medium\n", "    severity: urgent\n", 5, "rules[0].severity: 'urgent' is not one of"),
    ("    targets: [query, \"header:x-debug\"]\n", "    targets: [querystring]\n", 7,
     "rules[0].targets[0]: 'querystring' is not one of"),
    ("    transforms: [url-decode, lowercase]\n", "    transforms: [rot13]\n", 8,
     "rules[0].transforms[0]: 'rot13' is not one of"),
    ("    regex: 'debug\\s{0,4}=\\s{0,4}(?:1|true)'\n", "    regex: 'debug('\n", 9,
     "rules[0].regex: not a regular expression"),
    ("    regex: 'debug\\s{0,4}=\\s{0,4}(?:1|true)'\n", "    regex: 'DEBUG=1'\n", 9,
     "rules[0].regex: the text is lowercased before matching, so the pattern's 'D' can never match"),
    ("    tags: [acme, debug]\n", "    tags: [acme, debug]\n    colour: red\n", 7, "rules[0].colour: unknown key"),
    ("  - id: acme.words\n", "  - id: acme.internal-debug\n", 10,
     "rules[1].id: the id 'acme.internal-debug' is used twice"),
    ("  - id: acme.words\n", "  - id: Acme Words\n", 10, "rules[1].id: 'Acme Words' is not an id"),
    ("    phrases: [drop table, xp_cmdshell]\n", "    phrases: [DROP TABLE]\n", 15,
     "rules[1].phrases[0]: the text is lowercased before matching"),
    ("    phrases: [drop table, xp_cmdshell]\n", "    phrases: [x]\n    regex: 'x'\n", 10,
     "rules[1]: expected exactly one operator: regex or phrases"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD, ids=[item[3][:40] for item in BAD])
def test_a_bad_rule_names_the_file_the_line_and_the_key(tmp_path: Path, old: str, new: str, line: int,
                                                        message: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(payload_rules.RuleError) as refused:
        payload_rules.load_file(path)
    assert str(refused.value).startswith(f"rules {path}, line {line}: {message}")


def test_json_rules_and_syntax_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '{"version": 1, "rules": [{"id": "a.b", "name": "x", "severity": "low",\n'
                           ' "targets": ["all"], "regex": "a{0,3}b", "applies_to": {"distribution": "x"}}]}',
                 "rules.json")
    with pytest.raises(payload_rules.RuleError, match=r"rules .*rules.json, line 2: rules\[0\].applies_to"):
        payload_rules.load_file(path)
    broken = write(tmp_path, "version: 1\nrules:\n  - id: [\n", "broken.yaml")
    with pytest.raises(payload_rules.RuleError, match=r"broken.yaml, line \d: invalid YAML"):
        payload_rules.load_file(broken)


@pytest.mark.parametrize(("spec", "version", "admitted"), [
    ("<5.4", "5.3.1", True), ("<5.4", "5.4", False), ("<5.4", "5.4.0", False), ("<0.0.7", "0.0.6", True),
    ("<0.0.7", "0.0.7a1", False), (">=1.0,<2.0", "1.9.9", True), (">=1.0,<2.0", "2.0", False), ("!=3", "3.0.0", False),
])
def test_version_ranges(spec: str, version: str, admitted: bool) -> None:
    clauses = payload_rules._versions(spec, "x")
    assert payload_rules.admits(clauses, version) is admitted


def test_literals_and_phrase_sets() -> None:
    # Punctuation beats a longer letters-only word (a text without "{" skips it for one memchr); else the longest.
    assert anchors(r"\$\{\s{0,8}jndi") == frozenset({"${"})
    assert anchors(r"\{\{\s{0,16}(?:config|self)\b") == frozenset({"{{"})
    assert anchors(r"abc\s{0,8}defg") == frozenset({"defg"})
    assert anchors(r"on(?:error|load)\s{0,8}=") == frozenset({"onerror", "onload"})  # not "=" alone
    assert anchors(r"(?:^|[;{])O:[1-9]") == frozenset(f"O:{n}" for n in range(1, 10))
    assert anchors(r"[a-z]{1,3}") is None  # no literal: the rule runs on every text of its targets
    assert anchors(r"(?i)union\s{1,4}select") is None  # any case: literals only for lowercased text
    assert anchors(r"(?i)union\s{1,4}select", lowercased=True) == frozenset({"select"})
    pattern = phrase_pattern(["nuclei", "nucleus", "nikto", "a", "ab"])
    import re

    assert [m.group() for m in re.finditer(pattern, "ab nucleus nikto x a")] == ["ab", "nucleus", "nikto", "a"]


def test_the_policy_options(tmp_path: Path) -> None:
    rules_file = write(tmp_path, GOOD)
    policy = Policy.from_dict({"protections": {"malicious_payload": {
        "mode": "report", "rules": {"payload.log4shell": "block", "acme.words": "off"},
        "disabled_rules": ["payload.xss"], "rules_files": [rules_file]}}})
    options = policy.options(AttackKind.MALICIOUS_PAYLOAD)
    assert options["rules"] == {"payload.log4shell": Mode.BLOCK, "acme.words": Mode.OFF}
    assert options["disabled_rules"] == ("payload.xss",)


def test_a_policy_naming_an_unknown_rule_or_a_bad_rules_file_fails_with_its_line(tmp_path: Path) -> None:
    policy = write(tmp_path, "version: 1\nprotections:\n  malicious_payload:\n    mode: report\n"
                             "    disabled_rules: [payload.log4shel]\n", "policy.yaml")
    with pytest.raises(PolicyError, match=r"line 5: protections.malicious_payload.disabled_rules: no payload rule "
                                          r"has the id 'payload.log4shel'"):
        load(policy)
    bad_rules = write(tmp_path, GOOD.replace("severity: medium", "severity: urgent"))
    policy = write(tmp_path, f"version: 1\nprotections:\n  malicious_payload:\n    rules_files: [{bad_rules}]\n",
                   "policy2.yaml")
    with pytest.raises(PolicyError, match=rf"rules {bad_rules}, line 5: rules\[0\].severity"):
        load(policy)


def test_the_pack_is_off_unless_the_policy_names_a_mode() -> None:
    from app_protect_lambda.checks.payload import payload_mode

    assert payload_mode(Policy()) is Mode.OFF
    assert payload_mode(Policy(mode=Mode.BLOCK)) is Mode.OFF  # opt-in, whatever the default mode
    assert payload_mode(Policy(mode=Mode.OFF)) is Mode.OFF
    assert payload_mode(Policy.from_dict({"protections": {"malicious_payload": "report"}})) is Mode.REPORT
    assert payload_mode(Policy.from_dict({"mode": "report", "protections": {"malicious_payload": "block"}})) \
        is Mode.BLOCK
