"""Paths an input chose in a child process's arguments (``cat``, ``cp``, ``curl -o``, ``tar -f``), judged
under ``file_access`` at the process sink: blocked, the child never runs, so the file is neither read
nor written."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from app_protect_lambda import RequestBlocked, protect, sinks
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, sqs_event

SECRET = "fakeSecretKeyForTests/0123456789abcdefXYZ"  # set by conftest as AWS_SECRET_ACCESS_KEY


def policy(mode: str = "block", **protections: str) -> dict:
    return {"mode": "off", "protections": {"file_access": mode, **protections}}


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """tmp/uploads/report.txt, tmp/data/a.txt, tmp/out/, and tmp/victim.txt above the uploads."""
    sinks.instrument()
    for name in ("uploads", "data", "out", "dl"):
        (tmp_path / name).mkdir()
    (tmp_path / "uploads" / "report.txt").write_text("quarterly figures\n")
    (tmp_path / "data" / "a.txt").write_text("data\n")
    (tmp_path / "victim.txt").write_text("original\n")
    return tmp_path


def invoke(handler, value: str) -> dict:
    return handler(apigw_v1_event("GET", "/", query={"name": value}), LambdaContext())


def query_handler(run, mode: str = "block", **protections: str):
    @protect(policy=policy(mode, **protections))
    def handler(event, context):
        output = run(event["queryStringParameters"]["name"])
        return {"statusCode": 200, "body": json.dumps({"output": output})}
    return handler


def stdout(argv: list[str], **kwargs) -> str:
    return subprocess.run(argv, capture_output=True, text=True, **kwargs).stdout


# ---------------------------------------------------------------- reads through the child

def test_cat_of_an_environ_file_an_input_named_is_blocked(folders: Path, records) -> None:
    handler = query_handler(lambda name: stdout(["cat", name]))
    result = invoke(handler, "/proc/self/environ")
    assert result["statusCode"] == 403 and SECRET not in json.dumps(result)
    [record] = records.detections()
    assert record["protection"] == "file_access" and record["rule"] == "file.absolute"
    assert record["sink"]["name"] == "subprocess.Popen"


def test_cat_climbing_out_of_the_uploads_is_blocked(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: stdout(["cat", f"{uploads}/{name}"]))
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403 and "original" not in json.dumps(result)
    assert records.detections()[0]["rule"] == "file.traversal"


def test_cat_of_an_uploaded_file_is_allowed(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: stdout(["cat", f"{uploads}/{name}"]))
    result = invoke(handler, "report.txt")
    assert result["statusCode"] == 200 and "quarterly figures" in result["body"]
    assert records.detections() == []


def test_a_quoted_shell_argument_is_judged_as_the_file_it_names(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: os.popen(f"cat {uploads}/{shlex.quote(name)}").read())
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403 and "original" not in json.dumps(result)


def test_a_search_term_shaped_like_a_path_is_not_a_file(folders: Path, records) -> None:
    data = folders / "data" / "a.txt"
    data.write_text("see /etc/passwd for users\n")
    handler = query_handler(lambda name: stdout(["grep", "-F", name, str(data)]))
    result = invoke(handler, "/etc/passwd")
    assert result["statusCode"] == 200 and "see /etc/passwd" in result["body"]
    assert records.detections() == []


# ---------------------------------------------------------------- writes through the child

def test_curl_output_climbing_out_of_the_download_folder_is_not_written(folders: Path) -> None:
    dl, source = folders / "dl", folders / "data" / "a.txt"
    handler = query_handler(lambda name: stdout(["curl", "-s", "-o", f"{dl}/{name}", f"file://{source}"]))
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403
    assert (folders / "victim.txt").read_text() == "original\n"


def test_curl_output_inside_the_download_folder_is_written(folders: Path) -> None:
    dl, source = folders / "dl", folders / "data" / "a.txt"
    handler = query_handler(lambda name: stdout(["curl", "-s", "-o", f"{dl}/{name}", f"file://{source}"]))
    assert invoke(handler, "copy.txt")["statusCode"] == 200
    assert (dl / "copy.txt").read_text() == "data\n"


def test_tar_archive_climbing_out_of_the_output_folder_is_not_created(folders: Path) -> None:
    out, data = folders / "out", folders / "data"
    handler = query_handler(lambda name: stdout(["tar", "-cf", f"{out}/{name}", "-C", str(data), "."]))
    result = invoke(handler, "../escaped.tar")
    assert result["statusCode"] == 403
    assert not (folders / "escaped.tar").exists()
    assert invoke(handler, "backup.tar")["statusCode"] == 200 and (out / "backup.tar").exists()


def test_cp_target_from_an_sqs_message_is_not_overwritten(folders: Path) -> None:
    out, source = folders / "out", folders / "data" / "a.txt"

    @protect(policy=policy())
    def handler(event, context):
        for record in event["Records"]:
            subprocess.run(["cp", str(source), f"{out}/{json.loads(record['body'])['name']}"], check=True)

    with pytest.raises(RequestBlocked) as blocked:
        handler(sqs_event({"name": "../victim.txt"}), LambdaContext())
    assert blocked.value.finding.kind.value == "file_access"
    assert (folders / "victim.txt").read_text() == "original\n"


# ---------------------------------------------------------------- modes

def test_report_mode_records_and_lets_the_child_run(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: stdout(["cat", f"{uploads}/{name}"]), mode="report")
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 200 and "original" in result["body"]
    [record] = records.detections()
    assert record["action"] == "reported" and record["rule"] == "file.traversal"


def test_file_access_off_leaves_child_paths_unjudged(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: stdout(["cat", f"{uploads}/{name}"]), mode="off",
                            command_injection="block")
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 200 and "original" in result["body"]
    assert records.detections() == []


# ---------------------------------------------------------------- locations and the policy's lists

def test_a_plain_name_that_chooses_proc_environ_through_a_shell_is_blocked(folders: Path, records) -> None:
    handler = query_handler(lambda name: subprocess.run(f"cat /proc/self/{shlex.quote(name)}", shell=True,
                                                        capture_output=True, text=True).stdout)
    result = invoke(handler, "environ")
    assert result["statusCode"] == 403 and SECRET not in json.dumps(result)
    assert records.detections()[0]["rule"] == "file.sensitive"


def test_a_relative_argument_is_judged_against_the_cwd_the_code_set(folders: Path, records) -> None:
    uploads = folders / "uploads"
    handler = query_handler(lambda name: stdout(["cat", name], cwd=uploads))
    assert invoke(handler, "report.txt")["statusCode"] == 200
    result = invoke(handler, "../victim.txt")
    assert result["statusCode"] == 403 and "original" not in json.dumps(result)


def test_the_policy_deny_list_covers_a_file_an_input_put_in_a_child(folders: Path, records) -> None:
    secret = folders / "data" / "key.pem"
    secret.write_text("-----BEGIN KEY-----\n")

    @protect(policy={"mode": "off", "protections": {"file_access": {"mode": "block", "deny_read": ["*.pem"]}}})
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        return {"statusCode": 200, "body": stdout(["cat", f"{folders}/data/{name}"])}

    result = invoke(handler, "key.pem")
    assert result["statusCode"] == 403 and "BEGIN KEY" not in json.dumps(result)
    assert records.detections()[0]["rule"] == "file.deny-read"
    assert invoke(handler, "a.txt")["body"] == "data\n"


def test_a_shell_redirection_target_climbing_out_is_not_written(folders: Path) -> None:
    out = folders / "out"

    def run(name: str) -> str:
        os.system(f"echo pwned > {out}/{shlex.quote(name)}")
        return ""

    handler = query_handler(run)
    assert invoke(handler, "../victim.txt")["statusCode"] == 403
    assert (folders / "victim.txt").read_text() == "original\n"
    assert invoke(handler, "note.txt")["statusCode"] == 200 and (out / "note.txt").read_text() == "pwned\n"
