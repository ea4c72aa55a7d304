"""`python -m bench.triggers`: what the triggers of issue 10, item 2 cost, against the unprotected handler.

Per sample event of tests/events: the unprotected handler (one parameterised sqlite3 query), the same
handler under ``@protect`` (block mode), and the flattening of the event alone (context and inputs);
then the large cases: a CloudWatch Logs payload of 8 MB once decompressed, a gzip bomb of 64 MB, and a
multipart upload of a 4 MB text file. CPU time per call, medians of the harness's rounds. Under a
minute.
"""
from __future__ import annotations

import base64
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

from app_protect_lambda import protect, sinks
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.multipart import Part

from .harness import per_call

EVENTS = Path(__file__).resolve().parents[1] / "tests" / "events"
KINDS = ["apigw-v1", "sqs", "firehose", "msk", "self-managed-kafka", "cloudwatch-logs", "appsync", "appsync-batch",
         "cognito", "vpc-lattice-v1", "vpc-lattice-v2", "lambda-edge-viewer-request", "lambda-edge-origin-response"]
POLICY = Policy.from_dict({"mode": "block"})
DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("CREATE TABLE users (name TEXT)")


def handler(event: Any, context: Any) -> dict[str, Any]:
    DB.execute("SELECT count(*) FROM users WHERE name = ?", ("alice",)).fetchone()
    return {"statusCode": 200}


def flatten(event: Any) -> object:
    return RequestContext(event, None, POLICY).inputs.raw


def large_events() -> dict[str, Any]:
    log_events = [{"id": str(i), "timestamp": 0, "message": json.dumps({"path": f"/users/{i}", "ua": "x" * 60})}
                  for i in range((6 << 20) // 150)]
    logs = gzip.compress(json.dumps({"logEvents": log_events}).encode())
    bomb = gzip.compress(b"{" + b" " * (64 << 20))
    boundary = "b0undary"
    upload = (f"--{boundary}\r\nContent-Disposition: form-data; name=f; filename=a.csv\r\n\r\n".encode()
              + b"ann,a@example.com\n" * ((4 << 20) // 18) + f"\r\n--{boundary}--\r\n".encode())
    return {
        "cloudwatch-logs, 6 MB decompressed": {"awslogs": {"data": base64.b64encode(logs).decode()}},
        "cloudwatch-logs, 64 MB gzip bomb": {"awslogs": {"data": base64.b64encode(bomb).decode()}},
        "multipart, 4 MB text file": {
            "version": "2.0", "rawPath": "/upload", "requestContext": {"http": {"method": "POST"}},
            "headers": {"content-type": f"multipart/form-data; boundary={boundary}"},
            "body": base64.b64encode(upload).decode(), "isBase64Encoded": True},
    }


def main() -> None:
    sinks.instrument()
    protected = protect(handler, mode="block")
    print(f"{'event':40} {'unprotected µs':>15} {'@protect µs':>12} {'flatten µs':>11} {'inputs':>7}")
    for kind in KINDS:
        event = json.loads((EVENTS / f"{kind}.json").read_text())
        base = per_call(lambda event=event: handler(event, None), number=200, repeat=15).median_ns / 1000
        guarded = per_call(lambda event=event: protected(event, None), number=200, repeat=15).median_ns / 1000
        walked = per_call(lambda event=event: flatten(event), number=200, repeat=15).median_ns / 1000
        count = len(RequestContext(event, None, POLICY).inputs.raw)
        print(f"{kind:40} {base:15.1f} {guarded:12.1f} {walked:11.1f} {count:7}")
    for name, event in large_events().items():
        walked = per_call(lambda event=event: flatten(event), number=1, repeat=5).median_ns / 1e6
        inputs = RequestContext(event, None, POLICY).inputs
        print(f"{name:40} flatten {walked:8.1f} ms, {len(inputs.raw)} inputs, truncated: {inputs.truncated}")
    text_file = Part("f", "a.csv", "text/csv", b"ann,a@example.com\n" * ((4 << 20) // 18))
    checked = per_call(lambda: text_file.file_text, number=1, repeat=5).median_ns / 1e6
    print(f"{'of which: is the 4 MB file text':40} {checked:8.1f} ms (the rest: the body's base64, parsing)")


if __name__ == "__main__":
    main()
