"""moto_server on 127.0.0.1, for EventBridge (rules to SQS targets) and CloudWatch Logs, stopped by PID.

    with MotoServer() as moto:
        moto.endpoint            # http://127.0.0.1:PORT, the AWS_ENDPOINT_URL of the runtime process
        sqs = moto.client("sqs")
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from .process import stop_session

FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_session(self.process, grace=10)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, **FAKE_KEYS)

    def detections_target(self, bus: str = "default", name: str = "app-protect-detections") -> str:
        """A rule on ``bus`` that routes app-protect detections to a new SQS queue; returns the queue URL."""
        sqs, events = self.client("sqs"), self.client("events")
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if bus != "default":
            events.create_event_bus(Name=bus)
        events.put_rule(Name=name, EventBusName=bus, State="ENABLED", EventPattern=json.dumps(
            {"source": ["app-protect"], "detail-type": ["App Protect Detection"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
        return queue_url

    def drain(self, queue_url: str, expected: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The EventBridge events delivered to the queue (each a dict with ``detail``), once ``expected`` arrived
        or the time is up."""
        sqs = self.client("sqs")
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < expected and time.monotonic() < deadline:
            reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in reply.get("Messages", []):
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(events) < expected:
                time.sleep(0.1)
        return events
