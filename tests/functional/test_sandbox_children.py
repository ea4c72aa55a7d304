"""Children no process sink started (os.fork, os.forkpty, multiprocessing, a shell's background job, a
double fork): those still running when the invocation ends are reported, and killed in block mode.

Every test reaps what it started with bounded waits. The cases whose process leaves our tree (a background
job reparented to init, a double fork) run in a fresh interpreter that leads its own process group, as the
Lambda runtime does, so that the pytest worker's group (shared with the other workers) is never judged; the
subreaper cases run there too, so the worker never becomes one.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event
from tests.functional.process_support import (
    running,
    state,
)

ROOT = Path(__file__).resolve().parents[2]


def policy(mode: str, **options) -> dict:
    return {"mode": "off", "protections": {"sandbox_persistence": {"mode": mode, **options}}}


def sleeper(seconds: float = 30) -> None:
    time.sleep(seconds)


def forked_sleeper() -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    return pid


def invoke(mode: str, start, **options):
    @protect(policy=policy(mode, **options))
    def handler(event, context):
        handler.started = start()
        return {"statusCode": 200}

    handler.response = handler(apigw_v1_event(), LambdaContext())
    return handler


# ---------------------------------------------------------------- forks and multiprocessing, in this process

def test_a_forked_child_left_running_is_killed(reaper, records) -> None:
    handler = invoke("block", forked_sleeper)
    reaper.append(handler.started)
    assert handler.response["statusCode"] == 200
    assert state(handler.started) is None  # killed and reaped
    [record] = records.detections()
    assert record["rule"] == "sandbox.child-alive" and record["action"] == "blocked"
    assert record["sink"]["name"] == "os.fork" and "terminated" in record["message"]
    assert record["evidence"].startswith("started at tests/functional/test_sandbox_children.py:")


def test_a_forkpty_child_is_reported_and_left_alone_in_report_mode(reaper, records) -> None:
    terminals = []

    def start():
        pid, descriptor = os.forkpty()
        if pid == 0:
            try:
                time.sleep(30)
            finally:
                os._exit(0)
        terminals.append(descriptor)  # closing it would hang the child up
        return pid

    handler = invoke("report", start)
    reaper.append(handler.started)
    try:
        assert running(handler.started)
    finally:
        os.close(terminals[0])
    [record] = records.detections()
    assert record["sink"]["name"] == "os.forkpty" and record["action"] == "reported"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_multiprocessing_process_left_running_is_killed(method: str, reaper, records) -> None:
    context = multiprocessing.get_context(method)
    processes = []

    def start():
        process = context.Process(target=sleeper, daemon=True)
        process.start()
        processes.append(process)
        return process.pid

    handler = invoke("block", start)
    reaper.append(handler.started)
    [process] = processes
    assert not process.is_alive() and process.exitcode == -signal.SIGKILL  # its owner sees it ended
    [record] = records.detections()
    assert record["sink"]["name"] == "multiprocessing.Process.start"
    assert record["sink"]["argument"].endswith("sleeper")



@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pools_joined_before_returning_pass(method: str, records) -> None:
    context = multiprocessing.get_context(method)

    def start():
        with context.Pool(2) as pool:
            squares = pool.map(abs, [-1, -2, -3])
        pool.join()
        other = context.Pool(1)
        squares += other.map(abs, [-4])
        other.close()
        other.join()
        worker = context.Process(target=sleeper, args=(0,))
        worker.start()
        worker.join(10)
        return squares

    handler = invoke("block", start)
    assert handler.started == [1, 2, 3, 4]
    assert records.detections() == []


def test_finished_children_threads_and_libraries_that_wait_pass(records, reaper) -> None:
    before = subprocess.Popen(["sleep", "30"])  # started outside any invocation (init): not this one's
    reaper.append(before.pid)

    def start():
        subprocess.run(["true"], check=True)
        os.waitpid(forked_exit(), 0)
        thread = threading.Thread(target=sleeper, args=(0.05,))
        thread.start()
        thread.join()
        found = ctypes.util.find_library("c")  # a library that runs a process and waits for it
        ctypes.CDLL(found or "libc.so.6").getpid()
        os.system("true")
        return found

    handler = invoke("block", start)
    assert handler.response["statusCode"] == 200
    assert running(before.pid)
    assert records.detections() == []


def forked_exit() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


def test_off_and_option_leave_forks_alone(reaper, records) -> None:
    for mode, options in (("off", {}), ("block", {"child_processes": False})):
        handler = invoke(mode, forked_sleeper, **options)
        reaper.append(handler.started)
        assert running(handler.started)
    assert records.detections() == []


# ---------------------------------------------------------------- processes that leave our tree

HARNESS = textwrap.dedent("""
    import json, os, subprocess, sys, time
    from app_protect_lambda import protect
    from app_protect_lambda.testing import LambdaContext, apigw_v1_event

    PIDS = sys.argv[1]

    def double_fork(new_session):
        middle = os.fork()
        if middle == 0:
            if new_session:
                os.setsid()
            grandchild = os.fork()
            if grandchild == 0:
                quiet = os.open(os.devnull, os.O_WRONLY)  # not holding the harness's output open
                os.dup2(quiet, 1)
                os.dup2(quiet, 2)
                try:
                    time.sleep(30)
                finally:
                    os._exit(0)
            with open(PIDS, "a") as out:
                out.write(f"{grandchild}\\n")
            os._exit(0)
        os.waitpid(middle, 0)

    def sidecar_child():
        subprocess.run(["true"], check=True)  # the invocation starts a process too: its check runs
        SIDECAR.stdin.write(b"go\\n")
        SIDECAR.stdin.flush()
        for _ in range(250):
            children = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()
                        and os.path.exists(f"/proc/{entry}/stat")
                        and open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1] == str(SIDECAR.pid)]
            if children:
                with open(PIDS, "a") as out:
                    out.write(f"{children[0]}\\n")
                return
            time.sleep(0.02)

    # started at init, outside any invocation, in our process group: its own children are its business
    SIDECAR = subprocess.Popen(["sh", "-c", "read go; sleep 30; true"], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) \
        if sys.argv[2] == "sidecar" else None

    STARTS = {
        "sidecar": sidecar_child,
        "background": lambda: os.system(f"sleep 30 > /dev/null 2>&1 & echo $! >> {PIDS}"),
        "shell-background": lambda: subprocess.run(f"nohup sleep 30 > /dev/null 2>&1 & echo $! >> {PIDS}",
                                                   shell=True, check=True),
        "double-fork": lambda: double_fork(False),
        "double-fork-setsid": lambda: double_fork(True),
    }

    @protect(policy=json.loads(sys.argv[3]))
    def handler(event, context):
        STARTS[sys.argv[2]]()
        return {"statusCode": 200}

    response = handler(apigw_v1_event(), LambdaContext())
    time.sleep(0.05)
    pids = [int(line) for line in open(PIDS).read().split()]
    print(json.dumps({"response": response, "pids": pids,
                      "alive": [pid for pid in pids if os.path.exists(f"/proc/{pid}")
                                and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX"]}))
""")


def run_harness(tmp_path: Path, case: str, mode: str, **options) -> tuple[dict, list[dict]]:
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    pids = tmp_path / "pids"
    pids.write_text("")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    child = subprocess.Popen([sys.executable, str(script), str(pids), case, json.dumps(policy(mode, **options))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)  # it leads its own process group, as the runtime does
    try:
        out, err = child.communicate(timeout=60)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)  # whatever is left in its group
        for line in pids.read_text().split():
            with contextlib.suppress(OSError):
                os.kill(int(line), signal.SIGKILL)  # and what left it (setsid)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert child.returncode == 0, err
    return lines[-1], [line for line in lines if line.get("schema") == "app-protect/detection/1"]


@pytest.mark.parametrize("case", ["background", "shell-background", "double-fork"])
def test_processes_reparented_out_of_our_tree_are_killed(case: str, tmp_path: Path) -> None:
    result, detections = run_harness(tmp_path, case, "block")
    assert result["response"]["statusCode"] == 200
    assert len(result["pids"]) == 1 and result["alive"] == []
    [record] = detections
    assert record["rule"] == "sandbox.child-alive" and record["action"] == "blocked"
    assert str(result["pids"][0]) in record["message"] and "terminated" in record["message"]
    assert "without a process sink" in record["message"]


def test_a_background_job_is_reported_and_left_alone_in_report_mode(tmp_path: Path) -> None:
    result, detections = run_harness(tmp_path, "background", "report")
    assert result["alive"] == result["pids"]
    [record] = detections
    assert record["action"] == "reported" and "sleep 30" in record["sink"]["argument"]  # or its shell, exiting


def test_a_child_of_a_process_started_at_init_is_not_the_invocations(tmp_path: Path) -> None:
    result, detections = run_harness(tmp_path, "sidecar", "block")
    assert len(result["pids"]) == 1 and result["alive"] == result["pids"]
    assert detections == []


def test_a_setsid_double_fork_needs_the_subreaper(tmp_path: Path) -> None:
    result, detections = run_harness(tmp_path, "double-fork-setsid", "block")
    assert result["alive"] == result["pids"] and detections == []  # it left our tree and our group
    result, detections = run_harness(tmp_path, "double-fork-setsid", "block", subreaper=True)
    assert len(result["pids"]) == 1 and result["alive"] == []
    [record] = detections
    assert str(result["pids"][0]) in record["message"] and "terminated" in record["message"]


def test_the_subreaper_policy_option_is_validated() -> None:
    from app_protect_lambda.errors import PolicyError
    from app_protect_lambda.policy import Policy

    with pytest.raises(PolicyError):
        Policy.from_dict(policy("block", subreaper="yes"))
