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


# ---------------------------------------------------------------- scripts read from standard input, inline code

@pytest.mark.parametrize(("script", "found"), [
    ("sh < /tmp/x", "/tmp/x"),
    ("bash 0</tmp/x", "/tmp/x"),
    ("cd /tmp && sh < x", "/tmp/x"),
    ("cat /tmp/x | sh", "/tmp/x"),
    ("cat -u /tmp/x | bash -s arg", "/tmp/x"),
    ("bash <<< '/tmp/x --now'", "/tmp/x"),
    ("python3 < /tmp/x.py", "/tmp/x.py"),
    ("python3 - < /tmp/x.py", "/tmp/x.py"),
    ("nohup sh < /tmp/x > /dev/null 2>&1 &", "/tmp/x"),
    ("sh <<EOF\n/tmp/x\nEOF", "/tmp/x"),
    ("sh <<-EOF\n\t/tmp/x\n\tEOF", "/tmp/x"),                 # <<- ignores the tabs before the delimiter
    ("bash << 'EOF'\n/tmp/x\nEOF\necho done", "/tmp/x"),
    ("sh <<EOF\necho hi\nEOF\n/tmp/y", "/tmp/y"),                # after the body, commands again
    ("python3 - <<EOF\nexec(open('/tmp/x.py').read())\nEOF", "/tmp/x.py"),
    ("cat <<EOF\n/tmp/x\nEOF", None),                          # cat prints its stdin
    # benign: files read as data, descriptors other than stdin, output redirections
    ("sort < /tmp/in.txt > /tmp/out.txt", None),
    ("cat /tmp/in.txt | grep -c ok", None),
    ("sh 3< /tmp/x -c 'echo ok'", None),
    ("echo ok > /tmp/x; wc -l < /tmp/x", None),
    ("bash <<< 'echo ok'", None),
    ("jq . < /tmp/event.json", None),
])
def test_scripts_on_standard_input(script: str, found: str | None) -> None:
    assert evidence(Command([script], shell=True)) == found


@pytest.mark.parametrize(("launch", "found"), [
    (sandbox_persistence.Launch(["sh"], stdin_sources=(("file", "/tmp/x"),)), "/tmp/x"),
    (sandbox_persistence.Launch(["bash", "-s"], stdin_sources=(("file", "/dev/shm/x"),)), "/dev/shm/x"),
    (sandbox_persistence.Launch(["sh"], stdin_sources=(("text", "cd /tmp\n./x\n"),)), "/tmp/x"),
    (sandbox_persistence.Launch(["python3"], stdin_sources=(("text", "exec(open('/tmp/x.py').read())"),)), "/tmp/x.py"),
    (sandbox_persistence.Launch(["sh"], stdin_sources=(("file", "/proc/self/fd/5"),)), "/proc/self/fd/5"),
    (sandbox_persistence.Launch(["sh -c 'sh'"], shell=True, stdin_sources=(("file", "/tmp/x"),)), "/tmp/x"),
    # benign: data on the standard input of programs that do not run it, a script from the code's folder
    (sandbox_persistence.Launch(["sort"], stdin_sources=(("file", "/tmp/in.txt"),)), None),
    (sandbox_persistence.Launch(["sh", "/var/task/run.sh"], stdin_sources=(("file", "/tmp/in.txt"),)), None),
    (sandbox_persistence.Launch(["sh"], stdin_sources=(("file", "/var/task/setup.sh"),)), None),
    (sandbox_persistence.Launch(["sh"], stdin_sources=(("text", "echo /tmp/x > /tmp/y"),)), None),
    (sandbox_persistence.Launch(["python3"], stdin_sources=(("text", "print(open('/tmp/in.txt').read())"),)), None),
])
def test_standard_input_of_a_launch(launch: Command, found: str | None) -> None:
    assert evidence(launch) == found
    if found:
        prefixes = sandbox_persistence.dropped_program_prefixes(Policy.from_dict({}).options(
            AttackKind.SANDBOX_PERSISTENCE))
        assert sandbox_persistence.may_run_dropped_program(launch, prefixes)


