"""Issue 11, command injection in depth, through ``@protect`` and real child processes: a shell
script handed on by a wrapper (``env``, ``timeout``, ``xargs``, ``find -exec``), a second shell
reading (``eval``), and the files named by find, rsync, git, sqlite3, ssh, xargs and an ``sh -c``
script. Each attack would create a marker file or read a file above the folder the code meant;
blocked, the marker never appears and the file's text never reaches the response."""
from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """tmp/uploads/report.txt, tmp/out/, and tmp/victim.txt above the uploads."""
    sinks.instrument()
    for name in ("uploads", "out"):
        (tmp_path / name).mkdir()
    (tmp_path / "uploads" / "report.txt").write_text("quarterly figures\n")
    (tmp_path / "victim.txt").write_text("original secret\n")
    return tmp_path


def handler_for(run, **protections: str):
    @protect(policy={"mode": "off", "protections": protections or {"command_injection": "block",
                                                                      "file_access": "block"}})
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps({"output": run(event["queryStringParameters"]["q"])})}
    return handler


def invoke(handler, value: str) -> dict:
    return handler(apigw_v1_event("GET", "/", query={"q": value}), LambdaContext())


def out(argv: list[str], **kwargs) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, **kwargs).stdout


# ---------------------------------------------------------------- a script handed on by a wrapper

HANDED = [
    # (how the code runs the input, what the attack appends to make the marker)
    (lambda q: out(["env", "LC_ALL=C", "sh", "-c", f"echo {q}"]), "x; touch {marker}"),
    (lambda q: out(["timeout", "-s", "KILL", "5", "bash", "-c", f"echo {q}"]), "x && touch {marker}"),
    (lambda q: out(["nice", "-n", "5", "sh", "-c", f"echo $(printf %s {q})"]), "$(touch {marker})"),
    (lambda q: out(["xargs", "-I", "{}", "sh", "-c", f"echo {{}} {q}"], input="line\n"), "x | touch {marker}"),
    (lambda q: out(["bash", "-c", q]), "touch {marker}"),
]


@pytest.mark.parametrize(("run", "attack"), HANDED)
def test_a_script_a_wrapper_hands_to_a_shell_is_blocked(place: Path, records, run, attack: str) -> None:
    marker = place / "pwned"
    handler = handler_for(run)
    result = invoke(handler, attack.format(marker=marker))
    assert result["statusCode"] == 403
    assert not marker.exists()
    assert records.detections()[0]["protection"] == "command_injection"


@pytest.mark.parametrize(("run", "attack"), HANDED)
def test_the_handed_attacks_do_run_unprotected(place: Path, run, attack: str) -> None:
    """The control: with the protection off, each attack above creates its marker."""
    marker = place / "pwned"
    assert invoke(handler_for(run, command_injection="off"), attack.format(marker=marker))["statusCode"] == 200
    assert marker.exists()


@pytest.mark.parametrize("run", [run for run, _ in HANDED[:4]])
def test_a_plain_value_in_a_handed_script_runs(place: Path, records, run) -> None:
    result = invoke(handler_for(run), "hello")
    assert result["statusCode"] == 200 and "hello" in result["body"]
    assert records.detections() == []


def test_find_exec_sh_c_with_an_input_in_its_script_is_blocked(place: Path, records) -> None:
    marker = place / "pwned"
    uploads = place / "uploads"
    handler = handler_for(lambda q: out(["find", str(uploads), "-name", "*.txt", "-exec", "sh", "-c",
                                         f"echo {q}: $(wc -l < \"$1\")", "sh", "{}", ";"]))
    assert invoke(handler, f"x; touch {marker}")["statusCode"] == 403
    assert not marker.exists()
    benign = invoke(handler, "lines")
    assert benign["statusCode"] == 200 and json.loads(benign["body"])["output"] == "lines: 1\n"


# ---------------------------------------------------------------- a second reading: eval

