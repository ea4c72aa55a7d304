"""Illegal file access through real files: every file sink, every input location, every mode.

The function serves files from a ``public`` directory; ``secret.txt`` lies next
to it. Blocked, the secret never reaches the response and nothing is written
outside the directory the code meant.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
import warnings
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event
from tests.functional.sql_app import DECODERS, LOCATIONS, Location

SECRET_TEXT = "TOP-SECRET-CONTENT"
AWS_SECRET = "fakeSecretKeyForTests/0123456789abcdefXYZ"  # set by conftest as AWS_SECRET_ACCESS_KEY
FILES = {"report.v2.final.pdf": "report body", "my report 2024 (final).txt": "spaces",
         "請求書 2024年3月.txt": "請求書の本文", "notes.txt": "notes"}


def slurp(opener, path, mode: str = "r", **kwargs):
    with opener(path, mode, **kwargs) as handle:
        return handle.read()


def spill(opener, path, mode: str, data) -> int:
    with opener(path, mode) as handle:
        return handle.write(data)


def policy(mode: str, **options) -> dict:
    return {"mode": "off", "protections": {"file_access": {"mode": mode, **options}}}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    public.mkdir()
    for name, text in FILES.items():
        (public / name).write_text(text, encoding="utf-8")
    (public / "sub").mkdir()
    (tmp_path / "secret.txt").write_text(SECRET_TEXT)
    return public


def invoke(handler, event):
    try:
        return handler(event, LambdaContext())
    except RequestBlocked as blocked:
        return blocked


def ok(body: str) -> dict:
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": body}


def assert_blocked(result, http: bool = True) -> None:
    if http:
        assert isinstance(result, dict) and result["statusCode"] == 403, result
    else:
        assert isinstance(result, RequestBlocked), result
        assert result.finding.kind.value == "file_access"
    assert SECRET_TEXT not in json.dumps(result, default=str)


def reader(site: Path, mode: str, read, **options):
    @protect(policy=policy(mode, **options))
    def handler(event, context):
        return ok(read(site, event["queryStringParameters"]["name"]))
    return handler


def read_open(site: Path, name: str) -> str:
    with open(os.path.join(site, name), encoding="utf-8") as handle:
        return handle.read()


# ---------------------------------------------------------------- every input location

def location_handler(site: Path, location: Location, mode: str, decode=lambda value: value):
    @protect(policy=policy(mode))
    def handler(event, context):
        text = read_open(site, decode(location.read(event)))
        return ok(text) if location.http else {"text": text}
    return handler


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.name)
def test_traversal_blocked_from_every_location(site: Path, location: Location, records) -> None:
    result = invoke(location_handler(site, location, "block"), location.build("../secret.txt"))
    assert_blocked(result, location.http)
    [record] = records.detections()
    assert record["protection"] == "file_access" and record["rule"] == "file.traversal"
    assert record["sink"]["name"] == "builtins.open"
    assert record["sink"]["frame"].startswith("tests/functional/test_filesystem_sinks.py:")
    assert record["input"]["location"]


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.name)
def test_benign_names_from_every_location(site: Path, location: Location, records) -> None:
    for name, text in FILES.items():
        result = invoke(location_handler(site, location, "block"), location.build(name))
        assert (result["body"] if location.http else result["text"]) == text
    assert records.detections() == []


@pytest.mark.parametrize("decoder", list(DECODERS), ids=list(DECODERS))
def test_encoded_traversal(site: Path, decoder: str, records) -> None:
    encode, decode = DECODERS[decoder]
    result = invoke(location_handler(site, LOCATIONS[0], "block", decode), LOCATIONS[0].build(encode("../secret.txt")))
    assert_blocked(result)
    assert records.detections()[0]["input"]["decoded"]


# ---------------------------------------------------------------- the payload catalogue

def read_joined(site: Path, name: str) -> str:
    return read_open(site, name)


def read_unquoted(site: Path, name: str) -> str:
    return read_open(site, unquote(name))


def read_backslashes(site: Path, name: str) -> str:
    return read_open(site, name.replace("\\", "/"))


def read_proc_self(site: Path, name: str) -> str:
    with open(f"/proc/self/{name}", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def read_etc(site: Path, name: str) -> str:
    with open(f"/etc/{name}", encoding="utf-8") as handle:
        return handle.read()


# (name, how the handler builds the path, payload, rule); {secret} is the secret's absolute path
PAYLOADS = [
    ("dot-dot", read_joined, "../secret.txt", "file.traversal"),
    ("deep dot-dot", read_joined, "sub/../../secret.txt", "file.traversal"),
    ("url-encoded", read_unquoted, "..%2Fsecret.txt", "file.traversal"),
    ("backslashes", read_backslashes, "..\\secret.txt", "file.traversal"),
    ("absolute", read_joined, "{secret}", "file.absolute"),
    ("proc environ", read_joined, "/proc/self/environ", "file.absolute"),
    ("environ by name", read_proc_self, "environ", "file.sensitive"),
    ("etc passwd", read_etc, "passwd", "file.sensitive"),
]


@pytest.mark.parametrize(("name", "read", "payload", "rule"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_block_payloads(site: Path, name: str, read, payload: str, rule: str, records) -> None:
    payload = payload.format(secret=site.parent / "secret.txt")
    result = invoke(reader(site, "block", read), apigw_v1_event(query={"name": payload}))
    assert_blocked(result)
    assert AWS_SECRET not in json.dumps(result)
    [record] = records.detections()
    assert record["rule"] == rule and record["input"]["location"] == "query.name"


@pytest.mark.parametrize(("name", "read", "payload", "rule"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_report_payloads_leave_behaviour_unchanged(site: Path, name: str, read, payload: str, rule: str,
                                                   records) -> None:
    payload = payload.format(secret=site.parent / "secret.txt")
    result = invoke(reader(site, "report", read), apigw_v1_event(query={"name": payload}))
    assert result["statusCode"] == 200 and result["body"]  # the file was read, as without us
    [record] = records.detections()
    assert record["action"] == "reported" and record["rule"] == rule
    assert AWS_SECRET not in json.dumps(record)


def test_nul_byte(site: Path, records) -> None:
    event = apigw_v2_event("POST", body={"name": "report.v2.final.pdf\x00.png"})

    def handler_for(mode: str):
        @protect(policy=policy(mode))
        def handler(event, context):
            name = json.loads(event["body"])["name"]
            try:
                return ok(read_open(site, name))
            except ValueError as error:  # what Python itself says about NUL in paths
                return {"statusCode": 400, "body": str(error)}
        return handler

    assert_blocked(invoke(handler_for("block"), event))
    assert invoke(handler_for("report"), event)["statusCode"] == 400
    assert [r["rule"] for r in records.detections()] == ["file.nul-byte", "file.nul-byte"]


def test_var_task_source_disclosure(records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        with open(event["queryStringParameters"]["file"]) as handle:
            return ok(handle.read())

    assert_blocked(invoke(handler, apigw_v1_event(query={"file": "/var/task/app.py"})))
    assert records.detections()[0]["rule"] == "file.absolute"


# ---------------------------------------------------------------- /proc/self/environ without any input

@pytest.mark.parametrize("read", [
    lambda: slurp(open, "/proc/self/environ", "rb"),
    lambda: Path("/proc/self/environ").read_bytes(),
    lambda: Path("/proc/self/environ").read_text(errors="replace"),
    lambda: slurp(io.open, "/proc/self/environ", "rb"),
    lambda: os.read(os.open("/proc/self/environ", os.O_RDONLY), 65536),
    lambda: slurp(open, f"/proc/{os.getpid()}/environ", "rb"),
    lambda: slurp(open, "/proc/self/root/proc/self/environ", "rb"),
    lambda: slurp(open, b"/proc/self/environ", "rb"),
], ids=["open", "read_bytes", "read_text", "io.open", "os.open", "pid", "root-symlink", "bytes"])
def test_environ_read_without_input(read, records) -> None:
    def handler_for(mode: str):
        @protect(policy=policy(mode))
        def handler(event, context):
            data = read()
            return ok(data.decode(errors="replace") if isinstance(data, bytes) else data)
        return handler

    # The file holds the environment the process started with: PATH is there, our test secret is not.
    result = invoke(handler_for("block"), apigw_v1_event())
    assert result["statusCode"] == 403 and "PATH=" not in json.dumps(result)
    [record] = records.detections()
    assert record["rule"] == "file.deny-read" and record["input"] is None

    result = invoke(handler_for("report"), apigw_v1_event())
    assert "PATH=" in result["body"]  # report mode changes nothing
    assert len(records.detections()) == 2


def test_environ_read_outside_an_invocation_is_not_checked(records) -> None:
    reader(Path("/"), "block", read_open)  # instruments
    assert slurp(open, "/proc/self/environ", "rb")
    assert records.detections() == []


def test_off_mode_records_nothing(site: Path, records) -> None:
    result = invoke(reader(site, "off", read_open), apigw_v1_event(query={"name": "../secret.txt"}))
    assert result["body"] == SECRET_TEXT
    assert records.detections() == []


# ---------------------------------------------------------------- every sink

def _pathlib_open(path: str) -> str:
    with Path(path).open(encoding="utf-8") as handle:
        return handle.read()


READ_SINKS = [
    ("builtins.open", lambda p: slurp(open, p, encoding="utf-8")),
    ("builtins.open", lambda p: slurp(io.open, p, encoding="utf-8")),
    ("builtins.open", lambda p: slurp(open, p.encode(), "rb").decode()),
    ("os.open", lambda p: os.read(os.open(p, os.O_RDONLY), 1024).decode()),
    ("pathlib.Path.open", lambda p: Path(p).read_text(encoding="utf-8")),
    ("pathlib.Path.open", lambda p: Path(p).read_bytes().decode()),
    ("pathlib.Path.open", _pathlib_open),
    ("shutil.copyfile", lambda p: Path(shutil.copyfile(p, p + ".copy")).read_text()),
    ("shutil.copy", lambda p: Path(shutil.copy(p, p + ".copy")).read_text()),
    ("shutil.copy2", lambda p: Path(shutil.copy2(p, p + ".copy")).read_text()),
]


@pytest.mark.parametrize(("sink", "read"), READ_SINKS, ids=[f"{i}-{s}" for i, (s, _) in enumerate(READ_SINKS)])
def test_every_read_sink(site: Path, sink: str, read, records) -> None:
    handler = reader(site, "block", lambda s, name: read(os.path.join(s, name)))
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": "../secret.txt"})))
    [record] = records.detections()
    assert record["sink"]["name"] == sink

    result = invoke(handler, apigw_v1_event(query={"name": "請求書 2024年3月.txt"}))
    assert result["body"] == "請求書の本文"
    assert len(records.detections()) == 1


def test_directory_listing(site: Path, records) -> None:
    for sink, listing in (("os.listdir", lambda p: os.listdir(p)),
                          ("os.scandir", lambda p: [e.name for e in os.scandir(p)])):
        handler = reader(site, "block", lambda s, name, listing=listing: json.dumps(sorted(listing(s / name))))
        assert_blocked(invoke(handler, apigw_v1_event(query={"name": "../.."})))
        assert records.detections()[-1]["sink"]["name"] == sink
        result = invoke(handler, apigw_v1_event(query={"name": "."}))
        assert json.loads(result["body"]) == sorted([*FILES, "sub"])


# (sink, operation(site, name)); each attack would write or remove something outside ``site``
WRITE_SINKS = [
    ("builtins.open", lambda s, n: spill(open, os.path.join(s, n), "w", "x")),
    ("builtins.open", lambda s, n: spill(open, os.path.join(s, n), "ab", b"x")),
    ("os.open", lambda s, n: os.close(os.open(os.path.join(s, n), os.O_WRONLY | os.O_CREAT))),
    ("pathlib.Path.open", lambda s, n: Path(s, n).write_text("x")),
    ("pathlib.Path.open", lambda s, n: Path(s, n).write_bytes(b"x")),
    ("shutil.copyfile", lambda s, n: shutil.copyfile(s / "notes.txt", s / n)),
    ("shutil.copytree", lambda s, n: shutil.copytree(s, s / n)),
    ("shutil.move", lambda s, n: shutil.move(str(s / "notes.txt"), str(s / n))),
    ("os.rename", lambda s, n: os.rename(s / "notes.txt", s / n)),
    ("os.replace", lambda s, n: os.replace(s / "notes.txt", s / n)),
]


@pytest.mark.parametrize(("sink", "write"), WRITE_SINKS, ids=[f"{i}-{s}" for i, (s, _) in enumerate(WRITE_SINKS)])
def test_every_write_sink(site: Path, sink: str, write, records) -> None:
    handler = reader(site, "block", lambda s, name: str(write(s, name)))
    before = sorted(p.name for p in site.parent.iterdir())
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": "../evil"})))
    assert sorted(p.name for p in site.parent.iterdir()) == before  # nothing written outside
    [record] = records.detections()
    assert record["sink"]["name"] == sink

    result = invoke(handler, apigw_v1_event(query={"name": "新しい report.v3.txt"}))
    assert result["statusCode"] == 200
    assert (site / "新しい report.v3.txt").exists()
    assert len(records.detections()) == 1


REMOVE_SINKS = [
    ("os.remove", lambda p: os.remove(p)),
    ("os.unlink", lambda p: os.unlink(p)),
    ("shutil.rmtree", lambda p: shutil.rmtree(p)),
    ("os.rmdir", lambda p: os.rmdir(p)),
]


@pytest.mark.parametrize(("sink", "remove"), REMOVE_SINKS, ids=[s for s, _ in REMOVE_SINKS])
def test_every_remove_sink(site: Path, sink: str, remove, records) -> None:
    victim = site.parent / "victim"
    if sink in ("shutil.rmtree", "os.rmdir"):
        victim.mkdir()
        (site / "old").mkdir()
    else:
        victim.write_text("keep me")
        (site / "old").write_text("remove me")
    handler = reader(site, "block", lambda s, name: str(remove(os.path.join(s, name))))
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": "../victim"})))
    assert victim.exists()
    assert records.detections()[0]["sink"]["name"] == sink
    assert invoke(handler, apigw_v1_event(query={"name": "old"}))["statusCode"] == 200
    assert not (site / "old").exists()


def test_report_mode_records_once_through_nested_sinks(site: Path, records) -> None:
    """shutil.copy opens both files and pathlib goes through io.open: still one record per call."""
    handler = reader(site, "report", lambda s, name: Path(shutil.copy(s / name, s / "copy.txt")).read_text())
    assert invoke(handler, apigw_v1_event(query={"name": "../secret.txt"}))["body"] == SECRET_TEXT
    [record] = records.detections()
    assert record["sink"]["name"] == "shutil.copy"


def test_writes_under_tmp_and_reads_of_shipped_files(tmp_path: Path, records) -> None:
    task = tmp_path / "task"
    (task / "templates").mkdir(parents=True)
    (task / "templates" / "index.html").write_text("<h1>hi</h1>")
    (task / "app.py").write_text("SOURCE = 'secret source'")

    @protect(policy=policy("block", sensitive_paths=[str(task)]))
    def handler(event, context):
        name = event["queryStringParameters"]["name"]
        page = (task / "templates" / name).read_text()
        out = tmp_path / "cache" / f"{name}.rendered"
        out.parent.mkdir(exist_ok=True)
        out.write_text(page.upper())
        return ok(out.read_text())

    assert invoke(handler, apigw_v1_event(query={"name": "index.html"}))["body"] == "<H1>HI</H1>"
    assert records.detections() == []
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": "../app.py"})))
    assert "secret source" not in json.dumps(records.detections())


def test_policy_globs(site: Path, records) -> None:
    handler = reader(site, "block", read_open, deny_read=[f"{site}/*.pdf"], allow_paths=[f"{site.parent}/secret.txt"])
    assert_blocked(invoke(handler, apigw_v1_event(query={"name": "report.v2.final.pdf"})))
    assert records.detections()[0]["rule"] == "file.deny-read"
    assert invoke(handler, apigw_v1_event(query={"name": "notes.txt"}))["body"] == "notes"
    assert invoke(handler, apigw_v1_event(query={"name": "../secret.txt"}))["body"] == SECRET_TEXT  # allowed
    assert len(records.detections()) == 1


def test_own_package_reads_are_never_denied(records) -> None:
    import app_protect_lambda

    package = os.path.dirname(app_protect_lambda.__file__)

    @protect(policy=policy("block", deny_read=["/**"]))
    def handler(event, context):
        with open(os.path.join(package, "__init__.py")) as handle:
            handle.read()
        return ok("read")

    assert invoke(handler, apigw_v1_event())["body"] == "read"
    assert records.detections() == []


def test_file_descriptors_and_unknown_arguments_pass(site: Path, records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        fd = os.open(site / "notes.txt", os.O_RDONLY)
        with open(fd, closefd=True) as handle:
            text = handle.read()
        with pytest.raises(TypeError):
            slurp(open, 3.5)
        return ok(text + str(len(os.listdir(os.open(site, os.O_RDONLY)))))

    assert invoke(handler, apigw_v1_event())["body"] == f"notes{len(FILES) + 1}"
    assert records.detections() == []


# ---------------------------------------------------------------- archives: zip-slip

def zip_bytes(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name), text)
    return buffer.getvalue()


def tar_bytes(members: dict[str, str], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def extractor(target: Path, mode: str, how: str):
    @protect(policy=policy(mode))
    def handler(event, context):
        data = base64.b64decode(event["body"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # tarfile's default filter, 3.12+
            if how.startswith("zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    if how == "zip.extractall":
                        archive.extractall(target)
                    else:
                        for name in archive.namelist():
                            archive.extract(name, str(target))
            else:
                with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                    if how == "tar.extractall":
                        archive.extractall(target)
                    else:
                        for member in archive.getmembers():
                            archive.extract(member, str(target))
        return ok(",".join(sorted(p.name for p in target.rglob("*"))))
    return handler


def upload(data: bytes) -> dict:
    return apigw_v1_event("POST", body=base64.b64encode(data).decode(), headers={"content-type": "application/zip"})


ARCHIVES = [
    ("zip.extractall", lambda: zip_bytes({"ok.txt": "ok", "../evil.txt": "evil"})),
    ("zip.extract", lambda: zip_bytes({"ok.txt": "ok", "a/../../evil.txt": "evil"})),
    ("tar.extractall", lambda: tar_bytes({"ok.txt": "ok", "../evil.txt": "evil"})),
    ("tar.extract", lambda: tar_bytes({"ok.txt": "ok", "../evil.txt": "evil"})),
    ("tar.extractall", lambda: tar_bytes({"ok.txt": "ok"}, {"link": "../"})),
]
SINK_NAMES = {"zip.extractall": "zipfile.ZipFile.extractall", "zip.extract": "zipfile.ZipFile.extract",
              "tar.extractall": "tarfile.TarFile.extractall", "tar.extract": "tarfile.TarFile.extract"}


@pytest.mark.parametrize(("how", "archive"), ARCHIVES, ids=[f"{i}-{h}" for i, (h, _) in enumerate(ARCHIVES)])
def test_zip_slip_blocked(tmp_path: Path, how: str, archive, records) -> None:
    target = tmp_path / "extract"
    target.mkdir()
    assert_blocked(invoke(extractor(target, "block", how), upload(archive())))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extract"]  # nothing written outside
    [record] = records.detections()
    assert record["rule"] == "file.archive-slip" and record["sink"]["name"] == SINK_NAMES[how]


def test_zip_slip_report_mode(tmp_path: Path, records) -> None:
    target = tmp_path / "extract"
    target.mkdir()
    result = invoke(extractor(target, "report", "zip.extractall"), upload(zip_bytes({"../evil.txt": "evil"})))
    assert result["statusCode"] == 200  # zipfile itself drops the "..": the file lands inside
    assert (target / "evil.txt").exists()
    [record] = records.detections()
    assert record["action"] == "reported"


@pytest.mark.parametrize("how", list(SINK_NAMES))
def test_benign_archives(tmp_path: Path, how: str, records) -> None:
    target = tmp_path / "extract"
    target.mkdir()
    members = {"report.v2.final.pdf": "a", "dir/請求書 2024.txt": "b"}
    if how.startswith("zip"):
        data = zip_bytes({**members, "dir/sub/../c.txt": "c"})
    else:
        data = tar_bytes(members, {"dir/link": "../report.v2.final.pdf"})
    result = invoke(extractor(target, "block", how), upload(data))
    assert "report.v2.final.pdf" in result["body"] and "請求書 2024.txt" in result["body"]
    assert records.detections() == []


@pytest.mark.parametrize("name", ["./../escaped.txt", ".//../escaped.txt", "./.././escaped.txt"])
def test_pathlib_dropping_dot_segments_does_not_hide_the_climb(site: Path, name: str) -> None:
    """pathlib turns ``public / "./../x"`` into ``public/../x``: the input occurs only without its ``.``."""
    @protect(policy=policy("block"))
    def handler(event, context):
        (site / event["queryStringParameters"]["name"]).write_text("planted")
        return ok("saved")

    assert_blocked(invoke(handler, apigw_v1_event(query={"name": name})))
    assert not (site.parent / "escaped.txt").exists()


@pytest.mark.parametrize("name", ["./notes-copy.txt", "sub/./../kept.txt", ".//sub/kept.txt"])
def test_dot_segments_that_stay_inside_pass(site: Path, name: str) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        (site / event["queryStringParameters"]["name"]).write_text("kept")
        return ok("saved")

    assert invoke(handler, apigw_v1_event(query={"name": name})) == ok("saved")
    assert (site / name).read_text() == "kept"