@pytest.mark.parametrize(("code", "found"), [
    ("exec(open('/tmp/x').read())", "/tmp/x"),
    ("exec(compile(open('/tmp/x.py').read(), 'x', 'exec'))", "/tmp/x.py"),
    ("import runpy; runpy.run_path('/tmp/x.py')", "/tmp/x.py"),
    ("import importlib.util as u; s = u.spec_from_file_location('m', '/tmp/m.py')", "/tmp/m.py"),
    ("import sys; sys.path.insert(0, '/tmp/lib'); import evil", "/tmp/lib"),
    ("import ctypes; ctypes.CDLL('/dev/shm/x.so')", "/dev/shm/x.so"),
    ("import os; os.system('/tmp/x &')", "/tmp/x"),
    ("import subprocess; subprocess.Popen(['/tmp/x', '-d'])", "/tmp/x"),
    ("import subprocess; subprocess.run('cd /tmp && ./x', shell=True)", "/tmp/x"),
    # benign: the same names reading data, lists that are not sys.path, code that does not parse
    ("import json; print(json.load(open('/tmp/d.json')))", None),
    ("import subprocess; subprocess.run(['cat', '/tmp/x'])", None),
    ("x = []; x.append('/tmp/lib')", None),
    ("print('/tmp/x')", None),
    ("exec(open('/tmp/x'", None),
])
def test_python_inline_code_that_runs_a_file(code: str, found: str | None) -> None:
    assert evidence(Command(["python3", "-c", code])) == found


@pytest.mark.parametrize(("launch", "rule", "found"), [
    (sandbox_persistence.Launch(["ls"], env={"LD_PRELOAD": "/tmp/x.so"}), "sandbox.tmp-load", "/tmp/x.so"),
    (sandbox_persistence.Launch(["ls"], env={"LD_PRELOAD": "/usr/lib/a.so /dev/shm/x.so"}), "sandbox.tmp-load",
     "/dev/shm/x.so"),
    (sandbox_persistence.Launch(["ls"], env={"LD_LIBRARY_PATH": "/var/task/lib:/tmp/lib"}), "sandbox.tmp-load",
     "/tmp/lib"),
    (sandbox_persistence.Launch(["python3", "-m", "tool"], env={"PYTHONPATH": "/tmp"}), "sandbox.tmp-load", "/tmp"),
    (sandbox_persistence.Launch(["bash", "-c", "true"], env={"BASH_ENV": "/tmp/rc"}), "sandbox.tmp-load", "/tmp/rc"),
    (Command(["LD_PRELOAD=/tmp/x.so ls -la"], shell=True), "sandbox.tmp-load", "/tmp/x.so"),
    (Command(["export PYTHONPATH=/tmp/lib; python3 -m tool"], shell=True), "sandbox.tmp-load", "/tmp/lib"),
    (Command(["env", "LD_PRELOAD=/tmp/x.so", "ls"]), "sandbox.tmp-load", "/tmp/x.so"),
    (Command(["python3", "-W", "ignore", "/tmp/x.py"]), "sandbox.tmp-exec", "/tmp/x.py"),
    # benign: Lambda's own variables, relative entries, variables that load nothing
    (sandbox_persistence.Launch(["ls"], env={"PYTHONPATH": "/var/runtime:/var/task:/opt/python"}), None, None),
    (sandbox_persistence.Launch(["ls"], env={"LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/opt/lib"}), None, None),
    (sandbox_persistence.Launch(["ls"], env={"TMPDIR": "/tmp", "HOME": "/tmp"}), None, None),
    (Command(["LANG=C sort /tmp/in.txt"], shell=True), None, None),
    (Command(["OUT=/tmp/out.txt make -C /var/task"], shell=True), None, None),
])
def test_environment_that_loads_code(launch: Command, rule: str | None, found: str | None) -> None:
    finding = judge(launch)
    assert ((finding.rule, finding.evidence) if finding else (None, None)) == (rule, found)


def test_a_value_the_sandbox_started_with_is_configuration_not_a_choice(monkeypatch) -> None:
    # PYTHONPATH=/tmp/vendor set at deploy time: every child inherits it, and none is judged for it
    monkeypatch.setattr(sandbox_persistence, "_CONFIGURED", {"PYTHONPATH": "/tmp/vendor"})
    monkeypatch.setenv("PYTHONPATH", "/tmp/vendor")
    assert judge(sandbox_persistence.Launch(["ls"], env={"PYTHONPATH": "/tmp/vendor"})) is None
    assert judge(Command(["ls"])) is None
    assert not sandbox_persistence.environment_loads(("/tmp/",))
    # the same variable pointed somewhere else at run time is the code's choice
    changed = judge(sandbox_persistence.Launch(["ls"], env={"PYTHONPATH": "/tmp/dropped"}))
    assert changed is not None and (changed.rule, changed.evidence) == ("sandbox.tmp-load", "/tmp/dropped")
    monkeypatch.setenv("PYTHONPATH", "/tmp/dropped")
    assert sandbox_persistence.environment_loads(("/tmp/",))


