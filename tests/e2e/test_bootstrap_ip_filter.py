"""The IP filter through the exec wrapper's handler: the policy file names a deny list file, read when the
bootstrap wraps the user's handler (init); an ALB behind CloudFront (one trusted hop) answers 403 for a
listed viewer before the user's module runs any code of the request, and the same event with the viewer's
address prepended as a spoof changes nothing."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda.checks import ip_lists
from app_protect_lambda.testing import LambdaContext
from tests.bootstrap_support import wrapping
from tests.conftest import load_event

HANDLER_MODULE = '''
import os

def handler(event, context):
    with open(os.environ["PROBE_MARKER"], "a") as marker:
        marker.write("ran\\n")
    return {"statusCode": 200, "statusDescription": "200 OK", "isBase64Encoded": False, "body": "hello"}
'''


@pytest.fixture
def wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    ip_lists.forget()
    name = f"probe_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / "task"
    root.mkdir()
    (root / f"{name}.py").write_text(HANDLER_MODULE)
    deny = tmp_path / "deny.txt"
    deny.write_text("# scanners\n203.0.113.0/24\n2001:db8:bad::/48\n")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"protections": {"ip_filter": {"lists": [f"file:{deny}"], "trusted_proxies": 1}}}))
    marker = tmp_path / "marker"
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PROBE_MARKER", str(marker))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    monkeypatch.setenv("APP_PROTECT_POLICY", f"file:{policy}")
    with wrapping(monkeypatch, name) as bootstrap:
        deny.unlink()  # read at init: the requests below never need the file
        yield bootstrap.handler, marker
    ip_lists.forget()


def alb(chain: str) -> dict:
    event = load_event("alb.json")
    event["headers"]["x-forwarded-for"] = chain
    return event


@pytest.mark.parametrize("chain", ["203.0.113.7, 130.176.0.5", "198.51.100.1, 203.0.113.7, 130.176.0.5",
                                   "2001:db8:bad::1, 130.176.0.5", "[2001:db8:bad::1]:443, 130.176.0.5"])
def test_a_listed_viewer_gets_the_albs_403_and_no_user_code_runs(chain: str, wrapped, records) -> None:
    handler, marker = wrapped
    answer = handler(alb(chain), LambdaContext())
    assert answer["statusCode"] == 403 and answer["statusDescription"] == "403 Forbidden"
    assert not marker.exists()
    assert [(record["rule"], record["action"]) for record in records.detections()] == [("ip_filter.denied", "blocked")]


@pytest.mark.parametrize("chain", ["198.51.100.7, 130.176.0.5", "203.0.113.7, 198.51.100.7, 130.176.0.5",
                                   "garbage, 198.51.100.7, 130.176.0.5"])
def test_a_viewer_not_listed_is_answered_by_the_handler(chain: str, wrapped, records) -> None:
    handler, marker = wrapped
    answer = handler(alb(chain), LambdaContext())
    assert answer["statusCode"] == 200 and answer["body"] == "hello"
    assert marker.read_text() == "ran\n"
    assert records.detections() == [] and records.internal_errors() == []
