"""URL fetchers that read files: urllib's file: scheme, chosen by an input, is refused."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.error import URLError

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("internal-secret")
    return path


def fetcher(mode: str = "block"):
    """A link-preview style handler: fetch the URL it was given."""
    @protect(mode=mode)
    def handler(event, context):
        url = json.loads(event["Records"][0]["body"])["url"] if "Records" in event else \
            event["queryStringParameters"]["url"]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return {"statusCode": 200, "body": response.read().decode()}
        except URLError as error:
            return {"statusCode": 502, "body": str(error.reason)}
    return handler


@pytest.mark.parametrize("spell", [
    "file://{path}", "FILE://{path}", "file:{path}", "  file://{path}", "file://localhost{path}",
    "<URL:file://{path}>",
])
def test_an_input_chosen_file_url_is_blocked_before_the_file_is_read(spell: str, secret_file: Path,
                                                                     records) -> None:
    url = spell.format(path=secret_file)
    reply = fetcher()(apigw_v1_event(query={"url": url}), LambdaContext())
    assert reply["statusCode"] == 403 and "internal-secret" not in json.dumps(reply)
    [record] = records.detections()
    assert record["rule"] == "ssrf.scheme" and record["input"]["location"] == "query.url"
    assert record["sink"]["name"] == "urllib.request.FileHandler.file_open"


def test_a_file_url_inside_a_queued_message_is_blocked(secret_file: Path, records) -> None:
    with pytest.raises(Exception, match="ssrf"):
        fetcher()(sqs_event({"url": f"file://{secret_file}"}), LambdaContext())
    assert records.detections()[0]["rule"] == "ssrf.scheme"


def test_report_mode_reads_and_records(secret_file: Path, records) -> None:
    reply = fetcher("report")(apigw_v1_event(query={"url": f"file://{secret_file}"}), LambdaContext())
    assert reply == {"statusCode": 200, "body": "internal-secret"}
    # the file check reports it too: the path the file: URL names is an absolute path the input chose
    found = {(r["rule"], r["action"]) for r in records.detections()}
    assert found == {("ssrf.scheme", "reported"), ("file.absolute", "reported")}


def test_code_chosen_file_urls_pass(secret_file: Path, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        with urllib.request.urlopen(f"file://{secret_file.parent}/{name}") as response:
            return {"statusCode": 200, "body": response.read().decode()}

    event = apigw_v1_event(query={"name": "secret.txt", "doc": "see file: notes"})
    assert handler(event, LambdaContext()) == {"statusCode": 200, "body": "internal-secret"}
    assert records.detections() == []
