"""Command injection through real processes: every shell and process sink, every input location, every mode.

Each attack would create a marker file (or print the function's credentials);
blocked, the marker never appears and the secret never reaches the response.
"""
from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, s3_event, sqs_event
from tests.functional.sql_app import DECODERS, LOCATIONS, Location

SECRET = "fakeSecretKeyForTests/0123456789abcdefXYZ"  # set by conftest as AWS_SECRET_ACCESS_KEY


def policy(mode: str) -> dict:
    return {"mode": "off", "protections": {"command_injection": mode}}


def invoke(handler, event):
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def ok(output: str) -> dict:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"output": output}, ensure_ascii=False)}


def assert_blocked(result, http: bool = True) -> None:
    if http:
        assert isinstance(result, dict) and result["statusCode"] == 403, result
    else:
        assert isinstance(result, RequestBlocked), result
        assert result.finding.kind.value == "command_injection"


def query_handler(run, mode: str):
    @protect(policy=policy(mode))
    def handler(event, context):
        return ok(run(event["queryStringParameters"]["name"]))
    return handler


def shell_run(template: str):
    return lambda value: subprocess.run(template.format(value), shell=True, capture_output=True,
                                        text=True).stdout


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


# ---------------------------------------------------------------- every input location

def location_handler(location: Location, mode: str, decode=lambda value: value):
    @protect(policy=policy(mode))
    def handler(event, context):
        value = decode(location.read(event))
        output = subprocess.run(f"echo {value}", shell=True, capture_output=True, text=True).stdout
        return ok(output) if location.http else {"output": output}
    return handler


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.name)
def test_block_from_every_location(location: Location, marker: Path, records) -> None:
    result = invoke(location_handler(location, "block"), location.build(f"report.pdf$(touch {marker})"))
    assert_blocked(result, location.http)
    assert not marker.exists()
    [record] = records.detections()
    assert record["protection"] == "command_injection" and record["action"] == "blocked"
    assert record["rule"] == "cmdi.shell-syntax"
    assert record["sink"]["name"] == "subprocess.Popen"
    assert record["sink"]["frame"].startswith("tests/functional/test_shell_sinks.py:")
    assert record["input"]["location"]


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.name)
def test_benign_from_every_location(location: Location, marker: Path, records) -> None:
    value = "請求書 report.v2.final.pdf"
    result = invoke(location_handler(location, "block"), location.build(value))
    output = json.loads(result["body"])["output"] if location.http else result["output"]
    assert output == f"{value}\n"
    assert records.detections() == []


@pytest.mark.parametrize("decoder", list(DECODERS), ids=list(DECODERS))
def test_block_encoded_payloads(decoder: str, marker: Path, records) -> None:
    encode, decode = DECODERS[decoder]
    location = LOCATIONS[0]
    result = invoke(location_handler(location, "block", decode), location.build(encode(f"x; touch {marker}")))
    assert_blocked(result)
    assert not marker.exists()
    [record] = records.detections()
    assert record["input"]["decoded"]