def test_path_given_to_the_child_finds_a_dropped_program_first(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "convert").write_text("#!/bin/sh\n")
    (folder / "convert").chmod(0o755)
    options = Policy.from_dict({"protections": {"sandbox_persistence": {"exec_deny_paths": [str(tmp_path)]}}}) \
        .options(AttackKind.SANDBOX_PERSISTENCE)
    before = sandbox_persistence.Launch(["convert", "a.png", "b.jpg"], env={"PATH": f"{folder}:/usr/bin:/bin"})
    after = sandbox_persistence.Launch(["ls"], env={"PATH": f"/usr/bin:/bin:{folder}"})
    absent = sandbox_persistence.Launch(["ls"], env={"PATH": f"{folder}:/usr/bin:/bin"})  # no ls dropped there
    assert sandbox_persistence.detect(before, Inputs([]), options).evidence == str(folder / "convert")
    assert sandbox_persistence.detect(after, Inputs([]), options) is None
    assert sandbox_persistence.detect(absent, Inputs([]), options) is None
    prefixes = sandbox_persistence.dropped_program_prefixes(options)
    assert sandbox_persistence.may_run_dropped_program(before, prefixes, through_path=False)
    for command in (Command([f"PATH={folder}:$PATH convert a.png b.jpg"], shell=True),
                    Command([f"export PATH={folder}:/usr/bin; convert a.png b.jpg"], shell=True),
                    Command(["env", f"PATH={folder}:/usr/bin", "convert", "a.png"])):
        assert sandbox_persistence.detect(command, Inputs([]), options).evidence == str(folder / "convert")
    for command in (Command([f"PATH=/usr/bin:{folder} ls"], shell=True),
                    Command([f"PATH={folder}:$PATH ls"], shell=True)):
        assert sandbox_persistence.detect(command, Inputs([]), options) is None


def test_python_module_found_in_a_denied_working_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "tool.py").write_text("print(1)\n")
    options = Policy.from_dict({"protections": {"sandbox_persistence": {"exec_deny_paths": [str(tmp_path)]}}}) \
        .options(AttackKind.SANDBOX_PERSISTENCE)
    found = sandbox_persistence.detect(Command(["python3", "-m", "tool"], cwd=str(tmp_path)), Inputs([]), options)
    assert found.evidence == str(tmp_path / "tool.py")
    assert sandbox_persistence.detect(Command(["python3", "-m", "json.tool"], cwd=str(tmp_path)), Inputs([]),
                                      options) is None


@pytest.mark.parametrize(("name", "rule"), [
    ("/tmp/x.so", "sandbox.tmp-load"),
    ("/dev/shm/lib/x.so", "sandbox.tmp-load"),
    ("/proc/self/root/tmp/x.so", "sandbox.tmp-load"),
    ("/tmp/../tmp/x.so", "sandbox.tmp-load"),
    ("/proc/self/fd/7", "sandbox.fd-exec"),
    ("/dev/fd/7", "sandbox.fd-exec"),
    ("libc.so.6", None),
    ("/var/task/lib/libfoo.so", None),
    ("/opt/lib/libvips.so.42", None),
    ("/usr/lib/x86_64-linux-gnu/libz.so.1", None),
    ("/tmp-cache/x.so", None),
])
def test_native_libraries(name: str, rule: str | None) -> None:
    finding = judge(sandbox_persistence.Library(name))
    assert (finding.rule if finding else None) == rule


def test_a_link_in_the_writable_space_runs_its_target(tmp_path) -> None:
    # a virtualenv under /tmp: bin/python links to the system's interpreter, which is what runs
    system = tmp_path / "python3"
    system.symlink_to("/bin/true")
    assert judge(Command([str(system), "-c", "pass"])) is None
    # a link to a file written into the sandbox runs that file
    dropped = tmp_path / "payload"
    dropped.write_text("#!/bin/sh\n")
    dropped.chmod(0o755)
    link = tmp_path / "innocent"
    link.symlink_to(dropped)
    finding = judge(Command([str(link)]))
    assert finding is not None and (finding.rule, finding.evidence) == ("sandbox.tmp-exec", str(link))


# ---------------------------------------------------------------- round 2 of the informed attacker (issue 11)

