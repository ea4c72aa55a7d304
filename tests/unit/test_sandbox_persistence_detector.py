"""The sandbox-persistence detector on its own: which programs and scripts a command runs."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors import command_injection as ci
from app_protect_lambda.detectors import sandbox_persistence
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.inputs import Input, Inputs


def judge(command: Command, *values: str):
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    inputs = Inputs([Input(f"query.p{index}", value) for index, value in enumerate(values)])
    return sandbox_persistence.detect(command, inputs, options)


def evidence(command: Command) -> str | None:
    finding = judge(command)
    return finding.evidence if finding else None


@pytest.mark.parametrize(("vector", "found"), [
    # sh -c's script is found by position: an argument spelled like the option does not hide it
    (["sh", "-c", "/tmp/x", "-c"], "/tmp/x"),
    (["sh", "-c", "/tmp/x", "sh", "-c"], "/tmp/x"),
    (["bash", "-c", "/tmp/x", "/tmp/x"], "/tmp/x"),  # the script equal to another argument
    (["sh", "-c", "-c", "/tmp/x"], None),  # the script is "-c"; /tmp/x is only its $0
    (["bash", "-ec", "cd /; /tmp/x"], "/tmp/x"),  # options in one cluster
    (["sh", "-e", "-c", "/tmp/x"], "/tmp/x"),  # -e is errexit for a shell, not inline code
    (["sh", "-e", "/tmp/x.sh"], "/tmp/x.sh"),
    (["bash", "-o", "pipefail", "/tmp/x.sh"], "/tmp/x.sh"),  # an option's value is not the script
    (["bash", "-o", "pipefail", "-c", "/tmp/x -c"], "/tmp/x"),
    (["sh", "--", "/tmp/x.sh"], "/tmp/x.sh"),
    (["sh", "-s", "/tmp/x.sh"], None),  # commands from stdin: the operand is a parameter
    (["sh", "-c", "sh -c '/tmp/x'"], "/tmp/x"),
    (["busybox", "sh", "-c", "/tmp/x"], "/tmp/x"),
    (["python3", "-m", "/tmp/x"], None),
    (["python3", "-c", "import os", "/tmp/x"], None),
    (["perl", "-e", "1", "/tmp/x.pl"], None),
])
def test_shell_options_are_read_by_position(vector: list[str], found: str | None) -> None:
    assert evidence(Command(vector)) == found


@pytest.mark.parametrize(("vector", "found"), [
    # versioned names are interpreters (the startswith prefixes of before also caught these)...
    (["python3.12", "/tmp/x.py"], "/tmp/x.py"),
    (["/usr/bin/perl5.36", "-w", "/tmp/x.pl"], "/tmp/x.pl"),
    (["lua5.4", "/tmp/x.lua"], "/tmp/x.lua"),
    (["nodejs", "/tmp/x.js"], "/tmp/x.js"),
    (["bash5", "-c", "/tmp/x"], "/tmp/x"),
    (["mksh", "/tmp/x.sh"], "/tmp/x.sh"),  # a shell for command injection, no interpreter here before
    # ...and programs that merely start like one are not (shred's operand is the file it destroys)
    (["shred", "-u", "/tmp/x"], None),
    (["shasum", "/tmp/x"], None),
    (["phpunit", "/tmp/tests"], None),
    (["rubocop", "/tmp/x.rb"], None),
])
def test_one_interpreter_table(vector: list[str], found: str | None) -> None:
    assert evidence(Command(vector)) == found


def test_the_input_that_names_the_program_is_recorded() -> None:
    finding = judge(Command(["sh", "-c", "/tmp/payload", "-c"]), "payload")
    assert finding.rule == "sandbox.tmp-exec" and finding.input.location == "query.p0"


def test_fast_path_never_skips_these() -> None:
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    prefixes = sandbox_persistence.dropped_program_prefixes(options)
    for vector in (["sh", "-c", "/tmp/x", "-c"], ["bash5", "-c", "/tmp/x"], ["busybox", "sh", "-c", "/tmp/x"]):
        assert sandbox_persistence.may_run_dropped_program(Command(vector), prefixes)


def test_a_command_execve_refuses_runs_nothing() -> None:
    limit = ci.longest_argument()
    assert evidence(Command(["/tmp/x " + "a" * (limit - 10)], shell=True)) == "/tmp/x"
    assert evidence(Command(["/tmp/x " + "a" * limit], shell=True)) is None
    assert evidence(Command(["/tmp/x", "a" * (limit + 1)])) is None
