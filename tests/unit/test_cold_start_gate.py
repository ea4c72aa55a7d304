"""The cold start, checked deterministically rather than timed: what it imports, compiles and calls.

A fresh interpreter runs what a function's init runs (``import app_protect_lambda.start``, which
instruments every sink, then ``@protect``) and one benign invocation; it reports the modules that
appeared, the regular expressions our code compiled, and every network call. Timings belong in
``make bench``; these are the causes that make them regress.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, re, sys

    compiled = []
    original_compile = re._compile

    def counting_compile(pattern, flags):
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if name.startswith("app_protect_lambda"):
                compiled.append((name, str(pattern)[:60]))
                break
            frame = frame.f_back
        return original_compile(pattern, flags)

    re._compile = counting_compile
    network = []
    sys.addaudithook(lambda event, args: event.startswith("socket.") and network.append(event))
    before = set(sys.modules)

    import app_protect_lambda.start
    from app_protect_lambda import protect

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": "hello " + event["queryStringParameters"]["name"]}

    init_modules = sorted(set(sys.modules) - before)
    init_compiled = list(compiled)
    answer = handler({"resource": "/", "path": "/", "httpMethod": "GET", "headers": {"Host": "example.com"},
                      "queryStringParameters": {"name": "alice"}, "requestContext": {"stage": "prod"},
                      "body": None}, None)
    print(json.dumps({"init_modules": init_modules, "init_compiled": init_compiled,
                      "modules": sorted(set(sys.modules) - before), "network": network, "answer": answer}))
""")

# Each costs milliseconds of cold start, or belongs only to a rarer path (records, policies, drivers).
NEVER_AT_INIT = ("boto3", "botocore", "yaml", "typing", "uuid", "dataclasses", "inspect", "ipaddress",
                 "urllib.parse", "http.client", "socket", "ssl", "sqlite3", "subprocess", "asyncio", "email",
                 "shutil", "signal", "pathlib", "tempfile", "zipfile", "tarfile", "ctypes", "multiprocessing")
# A benign invocation writes no record: nothing to ship, nothing to format.
NEVER_ON_A_BENIGN_INVOCATION = ("boto3", "botocore", "yaml", "uuid", "app_protect_lambda.reporting.record",
                                "app_protect_lambda.reporting.eventbridge")


@pytest.fixture(scope="module")
def probe() -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", NEVER_AT_INIT)
def test_init_does_not_import(probe: dict, module: str) -> None:
    assert module not in probe["init_modules"]


@pytest.mark.parametrize("module", NEVER_ON_A_BENIGN_INVOCATION)
def test_a_benign_invocation_does_not_import(probe: dict, module: str) -> None:
    assert module not in probe["modules"]


def test_init_compiles_no_regular_expression(probe: dict) -> None:
    assert probe["init_compiled"] == []


def test_init_and_a_benign_invocation_touch_no_network(probe: dict) -> None:
    assert probe["network"] == []
    assert probe["answer"] == {"statusCode": 200, "body": "hello alice"}