@pytest.mark.parametrize("attack", ["\\;touch {marker}", "';'touch {marker}", "$'\\x3b'touch {marker}"])
def test_what_eval_reads_after_the_outer_quote_removal_is_blocked(place: Path, records, attack: str) -> None:
    marker = place / "pwned"
    handler = handler_for(lambda q: out(["bash", "-c", f"eval echo {q}"]))
    assert invoke(handler, attack.format(marker=marker))["statusCode"] == 403
    assert not marker.exists()
    invoke(handler_for(lambda q: out(["bash", "-c", f"eval echo {q}"]), command_injection="off"),
           attack.format(marker=marker))
    assert marker.exists()  # the control: unprotected, eval runs it
    benign = invoke(handler, "'hello world'")
    assert benign["statusCode"] == 200 and "hello world" in benign["body"]


def test_ansi_c_quote_read_once_is_a_literal_word(place: Path, records) -> None:
    handler = handler_for(lambda q: out(["bash", "-c", f"printf %s {q}"]))
    result = invoke(handler, "$'\\x3b'id")
    assert result["statusCode"] == 200 and json.loads(result["body"])["output"] == ";id"
    assert records.detections() == []


# ---------------------------------------------------------------- files the child's arguments name

def test_find_starting_above_the_uploads_is_blocked(place: Path, records) -> None:
    uploads = place / "uploads"
    handler = handler_for(lambda q: out(["find", f"{uploads}/{q}", "-maxdepth", "1", "-name", "*.txt"]))
    result = invoke(handler, "..")
    assert result["statusCode"] == 403 and "victim" not in result["body"]
    assert records.detections()[0]["protection"] == "file_access"
    benign = invoke(handler, ".")
    assert benign["statusCode"] == 200 and "report.txt" in benign["body"]


def test_a_file_in_an_sh_c_script_of_a_vector_is_judged(place: Path, records) -> None:
    uploads = place / "uploads"
    handler = handler_for(lambda q: out(["sh", "-c", f"cat {uploads}/{shlex.quote(q)}"]))
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403 and "original secret" not in result["body"]
    assert invoke(handler, "report.txt")["body"].count("quarterly figures") == 1


def test_rsync_of_a_folder_above_the_uploads_is_not_copied(place: Path, records) -> None:
    uploads, target = place / "uploads", place / "out"
    handler = handler_for(lambda q: out(["rsync", "-a", f"{uploads}/{q}", f"{target}/"]))
    assert invoke(handler, "../victim.txt")["statusCode"] == 403
    assert not (target / "victim.txt").exists()
    assert invoke(handler, "report.txt")["statusCode"] == 200 and (target / "report.txt").exists()


def test_xargs_arg_file_above_the_uploads_is_not_read(place: Path, records) -> None:
    uploads = place / "uploads"
    handler = handler_for(lambda q: out(["xargs", "-a", f"{uploads}/{q}", "echo"]))
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403 and "original" not in result["body"]
    assert "quarterly figures" in invoke(handler, "report.txt")["body"]


def test_sqlite3_cli_database_outside_the_folder_is_not_opened(place: Path, records) -> None:
    dbs = place / "out"
    victim = place / "victim.db"
    with sqlite3.connect(victim) as connection:
        connection.execute("create table t (secret text)")
        connection.execute("insert into t values ('hunter2')")
    connection.close()
    handler = handler_for(lambda q: out(["sqlite3", f"{dbs}/{q}", "select * from t"]))
    result = invoke(handler, "../victim.db")
    assert result["statusCode"] == 403 and "hunter2" not in result["body"]
    with sqlite3.connect(dbs / "tenant.db") as connection:
        connection.execute("create table t (secret text)")
        connection.execute("insert into t values ('own row')")
    connection.close()
    benign = invoke(handler, "tenant.db")
    assert benign["statusCode"] == 200 and "own row" in benign["body"]


