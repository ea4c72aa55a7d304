"""The content of an uploaded file is input: a handler that reads a CSV or a list of names out of a
multipart upload builds statements and paths from it. Whatever its bytes: a handler reads a file with
one Latin-1 byte as Latin-1 or with ``errors="replace"``, and one with a NUL byte all the same, so
neither byte may take the rest of the file out of the inputs (review finding 1.4). A binary file is
read too (as Latin-1), and passes where no statement holds its bytes as text."""
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
JUNK = bytes(range(0x80, 0x100)) * 8  # not UTF-8, no quote or line break: a file read as Latin-1 whole


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
    parts = [part for part in parse_multipart(body, f"multipart/form-data; boundary={BOUNDARY}") if part.filename]
    return parts[0].data  # as sent; the parts after it are the readings of a file that is not clean UTF-8


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


@pytest.mark.parametrize(("content", "text", "other_readings"), [
    (b"name,email\nann,a@example.com\n", "name,email\nann,a@example.com\n", False),
    ("\u00e9t\u00e9".encode(), "\u00e9t\u00e9", False),
    (PNG, PNG.decode("latin-1"), True),  # a NUL byte and invalid UTF-8 (one stray byte: text to the reader)
    ("x' OR 1=1".encode("utf-16"), "x' OR 1=1", False),  # byte-order mark: as a UTF-16 reader reads it
    ("\ufeffx' OR 1=1".encode(), "x' OR 1=1", False),  # utf-8-sig
    (b"x' OR 1=1\xff", "x' OR 1=1\u00ff", True),
    (b"x' OR\x00 1=1", "x' OR\x00 1=1", False),
    ("Zo\u00eb\n".encode() + b"Ren\xe9e\n", "Zo\u00eb\nRen\u00e9e\n", True),  # UTF-8 kept, the stray Latin-1
    (JUNK + b"x", JUNK.decode("latin-1") + "x", False),  # binary: Latin-1 whole, no other reading
])
def test_every_file_is_read_as_text(content: bytes, text: str, other_readings: bool) -> None:
    inputs = RequestContext(upload(content), None, Policy()).inputs.raw
    found = [item.value for item in inputs if item.location == "body.file#content"]
    # A text file with stray bytes is read as the handlers that replace or drop them read it, too.
    others = [content.decode("utf-8", "replace"), content.decode("utf-8", "ignore")] if other_readings else []
    assert found == [text, *others]
    assert ("body.file#filename", "names.txt") in [(item.location, item.value) for item in inputs]


ATTACK = b"nobody' OR '1'='1"
# How the handler turns the file's bytes into text, and files it is given: a byte that is not UTF-8, a NUL.
READERS: dict[str, Callable[[bytes], str]] = {
    "latin-1": lambda data: data.decode("latin-1"),
    "utf-8, replace": lambda data: data.decode("utf-8", "replace"),
    "utf-8, ignore": lambda data: data.decode("utf-8", "ignore"),
    "utf-8, NULs dropped": lambda data: data.decode("utf-8", "replace").replace("\x00", ""),
    "utf-16": lambda data: data.decode("utf-16"),
}
FILES = {
    "a latin-1 byte": (b"bob\xe9\n" + ATTACK + b"\n", ["latin-1", "utf-8, replace", "utf-8, ignore"]),
    "a nul byte": (b"bob\x00\n" + ATTACK + b"\n", ["utf-8, NULs dropped"]),
    "binary junk before the line": (JUNK + b"\n" + ATTACK + b"\n",
                                    ["latin-1", "utf-8, replace", "utf-8, ignore"]),
    "utf-16 with a byte-order mark": (("bob\n" + ATTACK.decode() + "\n").encode("utf-16"), ["utf-16"]),
    "a latin-1 byte inside the line": (b"bob\n" + ATTACK.replace(b"body", b"b\xe9ody") + b"\n",
                                       ["latin-1", "utf-8, replace", "utf-8, ignore"]),
}


def import_lines(db_path: Path, read: Callable[[bytes], str], mode: str | None = "block") -> Callable[..., Any]:
    """Marks as imported the users an uploaded file names, one a line, read the way ``read`` reads it."""
    def handler(event: dict, context: Any) -> dict:
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS imported (name TEXT)")
            for line in read(file_content(event)).splitlines():
                if line.strip():
                    db.execute(f"INSERT INTO imported SELECT name FROM users WHERE name = '{line.strip()}'")
        return {"statusCode": 200}

    return protect(mode=mode)(handler) if mode else handler


def imported(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS imported (name TEXT)")
        return sorted(name for (name,) in db.execute("SELECT name FROM imported"))


FILE_CASES = [pytest.param(name, reader, id=f"{name}-{reader}") for name, (_, readers) in FILES.items()
              for reader in readers]


@pytest.mark.parametrize(("name", "reader"), FILE_CASES)
@pytest.mark.parametrize("builder", [apigw_v1_event, function_url_event])
def test_an_attack_line_in_a_file_that_is_not_clean_utf8_is_blocked(name: str, reader: str,
                                                                    builder: Callable[..., dict], db_path: Path,
                                                                    records) -> None:
    content, _ = FILES[name]
    answer = import_lines(db_path, READERS[reader])(upload(content, content_type="text/csv", builder=builder),
                                                    LambdaContext())
    assert answer["statusCode"] == 403
    assert imported(db_path) == []
    assert records.detections()[0]["input"]["location"] == "body.file#content"


@pytest.mark.parametrize(("name", "reader"), FILE_CASES)
def test_the_file_attacks_are_real(name: str, reader: str, db_path: Path) -> None:
    content, _ = FILES[name]
    import_lines(db_path, READERS[reader], mode=None)(upload(content), LambdaContext())
    assert set(imported(db_path)) == {"alice", "bob"}  # the OR made every user match


@pytest.mark.parametrize(("content", "reader"), [
    (b"bob\nRen\xe9e\n", "latin-1"),  # an export from a spreadsheet
    (b"bob\nRen\xe9e\n", "utf-8, replace"),
    (b"bob\nRen\xe9e\n", "utf-8, ignore"),
    (b"bob\x00\nalice\n", "utf-8, NULs dropped"),
    ("alice\nO'Brien\nbob\n".encode("utf-16"), "utf-16"),
    (JUNK + b"\nbob\n", "utf-8, ignore"),
])
def test_benign_files_that_are_not_clean_utf8_pass_unchanged(content: bytes, reader: str, db_path: Path,
                                                             records) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO users VALUES ('O''Brien')")
    db.close()
    lines = [line.strip() for line in READERS[reader](content).splitlines() if line.strip()]
    if "O'Brien" in lines:  # the handler escapes quotes itself here
        handler = import_lines(db_path, lambda data: READERS[reader](data).replace("'", "''"))
    else:
        handler = import_lines(db_path, READERS[reader])
    assert handler(upload(content, content_type="text/csv"), LambdaContext()) == {"statusCode": 200}
    assert imported(db_path) == sorted(name for name in ("alice", "bob", "O'Brien") if name in lines)
    assert records.detections() == []


def test_a_binary_upload_whose_bytes_hold_sql_words_passes(db_path: Path, records) -> None:
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
