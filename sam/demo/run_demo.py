"""``make demo``: the demo function robbed of its secrets, then the same function protected.

Everything runs on this machine, through the real Lambda runtime client (awslambdaric)
and a local Runtime API on 127.0.0.1; EventBridge is moto_server on 127.0.0.1. Nothing
leaves the machine. Every process started here is stopped by its PID at the end.

    python -m sam.demo.run_demo            # what `make demo` runs
"""
from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam.runtime import environment
from sam.runtime.api import Result
from sam.runtime.moto_server import MotoServer
from sam.runtime.process import FAKE_CREDENTIALS, LocalFunction

FUNCTION = Path(__file__).resolve().parent / "function"
SECRET_NAME = "AWS_SECRET_ACCESS_KEY"
SECRET = FAKE_CREDENTIALS[SECRET_NAME]
BUS = "app-protect-demo"
WIDTH = 100


@dataclass
class Request:
    title: str
    path: str
    query: dict[str, str]
    show: Callable[[Result], str]  # what the response gave away, in one line
    attack: bool = True

    def event(self) -> dict[str, Any]:
        from app_protect_lambda.testing import apigw_v1_event

        return apigw_v1_event("GET", self.path, query=self.query, source_ip="203.0.113.66",
                              headers={"user-agent": "curl/8.5.0"})

    @property
    def url(self) -> str:
        """As a person would type it (the event carries it decoded, as API Gateway delivers it)."""
        return self.path + "".join(f"{'?' if i == 0 else '&'}{k}={v}" for i, (k, v) in enumerate(self.query.items()))


def _field(result: Result, name: str) -> str:
    body = result.body if isinstance(result.body, dict) else {}
    return str(body.get(name, ""))


def _secret_line(text: str) -> str:
    for line in text.replace("\x00", "\n").splitlines():
        if line.startswith(f"{SECRET_NAME}="):
            return f"stolen {line}"
    return "nothing stolen"


def _runtime_api(result: Result) -> str:
    body = result.body if isinstance(result.body, dict) else {}
    if "status" not in body:
        return "the Runtime API was not reached"
    return f"reached the Runtime API: HTTP {body['status']} {body.get('body', '')[:60]}"


def _users(result: Result) -> str:
    users = result.body.get("users", []) if isinstance(result.body, dict) else []
    emails = ", ".join(user["email"] for user in users)
    return f"{len(users)} users dumped: {emails}" if len(users) > 1 else emails or "no users"


def requests(runtime_api: str) -> list[Request]:
    return [
        Request("a note", "/notes", {"name": "welcome.txt"},
                lambda r: _field(r, "text").strip()[:60], attack=False),
        Request("a word count", "/notes/wordcount", {"name": "meeting notes 2026.txt"},
                lambda r: f"{_field(r, 'words')} words", attack=False),
        Request("a user", "/users", {"name": "alice"}, _users, attack=False),
        Request("command injection", "/notes/wordcount", {"name": 'welcome.txt"; env; echo "'},
                lambda r: _secret_line(_field(r, "words"))),
        Request("file read", "/notes", {"name": "/proc/self/environ"},
                lambda r: _secret_line(_field(r, "text"))),
        Request("SSRF", "/preview", {"url": f"http://{runtime_api}/2018-06-01/runtime/invocation/next"},
                _runtime_api),
        Request("SQL injection", "/users", {"name": "' OR '1'='1"}, _users),
    ]


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, WIDTH - len(text) - 4))


def clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def play(function: LocalFunction) -> list[tuple[Request, Result]]:
    played = []
    for request in requests(function.api.address):
        result = function.invoke(request.event())
        status = result.status_code if result.ok else result.error_type
        outcome = "blocked by app-protect" if status == 403 else request.show(result)
        mark = "  " if not request.attack else ("!!" if status != 403 else "ok")
        say(f" {mark} {request.title:<18} GET {clip(request.url, 46):<46} {status}  {clip(outcome, 58)}")
        played.append((request, result))
    return played


