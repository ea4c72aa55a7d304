"""Transformations between the event and the sink do not hide an input: an attack that the code
strips, re-cases, collapses, cuts, splits, unescapes, half-sanitises or folds to ASCII before a
real sink is blocked there, from HTTP and from SQS, and the harm never happens (sqlite rows,
files outside the folder, the shell's redirection, a request to a local server, a redirect
sent); benign values that look alike pass unchanged."""
from __future__ import annotations

import html
import json
import os
import re
import shlex
import sqlite3
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event

from .network_support import TIMEOUT, LocalServer


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


TRANSFORMATIONS: dict[str, Callable[[str], str]] = {
    "strip": str.strip, "lower": str.lower, "upper": str.upper, "collapse": lambda x: " ".join(x.split()),
    "truncate": lambda x: x[:40], "split": lambda x: x.split(",")[1], "html.unescape": html.unescape,
    "replace <": lambda x: x.replace("<", ""), "re.sub [;&|]": lambda x: re.sub("[;&|]", "", x),
    "ascii fold": ascii_fold,
}
SQL_ATTACKS = {
    "strip": "  x' OR '1'='1  ", "lower": "X' OR 'A'='A", "upper": "x' or 'a'='a",
    "collapse": "x'   OR\t'1'='1", "truncate": "x' OR '1'='1' --" + "padding " * 10,
    "split": "alice,x' OR '1'='1", "html.unescape": "x&#39; OR &#39;1&#39;=&#39;1",
    "replace <": "<x' OR '1'='1", "re.sub [;&|]": "x' OR 1=1 --;", "ascii fold": "x' OR 'é'='é",
}
SHELL_ATTACKS = {
    "strip": "  a.png >pwned.txt  ", "lower": "A.PNG >PWNED.TXT", "upper": "a.png >pwned.txt",
    "collapse": "a.png   >pwned.txt", "truncate": "a.png >pwned.txt " + "b" * 60,
    "split": "x.png,a.png >pwned.txt", "html.unescape": "a.png &gt;pwned.txt",
    "replace <": "<a.png >pwned.txt", "re.sub [;&|]": "a.png;>pwned.txt", "ascii fold": "á.png >pwned.txt",
}
PATH_ATTACKS = {
    "strip": "  ../../escaped.txt ", "lower": "../../ESCAPED.TXT", "upper": "../../escaped.txt",
    "collapse": "../../escaped   now.txt", "truncate": "../../escaped.txt" + "x" * 60,
    "split": "a.txt,../../escaped.txt", "html.unescape": "&period;&period;/&period;&period;/escaped.txt",
    "replace <": "<../../escaped.txt", "re.sub [;&|]": "a|../../../escaped.txt", "ascii fold": "../../éscaped.txt",
}


def http(value: str) -> dict:
    return apigw_v2_event("GET", "/items", query={"name": value})


def sqs(value: str) -> dict:
    return sqs_event({"name": value})


TRIGGERS = {"http": http, "sqs": sqs}


def name_of(event: dict) -> str:
    if "Records" in event:
        return json.loads(event["Records"][0]["body"])["name"]
    return event["queryStringParameters"]["name"]


def run(handler: Any, event: dict) -> Any:
    """The handler's answer; a block from a non-HTTP trigger as the string "blocked"."""
    try:
        return handler(event, LambdaContext())
    except RequestBlocked:
        return "blocked"


def blocked(answer: Any) -> bool:
    return answer == "blocked" or (isinstance(answer, dict) and answer.get("statusCode") == 403)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    sinks.instrument()
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT, email TEXT)")
        db.executemany("INSERT INTO users VALUES (?, ?)",
                       [("alice", "a@example.com"), ("bob", "b@example.com"), ("o'brien", "ob@example.com")])
    db.close()
    return path