def test_s3_object_key(tmp_path: Path, records) -> None:
    """The key of an uploaded object reaches a shell; `curl` and `sh` are stubs here, never the network."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    ran = tmp_path / "ran.log"
    for name in ("curl", "sh", "file"):
        stub = stubs / name
        stub.write_text(f"#!/bin/sh\necho {name} >> {ran}\n")
        stub.chmod(0o755)

    @protect(policy=policy("block"))
    def handler(event, context):
        key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
        subprocess.run(f"file /tmp/{key}", shell=True, env={"PATH": str(stubs)}, check=False)
        return {"ok": True}

    result = invoke(handler, s3_event("a;curl x|sh;.jpg"))
    assert_blocked(result, http=False)
    assert not ran.exists()
    [record] = records.detections()
    assert record["input"]["location"] == "records[0].s3.object.key"

    assert invoke(handler, s3_event("photos/2024 summer/IMG_0001.v2.jpg")) == {"ok": True}
    assert ran.read_text() == "file\n"


def test_sqs_body(marker: Path, records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        job = json.loads(event["Records"][0]["body"])
        subprocess.run(f"convert-tool --size {job['size']} input.png", shell=True, capture_output=True)
        return {"ok": True}

    assert_blocked(invoke(handler, sqs_event({"size": f"100x100 && touch {marker}"})), http=False)
    assert not marker.exists()
    assert records.detections()[0]["input"]["location"] == "records[0].body.size"


# ---------------------------------------------------------------- the payload catalogue

# (name, command template, payload with {m} for the marker path)
PAYLOADS = [
    ("semicolon", "echo {}", "x; touch {m}"),
    ("pipe", "echo {}", "x | touch {m}"),
    ("or", "ls {}", "/nonexistent || touch {m}"),
    ("and", "echo {}", "x && touch {m}"),
    ("background", "echo {}", "x & touch {m}"),
    ("newline", "echo {}", "x\ntouch {m}"),
    ("substitution", "echo {}", "$(touch {m})"),
    ("backticks", "echo {}", "`touch {m}`"),
    ("IFS", "echo {}", "x;touch${{IFS}}{m}"),
    ("redirection", "echo {}", "x > {m}"),
    ("single-quote break", "echo '{}'", "x'; touch {m}; '"),
    ("single-quote substitution", "echo '{}'", "x'$(touch {m})'"),
    ("double-quote break", 'echo "{}"', 'x"; touch {m}; "'),
    ("double-quote substitution", 'echo "{}"', "$(touch {m})"),
    ("double-quote backticks", 'echo "{}"', "`touch {m}`"),
]


@pytest.mark.parametrize(("name", "template", "payload"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_block_payloads(name: str, template: str, payload: str, marker: Path, records) -> None:
    value = payload.format(m=marker)
    result = invoke(query_handler(shell_run(template), "block"), apigw_v1_event(query={"name": value}))
    assert_blocked(result)
    assert not marker.exists()
    [record] = records.detections()
    assert record["rule"] == "cmdi.shell-syntax"
    assert record["input"] == {"location": "query.name", "value": value}


@pytest.mark.parametrize(("name", "template", "payload"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_report_payloads_leave_behaviour_unchanged(name: str, template: str, payload: str, marker: Path,
                                                    records) -> None:
    value = payload.format(m=marker)
    result = invoke(query_handler(shell_run(template), "report"), apigw_v1_event(query={"name": value}))
    assert result["statusCode"] == 200
    assert marker.exists()  # the attack ran, as it would without us
    [record] = records.detections()
    assert record["action"] == "reported" and record["protection"] == "command_injection"


@pytest.mark.parametrize("payload", ["x; env", "x; printenv AWS_SECRET_ACCESS_KEY", "x && cat /proc/self/environ",
                                     "$(printenv AWS_SECRET_ACCESS_KEY)"])
def test_env_dumping(payload: str, records) -> None:
    event = apigw_v1_event(query={"name": payload})
    blocked = invoke(query_handler(shell_run("echo {}"), "block"), event)
    assert_blocked(blocked)
    assert SECRET not in json.dumps(blocked)

    reported = invoke(query_handler(shell_run("echo {}"), "report"), event)
    assert SECRET in reported["body"]  # report mode changes nothing
    detections = records.detections()
    assert [r["action"] for r in detections] == ["blocked", "reported"]
    assert SECRET not in json.dumps(detections)  # records never carry the credentials


@pytest.mark.parametrize(("template", "payload"), [
    ("echo {}", "a${IFS}b"), ("cat {}", "/var/task/*.py"), ("cat {}", "~/.aws/credentials"),
    ("echo {}", "{cat,/etc/passwd}"), ("grep x {} /dev/null", "a #"), ('echo "{}" x', "x\\"),
])
def test_block_expansions(template: str, payload: str, records) -> None:
    result = invoke(query_handler(shell_run(template), "block"), apigw_v1_event(query={"name": payload}))
    assert_blocked(result)
    assert records.detections()[0]["rule"] == "cmdi.shell-syntax"


def test_off_mode_records_nothing(marker: Path, records) -> None:
    result = invoke(query_handler(shell_run("echo {}"), "off"), apigw_v1_event(query={"name": f"x; touch {marker}"}))
    assert result["statusCode"] == 200 and marker.exists()
    assert records.detections() == []


def test_handler_catching_exceptions_cannot_swallow_the_block(marker: Path, records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        try:
            subprocess.run(f"echo {event['queryStringParameters']['name']}", shell=True)
        except Exception:
            return ok("carried on")
        return ok("done")

    assert_blocked(invoke(handler, apigw_v1_event(query={"name": f"x; touch {marker}"})))
    assert not marker.exists()


# ---------------------------------------------------------------- every sink

def _wait(pid: int) -> str:
    return str(os.waitpid(pid, 0)[1])


async def _async_shell(command: str) -> str:
    process = await asyncio.create_subprocess_shell(command, stdout=subprocess.PIPE)
    out, _ = await process.communicate()
    return out.decode()


async def _async_exec(*argv: str) -> str:
    process = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE)
    out, _ = await process.communicate()
    return out.decode()


# (sink as recorded, runner of a shell command)
SINKS = [
    ("subprocess.Popen", lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout),
    ("subprocess.Popen", lambda c: str(subprocess.call(c, shell=True, stdout=subprocess.DEVNULL))),
    ("subprocess.Popen", lambda c: subprocess.check_output(c, shell=True, text=True)),
    ("subprocess.Popen", subprocess.getoutput),
    ("subprocess.Popen", lambda c: subprocess.getstatusoutput(c)[1]),
    ("subprocess.Popen", lambda c: subprocess.Popen([c, "arg0"], shell=True, stdout=subprocess.PIPE,
                                                    text=True).communicate()[0]),
    ("subprocess.Popen", lambda c: subprocess.Popen(args=c.encode(), shell=True, stdout=subprocess.PIPE,
                                                    text=True).communicate()[0]),
    ("subprocess.Popen", lambda c: subprocess.run(["sh", "-c", c], capture_output=True, text=True).stdout),
    ("subprocess.Popen", lambda c: subprocess.run(c, shell=True, executable="/bin/bash", capture_output=True,
                                                  text=True).stdout),
    ("os.system", lambda c: str(os.system(c))),
    ("os.popen", lambda c: os.popen(c).read()),
    ("os.spawnl", lambda c: str(os.spawnl(os.P_WAIT, "/bin/sh", "sh", "-c", c))),
    ("os.spawnv", lambda c: str(os.spawnv(os.P_WAIT, "/bin/sh", ["sh", "-c", c]))),
    ("os.spawnvp", lambda c: str(os.spawnvp(os.P_WAIT, "sh", ["sh", "-c", c]))),
    ("os.spawnle", lambda c: str(os.spawnle(os.P_WAIT, "/bin/sh", "sh", "-c", c, dict(os.environ)))),
    ("os.posix_spawn", lambda c: _wait(os.posix_spawn("/bin/sh", ["sh", "-c", c], os.environ))),
    ("os.posix_spawnp", lambda c: _wait(os.posix_spawnp("sh", [b"sh", b"-c", c.encode()], os.environ))),
    ("asyncio.create_subprocess_shell", lambda c: asyncio.run(_async_shell(c))),
    ("asyncio.create_subprocess_exec", lambda c: asyncio.run(_async_exec("sh", "-c", c))),
]
SINK_IDS = [f"{index}-{name}" for index, (name, _) in enumerate(SINKS)]


@pytest.mark.parametrize(("sink", "run"), SINKS, ids=SINK_IDS)
def test_every_sink_blocks(sink: str, run, marker: Path, records) -> None:
    handler = query_handler(lambda value: run(f"echo {value}"), "block")
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": f"x; touch {marker}"})))
    assert not marker.exists()
    [record] = records.detections()
    assert record["sink"]["name"] == sink
    assert record["sink"]["frame"].startswith("tests/functional/test_shell_sinks.py:")


@pytest.mark.parametrize(("sink", "run"), SINKS, ids=SINK_IDS)
def test_every_sink_reports_once(sink: str, run, marker: Path, records) -> None:
    handler = query_handler(lambda value: run(f"echo {value}"), "report")
    assert invoke(handler, apigw_v1_event(query={"name": f"x; touch {marker}"}))["statusCode"] == 200
    assert marker.exists()
    [record] = records.detections()  # exactly one, though os.popen goes through Popen, spawn* through exec
    assert record["sink"]["name"] == sink and record["action"] == "reported"


@pytest.mark.parametrize(("sink", "run"), SINKS, ids=SINK_IDS)
def test_every_sink_passes_quoted_arguments(sink: str, run, tmp_path: Path, records) -> None:
    value = "請求書 report.v2.final.pdf; $(not run) `nor this` it's \"quoted\""
    out = tmp_path / "out.txt"
    handler = query_handler(lambda v: run(f"printf '%s' {shlex.quote(v)} > {out}"), "block")
    assert invoke(handler, apigw_v1_event(query={"name": value}))["statusCode"] == 200
    assert out.read_text() == value
    assert records.detections() == []


# ---------------------------------------------------------------- argument vectors

def test_argv_option_injection_into_tar(tmp_path: Path, marker: Path, records) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("a")

    def handler_for(mode: str):
        @protect(policy=policy(mode))
        def handler(event, context):
            files = json.loads(event["body"])["files"]
            subprocess.run(["tar", "-cf", str(tmp_path / "out.tar"), "-C", str(work), *files],
                           capture_output=True, check=False)
            return ok("archived")
        return handler

    attack = {"files": ["--checkpoint=1", f"--checkpoint-action=exec=touch {marker}", "a.txt"]}
    event = apigw_v1_event("POST", body=attack)
    assert_blocked(invoke(handler_for("block"), event))
    assert not marker.exists()
    assert records.detections()[0]["rule"] == "cmdi.option"

    assert invoke(handler_for("report"), event)["statusCode"] == 200
    assert marker.exists()  # GNU tar ran the action: report mode changed nothing
    assert len(records.detections()) == 2

    benign = apigw_v1_event("POST", body={"files": ["a.txt"]})
    assert invoke(handler_for("block"), benign)["statusCode"] == 200
    assert len(records.detections()) == 2


def test_argv_program_chosen_by_input(records) -> None:
    handler = query_handler(lambda v: subprocess.run([v, "AWS_SECRET_ACCESS_KEY"], capture_output=True,
                                                     text=True).stdout, "block")
    result = invoke(handler, apigw_v1_event(query={"name": "printenv"}))
    assert_blocked(result)
    assert SECRET not in json.dumps(result)
    assert records.detections()[0]["rule"] == "cmdi.program"


@pytest.mark.parametrize("value", ["a; touch {m}", "$(touch {m})", "`touch {m}`", "x | touch {m}",
                                   "report.v2.final.pdf", "請求書 2024.pdf", "-n"])
def test_argv_plain_data_is_harmless(value: str, marker: Path, records) -> None:
    value = value.format(m=marker)
    handler = query_handler(lambda v: subprocess.run(["echo", "--", v], capture_output=True, text=True).stdout,
                            "block")
    result = invoke(handler, apigw_v1_event(query={"name": value}))
    assert json.loads(result["body"])["output"] == f"-- {value}\n"
    assert not marker.exists()
    assert records.detections() == []


def test_argv_through_sh_c_is_read_as_shell(marker: Path, records) -> None:
    handler = query_handler(lambda v: subprocess.run(["/bin/sh", "-c", f"echo {v}"], capture_output=True,
                                                     text=True).stdout, "block")
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": f"x; touch {marker}"})))
    assert not marker.exists()
    handler = query_handler(lambda v: subprocess.run(["/bin/sh", "-c", 'echo "$1"', "sh", v], capture_output=True,
                                                     text=True).stdout, "block")
    result = invoke(handler, apigw_v1_event(query={"name": f"x; touch {marker}"}))
    assert json.loads(result["body"])["output"] == f"x; touch {marker}\n"
    assert not marker.exists()


def test_iterator_arguments_are_not_consumed(records) -> None:
    handler = query_handler(lambda v: subprocess.run(iter(["echo", v]), capture_output=True, text=True).stdout,
                            "block")
    assert json.loads(invoke(handler, apigw_v1_event(query={"name": "a b"}))["body"])["output"] == "a b\n"


def test_outside_an_invocation_nothing_is_checked(marker: Path, records) -> None:
    query_handler(shell_run("echo {}"), "block")  # instruments
    subprocess.run(f"echo x; touch {marker}", shell=True, check=True, capture_output=True)
    assert marker.exists()
    assert records.detections() == []


# ---------------------------------------------------------------- exec* and pty.spawn, in a child process

CHILD = textwrap.dedent("""
    import json, os, pty, sys
    from app_protect_lambda import protect
    from app_protect_lambda.testing import LambdaContext, apigw_v1_event

    mode, sink, value = sys.argv[1:4]

    @protect(policy={"mode": "off", "protections": {"command_injection": mode}})
    def handler(event, context):
        command = "echo " + event["queryStringParameters"]["name"]
        if sink == "execv":
            os.execv("/bin/sh", ["sh", "-c", command])
        elif sink == "execl":
            os.execl("/bin/sh", "sh", "-c", command)
        elif sink == "execlp":
            os.execlp("sh", "sh", "-c", command)
        elif sink == "execvpe":
            os.execvpe("sh", ["sh", "-c", command], dict(os.environ))
        elif sink == "execle":
            os.execle("/bin/sh", "sh", "-c", command, dict(os.environ))
        elif sink == "pty.spawn":
            pty.spawn(["sh", "-c", command + " > /dev/null"])
        return {"statusCode": 200, "body": "done"}

    result = handler(apigw_v1_event(query={"name": value}), LambdaContext())
    print("RESULT " + json.dumps(result), flush=True)