@pytest.mark.parametrize(("command", "found"), [
    # programs that run other programs: find's -exec, xargs with its words from standard input
    (Command(["find", "/tmp/d", "-name", "x", "-exec", "{}", ";"]), "/tmp/d/{}"),
    (Command(["find", "/tmp/d", "-type", "f", "-exec", "sh", "{}", "+"]), "/tmp/d/{}"),
    (sandbox_persistence.Launch(["xargs", "-0", "sh"], stdin_sources=(("text", "/tmp/d/x"),)), "/tmp/d/x"),
    (Command(["echo /tmp/d/x | xargs sh"], shell=True), "/tmp/d/x"),
    (Command(["echo /tmp/d/x | sh"], shell=True), "/tmp/d/x"),
    # a variable or positional parameter the script itself sets
    (Command(["D=/tmp/d; $D/x"], shell=True), "/tmp/d/x"),
    (Command(["D=/tmp/d; ${D}/x --flag"], shell=True), "/tmp/d/x"),
    (Command(["bash", "-c", '"$0"', "/tmp/d/x"]), "/tmp/d/x"),
    (Command(["sh", "-c", "exec $1", "sh", "/tmp/d/x"]), "/tmp/d/x"),
    # a script operand or /proc/self/cwd relative to the child's working directory
    (Command(["sh", "x"], cwd="/tmp/d"), "/tmp/d/x"),
    (Command(["python3", "job.py"], cwd="/tmp"), "/tmp/job.py"),
    (Command(["/proc/self/cwd/x"], cwd="/tmp/d"), "/tmp/d/x"),
    # benign: the same shapes over installed programs and data in /tmp
    (Command(["find", "/tmp/out", "-name", "*.png", "-exec", "/opt/bin/convert", "{}", "{}.jpg", ";"]), None),
    (Command(["find", "/tmp/out", "-mtime", "+1", "-delete"]), None),
    (sandbox_persistence.Launch(["xargs", "rm", "-f"], stdin_sources=(("text", "/tmp/a /tmp/b"),)), None),
    (Command(["D=/tmp/work; /opt/bin/magick $D/in.png $D/out.jpg"], shell=True), None),
    (Command(["bash", "-c", 'ls -la "$0"', "/tmp/d"]), None),
    (Command(["sh", "/var/task/run.sh"], cwd="/tmp"), None),
    (Command(["/proc/self/cwd/bin/tool"], cwd="/var/task"), None),
])
def test_round_two_runners_variables_and_working_directories(command: Command, found: str | None) -> None:
    assert evidence(command) == found


def test_fast_path_sees_an_interpreters_relative_operand_in_a_denied_working_directory(monkeypatch) -> None:
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    prefixes = sandbox_persistence.dropped_program_prefixes(options)
    monkeypatch.chdir("/tmp")
    assert sandbox_persistence.may_run_dropped_program(Command(["sh", "x"]), prefixes)
    assert not sandbox_persistence.may_run_dropped_program(Command(["/usr/bin/git", "status"]), prefixes)


@pytest.mark.parametrize(("vector", "found"), [
    # inline code of other interpreters, and awk's program, that runs or loads a dropped file
    (["perl", "-e", 'system("/tmp/x")'], "/tmp/x"),
    (["perl", "-e", "print `/tmp/x`"], "/tmp/x"),
    (["ruby", "-e", 'exec "/tmp/x --a"'], "/tmp/x"),
    (["node", "-e", 'require("child_process").execSync("/tmp/x")'], "/tmp/x"),
    (["awk", 'BEGIN{system("/tmp/x")}'], "/tmp/x"),
    (["gawk", "-v", "n=1", 'BEGIN{while(("/tmp/x" | getline l) > 0) print l}'], "/tmp/x"),
    (["awk", "-f", "/tmp/p.awk", "in.txt"], "/tmp/p.awk"),
    (["perl", "-e", 'do "/tmp/x.pl"'], "/tmp/x.pl"),
    (["lua", "-e", 'dofile("/tmp/x.lua")'], "/tmp/x.lua"),
    (["php", "-r", 'include "/tmp/x.php";'], "/tmp/x.php"),
    # benign: the same interpreters reading data in /tmp, or running installed programs on it
    (["awk", "{print $1}", "/tmp/in.txt"], None),
    (["perl", "-e", 'open(F, "/tmp/a"); print <F>'], None),
    (["awk", 'BEGIN{system("cat /tmp/in.txt")}'], None),
    (["node", "-e", 'require("fs").readFileSync("/tmp/a")'], None),
    (["perl", "-e", 'system("/usr/bin/convert /tmp/a.png /tmp/b.jpg")'], None),
    (["ruby", "-e", 'load "/var/task/x.rb"; File.read("/tmp/a")'], None),
])
def test_round_two_inline_code_of_other_interpreters(vector: list[str], found: str | None) -> None:
    assert evidence(Command(vector)) == found


@pytest.mark.parametrize(("name", "found"), [
    ("/tmp/lib/evil.py", "/tmp/lib/evil.py"),
    ("/tmp/x.zip/evil.py", "/tmp/x.zip/evil.py"),
    ("/proc/self/root/tmp/x.py", "/tmp/x.py"),
    ("/var/task/app.py", None),
    ("/opt/python/lib/python3.12/site-packages/requests/api.py", None),
])
def test_python_code_from_a_file(name: str, found: str | None) -> None:
    finding = judge(sandbox_persistence.PythonFile(name))
    assert (finding.evidence if finding else None) == found
    assert finding is None or finding.rule == "sandbox.tmp-load"