def rows(db_path: Path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        found = db.execute("SELECT name, email FROM users ORDER BY name").fetchall()
    db.close()
    return found


# ---------------------------------------------------------------- attacks: blocked, no harm done

@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_sql_injection_through_a_transformation_is_blocked(name: str, trigger: str, db_path: Path,
                                                          records) -> None:
    transform = TRANSFORMATIONS[name]

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        with sqlite3.connect(db_path) as db:
            db.execute(f"UPDATE users SET email = 'taken@evil.example' WHERE name = '{transform(name_of(event))}'")
        db.close()
        return {"statusCode": 200, "body": "updated"}

    before = rows(db_path)
    assert blocked(run(handler, TRIGGERS[trigger](SQL_ATTACKS[name])))
    assert rows(db_path) == before
    detection = records.detections()[0]
    assert detection["protection"] == "sql_injection"
    assert detection["input"]["location"].startswith("query.name" if trigger == "http" else "records[0].body")


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_command_injection_through_a_transformation_is_blocked(name: str, trigger: str, tmp_path: Path,
                                                              records) -> None:
    transform = TRANSFORMATIONS[name]
    work = tmp_path / "work"
    work.mkdir()
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        subprocess.run(f"echo converting {transform(name_of(event))}", shell=True, cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
        return {"statusCode": 200, "body": "converted"}

    assert blocked(run(handler, TRIGGERS[trigger](SHELL_ATTACKS[name])))
    assert list(work.iterdir()) == []  # the shell never ran: no redirection wrote a file
    assert records.detections()[0]["protection"] == "command_injection"


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_traversal_through_a_transformation_is_blocked(name: str, trigger: str, tmp_path: Path, records) -> None:
    transform = TRANSFORMATIONS[name]
    folder = tmp_path / "work" / "files"
    folder.mkdir(parents=True)
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        with open(os.path.join(folder, transform(name_of(event))), "w") as handle:
            handle.write("uploaded")
        return {"statusCode": 200, "body": "saved"}

    assert blocked(run(handler, TRIGGERS[trigger](PATH_ATTACKS[name])))
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # nothing written, inside or out
    assert records.detections()[0]["protection"] == "file_access"


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_traversal_through_a_naive_sanitiser_is_blocked(trigger: str, tmp_path: Path, records) -> None:
    folder = tmp_path / "work" / "files"
    folder.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("secret")
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = name_of(event).replace("../", "")  # one pass: ....// becomes ../
        with open(os.path.join(folder, name)) as handle:
            return {"statusCode": 200, "body": handle.read()}

    answer = run(handler, TRIGGERS[trigger]("....//....//secret.txt"))
    assert blocked(answer) and "secret" not in str(answer)
    assert records.detections()[0]["rule"] == "file.traversal"


# ---------------------------------------------------------------- benign look-alikes: allowed, unchanged

@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize(("value", "expected"), [
    ("O'Brien", [("ob@example.com",)]), ("  ALICE ", [("a@example.com",)]), ("Select", []), ("order by", []),
])
def test_names_lowered_and_parameterised_or_escaped_pass(value: str, expected: list, trigger: str, db_path: Path,
                                                        records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = name_of(event).strip().lower()
        with sqlite3.connect(db_path) as db:
            bound = db.execute("SELECT email FROM users WHERE name = ?", (name,)).fetchall()
            quoted = name.replace("'", "''")
            escaped = db.execute(f"SELECT email FROM users WHERE name = '{quoted}'").fetchall()
            ordered = db.execute("SELECT email FROM users WHERE name = ? ORDER BY email DESC", (name,)).fetchall()
        db.close()
        return {"statusCode": 200, "body": json.dumps([bound, escaped, ordered])}

    answer = run(handler, TRIGGERS[trigger](value))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == [[list(row) for row in expected]] * 3
    assert records.detections() == []


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize(("term", "expected"), [("  Brien ", ["o'brien"]), ("LI", ["alice"]), ("rock & roll", [])])
def test_a_search_term_in_a_like_pattern_passes(term: str, expected: list, trigger: str, db_path: Path,
                                               records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        term = name_of(event).strip().lower()
        with sqlite3.connect(db_path) as db:
            found = db.execute(f"SELECT name FROM users WHERE name LIKE '%{term}%' ORDER BY name").fetchall()
        db.close()
        return {"statusCode": 200, "body": json.dumps([row[0] for row in found])}

    answer = run(handler, TRIGGERS[trigger](term))
    assert answer == {"statusCode": 200, "body": json.dumps(expected)}
    assert records.detections() == []


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("value", ["O'Brien & Co.PNG", "Rock & Roll (live)?.png", "what's up?"])
def test_quoted_lowered_names_run_in_the_shell_unchanged(value: str, trigger: str, tmp_path: Path,
                                                        records) -> None:
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = name_of(event).strip().lower()
        subprocess.run(f"printf %s {shlex.quote(name)} > out.txt", shell=True, cwd=tmp_path, check=True)
        return {"statusCode": 200, "body": (tmp_path / "out.txt").read_text()}

    assert run(handler, TRIGGERS[trigger](value)) == {"statusCode": 200, "body": value.lower()}
    assert records.detections() == []


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("value", ["Files", "files/Report.TXT", "v1..v2.txt"])
def test_a_segment_that_equals_a_folder_name_passes(value: str, trigger: str, tmp_path: Path, records) -> None:
    folder = tmp_path / "work" / "files"
    folder.mkdir(parents=True)
    (folder / "files").mkdir()
    (folder / "files" / "report.txt").write_text("quarterly")
    (folder / "v1..v2.txt").write_text("diff")
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        path = os.path.join(folder, name_of(event).strip().lower())
        if os.path.isdir(path):
            return {"statusCode": 200, "body": ",".join(sorted(os.listdir(path)))}
        with open(os.path.join(folder, "..", "files", name_of(event).lower())) as handle:
            return {"statusCode": 200, "body": handle.read()}

    expected = {"Files": "report.txt", "files/Report.TXT": "quarterly", "v1..v2.txt": "diff"}[value]
    assert run(handler, TRIGGERS[trigger](value)) == {"statusCode": 200, "body": expected}
    assert records.detections() == []


# ---------------------------------------------------------------- controls: each payload does harm unprotected

@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_each_payload_does_harm_after_its_transformation_when_unprotected(name: str, db_path: Path,
                                                                          tmp_path: Path) -> None:
    """Proof that the attacks above are attacks: with protection off, each one does its harm."""
    transform = TRANSFORMATIONS[name]
    with sqlite3.connect(db_path) as db:
        db.execute(f"UPDATE users SET email = 'taken@evil.example' WHERE name = '{transform(SQL_ATTACKS[name])}'")
    db.close()
    assert {email for _, email in rows(db_path)} == {"taken@evil.example"}

    work = tmp_path / "work"
    folder = work / "files"
    folder.mkdir(parents=True)
    # outside an invocation the hooks judge nothing
    subprocess.run(f"echo converting {transform(SHELL_ATTACKS[name])}", shell=True, cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    assert [path.name.lower() for path in work.iterdir() if path.is_file()] == ["pwned.txt"]
    target = os.path.normpath(os.path.join(folder, transform(PATH_ATTACKS[name])))
    assert not target.startswith(str(folder) + os.sep)


# ---------------------------------------------------------------- redirects and outbound calls

@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize(("value", "transform"), [
    ("  https://evil.example/login ", str.strip), ("HTTPS://EVIL.EXAMPLE/login", str.lower),
    ("https:&#47;&#47;evil.example/login", html.unescape), ("/home,https://evil.example/x", lambda x: x.split(",")[1]),
])
def test_an_open_redirect_through_a_transformation_is_blocked(value: str, transform: Callable[[str], str],
                                                              trigger: str, records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        return {"statusCode": 302, "headers": {"Location": transform(name_of(event))}, "body": ""}

    answer = run(handler, TRIGGERS[trigger](value))
    assert blocked(answer) and "evil.example" not in json.dumps(answer)
    assert records.detections()[0]["protection"] == "open_redirect"


@pytest.mark.parametrize("value", ["  /account ", "/HOME", "https:&#47;&#47;shop.example.com/cart"])
def test_a_transformed_same_site_redirect_passes(value: str, records) -> None:
    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        location = html.unescape(name_of(event)).strip().lower()
        return {"statusCode": 302, "headers": {"Location": location}, "body": ""}

    event = apigw_v2_event("GET", "/login", query={"name": value}, headers={"host": "shop.example.com"})
    assert handler(event, LambdaContext())["statusCode"] == 302
    assert records.detections() == []


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize("template", ["http://127&#46;0&#46;0&#46;1:{port}/admin",
                                      "https://cdn.example.com,http://127.0.0.1:{port}/admin"])
def test_ssrf_through_unescape_or_split_is_blocked(template: str, trigger: str, records) -> None:
    sinks.instrument()
    with LocalServer() as server:
        @protect(mode="block")
        def handler(event: dict, context: Any) -> dict:
            url = html.unescape(name_of(event)).split(",")[-1]
            with urlopen(url, timeout=TIMEOUT) as reply:
                return {"statusCode": 200, "body": reply.read().decode()}

        answer = run(handler, TRIGGERS[trigger](template.format(port=server.port)))
        assert blocked(answer) and "internal-secret" not in json.dumps(answer)
        assert server.untouched
    assert records.detections()[0]["protection"] == "ssrf"


@pytest.mark.parametrize("trigger", list(TRIGGERS))
@pytest.mark.parametrize(("value", "transform"), [
    ("  --use-compress-program=touch pwned.txt ", str.strip),
    ("a.txt,--use-compress-program=touch pwned.txt", lambda x: x.split(",")[1]),
])
def test_option_injection_through_a_transformation_is_blocked(value: str, transform: Callable[[str], str],
                                                              trigger: str, tmp_path: Path, records) -> None:
    (tmp_path / "a.txt").write_text("report")
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        subprocess.run(["tar", "-cf", "out.tar", transform(name_of(event))], cwd=tmp_path, check=False,
                       stderr=subprocess.DEVNULL)
        return {"statusCode": 200, "body": "archived"}

    assert blocked(run(handler, TRIGGERS[trigger](value)))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt"]  # tar never ran, nor touch
    assert records.detections()[0]["rule"] == "cmdi.option"


@pytest.mark.parametrize("value", ["  A.TXT ", "a.txt,a.txt"])
def test_a_transformed_file_name_in_an_argument_vector_passes(value: str, tmp_path: Path, records) -> None:
    (tmp_path / "a.txt").write_text("report")
    sinks.instrument()

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = name_of(event).split(",")[-1].strip().lower()
        subprocess.run(["tar", "-cf", "out.tar", "--", name], cwd=tmp_path, check=True)
        return {"statusCode": 200, "body": "archived"}

    assert run(handler, http(value)) == {"statusCode": 200, "body": "archived"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.txt", "out.tar"]
    assert records.detections() == []


def test_the_option_payload_does_harm_when_unprotected(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("report")
    payload = "  --use-compress-program=touch pwned.txt ".strip()
    subprocess.run(["tar", "-cf", "out.tar", payload, "a.txt"], cwd=tmp_path, check=False,
                   stderr=subprocess.DEVNULL)  # outside an invocation: nothing is judged
    assert (tmp_path / "pwned.txt").exists()
