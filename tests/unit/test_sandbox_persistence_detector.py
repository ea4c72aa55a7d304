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


@pytest.mark.parametrize(("vector", "found"), [
    # a dropped program behind a program that runs the rest of its arguments
    (["env", "/tmp/x"], "/tmp/x"),
    (["env", "-i", "PATH=/usr/bin", "/tmp/x", "--flag"], "/tmp/x"),
    (["env", "-u", "HOME", "/tmp/x"], "/tmp/x"),
    (["env", "-S", "/tmp/x --quiet"], "/tmp/x"),
    (["timeout", "5", "/tmp/x"], "/tmp/x"),
    (["timeout", "-s", "KILL", "10s", "/tmp/x"], "/tmp/x"),
    (["nice", "-n", "10", "/tmp/x"], "/tmp/x"),
    (["nohup", "/tmp/x"], "/tmp/x"),
    (["setsid", "-f", "/tmp/x"], "/tmp/x"),
    (["stdbuf", "-o0", "/tmp/x"], "/tmp/x"),
    (["taskset", "-c", "0", "/tmp/x"], "/tmp/x"),
    (["timeout", "5", "nohup", "python3", "/tmp/x.py"], "/tmp/x.py"),
    (["/lib64/ld-linux-x86-64.so.2", "/tmp/x"], "/tmp/x"),
    (["/lib/ld-linux-aarch64.so.1", "--library-path", "/tmp", "/tmp/x"], "/tmp/x"),
    # another path to the same file, or none at all
    (["/proc/self/root/tmp/x"], "/tmp/x"),
    (["/proc/1/cwd/../tmp/x"], None),  # cwd/.. is not a root: resolved lexically it is /proc/1/tmp/x
    (["/proc/self/fd/3"], "/proc/self/fd/3"),
    (["/dev/fd/7", "arg"], "/dev/fd/7"),
    # benign: wrappers of installed programs, and operands that only look like programs
    (["env", "LANG=C", "sort", "/tmp/in.txt"], None),
    (["timeout", "30", "/usr/bin/convert", "/tmp/in.png", "/tmp/out.jpg"], None),
    (["nice", "-n", "5", "tar", "-czf", "/tmp/out.tgz", "/var/task/data"], None),
    (["env", "-C", "/tmp", "ls"], None),
])
def test_wrappers_loaders_and_proc_paths(vector: list[str], found: str | None) -> None:
    assert evidence(Command(vector)) == found


@pytest.mark.parametrize(("script", "found"), [
    ("cd /tmp && ./x", "/tmp/x"),
    ("cd /tmp; cd sub && ./run.sh", "/tmp/sub/run.sh"),
    ("cd /tmp && python3 x.py", "/tmp/x.py"),
    (". /tmp/env.sh", "/tmp/env.sh"),
    ("cd /tmp && source ./evil.sh", "/tmp/evil.sh"),
    ("nohup /tmp/x &", "/tmp/x"),
    ("cd /var/task && ./bin/tool --version", None),
    ("cd /tmp && ls -la && cat out.txt", None),
    (". /var/task/env.sh && echo ok", None),
])
def test_shell_scripts_follow_cd_and_source(script: str, found: str | None) -> None:
    assert evidence(Command([script], shell=True)) == found


def test_fast_path_sees_descriptors_and_roots() -> None:
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    prefixes = sandbox_persistence.dropped_program_prefixes(options)
    for vector in (["/proc/self/fd/3"], ["/dev/fd/7"], ["env", "/tmp/x"]):
        assert sandbox_persistence.may_run_dropped_program(Command(vector), prefixes)
