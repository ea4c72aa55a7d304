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
from app_protect_lambda.policy import Policy
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, sqs_event

from .network_support import TIMEOUT, LocalServer

SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


TRANSFORMATIONS: dict[str, Callable[[str], str]] = {
    "strip": str.strip, "lower": str.lower, "upper": str.upper, "collapse": lambda x: " ".join(x.split()),
    "truncate": lambda x: x[:40], "split": lambda x: x.split(",")[1], "html.unescape": html.unescape,
    "replace <": lambda x: x.replace("<", ""), "re.sub [;&|]": lambda x: re.sub("[;&|]", "", x),
    "ascii fold": ascii_fold,
    # a deleted character repeated between the others, a bracketed value that is no JSON, typographic
    # quotes a code folding turns into ASCII ones (outside review 1.2, 1.5, 1.6)
    "interleaved <": lambda x: x.replace("<", ""), "interleaved |": lambda x: re.sub("[;&|]", "", x),
    "lower, bracketed": str.lower, "smart quotes": lambda x: x.translate(SMART_QUOTES),
}
SQL_ATTACKS = {
    "strip": "  x' OR '1'='1  ", "lower": "X' OR 'A'='A", "upper": "x' or 'a'='a",
    "collapse": "x'   OR\t'1'='1", "truncate": "x' OR '1'='1' --" + "padding " * 10,
    "split": "alice,x' OR '1'='1", "html.unescape": "x&#39; OR &#39;1&#39;=&#39;1",
    "replace <": "<x' OR '1'='1", "re.sub [;&|]": "x' OR 1=1 --;", "ascii fold": "x' OR 'é'='é",
    "interleaved <": "x<'< <O<R< <'<1<'<=<'<1", "interleaved |": "x|'| |O|R| |1|=|1| |-|-",
    "lower, bracketed": "{X' OR 1=1 OR '}", "smart quotes": "nobody\u2019 OR \u20191\u2019=\u20191",
}
SHELL_ATTACKS = {
    "strip": "  a.png >pwned.txt  ", "lower": "A.PNG >PWNED.TXT", "upper": "a.png >pwned.txt",
    "collapse": "a.png   >pwned.txt", "truncate": "a.png >pwned.txt " + "b" * 60,
    "split": "x.png,a.png >pwned.txt", "html.unescape": "a.png &gt;pwned.txt",
    "replace <": "<a.png >pwned.txt", "re.sub [;&|]": "a.png;>pwned.txt", "ascii fold": "á.png >pwned.txt",
    "interleaved <": "a<.p<ng <><pw<ned<.t<xt", "interleaved |": "a|.|p|n|g| |>|p|w|n|e|d|.|t|x|t",
    "lower, bracketed": "{A.PNG >PWNED.TXT #}", "smart quotes": "\u2018a.png\u2019 >pwned.txt",
}
PATH_ATTACKS = {
    "strip": "  ../../escaped.txt ", "lower": "../../ESCAPED.TXT", "upper": "../../escaped.txt",
    "collapse": "../../escaped   now.txt", "truncate": "../../escaped.txt" + "x" * 60,
    "split": "a.txt,../../escaped.txt", "html.unescape": "&period;&period;/&period;&period;/escaped.txt",
    "replace <": "<../../escaped.txt", "re.sub [;&|]": "a|../../../escaped.txt", "ascii fold": "../../éscaped.txt",
    "interleaved <": "<.<.</<.<.</escaped.txt", "interleaved |": ".|.|/|.|.|/|escaped.txt",
    "lower, bracketed": "{../../../ESCAPED.TXT}", "smart quotes": "../../escaped\u2019s.txt",
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
    assert records.detections(without="malicious_payload")[0]["protection"] == "file_access"


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
    assert records.detections("file_access")[0]["rule"] == "file.traversal"


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
    ("file=--use-compress-program=touch pwned.txt", lambda x: x.split("=", 1)[1]),
    ("file:--use-compress-program=touch pwned.txt", lambda x: x.split(":", 1)[1]),
    ("/--use-compress-program=touch pwned.txt", lambda x: x.lstrip("/")),
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


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_ssrf_to_a_single_label_host_spelled_with_an_entity_is_blocked(trigger: str, records) -> None:
    sinks.instrument()
    with LocalServer() as server:
        @protect(mode="block")
        def handler(event: dict, context: Any) -> dict:
            with urlopen(f"http://{html.unescape(name_of(event))}:{server.port}/", timeout=TIMEOUT) as reply:
                return {"statusCode": 200, "body": reply.read().decode()}

        answer = run(handler, TRIGGERS[trigger]("local&#104;ost"))
        assert blocked(answer) and "internal-secret" not in json.dumps(answer)
        assert server.untouched
    assert records.detections()[0]["protection"] == "ssrf"


# ---------------------------------------------------------------- caps: junk does not switch the correlation off

def update_named(db_path: Path, name: Callable[[dict], str], policy: Policy | None = None) -> Any:
    @protect(policy=policy or Policy.from_dict({"mode": "block"}))
    def handler(event: dict, context: Any) -> dict:
        with sqlite3.connect(db_path) as db:
            db.execute(f"UPDATE users SET email = 'taken@evil.example' WHERE name = '{name(event)}'")
        db.close()
        return {"statusCode": 200, "body": "updated"}

    return handler


PAYLOAD = "NOBODY' OR '1'='1"


def grams_of(text: str, size: int) -> str:
    """The pieces of ``text`` of ``size`` characters glued by Z: junk sharing each one with the payload."""
    return "Z".join(text[index:index + size] for index in range(len(text) - size + 1))


@pytest.mark.parametrize("junk", ["4-grams", "short values next to the code's list"])
def test_junk_inputs_do_not_hide_a_lowered_payload(junk: str, db_path: Path, records) -> None:
    values = {f"j{index:02d}": grams_of(PAYLOAD.lower(), 4) + str(index) if junk == "4-grams" else f"q', 'q{index}"
              for index in range(40)}
    handler = update_named(db_path, lambda event: event["queryStringParameters"]["name"].lower())
    before = rows(db_path)
    assert blocked(run(handler, apigw_v2_event("GET", "/items", query={**values, "name": PAYLOAD})))
    assert rows(db_path) == before
    assert records.detections()[0]["rule"] == "sqli.structure"


@pytest.mark.parametrize("on_exceeded", ["block", "report"])
def test_too_many_inputs_sharing_the_payloads_pieces_leave_it_to_on_exceeded(on_exceeded: str, db_path: Path,
                                                                             records) -> None:
    values = {f"j{index:03d}": grams_of(PAYLOAD.lower(), 8) + str(index) for index in range(300)}
    policy = Policy.from_dict({"mode": "block", "limits": {"on_exceeded": on_exceeded}})
    handler = update_named(db_path, lambda event: event["queryStringParameters"]["name"].lower(), policy)
    before = rows(db_path)
    assert blocked(run(handler, apigw_v2_event("GET", "/items", query={**values, "name": PAYLOAD})))
    assert rows(db_path) == before
    verdicts = [(item["rule"], item["action"]) for item in records.detections()]
    # past the cap the policy decides; told to report, the search goes on and the payload is found
    assert verdicts == ([("inspection.exceeded", "blocked")] if on_exceeded == "block" else
                        [("inspection.exceeded", "reported"), ("sqli.structure", "blocked")])


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_padding_past_the_index_leaves_a_large_payload_to_on_exceeded(trigger: str, db_path: Path, records) -> None:
    body = {f"pad{index}": f"{index}'" + "a" * 59998 for index in range(5)}
    body["name"] = PAYLOAD + " --" + "a" * 61000  # larger than every pad: the last to fit, and it does not
    event = apigw_v2_event("POST", "/items", body=body) if trigger == "http" else sqs_event(body)
    handler = update_named(db_path, lambda event: json.loads(
        event["body"] if "body" in event else event["Records"][0]["body"])["name"].lower())
    before = rows(db_path)
    assert blocked(run(handler, event))
    assert rows(db_path) == before
    assert records.detections()[0]["rule"] == "inspection.exceeded"


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_a_line_of_a_large_upload_is_found(trigger: str, db_path: Path, records) -> None:
    upload = "bob\n" * 17500 + PAYLOAD + "\n"  # 70 kB: past the size indexed whole
    event = apigw_v2_event("POST", "/import", body={"csv": upload}) if trigger == "http" else sqs_event({"csv": upload})

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        body = json.loads(event["body"] if "body" in event else event["Records"][0]["body"])
        with sqlite3.connect(db_path) as db:
            for line in body["csv"].splitlines():
                db.execute(f"UPDATE users SET email = 'imported' WHERE name = '{line.strip().lower()}'")
        db.close()
        return {"statusCode": 200, "body": "imported"}

    before = rows(db_path)
    assert blocked(run(handler, event))
    assert rows(db_path) == before
    assert records.detections()[0]["rule"] == "sqli.structure"


# ---------------------------------------------------------------- benign look-alikes past the old caps

def test_a_large_upload_of_escaped_names_passes(db_path: Path, records) -> None:
    upload = "Bob\nO'Brien\nD'Arcy (jr)\n" * 5000 + "Alice\n"

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        names = json.loads(event["body"])["csv"].splitlines()
        with sqlite3.connect(db_path) as db:
            found = [db.execute("SELECT email FROM users WHERE name = '{}'".format(
                name.strip().lower().replace("'", "''"))).fetchall() for name in names[-3:]]
            db.execute("UPDATE users SET email = ? WHERE name = ?", ("new@example.com", "alice"))
        db.close()
        return {"statusCode": 200, "body": json.dumps(found)}

    answer = run(handler, apigw_v2_event("POST", "/import", body={"csv": upload}))
    assert answer == {"statusCode": 200, "body": json.dumps([[["ob@example.com"]], [], [["a@example.com"]]])}
    assert ("new@example.com",) in [(email,) for _, email in rows(db_path)]
    assert records.detections() == []


def test_many_inputs_sharing_the_codes_text_pass(db_path: Path, records) -> None:
    query = {f"n{index}": f"note {index}: where name = 'bob' was seen" for index in range(60)}
    query.update({f"x{index}": f"x = {index}, y = ({index})" for index in range(2, 200)})
    query["name"] = "  Bob "

    @protect(mode="block")
    def handler(event: dict, context: Any) -> dict:
        name = event["queryStringParameters"]["name"].strip().lower()
        with sqlite3.connect(db_path) as db:
            found = db.execute(f"SELECT email FROM users WHERE name = '{name}' AND (1 = 1)").fetchall()
        db.close()
        return {"statusCode": 200, "body": json.dumps(found)}

    assert run(handler, apigw_v2_event("GET", "/items", query=query)) == {
        "statusCode": 200, "body": json.dumps([["b@example.com"]])}
    assert records.detections() == []
