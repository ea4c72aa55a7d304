"""Policy validation, loading from files, and precedence of explicit arguments over env."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app_protect_lambda import config
from app_protect_lambda.errors import ConfigurationError, PolicyError
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import ENFORCED, Mode, Policy
from app_protect_lambda.policy_store import PolicyStore, load

GOOD_YAML = """\
version: 1
mode: report
fail: open
protections:
  sql_injection:      {mode: block}
  file_access:        {mode: block, deny_paths: ["/proc/self/environ"], allow_paths: []}
  ssrf:               {mode: block, allow_hosts: ["api.example.com"]}
  ip_filter:          {mode: off, allow: [], deny: ["203.0.113.0/24"], trusted_proxies: 0}
  malicious_payload:  off
reporting:
  event_bus: default
  include_stack: true
"""


NOT_ENFORCED = sorted(set(AttackKind) - ENFORCED)


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults() -> None:
    policy = Policy()
    assert policy.mode is Mode.REPORT
    assert all(policy.mode_for(kind) is Mode.REPORT for kind in ENFORCED)
    assert all(policy.mode_for(kind) is Mode.OFF for kind in NOT_ENFORCED)
    assert policy.options(AttackKind.IP_FILTER)["trusted_proxies"] == 0


def test_yaml_file(tmp_path: Path) -> None:
    policy = load(str(write(tmp_path, GOOD_YAML)))
    assert policy.mode_for(AttackKind.SQL_INJECTION) is Mode.BLOCK
    assert policy.mode_for(AttackKind.COMMAND_INJECTION) is Mode.REPORT
    assert policy.mode_for(AttackKind.MALICIOUS_PAYLOAD) is Mode.OFF
    assert policy.options(AttackKind.SSRF)["allow_hosts"] == ("api.example.com",)
    assert str(policy.options(AttackKind.IP_FILTER)["deny"][0]) == "203.0.113.0/24"
    assert policy.reporting.event_bus == "default"


def test_json_file_with_file_scheme(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"version": 1, "protections": {"sql_injection": {"mode": "off"}}}),
                 "policy.json")
    assert load(f"file:{path}").mode_for(AttackKind.SQL_INJECTION) is Mode.OFF


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("version: 1\nprotections:\n  sql_injection:\n    mode: blok\n", 4,
     "protections.sql_injection.mode: 'blok' is not one of off, report, block"),
    ("version: 1\nprotections:\n  sql_injektion: {mode: block}\n", 3,
     "protections.sql_injektion: unknown key"),
    ("version: 1\nprotections:\n  ssrf:\n    allow_hosts: api.example.com\n", 4,
     "protections.ssrf.allow_hosts: expected a list of strings"),
    ("version: 1\nprotections:\n  ip_filter:\n    mode: off\n    deny:\n      - 10.0.0.0/8\n      - not-an-ip\n", 7,
     "protections.ip_filter.deny[1]: 'not-an-ip' is not an IP address"),
    ("version: 1\nreporting:\n  colour: red\n", 3, "reporting.colour: unknown key"),
    ("version: 1\nmode: [block\n", 3, "invalid YAML"),
    ("version: 2\n", 1, "version: unsupported version 2"),
])
def test_bad_policy_names_path_line_and_key(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        load(str(path))
    message = str(raised.value)
    assert message.startswith(f"policy {path}, line {line}: "), message
    assert fragment in message


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "version": 1,\n  "mode": "block",,\n}\n', "policy.json")
    with pytest.raises(PolicyError, match=r"line 3: invalid JSON"):
        load(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load(str(tmp_path / "absent.yaml"))


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="expected a mapping at the top level"):
        load(str(write(tmp_path, "- a\n- b\n")))


def test_env_mode_and_explicit_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    config.reset()
    assert PolicyStore().current().mode is Mode.BLOCK
    assert PolicyStore(mode="off").current().mode is Mode.OFF  # explicit beats env


def test_bad_env_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PROTECT_MODE", "blocking")
    config.reset()
    with pytest.raises(ConfigurationError, match="APP_PROTECT_MODE='blocking'"):
        PolicyStore()


def test_explicit_policy_beats_env_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PROTECT_POLICY", str(write(tmp_path, "version: 1\nmode: off\n")))
    config.reset()
    assert PolicyStore().current().mode is Mode.OFF
    assert PolicyStore(policy={"mode": "block"}).current().mode is Mode.BLOCK


def test_env_mode_is_the_default_of_a_policy_file_without_mode(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_FAIL", "closed")
    config.reset()
    policy = PolicyStore(policy=str(write(tmp_path, "version: 1\nprotections: {ssrf: report}\n"))).current()
    assert policy.mode is Mode.BLOCK and policy.mode_for(AttackKind.SSRF) is Mode.REPORT
    assert policy.fail == "closed"


def test_reload_after_ttl_keeps_last_good_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "version: 1\nmode: report\n")
    monkeypatch.setenv("APP_PROTECT_POLICY_TTL", "0")
    config.reset()
    store = PolicyStore(policy=f"file:{path}")
    assert store.current().mode is Mode.REPORT
    path.write_text("version: 1\nmode: block\n")
    assert store.current().mode is Mode.BLOCK
    path.write_text("version: 1\nmode: [broken\n")
    assert store.current().mode is Mode.BLOCK  # a broken reload keeps the last good policy
    assert "app-protect/internal-error/1" in capsys.readouterr().out


@pytest.mark.parametrize("kind", NOT_ENFORCED, ids=str)
@pytest.mark.parametrize("mode", ["report", "block"])
@pytest.mark.parametrize(("template", "line", "key_path"), [
    ("version: 1\nprotections:\n  {kind}: {mode}\n", 3, "protections.{kind}"),
    ("version: 1\nmode: report\nprotections:\n  {kind}:\n    mode: {mode}\n", 5, "protections.{kind}.mode"),
], ids=["shorthand", "mapping"])
def test_an_unenforced_protection_cannot_report_or_block(tmp_path: Path, kind: AttackKind, mode: str,
                                                         template: str, line: int, key_path: str) -> None:
    path = write(tmp_path, template.format(kind=kind.value, mode=mode))
    with pytest.raises(PolicyError) as raised:
        load(str(path))
    assert str(raised.value) == (
        f"policy {path}, line {line}: {key_path.format(kind=kind.value)}: {kind.value} is not enforced by this "
        f"build, so '{mode}' would do nothing; set it to off or remove it")


def test_an_unenforced_protection_is_refused_in_a_mapping_policy_too() -> None:
    with pytest.raises(PolicyError, match=r"^protections\.malicious_upload\.mode: malicious_upload is not enforced"):
        Policy.from_dict({"protections": {"malicious_upload": {"mode": "block", "max_bytes": 1024}}})
    with pytest.raises(PolicyError, match=r"^protections\.code_injection: code_injection is not enforced"):
        PolicyStore(policy={"protections": {"code_injection": "report"}})


def test_options_of_an_unenforced_protection_need_an_explicit_off(tmp_path: Path) -> None:
    inherited = write(tmp_path, "version: 1\nmode: block\nprotections:\n  malicious_upload:\n"
                                "    max_bytes: 1024\n")
    with pytest.raises(PolicyError) as raised:
        load(str(inherited))
    assert str(raised.value).startswith(
        f"policy {inherited}, line 5: protections.malicious_upload.max_bytes: malicious_upload is not enforced by "
        "this build, so its options do nothing; add `mode: off` to stage them")

    staged = write(tmp_path, "version: 1\nmode: block\nprotections:\n  malicious_upload:\n    mode: off\n"
                             "    max_bytes: 1024\n  unsafe_deserialization: {}\n", "staged.yaml")
    policy = load(str(staged))
    assert policy.mode_for(AttackKind.MALICIOUS_UPLOAD) is Mode.OFF
    assert policy.mode_for(AttackKind.UNSAFE_DESERIALIZATION) is Mode.OFF
    assert policy.options(AttackKind.MALICIOUS_UPLOAD)["max_bytes"] == 1024


def test_staged_options_are_still_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nprotections:\n  malicious_upload:\n    mode: off\n    max_bytes: -1\n")
    with pytest.raises(PolicyError, match=r"line 5: protections\.malicious_upload\.max_bytes: expected a whole"):
        load(str(path))


def test_a_default_block_reaches_only_enforced_protections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_file = load(str(write(tmp_path, "version: 1\nmode: block\n")))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    config.reset()
    from_env = PolicyStore().current()
    from_argument = PolicyStore(mode="block").current()
    from_code = Policy().with_default_mode("block")
    for policy in (from_file, from_env, from_argument, from_code):
        assert {kind: policy.mode_for(kind) for kind in AttackKind} == {
            kind: Mode.BLOCK if kind in ENFORCED else Mode.OFF for kind in AttackKind}


def test_bare_yaml_off_is_a_mode(tmp_path: Path) -> None:
    policy = load(str(write(tmp_path, "version: 1\nmode: block\nprotections:\n  sql_injection: off\n"
                                      "  ip_filter: off\n  malicious_payload: off\n")))
    assert policy.mode_for(AttackKind.SQL_INJECTION) is Mode.OFF
    assert policy.mode_for(AttackKind.IP_FILTER) is Mode.OFF
    assert policy.mode_for(AttackKind.MALICIOUS_PAYLOAD) is Mode.OFF
    assert policy.mode_for(AttackKind.SSRF) is Mode.BLOCK
