"""One function in one runtime process: ``[exec wrapper] <python> bootstrap.py`` against a local Runtime API.

    with LocalFunction(python, task_root, "app.handler", opt=opt, exec_wrapper=True) as function:
        function.wait_ready()
        result = function.invoke(event)

The process gets the environment the managed runtime sets (``_HANDLER``,
``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_RUNTIME_API``, ``AWS_EXECUTION_ENV``...) plus fake
credentials, and whatever ``environment`` adds (``AWS_ENDPOINT_URL`` for moto_server,
``APP_PROTECT_*``). Its stdout lines are kept (``lines``, ``records()``); it is stopped
by its own PID.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from app_protect_lambda.reporting.record import from_log_line

from .api import Result, RuntimeAPI

BOOTSTRAP = Path(__file__).resolve().parent / "bootstrap.py"
# The function's own fake secrets: what an attacker wants to steal.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAQDEMOFAKEKEY7EXA",
    "AWS_SECRET_ACCESS_KEY": "dEm0/FAKE+secretAccessKey/notReal0000000",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEDEMOfakeSessionTokenForTheLocalRuntime0000",
}
_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME", "PYENV_ROOT")


class RuntimeExited(RuntimeError):
    pass


def stop_session(process: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a process started in its own session, and everything in its group: TERM, then KILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class LocalFunction:
    def __init__(self, python: str, task_root: Path | str, handler: str, *, opt: Path | str | None = None,
                 exec_wrapper: bool = False, environment: dict[str, str] | None = None,
                 function_name: str = "app-protect-demo", echo: bool = False) -> None:
        self.python = python
        self.task_root = Path(task_root)
        self.handler = handler
        self.opt = Path(opt) if opt is not None else None
        self.exec_wrapper = exec_wrapper
        self.extra = dict(environment or {})
        self.function_name = function_name
        self.echo = echo
        self.api = RuntimeAPI(function_name)
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.started_at: float | None = None
        self._reader: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def environment(self) -> dict[str, str]:
        version = re.search(r"python(3\.\d+)", self.python)
        version_text = version.group(1) if version else f"{sys.version_info.major}.{sys.version_info.minor}"
        env = {name: os.environ[name] for name in _KEEP if name in os.environ}
        env.update({
            "_HANDLER": self.handler,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version_text}",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only on Lambda: no byte code is written
            "LOCAL_LAMBDA_OPT": str(self.opt or "/nonexistent-opt"),
            **FAKE_CREDENTIALS,
        })
        if self.exec_wrapper:
            env["AWS_LAMBDA_EXEC_WRAPPER"] = str(self.opt / "app-protect") if self.opt else ""
        env.update(self.extra)
        return env

    def command(self, env: dict[str, str]) -> list[str]:
        command = [self.python, str(BOOTSTRAP)]
        wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
        return [wrapper, *command] if wrapper else command

    def start(self) -> LocalFunction:
        self.api.__enter__()
        env = self.environment()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(self.command(env), env=env, cwd=self.task_root, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="runtime-stdout", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.echo:
                sys.stdout.write(line)

    def stop(self) -> None:
        if self.process is not None:
            stop_session(self.process)  # its own session: the runtime and nothing else
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.api.close()

    def __enter__(self) -> LocalFunction:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- use

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait for the end of init (first ``next`` or an init error); returns the init duration in ms."""
        deadline = time.monotonic() + timeout
        while not self.api.ready.wait(0.05):
            if self.exited():
                raise RuntimeExited(f"the runtime exited with {self.process.returncode} during init:\n"
                                    + "\n".join(self.lines[-30:]))
            if time.monotonic() > deadline:
                raise TimeoutError("the runtime did not finish its init in time:\n" + "\n".join(self.lines[-30:]))
        assert self.api.first_next_at is not None and self.started_at is not None
        return (self.api.first_next_at - self.started_at) * 1000

    def cpu_ms(self) -> float:
        """CPU time the runtime process has used so far, all threads (Linux). Blocked in ``next`` after
        init, it uses none, so after ``wait_ready`` this is the init's CPU time: unlike the wall-clock
        init duration, it hardly depends on what else the machine is doing."""
        assert self.process is not None
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        return total / 1e6

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def invoke(self, event: Any, timeout: float = 30.0) -> Result:
        request_id = self.api.submit(event)
        deadline = time.monotonic() + timeout
        while True:
            result = self.api.result(request_id, timeout=0.1)
            if result is not None:
                return result
            if self.exited():
                raise RuntimeExited(f"the runtime exited with {self.process.returncode} during an invocation:\n"
                                    + "\n".join(self.lines[-30:]))
            if time.monotonic() > deadline:
                raise TimeoutError("no response from the runtime:\n" + "\n".join(self.lines[-30:]))

    def mark(self) -> int:
        """A position in the output, for ``records(since=...)``."""
        return len(self.lines)

    def lines_starting(self, prefix: str, *, since: int = 0, wait_for: int = 1, timeout: float = 5.0) -> list[str]:
        """The output lines after ``since`` that start with ``prefix``; waits up to ``timeout`` for
        ``wait_for`` of them (the pipe may lag behind the runtime's answer)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.lines[since:] if line.startswith(prefix)]
            if len(found) >= wait_for or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def records(self, schema: str | None = "app-protect/detection/1", *, request_id: str | None = None,
                since: int = 0, wait_for: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The app-protect JSON lines printed after ``since`` (detections by default), of one invocation
        when ``request_id`` is given; waits up to ``timeout`` for at least ``wait_for`` of them (the pipe
        may lag behind the runtime's answer)."""
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for line in self.lines[since:]:
                record = from_log_line(line)
                if record is None or (schema is not None and record.get("schema") != schema):
                    continue
                if request_id is None or (record.get("function") or {}).get("aws_request_id") == request_id:
                    found.append(record)
            if len(found) >= wait_for or time.monotonic() > deadline:
                return found
            time.sleep(0.02)
