"""Route parameters behind a proxy route are cut out of the path by the function itself: each path
segment is an input, so an attack in one is judged at the sink."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from app_protect_lambda import protect, sinks
from app_protect_lambda.testing import (
    LambdaContext,
    alb_event,
    apigw_v1_event,
    apigw_v2_event,
    function_url_event,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT, email TEXT)")
        db.executemany("INSERT INTO users VALUES (?, ?)", [("alice", "a@example.com"), ("bob", "b@example.com")])
    db.close()
    return path


def request_path(event: dict) -> str:
    return event.get("path") or event.get("rawPath") or ""


def user_route(db_path: Path) -> Any:
    """GET /users/<name> behind /{proxy+}: the name comes out of the path, as a resolver cuts it."""
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = unquote(request_path(event).rsplit("/", 1)[-1])
        with sqlite3.connect(db_path) as db:
            rows = db.execute(f"SELECT email FROM users WHERE name = '{name}'").fetchall()
        return {"statusCode": 200, "body": str(rows)}

    return handler


BUILDERS = {
    "apigw-v1 proxy": lambda path: apigw_v1_event("GET", path, resource="/{proxy+}"),
    "apigw-v2 $default": lambda path: apigw_v2_event("GET", path),
    "alb": lambda path: alb_event("GET", path),
    "function url": lambda path: function_url_event("GET", path),
}
ATTACKS = ["/users/x' OR '1'='1", "/users/x%27%20OR%20%271%27%3D%271",
           "/users/x'%20UNION%20SELECT%20name%20FROM%20users--"]


@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize("path", ATTACKS)
def test_sql_injection_through_a_path_segment_is_blocked(kind: str, path: str, db_path: Path, records) -> None:
    answer = user_route(db_path)(BUILDERS[kind](path), LambdaContext())
    assert answer["statusCode"] == 403
    assert records.detections()[0]["input"]["location"].startswith("path[")


@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize(("path", "body"), [("/users/alice", "[('a@example.com',)]"), ("/users/Jo%20Smith", "[]"),
                                            ("/users/bob", "[('b@example.com',)]")])
def test_benign_path_segments_pass(kind: str, path: str, body: str, db_path: Path, records) -> None:
    assert user_route(db_path)(BUILDERS[kind](path), LambdaContext()) == {"statusCode": 200, "body": body}
    assert records.detections() == []


def test_traversal_through_an_encoded_path_segment_is_blocked(tmp_path: Path, records) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "readme.txt").write_text("public")
    (tmp_path / "secret.txt").write_text("secret")

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = unquote(request_path(event).rsplit("/", 1)[-1])
        with open(files / name) as handle:
            return {"statusCode": 200, "body": handle.read()}

    assert handler(apigw_v2_event("GET", "/files/readme.txt"), LambdaContext())["body"] == "public"
    answer = handler(apigw_v2_event("GET", "/files/..%2Fsecret.txt"), LambdaContext())
    assert answer["statusCode"] == 403 and "secret" not in str(answer.get("body"))
    assert records.detections(without="malicious_payload")[0]["protection"] == "file_access"