def table(events: list[dict[str, Any]]) -> None:
    columns = ("protection", "action", "rule", "input", "sink", "where")
    rows = []
    for event in events:
        detail = event["detail"]
        rows.append((detail["protection"], detail["action"], detail["rule"],
                     (detail.get("input") or {}).get("location", "-"), detail["sink"]["name"],
                     detail["sink"].get("frame") or "-"))
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    say("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    say("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        say("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def main() -> int:
    started = time.perf_counter()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    say("app-protect-lambda demo: a small notes API with a command-injection, file-read, SSRF and SQL flaw,")
    say("run by the real Lambda runtime client (awslambdaric) against a local Runtime API on 127.0.0.1.")
    say(f"Its fake secret: {SECRET_NAME}={SECRET}")

    heading("setting up")
    layer = environment.build_layer("all", "all")
    say(f"  layer   {layer.relative_to(environment.ROOT)} ({layer.stat().st_size // 1024} KiB)")
    python = environment.runtime_python(version)
    say(f"  runtime python{version} with awslambdaric (build/runtime-envs/py{version})")

    with tempfile.TemporaryDirectory(prefix="app-protect-demo-") as scratch, MotoServer() as moto:
        opt = environment.unpack_layer(layer, Path(scratch) / "opt")
        queue_url = moto.detections_target(bus=BUS, name="app-protect-demo-detections")
        say(f"  moto    {moto.endpoint} (pid {moto.process.pid}): EventBridge bus {BUS}, a rule to an SQS queue")

        heading("1. without protection")
        with LocalFunction(python, FUNCTION, "app.handler", function_name="notes-api") as function:
            init_ms = function.wait_ready()
            say(f"  runtime pid {function.process.pid}, init {init_ms:.0f} ms, handler app.handler")
            unprotected = play(function)

        heading("2. with the layer: AWS_LAMBDA_EXEC_WRAPPER=/opt/app-protect, APP_PROTECT_MODE=block")
        env = {"APP_PROTECT_MODE": "block", "APP_PROTECT_EVENT_BUS": BUS, "AWS_ENDPOINT_URL": moto.endpoint}
        with LocalFunction(python, FUNCTION, "app.handler", opt=opt, exec_wrapper=True, environment=env,
                           function_name="notes-api") as function:
            init_ms = function.wait_ready()
            say(f"  runtime pid {function.process.pid}, init {init_ms:.0f} ms, handler app.handler "
                "(run by app_protect_lambda.bootstrap)")
            protected = play(function)
            records = function.records(wait_for=sum(1 for r, _ in protected if r.attack), timeout=5)
            errors = function.records("app-protect/internal-error/1", timeout=0)

        heading("3. detections, read back from the SQS target of the EventBridge rule")
        events = moto.drain(queue_url, expected=len(records), timeout=10)
        table(events)

    stolen = sum(1 for r, res in unprotected if r.attack and res.status_code != 403)
    blocked = sum(1 for r, res in protected if r.attack and res.status_code == 403)
    attacks = sum(1 for r, _ in protected if r.attack)
    benign_ok = all(res.status_code == 200 for r, res in protected if not r.attack)
    heading("summary")
    say(f"  without protection: {stolen} of {attacks} attacks succeeded")
    say(f"  with the layer:     {blocked} of {attacks} attacks blocked with 403; benign requests "
        + ("answered as before" if benign_ok else "NOT all answered"))
    say(f"  records: {len(records)} on stdout, {len(events)} through EventBridge"
        + (f", {len(errors)} internal errors" if errors else ""))
    not_blocked = [r.title for r, res in protected if r.attack and res.status_code != 403]
    if not_blocked:
        say("  not blocked yet: " + ", ".join(not_blocked))
    say(f"  ({time.perf_counter() - started:.0f} s; every process started here has been stopped)")
    say()
    say(textwrap.fill("Deploy it yourself (sandbox account only): sam build -t sam/demo/template.yaml && "
                      "sam deploy --guided. Events for `sam local invoke` are in sam/demo/events/.", WIDTH))
    return 0 if benign_ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
