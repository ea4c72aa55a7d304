"""Issue 11, round 2, command injection through real processes: what a shell or python reads on its
standard input (a pipe from echo/printf/cat, a here-string, a here-document), and options of sort
that write a file. Each attack creates a marker file when it runs unprotected (checked first, so
the test proves the attack is real); blocked, the marker never appears. The benign rows run and
their output is checked."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v2_event, function_url_event, sqs_event


def shell_app(build: Callable[[str], str | list[str]]):
    """A handler that runs the command ``build`` makes of the request's ``q`` (query or SQS body)."""
    @protect(mode="block")
    def handler(event, context):
        if "Records" in event:
            value = json.loads(event["Records"][0]["body"])["q"]
        else:
            value = event["queryStringParameters"]["q"]
        command = build(value)
        result = subprocess.run(command, shell=isinstance(command, str), capture_output=True, text=True,
                                timeout=20, check=False)
        return {"statusCode": 200, "body": json.dumps({"output": result.stdout})}
    return handler


# (name, the command made of the input, the input with {marker} for the marker file's path)
ATTACKS: list[tuple[str, Callable[[str], str | list[str]], str]] = [
    ("echo pipe sh", lambda q: f"echo '{q}' | sh", "x; touch {marker}"),
    ("printf pipe bash", lambda q: f"printf '%s\\n' '{q}' | bash", "touch {marker}"),
    ("echo pipe python", lambda q: f"echo '{q}' | python3", 'open("{marker}", "w")'),
    # /bin/sh is bash on Lambda; where it is dash (which has no <<<), bash -c runs the line
    ("here-string", lambda q: ["bash", "-c", f"sh <<< '{q}'"], "touch {marker}"),
    ("here-document", lambda q: f"sh <<'EOF'\necho {q}\nEOF", "x; touch {marker}"),
    ("cat here-document pipe sh", lambda q: f"cat <<EOF | sh\necho {q}\nEOF", "x; touch {marker}"),
    ("sort -o", lambda q: ["sort", q, "/etc/hostname"], "-o{marker}"),
]


@pytest.mark.parametrize(("name", "build", "payload"), ATTACKS, ids=[row[0] for row in ATTACKS])
def test_stdin_scripts_and_file_writing_options_are_blocked(tmp_path: Path, records, name, build, payload) -> None:
    proof = tmp_path / "unprotected"
    command = build(payload.format(marker=proof))
    subprocess.run(command, shell=isinstance(command, str), capture_output=True, timeout=20, check=False)
    assert proof.exists()  # the attack works without the protection

    marker = tmp_path / "marker"
    value = payload.format(marker=marker)
    handler = shell_app(build)
    for event in (apigw_v2_event(query={"q": value}), function_url_event(query={"q": value}),
                  sqs_event({"q": value})):
        try:
            response = handler(event, LambdaContext())
        except RequestBlocked:  # an SQS batch has no HTTP response: the invocation fails
            pass
        else:
            assert response["statusCode"] == 403
        assert not marker.exists()
    assert {detection["protection"] for detection in records.detections()} == {"command_injection"}


BENIGN: list[tuple[str, Callable[[str], str | list[str]], str, str]] = [
    ("base64 of a note", lambda q: f"echo '{q}' | base64 -w0", "hello; world | x", "aGVsbG87IHdvcmxkIHwgeAo="),
    ("word count", lambda q: f"printf '%s' '{q}' | wc -c", "O-Brien; #1 -- new", "18\n"),
    ("python reads data", lambda q: f"echo '{q}' | python3 -c 'import sys; print(sys.stdin.read().upper())'",
     "x; id", "X; ID\n\n"),
    ("here-string to cat", lambda q: ["bash", "-c", f"cat <<< '{q}'"], "a `markdown` note", "a `markdown` note\n"),
    ("xargs basename", lambda q: f"echo '{q}' | xargs -n1 basename", "/tmp/my.txt /tmp/b.txt", "my.txt\nb.txt\n"),
    ("sort by a key", lambda q: ["sort", "-t", q, "-k", "2", "-r"], "-", ""),
]


@pytest.mark.parametrize(("name", "build", "value", "expected"), BENIGN, ids=[row[0] for row in BENIGN])
def test_data_piped_to_programs_that_read_data_runs(name, build, value, expected) -> None:
    response = shell_app(build)(apigw_v2_event(query={"q": value}), LambdaContext())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["output"] == expected
