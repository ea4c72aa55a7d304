"""Issue 11, round 2: the command-injection detector read by an attacker who has its source.

Each attack row is a shape that got through before its fix: what ``echo``/``printf``/``cat <<EOF``
write into a pipe, a here-string or a here-document's body, read by a shell or python as its script;
options of sort, tcpdump, vim, nc, make, jq, nmap and ssh-keygen that write files or run programs.
The benign rows are the same shapes doing what apps do."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors import command_injection as ci
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.sources.inputs import Input, Inputs


def judge(command: Command, *values: str):
    return ci.detect(command, Inputs([Input(f"query.p{index}", value) for index, value in enumerate(values)]), {})


# (script template, input, rule)
FED_ATTACKS = [
    ("echo '{}' | sh", "x; touch /tmp/p", "cmdi.shell-syntax"),
    ("echo {} | sh", "id", "cmdi.program"),
    ("echo -n '{}' | sh -s", "id", "cmdi.program"),
    ("echo '{}' | timeout 5 bash", "id", "cmdi.program"),
    ("printf '%s\\n' '{}' | bash", "touch /tmp/p", "cmdi.program"),
    ("echo '{}' | python3", 'import os; os.system("id")', "cmdi.code"),
    ("sh <<< '{}'", "touch /tmp/p", "cmdi.program"),
    ('bash <<< "{}"', "id", "cmdi.program"),
    ("bash -s <<< 'echo {}'", "x; id", "cmdi.shell-syntax"),
    ("python3 <<< '{}'", '__import__("os").system("id")', "cmdi.code"),
    ("sh <<EOF\n{}\nEOF", "touch /tmp/p", "cmdi.program"),
    ("sh <<'EOF'\necho {}\nEOF", "x; touch /tmp/p", "cmdi.shell-syntax"),
    ("bash <<-EOF\n\techo {}\n\tEOF", "x; touch /tmp/p", "cmdi.shell-syntax"),
    ("cat <<EOF | sh\necho {}\nEOF", "x; touch /tmp/p", "cmdi.shell-syntax"),
]

FED_BENIGN = [
    ("echo '{}' | base64", "hello; world"),
    ("echo '{}' | tr a-z A-Z", "some text"),
    ("printf '%s' '{}' | jq .", '{"a": "b; c"}'),
    ("echo '{}' | python3 -c 'import sys; print(sys.stdin.read())'", "x; id"),  # python reads data there
    ("echo '{}' | wc -c", "some text | with pipe"),
    ("echo '{}' | xargs echo", "hello world"),
    ("echo '{}' | xargs -n1 basename", "/tmp/a.txt /tmp/b.txt"),
    ("cat <<< '{}'", "x; id"),
    ("base64 -d <<< '{}'", "eDsgaWQ="),
    ("cat <<'EOF' > /tmp/note.txt\n{}\nEOF", "x; touch /tmp/p"),
    ("sh -c 'echo done' <<< '{}'", "x; id"),  # sh -c reads its script from the argument, not stdin
    ("echo '{}' | sh -c 'cat > /tmp/out'", "x; id"),
    ("echo {} | grep -c sh", "sh"),
]


@pytest.mark.parametrize(("template", "value", "rule"), FED_ATTACKS)
def test_what_a_shell_reads_on_its_standard_input_is_its_script(template: str, value: str, rule: str) -> None:
    finding = judge(Command([template.format(value)], shell=True), value)
    assert finding is not None and finding.rule == rule


@pytest.mark.parametrize(("template", "value"), FED_BENIGN)
def test_data_written_to_a_program_that_reads_data_passes(template: str, value: str) -> None:
    assert judge(Command([template.format(value)], shell=True), value) is None


OPTION_ATTACKS = [
    (["sort", "-o", "/tmp/x", "/tmp/f"], "-o"),
    (["sort", "-o/tmp/x", "/tmp/f"], "-o/tmp/x"),
    (["sort", "--output=/var/task/app.py", "/tmp/f"], "--output=/var/task/app.py"),
    (["sort", "--compress-program=sh", "/tmp/f"], "--compress-program=sh"),
    (["sort", "--compress-prog=sh", "/tmp/f"], "--compress-prog=sh"),  # getopt_long's abbreviation
    (["tcpdump", "-i", "any", "-z", "id"], "-z"),
    (["vim", "-c", ":!id", "/tmp/f"], "-c"),
    (["nc", "-e", "/bin/sh", "127.0.0.1", "9"], "-e"),
    (["ncat", "--sh-exec=id", "127.0.0.1", "9"], "--sh-exec=id"),
    (["make", "--eval=all:;id", "-C", "/tmp"], "--eval=all:;id"),
    (["jq", "--rawfile", "k", "/etc/passwd", "."], "--rawfile"),
    (["nmap", "--script=/tmp/x.nse", "127.0.0.1"], "--script=/tmp/x.nse"),
    (["ssh-keygen", "-D", "/tmp/x.so"], "-D"),
]

OPTION_BENIGN = [
    (["sort", "-k", "2", "/tmp/my file.txt"], "my file.txt"),
    (["sort", "-t", "-o", "/tmp/f"], "-o"),  # the value of -t (a field separator), not an option
    (["sort", "-r", "/tmp/uploads/-o.txt"], "-o.txt"),
    (["sort", "-u", "/tmp/f"], "-u"),
    (["jq", "-r", "--arg", "q", "O'Brien; -f x", ".[] | select(.n == $q)", "/tmp/f"], "O'Brien; -f x"),
    (["git", "commit", "-m", "- bump 'x' \"y\""], "- bump 'x' \"y\""),
    (["convert", "/tmp/in.png", "-resize", "640x480!", "/tmp/out.png"], "640x480!"),
]


@pytest.mark.parametrize(("vector", "value"), OPTION_ATTACKS)
def test_an_option_that_writes_files_or_runs_programs_is_refused(vector: list[str], value: str) -> None:
    finding = judge(Command(vector), value)
    assert finding is not None and finding.rule == "cmdi.option"


@pytest.mark.parametrize(("vector", "value"), OPTION_BENIGN)
def test_values_and_harmless_options_pass(vector: list[str], value: str) -> None:
    assert judge(Command(vector), value) is None


def test_pipes_are_told_from_or_lists() -> None:
    piped: list[int] = []
    commands = ci.simple_commands("echo a | sh || echo b; cat x |& sh", None, piped)
    assert [words[0].value for words in commands] == ["echo", "sh", "echo", "cat", "sh"]
    assert piped == [0, 3]


# The longest script that can run, read for what it feeds: linear, within test_worst_case's budget.
SCRIPT = ci.longest_argument() - 64
BUDGET = 2.0  # seconds of CPU per case, as tests/unit/test_worst_case.py


def fill(unit: str, size: int = SCRIPT) -> str:
    return (unit * (size // len(unit) + 1))[:size]


WORST_CASES = {
    "pipes into shells": "echo zz; " + fill("echo 'zz x' | sh -c cat | "),
    "here-documents that share one body": fill("sh <<A; ", SCRIPT // 4) + "\n" + fill("zz x\n", SCRIPT // 2),
    "here-strings": fill("bash <<< 'zz x'; "),
    "here-documents, one per line": fill("sh <<A\nzz x\nA\n"),
}


@pytest.mark.parametrize("name", list(WORST_CASES))
def test_what_is_fed_is_read_in_bounded_time(name: str) -> None:
    import time

    command, found = Command([WORST_CASES[name]], shell=True), Inputs([Input("query.q", "zz")])
    started = time.process_time()
    ci.detect(command, found, {})
    assert time.process_time() - started < BUDGET
