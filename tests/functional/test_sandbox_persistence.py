"""Sandbox persistence with real processes: programs dropped in /tmp, children that outlive the invocation."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.detectors import sandbox_persistence
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.inputs import Inputs
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event
from tests.functional.process_support import (
    children_of,
    running,
    state,
    wait_until,
)


def policy(mode: str, **options) -> dict:
    return {"mode": "off", "protections": {"sandbox_persistence": {"mode": mode, **options}}}


def invoke(handler, event):
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


@pytest.fixture
def dropped() -> Iterator[tuple[Path, Path]]:
    """A program written to /tmp at run time, as an attacker would drop it, and the marker it creates."""
    directory = Path(tempfile.mkdtemp(prefix="dropped-", dir="/tmp"))
    marker = directory / "ran"
    program = directory / "payload"
    program.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    program.chmod(0o755)
    yield program, marker
    shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- programs dropped in /tmp

async def _async_shell_reading(program: Path) -> int:
    with program.open() as script:
        process = await asyncio.create_subprocess_exec("sh", stdin=script)
        return await process.wait()


RUNNERS = [
    ("subprocess.Popen", lambda p: subprocess.run([str(p)], check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["./payload"], cwd=p.parent, check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(f"echo start && {p}", shell=True, check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["sh", str(p)], check=False)),
    ("os.system", lambda p: os.system(str(p))),
    ("os.posix_spawn", lambda p: os.waitpid(os.posix_spawn(str(p), [str(p)], os.environ), 0)),
    # behind programs that run the rest of their arguments, another path to it, a cd before it
    ("subprocess.Popen", lambda p: subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", str(p)], check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["timeout", "5", str(p)], check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["nice", "-n", "5", "nohup", str(p)], check=False)),
    ("subprocess.Popen", lambda p: subprocess.run([f"/proc/self/root{p}"], check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(f"cd {p.parent} && ./payload", shell=True, check=False)),
    ("os.system", lambda p: os.system(f". {p}")),
    # the script reaches a shell on its standard input, or the environment makes a bare name find it
    ("os.system", lambda p: os.system(f"sh < {p}")),
    ("subprocess.Popen", lambda p: subprocess.run(f"cat {p} | bash", shell=True, check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["sh"], stdin=p.open(), check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["bash", "-s"], stdin=os.open(p, os.O_RDONLY), check=False)),
    ("subprocess.Popen", lambda p: subprocess.run(["timeout", "5", "sh"], stdin=p.open(), check=False)),
    ("asyncio.create_subprocess_exec", lambda p: asyncio.run(_async_shell_reading(p))),
    ("subprocess.Popen.communicate", lambda p: subprocess.run(["sh"], input=f"{p}\n", text=True, check=False)),
    ("subprocess.Popen.communicate",
     lambda p: subprocess.check_output(["sh"], input=f"cd {p.parent}; ./payload".encode())),
    ("subprocess.Popen", lambda p: subprocess.run(["payload"], env={"PATH": f"{p.parent}:/usr/bin:/bin"}, check=False)),
    ("subprocess.Popen", lambda p: subprocess.run([sys.executable, "-c", f"import os; os.system('{p}')"], check=False)),
]


@pytest.mark.parametrize(("sink", "run"), RUNNERS, ids=[f"{i}-{s}" for i, (s, _) in enumerate(RUNNERS)])
def test_dropped_binary_blocked(dropped, sink: str, run, records) -> None:
    program, marker = dropped

    @protect(policy=policy("block"))
    def handler(event, context):
        run(program)
        return {"statusCode": 200, "body": "ran"}

    assert invoke(handler, apigw_v1_event())["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["protection"] == "sandbox_persistence" and record["rule"] == "sandbox.tmp-exec"
    assert record["sink"]["name"] == sink
    assert str(program) in record["message"]


def test_python_code_dropped_in_tmp_is_not_run(dropped, records) -> None:
    program, marker = dropped
    module = program.parent / "payload.py"
    module.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    runners = [
        lambda: subprocess.run([sys.executable, "-c", f"exec(open({str(module)!r}).read())"], check=False),
        lambda: subprocess.run([sys.executable], input=f"exec(open({str(module)!r}).read())", text=True, check=False),
        lambda: subprocess.run([sys.executable, "-m", "payload"], env={"PYTHONPATH": str(program.parent)}, check=False),
        lambda: subprocess.run([sys.executable, "-m", "payload"], cwd=program.parent, check=False),
        lambda: subprocess.run(f"{sys.executable} - < {module}", shell=True, check=False),
    ]
    for run in runners:
        @protect(policy=policy("block"))
        def handler(event, context, run=run):
            run()
            return {"statusCode": 200}

        assert invoke(handler, apigw_v1_event())["statusCode"] == 403
        assert not marker.exists()
    assert [r["rule"] for r in records.detections()] == ["sandbox.tmp-exec", "sandbox.tmp-exec", "sandbox.tmp-load",
                                                         "sandbox.tmp-exec", "sandbox.tmp-exec"]


def test_loader_variables_pointing_at_tmp_are_blocked(dropped, records) -> None:
    program, marker = dropped
    library = program.parent / "hook.so"
    library.write_bytes(b"not an ELF file")
    for env in ({"LD_PRELOAD": str(library)}, {"LD_LIBRARY_PATH": f"/usr/lib:{program.parent}"},
                {"BASH_ENV": str(program)}):
        @protect(policy=policy("block"))
        def handler(event, context, env=env):
            subprocess.run(["bash", "-c", f"echo ran > {marker}"], env=env, check=False)
            return {"statusCode": 200}

        assert invoke(handler, apigw_v1_event())["statusCode"] == 403
        assert not marker.exists()
    assert [r["rule"] for r in records.detections()] == ["sandbox.tmp-load"] * 3


def test_data_on_standard_input_and_ordinary_environments_pass(dropped, records) -> None:
    program, marker = dropped
    data = program.parent / "rows.txt"
    data.write_text("b\na\n")

    @protect(policy=policy("block"))
    def handler(event, context):
        out = [subprocess.run(["sort"], stdin=data.open(), capture_output=True, text=True, check=True).stdout,
               subprocess.run(["sh"], input="echo hello", capture_output=True, text=True, check=True).stdout,
               subprocess.run(f"sort < {data} | head -1", shell=True, capture_output=True, text=True,
                              check=True).stdout,
               subprocess.run(["ls", str(program.parent)], env={"PATH": f"/usr/bin:/bin:{program.parent}"},
                              capture_output=True, text=True, check=True).stdout,
               subprocess.run([sys.executable, "-c", f"print(open({str(data)!r}).read().split()[0])"],
                              capture_output=True, text=True, check=True).stdout]
        return {"statusCode": 200, "body": "|".join(line.strip() for line in out)}

    assert invoke(handler, apigw_v1_event())["body"] == "a\nb|hello|a|payload\nrows.txt|b"
    assert not marker.exists()
    assert records.detections() == []


def test_dropped_binary_report_and_off(dropped, records) -> None:
    program, marker = dropped
    for mode in ("report", "off"):
        @protect(policy=policy(mode))
        def handler(event, context):
            subprocess.run([str(program)], check=True)
            return {"statusCode": 200, "body": "ran"}

        assert invoke(handler, apigw_v1_event())["body"] == "ran"
        assert marker.exists()
        marker.unlink()
    [record] = records.detections()
    assert record["action"] == "reported"


def test_dropped_binary_named_by_an_input(dropped, records) -> None:
    program, marker = dropped

    @protect(policy=policy("block"))
    def handler(event, context):
        subprocess.run([f"{program.parent}/{event['queryStringParameters']['tool']}"], check=False)
        return {"statusCode": 200}

    assert invoke(handler, apigw_v1_event(query={"tool": "payload"}))["statusCode"] == 403
    assert not marker.exists()
    assert records.detections()[0]["input"] == {"location": "query.tool", "value": "payload"}


def test_allowed_tmp_program_and_ordinary_programs(dropped, records) -> None:
    program, marker = dropped

    @protect(policy=policy("block", exec_allow_paths=[str(program)]))
    def handler(event, context):
        subprocess.run([str(program)], check=True)
        out = subprocess.run(["ls", "-la", str(program.parent)], capture_output=True, text=True, check=True).stdout
        subprocess.run("echo fine | cat > /dev/null", shell=True, check=True)
        return {"statusCode": 200, "body": out}

    assert "payload" in invoke(handler, apigw_v1_event())["body"]
    assert marker.exists()
    assert records.detections() == []


def test_outside_an_invocation_tmp_programs_run(dropped, records) -> None:
    program, marker = dropped
    protect(policy=policy("block"))(lambda event, context: None)  # instruments
    subprocess.run([str(program)], check=True)  # e.g. unpacking a tool at init
    assert marker.exists()
    assert records.detections() == []


# ---------------------------------------------------------------- children that outlive the invocation

def spawner(mode: str, start, **options):
    @protect(policy=policy(mode, **options))
    def handler(event, context):
        handler.pid = start()
        return {"statusCode": 200, "body": str(handler.pid)}
    return handler


def test_detached_child_terminated_in_block_mode(reaper, records) -> None:
    handler = spawner("block", lambda: subprocess.Popen(["sleep", "30"], start_new_session=True).pid)
    result = invoke(handler, apigw_v1_event())
    reaper.append(handler.pid)
    assert result["statusCode"] == 200  # the response was already made; the record says what was done
    assert not running(handler.pid)
    [record] = records.detections()
    assert record["rule"] == "sandbox.child-alive" and record["action"] == "blocked"
    assert "terminated" in record["message"] and str(handler.pid) in record["message"]
    assert record["sink"] == {**record["sink"], "name": "subprocess.Popen", "argument": "sleep 30"}
    assert record["evidence"].startswith("started at tests/functional/test_sandbox_persistence.py:")


def test_detached_child_reported_and_left_alone(reaper, records) -> None:
    handler = spawner("report", lambda: subprocess.Popen(["sleep", "30"], start_new_session=True).pid)
    invoke(handler, apigw_v1_event())
    reaper.append(handler.pid)
    assert running(handler.pid)  # report mode changes nothing
    [record] = records.detections()
    assert record["action"] == "reported" and "still running" in record["message"]


def test_child_and_its_descendants_are_terminated(reaper, records) -> None:
    for detached in (True, False):  # its own process group, or ours (then it is killed pid by pid)
        @protect(policy=policy("block"))
        def handler(event, context, detached=detached):
            child = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"], start_new_session=detached)
            reaper.append(child.pid)
            wait_until(lambda: len(children_of(child.pid)) == 2)
            handler.pid, handler.descendants = child.pid, children_of(child.pid)
            return {"statusCode": 200}

        assert invoke(handler, apigw_v1_event())["statusCode"] == 200
        assert len(handler.descendants) == 2
        assert not running(handler.pid)
        assert wait_until(lambda: not any(running(p) for p in handler.descendants))
    detections = records.detections()
    assert len(detections) == 2 and all("2 descendant(s)" in r["message"] for r in detections)


def test_raw_pid_children(reaper, records) -> None:
    starters = [
        lambda: os.posix_spawnp("sleep", ["sleep", "30"], os.environ),
        lambda: os.spawnvp(os.P_NOWAIT, "sleep", ["sleep", "30"]),
    ]
    for start in starters:
        handler = spawner("block", start)
        invoke(handler, apigw_v1_event())
        reaper.append(handler.pid)
        assert state(handler.pid) is None  # killed and reaped
        with pytest.raises(ChildProcessError):
            os.waitpid(handler.pid, os.WNOHANG)
    assert [r["sink"]["name"] for r in records.detections()] == ["os.posix_spawnp", "os.spawnvp"]


def test_children_that_finished_are_not_reported(reaper, records) -> None:
    def start():
        subprocess.run(["true"], check=True)
        unwaited = subprocess.Popen(["true"])  # exits at once; left a zombie for its owner to reap
        wait_until(lambda: state(unwaited.pid) == "Z")
        return unwaited.pid

    invoke(spawner("block", start), apigw_v1_event())
    assert records.detections() == []


def test_off_mode_and_option_leave_children_alone(reaper, records) -> None:
    for mode, options in (("off", {}), ("block", {"child_processes": False})):
        handler = spawner(mode, lambda: subprocess.Popen(["sleep", "30"], start_new_session=True).pid, **options)
        invoke(handler, apigw_v1_event())
        reaper.append(handler.pid)
        assert running(handler.pid)
    assert records.detections() == []


def test_non_http_invocation_is_not_failed_by_the_finalizer(reaper, records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        handler.pid = subprocess.Popen(["sleep", "30"], start_new_session=True).pid
        return {"batchItemFailures": []}

    assert invoke(handler, sqs_event({"job": 1})) == {"batchItemFailures": []}
    reaper.append(handler.pid)
    assert not running(handler.pid)
    assert records.detections()[0]["action"] == "blocked"


# ---------------------------------------------------------------- the detector on its own

@pytest.mark.parametrize(("command", "found"), [
    (Command(["/tmp/x/payload", "-v"]), "/tmp/x/payload"),
    (Command(["./payload"], cwd="/tmp/work"), "/tmp/work/payload"),
    (Command(["/tmp/../tmp/x"]), "/tmp/x"),
    (Command(["python3", "-u", "/tmp/x.py"]), "/tmp/x.py"),
    (Command(["bash", "/dev/shm/x.sh"]), "/dev/shm/x.sh"),
    (Command(["sh", "-c", "cd / && /tmp/x | cat"]), "/tmp/x"),
    (Command(["echo a; /tmp/y"], shell=True), "/tmp/y"),
    (Command(["echo a"], shell=True, executable="/tmp/bash"), "/tmp/bash"),
    (Command(["ls"], program="/tmp/ls"), "/tmp/ls"),
    (Command(["ls", "/tmp"]), None),
    (Command(["python3", "-c", "open('/tmp/x')"]), None),
    (Command(["cp", "/tmp/a", "/tmp/b"]), None),
    (Command(["echo /tmp/x > /tmp/y"], shell=True), None),
    (Command(["/usr/bin/tmp-cleaner"]), None),
])
def test_detector(command: Command, found: str | None) -> None:
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    finding = sandbox_persistence.detect(command, Inputs([]), options)
    assert (finding.evidence if finding else None) == found
    prefixes = sandbox_persistence.dropped_program_prefixes(options)
    if found:  # the sinks' fast path never skips what the detector would find
        assert sandbox_persistence.may_run_dropped_program(command, prefixes)
    assert not sandbox_persistence.may_run_dropped_program(Command(["ls", "-la", "/var/task"]), prefixes)


def test_detector_follows_path_into_tmp(monkeypatch, dropped) -> None:
    program, _ = dropped
    options = Policy.from_dict({}).options(AttackKind.SANDBOX_PERSISTENCE)
    assert sandbox_persistence.detect(Command(["payload"]), Inputs([]), options) is None
    monkeypatch.setenv("PATH", f"{program.parent}:{os.environ['PATH']}")
    assert sandbox_persistence.detect(Command(["payload"]), Inputs([]), options).evidence == str(program)
