"""The content of an uploaded text file is input: a handler that reads a CSV or a list of names out of a
multipart upload builds statements and paths from it. A binary file's content is not (no handler reads
a PNG into a statement), and neither is text the part's bytes cannot be decoded to."""
from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.context import RequestContext
from app_protect_lambda.policy import Policy
from app_protect_lambda.sources.multipart import parse_multipart
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, function_url_event

BOUNDARY = "----form7MA4YWxkTrZu0gW"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' OR '1'='1"


def upload(content: bytes, *, content_type: str = "text/plain", filename: str = "names.txt",
           builder: Callable[..., dict] = apigw_v1_event) -> dict:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nmy list\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    event = builder("POST", "/upload", headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def file_content(event: dict) -> bytes:
    body = base64.b64decode(event["body"])
    [part] = [part for part in parse_multipart(body, f"multipart/form-data; boundary={BOUNDARY}") if part.filename]
    return part.data


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.executemany("INSERT INTO users VALUES (?)", [("alice",), ("bob",)])
    db.close()
    return path


def count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(*) FROM users").fetchone()[0]


def import_names(db_path: Path) -> Callable[..., Any]:
    """Deletes the users an uploaded text file names, one a line, in statements of its own making."""
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        deleted = 0
        with sqlite3.connect(db_path) as db:
            for line in file_content(event).decode("utf-8", "replace").splitlines():
                deleted += db.execute(f"DELETE FROM users WHERE name = '{line}'").rowcount
        return {"statusCode": 200, "body": str(deleted)}

    return handler


@pytest.mark.parametrize("content_type", ["text/plain", "text/csv", "image/png", "application/octet-stream"])
@pytest.mark.parametrize("builder", [apigw_v1_event, function_url_event])
def test_sql_injection_in_an_uploaded_text_file_is_blocked(content_type: str, builder: Callable[..., dict],
                                                           db_path: Path, records) -> None:
    """Whatever content type the sender claims: the claim is the sender's too."""
    answer = import_names(db_path)(upload(b"x' OR '1'='1", content_type=content_type, builder=builder),
                                   LambdaContext())
    assert answer["statusCode"] == 403
    assert count(db_path) == 2
    assert records.detections()[0]["input"]["location"] == "body.file#content"


def test_path_traversal_from_an_uploaded_text_file_is_blocked(tmp_path: Path, records) -> None:
    sinks.instrument()
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "a.txt").write_text("public")
    (tmp_path / "secret.txt").write_text("secret")

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = file_content(event).decode().strip()
        return {"statusCode": 200, "body": (tmp_path / "public" / name).read_text()}

    assert handler(upload(b"../secret.txt"), LambdaContext())["statusCode"] == 403
    assert handler(upload(b"a.txt"), LambdaContext()) == {"statusCode": 200, "body": "public"}
    assert len(records.detections()) == 1


@pytest.mark.parametrize(("content", "deleted"), [(b"bob", 1), (b"carol\nOR 1=1 --\n", 0),
                                                  ("Zo\u00eb; DROP TABLE".encode(), 0)])
def test_benign_text_files_pass(content: bytes, deleted: int, db_path: Path, records) -> None:
    event = upload(content)
    assert import_names(db_path)(event, LambdaContext()) == {"statusCode": 200, "body": str(deleted)}
    assert count(db_path) == 2 - deleted
    assert records.detections() == []


@pytest.mark.parametrize(("content", "is_input"), [
    (b"name,email\nann,a@example.com\n", True),
    ("\u00e9t\u00e9".encode(), True),
    (PNG, False),  # a NUL byte and invalid UTF-8
    ("x' OR 1=1".encode("utf-16"), False),
    (b"x' OR 1=1\xff", False),
    (b"x' OR\x00 1=1", False),
])
def test_what_counts_as_a_text_file(content: bytes, is_input: bool) -> None:
    inputs = RequestContext(upload(content), None, Policy()).inputs.raw
    found = [item.value for item in inputs if item.location == "body.file#content"]
    assert found == ([content.decode()] if is_input else [])
    assert ("body.file#filename", "names.txt") in [(item.location, item.value) for item in inputs]


def test_a_binary_upload_whose_bytes_hold_sql_words_is_not_an_input(db_path: Path, records) -> None:
    """The handler stores the PNG with a parameter; no statement ever holds its bytes as text."""
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS images (data BLOB)")
            db.execute("INSERT INTO images VALUES (?)", (file_content(event),))
            found = db.execute("SELECT count(*) FROM users WHERE name = 'alice'").fetchone()[0]
        return {"statusCode": 200, "body": str(found)}

    assert handler(upload(PNG, content_type="image/png", filename="a.png"), LambdaContext()) == \
        {"statusCode": 200, "body": "1"}
    assert records.detections() == []
