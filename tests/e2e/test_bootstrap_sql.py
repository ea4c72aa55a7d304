"""Issue 11's SQL classes through the exec wrapper: the bootstrap handler with APP_PROTECT_HANDLER naming
a module in a task root, over a real sqlite3 file. Attacks are blocked with every row still there;
lists, sorts, a text ending in a backslash and a bound value that coincides with the code's literal pass."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from app_protect_lambda.testing import LambdaContext, apigw_v2_event
from tests.bootstrap_support import wrapping

HANDLER_MODULE = '''
import json
import os
import sqlite3

def handler(event, context):
    params = event.get("queryStringParameters") or {}
    db = sqlite3.connect(os.environ["NOTES_DB"])
    try:
        if "sort" in params:
            rows = db.execute(f"SELECT id FROM notes WHERE id IN ({params['ids']}) ORDER BY {params['sort']}")
        elif "bound" in params:
            rows = db.execute("SELECT id FROM notes WHERE kind = 'memo' AND note = ?", (params["bound"],))
        elif "note" in params:
            note = params["note"].replace("\\'", "\\'\\'")
            rows = db.execute(f"SELECT id FROM notes WHERE note = '{note}' AND owner = '{params['owner']}'")
        else:
            db.execute(f"DELETE FROM notes WHERE id = {params['id']} AND owner = {params['owner']}")
            db.commit()
            return {"statusCode": 200, "body": "[]"}
        return {"statusCode": 200, "body": json.dumps(rows.fetchall())}
    finally:
        db.close()
'''


@pytest.fixture
def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = f"notes_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(HANDLER_MODULE)
    database = tmp_path / "notes.db"
    with sqlite3.connect(database) as db:
        db.executescript("""
            CREATE TABLE notes (id INTEGER, owner TEXT, kind TEXT, note TEXT);
            INSERT INTO notes VALUES (1, 'me', 'memo', 'memo'''), (2, 'other', 'memo', 'theirs');
            INSERT INTO notes VALUES (3, 'me', 'path', 'C:\\temp\\');
        """)
    db.close()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NOTES_DB", str(database))
    monkeypatch.setenv("APP_PROTECT_MODE", "block")
    with wrapping(monkeypatch, name) as bootstrap:
        yield bootstrap


def call(bootstrap: ModuleType, **query: str) -> dict:
    return bootstrap.handler(apigw_v2_event(query=query), LambdaContext())


def notes(bootstrap: ModuleType) -> int:
    import os

    with sqlite3.connect(os.environ["NOTES_DB"]) as db:
        count = db.execute("SELECT count(*) FROM notes").fetchone()[0]
    db.close()
    return count


@pytest.mark.parametrize(("query", "expected"), [
    ({"ids": "1, 2,3", "sort": "id DESC"}, [[3], [2], [1]]),
    ({"ids": "'1','3'", "sort": "owner ASC NULLS LAST, id"}, [[1], [3]]),
    ({"bound": "memo'"}, [[1]]),
    ({"note": "C:\\temp\\", "owner": "me"}, [[3]]),
])
def test_benign_lists_sorts_and_literals_pass(bootstrap: ModuleType, records, query: dict, expected) -> None:
    response = call(bootstrap, **query)
    assert response["statusCode"] == 200 and json.loads(response["body"]) == expected
    assert records.detections() == []


@pytest.mark.parametrize("query", [
    {"id": "2", "owner": "owner"},  # owner = owner: every owner's note
    {"id": "2 --", "owner": "'me'"},  # the input opens a comment over the owner check
    {"id": "2 OR 1=1", "owner": "'me'"},
    {"ids": "1) OR (1=1", "sort": "id"},
    {"ids": "1", "sort": "id, (SELECT note FROM notes WHERE owner = 'other')"},
])
def test_attacks_are_blocked_before_the_statement_runs(bootstrap: ModuleType, records, query: dict) -> None:
    assert call(bootstrap, **query)["statusCode"] == 403
    assert notes(bootstrap) == 3
    assert records.detections()[0]["protection"] == "sql_injection"
