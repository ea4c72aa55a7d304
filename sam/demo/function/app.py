"""The demo function: a small notes API, written the way many Lambda functions are.

DELIBERATELY VULNERABLE. Never deploy it without the app-protect layer in block mode,
and never where it can reach anything that matters. Four classic flaws:

    GET /notes?name=welcome.txt            file read: the name is joined to a path unchecked
    GET /notes/wordcount?name=welcome.txt  command injection: the name goes into a shell command
    GET /preview?url=https://...           SSRF: the server fetches any URL it is given
    GET /users?name=alice                  SQL injection: the name is pasted into the query

It also takes an SQS queue of users to import (SQL injection again, in a batch job).
The handler is an ordinary Powertools one: APIGatewayRestResolver and Logger, and a
catch-all exception handler that turns surprises into a 500.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import urllib.request
from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

NOTES = Path(__file__).resolve().parent / "notes"

logger = Logger(service="notes-api")
app = APIGatewayRestResolver()


@lru_cache(maxsize=1)
def database() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.execute("CREATE TABLE users (name TEXT, email TEXT, plan TEXT)")
    connection.executemany("INSERT INTO users VALUES (?, ?, ?)", [
        ("alice", "alice@example.com", "pro"),
        ("bob", "bob@example.com", "free"),
        ("山田", "yamada@example.jp", "pro"),
    ])
    return connection


@app.get("/ping")
def ping() -> dict:
    return {"ok": True}


@app.get("/notes")
def read_note() -> dict:
    name = app.current_event.get_query_string_value("name", "welcome.txt")
    with open(os.path.join(NOTES, name), encoding="utf-8", errors="replace") as note:  # flaw: path traversal
        return {"name": name, "text": note.read(4096)}


@app.get("/notes/wordcount")
def word_count() -> dict:
    name = app.current_event.get_query_string_value("name", "welcome.txt")
    command = f'wc -w < "{NOTES}/{name}"'  # flaw: the name reaches the shell, inside mere double quotes
    output = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=5).stdout
    return {"name": name, "words": output.strip()}


@app.get("/preview")
def preview() -> dict:
    url = app.current_event.get_query_string_value("url", "")
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:  # flaw: any URL, any host
            return {"url": url, "status": reply.status, "body": reply.read(2048).decode("utf-8", "replace")}
    except urllib.error.HTTPError as error:
        return {"url": url, "status": error.code, "body": error.read(2048).decode("utf-8", "replace")}


@app.get("/users")
def find_users() -> dict:
    name = app.current_event.get_query_string_value("name", "")
    rows = database().execute(f"SELECT name, email, plan FROM users WHERE name = '{name}'").fetchall()  # flaw
    return {"users": [{"name": n, "email": e, "plan": p} for n, e, p in rows]}


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    logger.exception("request failed")
    return Response(status_code=500, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"message": f"{type(error).__name__}: {error}"}))


def import_users(event: dict) -> dict:
    """SQS batch: each message is {"name": ..., "email": ...}."""
    connection = database()
    for record in event["Records"]:
        user = json.loads(record["body"])
        connection.execute(f"INSERT INTO users VALUES ('{user['name']}', '{user['email']}', 'free')")  # flaw
    logger.info("imported users", extra={"count": len(event["Records"])})
    return {"imported": len(event["Records"])}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict, context: object) -> dict:
    if "Records" in event:
        return import_users(event)
    return app.resolve(event, context)