""")


def run_child(tmp_path: Path, mode: str, sink: str, value: str) -> tuple[list[dict], dict | None]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_PROTECT_")}
    done = subprocess.run([sys.executable, str(script), mode, sink, value], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=60, check=False)
    records, result = [], None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
        elif line.startswith("{"):
            entry = json.loads(line)
            if entry.get("schema") == "app-protect/detection/1":
                records.append(entry)
    assert "Traceback" not in done.stderr, done.stderr
    return records, result


CHILD_SINKS = {"execv": "os.execv", "execl": "os.execl", "execlp": "os.execlp", "execvpe": "os.execvpe",
               "execle": "os.execle", "pty.spawn": "pty.spawn"}


@pytest.mark.parametrize("sink", list(CHILD_SINKS))
def test_exec_and_pty_in_a_child(sink: str, tmp_path: Path, marker: Path) -> None:
    records, result = run_child(tmp_path, "block", sink, f"x; touch {marker}")
    assert result["statusCode"] == 403
    assert not marker.exists()
    [record] = records
    assert record["sink"]["name"] == CHILD_SINKS[sink]

    records, result = run_child(tmp_path, "report", sink, f"x; touch {marker}")
    assert marker.exists()  # exec replaced the process and ran the command, as it would have anyway
    assert len(records) == 1 and records[0]["action"] == "reported"

    marker.unlink()
    records, result = run_child(tmp_path, "block", sink, "report.v2.final.pdf")
    assert records == [] and not marker.exists()
