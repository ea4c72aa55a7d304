"""The worker threads libraries start for the function run under the invocation that started them.

boto3's S3 transfer manager (``download_file``/``upload_file``, on moto), asyncio's resolver
threads (``loop.getaddrinfo``) and ``ThreadPoolExecutor.map``: an attack in their workers is
blocked, its effect never happens, and the invocation ends as blocked rather than hanging.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from moto import mock_aws

from app_protect_lambda import AttackBlocked, RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, s3_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver

BUCKET = "uploads-bucket"
TRAVERSALS = ["../escaped.txt", "reports/../../escaped.txt"]


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for key in ("reports/2026/q1.csv", "a..b.txt", "../escaped.txt", "reports/../../escaped.txt"):
            client.put_object(Bucket=BUCKET, Key=key, Body=b"id,total\n1,10\n")
        sinks.instrument()
        yield client


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "sandbox" / "work"
    folder.mkdir(parents=True)
    return folder


def downloader(s3: Any, work: Path) -> Any:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        if "Records" in event:
            key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
        else:
            key = unquote_plus(event["queryStringParameters"]["key"])
        s3.download_file(BUCKET, key, f"{work}/{key}")
        return {"statusCode": 200, "body": (work / key).read_text()}
    return handler


def written_outside(work: Path) -> list[Path]:
    return [path for path in work.parent.parent.rglob("*") if path.is_file() and work not in path.parents]


@pytest.mark.parametrize("key", TRAVERSALS)
def test_a_traversal_key_in_download_file_is_blocked_from_http(key: str, s3: Any, work: Path, records) -> None:
    reply = downloader(s3, work)(apigw_v1_event(query={"key": key}), LambdaContext())
    assert reply["statusCode"] == 403  # and not a function that waits for its transfer until it times out
    assert written_outside(work) == [] and list(work.iterdir()) == []
    assert records.detections()[0]["protection"] == "file_access"


def test_a_traversal_key_in_download_file_is_blocked_from_an_s3_notification(s3: Any, work: Path,
                                                                             records) -> None:
    with pytest.raises(RequestBlocked):
        downloader(s3, work)(s3_event("../escaped.txt"), LambdaContext())
    assert written_outside(work) == []
    assert records.detections()[0]["input"]["location"].startswith("records[0].s3.object.key")


@pytest.mark.parametrize("key", ["reports/2026/q1.csv", "a..b.txt"])
def test_benign_keys_download_unchanged(key: str, s3: Any, work: Path, records) -> None:
    (work / "reports" / "2026").mkdir(parents=True)
    reply = downloader(s3, work)(apigw_v1_event(query={"key": key}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "id,total\n1,10\n"}
    assert records.detections() == []


def uploader(s3: Any, work: Path) -> Any:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = json.loads(event["Records"][0]["body"])["file"] if "Records" in event else \
            event["queryStringParameters"]["file"]
        s3.upload_file(f"{work}/{name}", BUCKET, f"uploads/{Path(name).name}")
        return {"statusCode": 200, "body": "uploaded"}
    return handler


def test_a_traversal_path_in_upload_file_is_blocked(s3: Any, work: Path, records) -> None:
    secret = work.parent / "secret.env"
    secret.write_text("DB_PASSWORD=hunter2")
    reply = uploader(s3, work)(apigw_v1_event(query={"file": "../secret.env"}), LambdaContext())
    assert reply["statusCode"] == 403
    with pytest.raises(RequestBlocked):
        uploader(s3, work)(sqs_event({"file": "../secret.env"}), LambdaContext())
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/")


def test_a_benign_upload_passes(s3: Any, work: Path, records) -> None:
    (work / "report.csv").write_text("id\n1\n")
    assert uploader(s3, work)(apigw_v1_event(query={"file": "report.csv"}), LambdaContext())["statusCode"] == 200
    assert s3.get_object(Bucket=BUCKET, Key="uploads/report.csv")["Body"].read() == b"id\n1\n"
    assert records.detections() == []


def test_a_block_in_a_transfer_task_fails_the_transfer_as_a_block(work: Path, records) -> None:
    """A task's block is handed to the thread waiting for the transfer, as the transfer's failure."""
    from s3transfer.futures import BoundedExecutor, TransferCoordinator
    from s3transfer.tasks import Task

    class Write(Task):
        def _main(self, path: str) -> None:
            Path(path).write_text("written")

    after_the_transfer: list[str] = []

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        coordinator = TransferCoordinator()
        executor = BoundedExecutor(max_size=4, max_num_threads=2)
        path = f"{work}/{event['queryStringParameters']['name']}"
        executor.submit(Write(coordinator, main_kwargs={"path": path}, is_final=True))
        try:
            coordinator.result()
        except Exception as failure:  # a transfer's failure, as a handler catches it
            assert isinstance(failure, AttackBlocked)
            raise
        finally:
            executor.shutdown()
        after_the_transfer.append(path)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"name": "../../escaped.txt"}), LambdaContext())["statusCode"] == 403
    assert after_the_transfer == [] and written_outside(work) == []
    assert handler(apigw_v1_event(query={"name": "fine.txt"}), LambdaContext())["statusCode"] == 200
    assert (work / "fine.txt").read_text() == "written"


# ---------------------------------------------------------------- asyncio's resolver, executor map

@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {"internal.example": "127.0.0.1"})


def connects_with_asyncio(host: str, port: int) -> None:
    async def main() -> None:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
        writer.close()
        await writer.wait_closed()

    asyncio.run(main())


def test_a_name_resolved_in_asyncios_resolver_thread_is_judged(server: LocalServer, resolver: list[str],
                                                               records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        host = event["queryStringParameters"]["host"] if "queryStringParameters" in event else \
            json.loads(event["Records"][0]["body"])["host"]
        connects_with_asyncio(host, server.port)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"host": "internal.example"}), LambdaContext())["statusCode"] == 403
    with pytest.raises(RequestBlocked):
        handler(sqs_event({"host": "internal.example"}), LambdaContext())
    assert server.untouched
    assert [r["sink"]["name"] for r in records.detections()] == ["socket.getaddrinfo"] * 2


def test_asyncio_connections_the_code_chose_pass(server: LocalServer, resolver: list[str], records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        connects_with_asyncio("internal.example", server.port)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"note": "internal.example is down?"}), LambdaContext())["statusCode"] == 200
    assert server.connections == 1 and records.detections() == []


def fetch_all(urls: list[str]) -> list[bytes]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda url: requests.get(url, timeout=TIMEOUT).content, urls))


def test_executor_map_requests_are_judged(server: LocalServer, resolver: list[str], records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        urls = json.loads(event["Records"][0]["body"])["urls"] if "Records" in event else \
            event["multiValueQueryStringParameters"]["url"]
        return {"statusCode": 200, "body": str(fetch_all(urls))}

    attack = [f"{server.url}/one", f"http://internal.example:{server.port}/two"]
    assert handler(apigw_v1_event(query={"url": attack}), LambdaContext())["statusCode"] == 403
    with pytest.raises(RequestBlocked):
        handler(sqs_event({"urls": attack}), LambdaContext())
    assert server.untouched


def test_executor_map_of_code_chosen_urls_passes(server: LocalServer, resolver: list[str], records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        ids = event["queryStringParameters"]["ids"].split(",")
        return {"statusCode": 200, "body": str(len(fetch_all([f"{server.url}/items/{i}" for i in ids])))}

    assert handler(apigw_v1_event(query={"ids": "1,2,3"}), LambdaContext()) == {"statusCode": 200, "body": "3"}
    assert len(server.requests) == 3 and records.detections() == []