def test_git_clone_into_a_folder_above_the_target_is_not_written(place: Path, records) -> None:
    source = place / "repo"
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    target = place / "out"
    handler = handler_for(lambda q: out(["git", "clone", "-q", str(source), f"{target}/{q}"],
                                        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"}))
    assert invoke(handler, "../escaped")["statusCode"] == 403
    assert not (place / "escaped").exists()
    assert invoke(handler, "copy")["statusCode"] == 200 and (target / "copy" / ".git").is_dir()


def test_ssh_identity_file_chosen_by_an_input_is_blocked(place: Path, records) -> None:
    keys = place / "out"
    # BatchMode and a closed loopback port: ssh never waits, and the block comes before it starts
    handler = handler_for(lambda q: out(["ssh", "-o", "BatchMode=yes", "-p", "1", "-i", f"{keys}/{q}",
                                         "127.0.0.1", "true"]))
    assert invoke(handler, "../../../../../proc/self/environ")["statusCode"] == 403
    assert records.detections()[0]["protection"] == "file_access"


# ---------------------------------------------------------------- the text the code writes to a child's stdin

STDIN = [
    # (how the code hands the input to the child's stdin, the attack)
    (lambda q: out(["xargs", "-I", "{}", "sh", "-c", "echo {}"], input=f"first\n{q}\n"), "x; touch {marker}"),
    (lambda q: out(["xargs", "-0", "-I", "%", "bash", "-c", "echo %"], input=f"{q}\0"), "$(touch {marker})"),
    (lambda q: out(["sh"], input=f"echo {q}\n"), "x && touch {marker}"),
    (lambda q: subprocess.check_output("xargs -I@ sh -c 'echo @'", shell=True, input=q.encode(), timeout=20)
     .decode(), "`touch {marker}`"),
    (lambda q: out(["python3"], input=f"print('{q}')\n"),
     "x'); __import__('pathlib').Path('{marker}').touch(); print('"),
]


@pytest.mark.parametrize(("run", "attack"), STDIN)
def test_what_a_child_builds_from_its_stdin_is_blocked(place: Path, records, run, attack: str) -> None:
    marker = place / "pwned"
    result = invoke(handler_for(run), attack.format(marker=marker))
    assert result["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["sink"]["name"] == "subprocess.Popen.communicate"


@pytest.mark.parametrize(("run", "attack"), STDIN)
def test_the_stdin_attacks_do_run_unprotected(place: Path, run, attack: str) -> None:
    marker = place / "pwned"
    invoke(handler_for(run, command_injection="off"), attack.format(marker=marker))
    assert marker.exists()


@pytest.mark.parametrize("run", [run for run, _ in STDIN])
def test_plain_text_on_a_childs_stdin_runs(place: Path, records, run) -> None:
    result = invoke(handler_for(run), "hello")
    assert result["statusCode"] == 200 and "hello" in result["body"]
    assert records.detections() == []


def test_a_blocked_popen_communicate_kills_the_waiting_child(place: Path, records) -> None:
    marker = place / "pwned"
    children: list[subprocess.Popen] = []

    def run(q: str) -> str:
        child = subprocess.Popen(["xargs", "-I", "{}", "sh", "-c", "echo {}"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        children.append(child)
        return child.communicate(q, timeout=20)[0]

    assert invoke(handler_for(run), f"x; touch {marker}")["statusCode"] == 403
    assert children[0].wait(timeout=10) != 0  # killed before it read its input
    assert not marker.exists()


# ---------------------------------------------------------------- an input that names an environment variable

def git_through_env(assignment: str) -> str:
    return out(["env", assignment, "git", "ls-remote", "ssh://127.0.0.1:1/x"],
               env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})


def test_an_input_that_names_a_childs_environment_variable_is_blocked(place: Path, records) -> None:
    marker = place / "pwned"
    attack = f"GIT_SSH_COMMAND=touch {marker}; false"
    assert invoke(handler_for(git_through_env), attack)["statusCode"] == 403
    assert not marker.exists()
    assert records.detections()[0]["rule"] == "cmdi.environment"
    invoke(handler_for(git_through_env, command_injection="off"), attack)
    assert marker.exists()  # the control: unprotected, git runs it


def test_an_input_as_the_value_of_the_codes_own_variable_runs(place: Path, records) -> None:
    handler = handler_for(lambda q: out(["env", f"GREETING={q}", "sh", "-c", 'printf %s "$GREETING"']))
    result = invoke(handler, "x; id")
    assert result["statusCode"] == 200 and json.loads(result["body"])["output"] == "x; id"
    assert records.detections() == []


def test_a_parameter_that_eval_parses_is_blocked(place: Path, records) -> None:
    marker = place / "pwned"
    run = lambda q: out(["sh", "-c", 'eval "echo $1"', "sh", q])  # noqa: E731
    assert invoke(handler_for(run), f"x; touch {marker}")["statusCode"] == 403
    assert not marker.exists()
    invoke(handler_for(run, command_injection="off"), f"x; touch {marker}")
    assert marker.exists()  # the control
    benign = handler_for(lambda q: out(["sh", "-c", 'echo "$1"', "sh", q]))
    assert json.loads(invoke(benign, "x; id")["body"])["output"] == "x; id\n"


# ---------------------------------------------------------------- operands that run a command or read a file

def test_a_sqlite3_dot_command_an_input_starts_is_blocked(place: Path, records) -> None:
    marker, db = place / "pwned", place / "out" / "app.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table t (n text)")
        connection.execute("insert into t values ('row one')")
    connection.close()
    run = lambda q: out(["sqlite3", str(db), q])  # noqa: E731
    assert invoke(handler_for(run), f".shell touch {marker}")["statusCode"] == 403
    assert not marker.exists()
    invoke(handler_for(run, command_injection="off"), f".shell touch {marker}")
    assert marker.exists()  # the control
    assert "row one" in invoke(handler_for(run), "select n from t")["body"]


def test_a_file_url_an_input_gives_curl_is_not_read(place: Path, records) -> None:
    victim = place / "victim.txt"
    run = lambda q: out(["curl", "-s", q])  # noqa: E731
    result = invoke(handler_for(run), f"file://{victim}")
    assert result["statusCode"] == 403 and "original secret" not in result["body"]
    assert "original secret" in invoke(handler_for(run, command_injection="off"), f"file://{victim}")["body"]


@pytest.mark.parametrize(("run", "attack"), [
    (lambda q: out(["flock", "/tmp/app-protect-depth.lock", "-c", f"echo {q}"]), "x; touch {marker}"),
    (lambda q: out(["node", "-e", f"console.log('{q}')"]),
     "x'); require('fs').writeFileSync('{marker}', ''); ('"),
])
def test_more_programs_that_hand_on_a_script_are_blocked(place: Path, records, run, attack: str) -> None:
    marker = place / "pwned"
    assert invoke(handler_for(run), attack.format(marker=marker))["statusCode"] == 403
    assert not marker.exists()
    invoke(handler_for(run, command_injection="off"), attack.format(marker=marker))
    assert marker.exists()  # the control
    benign = invoke(handler_for(run), "hello there")
    assert benign["statusCode"] == 200 and "hello there" in benign["body"]


def test_an_input_quoted_into_a_variable_and_expanded_unquoted_is_blocked(place: Path, records) -> None:
    target = place / "out" / "written"
    run = lambda q: str(os.system(f"Q={shlex.quote(q)}; curl -s $Q file:///dev/null"))  # noqa: E731
    assert invoke(handler_for(run), f"-o {target}")["statusCode"] == 403
    assert not target.exists()
    invoke(handler_for(run, command_injection="off", file_access="off"), f"-o {target}")
    assert target.exists()  # the control: the expansion made -o an option
