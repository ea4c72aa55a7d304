"""Issue 11, command injection through real processes: vectors split from a string, abbreviated and
newly listed options, an option's value, a search term named like a program.

Each attack would create a marker file or send the function's environment to a collector on
127.0.0.1; blocked, the marker never appears and the collector receives nothing.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

POLICY = {"mode": "off", "protections": {"command_injection": "block"}}


def invoke(handler, event):
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def query(**params: str) -> dict:
    return apigw_v1_event("GET", "/run", query=params)


def output_of(result) -> str:
    assert isinstance(result, dict) and result["statusCode"] == 200, result
    return json.loads(result["body"])["output"]


def assert_blocked(result, records, rule: str) -> None:
    assert isinstance(result, dict) and result["statusCode"] == 403, result
    [record] = records.detections()
    assert record["protection"] == "command_injection" and record["action"] == "blocked"
    assert record["rule"] == rule


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """A local HTTP service that keeps every body it receives."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- a vector split from a string

def find_handler(folder: Path, split):
    @protect(policy=POLICY)
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        vector = split(f"find {folder} -name {name}")
        found = subprocess.run(vector, capture_output=True, text=True).stdout
        return {"statusCode": 200, "body": json.dumps({"output": found})}
    return handler


@pytest.mark.parametrize("split", [shlex.split, str.split], ids=["shlex.split", "str.split"])
def test_split_vector_exec_is_blocked(split, tmp_path: Path, marker: Path, records) -> None:
    (tmp_path / "report.pdf").write_text("x")
    result = invoke(find_handler(tmp_path, split), query(name=f"report.pdf -exec touch {marker} ;"))
    assert_blocked(result, records, "cmdi.option")
    assert not marker.exists()


@pytest.mark.parametrize("split", [shlex.split, str.split], ids=["shlex.split", "str.split"])
def test_split_vector_benign_name(split, tmp_path: Path, records) -> None:
    (tmp_path / "report.pdf").write_text("x")
    result = invoke(find_handler(tmp_path, split), query(name="report.pdf -o -name report.txt"))
    assert output_of(result) == f"{tmp_path / 'report.pdf'}\n"  # -o is find's "or": no danger
    assert records.detections() == []


def test_split_vector_from_a_queue_message(tmp_path: Path, marker: Path, records) -> None:
    @protect(policy=POLICY)
    def handler(event, context):
        for record in event["Records"]:
            subprocess.run(shlex.split(f"find {tmp_path} -name {record['body']}"), capture_output=True)
        return {"done": True}

    result = invoke(handler, sqs_event(f"x -delete -o -exec touch {marker} ;"))
    assert isinstance(result, RequestBlocked) and result.finding.rule == "cmdi.option"
    assert not marker.exists()


# ---------------------------------------------------------------- an abbreviated long option

def test_abbreviated_checkpoint_action_is_blocked(tmp_path: Path, marker: Path, records) -> None:
    (tmp_path / "a.txt").write_text("x")

    @protect(policy=POLICY)
    def handler(event, context):
        option = event["queryStringParameters"]["option"]
        subprocess.run(["tar", "-cf", str(tmp_path / "out.tar"), "--checkpoint=1", option, "-C", str(tmp_path),
                        "a.txt"], capture_output=True)
        return {"statusCode": 200, "body": json.dumps({"output": ""})}

    result = invoke(handler, query(option=f"--checkpoint-act=exec=touch {marker}"))
    assert_blocked(result, records, "cmdi.option")
    assert not marker.exists()
    # the same abbreviation unprotected does run: the test would see the marker
    subprocess.run(["tar", "-cf", str(tmp_path / "out.tar"), "--checkpoint=1", f"--checkpoint-act=exec=touch {marker}",
                    "-C", str(tmp_path), "a.txt"], capture_output=True)
    assert marker.exists()


# ---------------------------------------------------------------- curl reading a file into the request

def curl_handler(url: str):
    @protect(policy=POLICY)
    def handler(event, context):
        comment = event["queryStringParameters"]["comment"]
        subprocess.run(["curl", "-s", "-d", comment, url], capture_output=True, timeout=20)
        return {"statusCode": 200, "body": json.dumps({"output": "sent"})}
    return handler


def test_curl_data_at_file_is_blocked(collector, records) -> None:
    url, received = collector
    result = invoke(curl_handler(url), query(comment="@/proc/self/environ"))
    assert_blocked(result, records, "cmdi.option")
    assert received == []


def test_curl_data_with_an_at_sign_is_sent(collector, records) -> None:
    url, received = collector
    assert output_of(invoke(curl_handler(url), query(comment="thanks @team, a=b@c"))) == "sent"
    assert received == [b"thanks @team, a=b@c"]
    assert records.detections() == []


# ---------------------------------------------------------------- precision: values and search terms

def test_commit_message_starting_with_a_dash_is_allowed(tmp_path: Path, records) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    @protect(policy=POLICY)
    def handler(event, context):
        message = event["queryStringParameters"]["message"]
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com",
                        "commit", "-q", "--allow-empty", "-m", message], check=True)
        log = subprocess.run(["git", "-C", str(tmp_path), "log", "--format=%s", "--grep", "git"],
                             capture_output=True, text=True, check=True).stdout
        return {"statusCode": 200, "body": json.dumps({"output": log})}

    assert output_of(invoke(handler, query(message="- bump git -u version"))) == "- bump git -u version\n"
    assert records.detections() == []


