"""The README's quick start works exactly as written."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _block_after(marker: str) -> str:
    text = README.read_text()
    match = re.search(re.escape(marker) + r".*?\n```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no python block after {marker!r} in README.md"
    return match.group(1)


def test_quick_start_runs_as_written() -> None:
    code = _block_after("<!-- quick-start:")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "{'statusCode': 200, 'body': \"[('alice',)]\"}"
    assert '"schema": "app-protect/detection/1"' in lines[1]
    assert lines[-1] == "403"
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert expected[0] == lines[0]


def test_testing_helpers_block_runs() -> None:
    code = _block_after("## Testing your own handler")
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)


def test_policy_example_is_valid_and_means_what_it_says(tmp_path) -> None:
    text = README.read_text()
    match = re.search(r"<!-- policy-example:.*?\n```yaml\n(.*?)```", text, re.DOTALL)
    assert match
    path = tmp_path / "policy.yaml"
    path.write_text(match.group(1))

    from app_protect_lambda.findings import AttackKind
    from app_protect_lambda.policy import Mode
    from app_protect_lambda.policy_store import load

    policy = load(str(path))
    assert policy.mode is Mode.REPORT
    assert policy.mode_for(AttackKind.SQL_INJECTION) is Mode.BLOCK
    assert policy.mode_for(AttackKind.SANDBOX_PERSISTENCE) is Mode.REPORT
    assert policy.options(AttackKind.SSRF)["allow_hosts"][1] == "*.internal.example.com"
    assert policy.reporting.event_bus == "default" and policy.limits.max_inputs == 100000


def _section(heading: str) -> str:
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_the_protections_table_lists_exactly_what_this_build_enforces() -> None:
    from app_protect_lambda.policy import ENFORCED

    table = re.findall(r"^\| `(\w+)` \|", _section("## What it protects against"), re.MULTILINE)
    assert sorted(table) == sorted(kind.value for kind in ENFORCED)


def test_the_coming_protections_are_named_and_their_staged_example_is_valid(tmp_path) -> None:
    from app_protect_lambda.findings import AttackKind
    from app_protect_lambda.policy import ENFORCED, Mode
    from app_protect_lambda.policy_store import load

    match = re.search(r"<!-- not-enforced:.*?-->\n(.*?) are not enforced by this build.*?```yaml\n(.*?)```",
                      README.read_text(), re.DOTALL)
    assert match, "no <!-- not-enforced: --> paragraph with a yaml block in README.md"
    named = set(re.findall(r"`(\w+)`", match.group(1)))
    assert named == {kind.value for kind in AttackKind if kind not in ENFORCED}

    path = tmp_path / "staged.yaml"
    path.write_text("version: 1\nmode: block\n" + match.group(2))
    policy = load(str(path))
    assert policy.mode_for(AttackKind.MALICIOUS_UPLOAD) is Mode.OFF
    assert policy.options(AttackKind.MALICIOUS_UPLOAD)["max_bytes"] == 10485760
    assert {kind.value for kind in AttackKind if policy.mode_for(kind) is Mode.OFF} == named