def test_search_term_named_like_the_program_in_a_shell_command(tmp_path: Path, records) -> None:
    (tmp_path / "notes.txt").write_text("use grep here\nnothing\n")

    @protect(policy=POLICY)
    def handler(event, context):
        term = event["queryStringParameters"]["q"]
        found = subprocess.run(f"grep -c {term} {tmp_path / 'notes.txt'}", shell=True, capture_output=True,
                               text=True).stdout
        return {"statusCode": 200, "body": json.dumps({"output": found})}

    assert output_of(invoke(handler, query(q="grep"))) == "1\n"
    assert records.detections() == []


# ---------------------------------------------------------------- program text as an argument

def tool_handler(build):
    @protect(policy=POLICY)
    def handler(event, context):
        value = event["queryStringParameters"]["q"]
        found = subprocess.run(build(value), capture_output=True, text=True, timeout=20).stdout
        return {"statusCode": 200, "body": json.dumps({"output": found})}
    return handler


@pytest.fixture
def users(tmp_path: Path) -> Path:
    data = tmp_path / "users.txt"
    data.write_text("alice admin\nbob user\n")
    return data


def test_awk_system_is_blocked(users: Path, marker: Path, records) -> None:
    handler = tool_handler(lambda q: ["awk", f'$1 == "{q}" {{print $2}}', str(users)])
    assert output_of(invoke(handler, query(q="bob"))) == "user\n"
    assert records.detections() == []
    attack = f'x" || 1 {{system("touch {marker}")}} "'
    result = invoke(handler, query(q=attack))
    assert_blocked(result, records, "cmdi.code")
    assert not marker.exists()
    subprocess.run(["awk", f'$1 == "{attack}" {{print $2}}', str(users)], capture_output=True)  # unprotected
    assert marker.exists()


def test_sed_e_flag_is_blocked(users: Path, marker: Path, records) -> None:
    handler = tool_handler(lambda q: ["sed", f"s/{q}/member/", str(users)])
    assert output_of(invoke(handler, query(q="user"))) == "alice admin\nbob member\n"
    assert records.detections() == []
    attack = "alice/touch " + str(marker).replace("/", "\\/") + "/e;s/x"
    result = invoke(handler, query(q=attack))
    assert_blocked(result, records, "cmdi.code")
    assert not marker.exists()
    # unprotected, it runs "touch MARKER admin" (the rest of the line): in the test's folder
    subprocess.run(["sed", f"s/{attack}/member/", str(users)], capture_output=True, cwd=users.parent)
    assert marker.exists()


def test_jq_env_is_blocked(tmp_path: Path, records) -> None:
    data = tmp_path / "users.json"
    data.write_text('[{"name": "bob", "role": "user"}]')
    handler = tool_handler(lambda q: ["jq", "-r", f'.[] | select(.name == "{q}") | .role', str(data)])
    assert output_of(invoke(handler, query(q="bob"))) == "user\n"
    assert records.detections() == []
    attack = 'bob") | {role: $ENV.AWS_SECRET_ACCESS_KEY} | select(. != "'
    result = invoke(handler, query(q=attack))
    assert_blocked(result, records, "cmdi.code")
    assert "fakeSecretKey" not in json.dumps(result)
    leaked = subprocess.run(["jq", "-r", f'.[] | select(.name == "{attack}") | .role', str(data)],
                            capture_output=True, text=True).stdout  # unprotected, it prints the secret
    assert leaked.startswith("fakeSecretKey")


def test_python_c_is_blocked(marker: Path, records) -> None:
    handler = tool_handler(lambda q: ["python3", "-c", f"print('{q}'.upper())"])
    assert output_of(invoke(handler, query(q="it is ok (really)"))) == "IT IS OK (REALLY)\n"
    assert records.detections() == []
    attack = f"x'); open('{marker}', 'w'); print('"
    result = invoke(handler, query(q=attack))
    assert_blocked(result, records, "cmdi.code")
    assert not marker.exists()
    subprocess.run(["python3", "-c", f"print('{attack}'.upper())"], capture_output=True)  # unprotected
    assert marker.exists()


# ---------------------------------------------------------------- shell forms

def test_quotes_that_split_one_word_are_blocked(tmp_path: Path, records) -> None:
    uploads, victim = tmp_path / "uploads", tmp_path / "keep.db"
    uploads.mkdir()
    victim.write_text("rows")
    (uploads / "old.txt").write_text("x")

    @protect(policy=POLICY)
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        subprocess.run(f"rm -f '{uploads}/{name}'", shell=True, check=True)
        return {"statusCode": 200, "body": json.dumps({"output": "removed"})}

    result = invoke(handler, query(name=f"nothing' '{victim}"))
    assert_blocked(result, records, "cmdi.shell-syntax")
    assert victim.exists()
    assert output_of(invoke(handler, query(name="old.txt"))) == "removed"
    assert not (uploads / "old.txt").exists() and victim.exists()
