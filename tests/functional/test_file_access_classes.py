"""File access against an informed attacker, through ``@protect`` and real files.

A tmp directory stands in for ``/var/task`` (declared sensitive through ``sensitive_paths``): the
function's own bundled files are served for short inputs and mirrored routes; an input that climbs is
blocked even after the code normalised the path; io.FileIO, os.symlink, os.link and bz2.open are
sinks. Each attack checks the effect (the secret is not in the response, no file or link appeared).
"""
from __future__ import annotations

import base64
import bz2
import glob
import gzip
import io
import lzma
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import apigw_v2_event, sqs_event
from tests.functional.test_filesystem_sinks import SECRET_TEXT, assert_blocked, invoke, ok, policy

CODE = "def handler(event, context): ...  # the function's source\n"


@pytest.fixture
def task(tmp_path: Path) -> Path:
    """A bundled function: locales, topics, static files, and its source next to them."""
    root = tmp_path / "task"
    for name, text in {"locales/ar.json": '{"hello": "مرحبا"}', "locales/ta.json": '{"hello": "வணக்கம்"}',
                       "topics/task.md": "# Tasks", "topics/todo.md": "# Todo",
                       "static/app.js": "console.log(1)", "static/css/site.css": "body{}",
                       "app.py": CODE}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(SECRET_TEXT)
    return root


def bundled(task: Path, mode: str = "block"):
    sensitive = {"sensitive_paths": [str(task)]}

    @protect(policy=policy(mode, **sensitive))
    def handler(event, context):
        query = event.get("queryStringParameters") or {}
        if "lang" in query:
            path = f"{task}/locales/{query['lang']}.json"
        elif "topic" in query:
            path = f"{task}/topics/{ {'task': 'todo', 'tasks': 'task'}.get(query['topic'], 'todo')}.md"
        else:  # a route mirrored under the bundled static folder
            path = f"{task}{event['rawPath']}"
        with open(path, encoding="utf-8") as handle:
            return ok(handle.read())
    return handler


@pytest.mark.parametrize(("query", "expected"), [
    ({"lang": "ar"}, '{"hello": "مرحبا"}'), ({"lang": "ta"}, '{"hello": "வணக்கம்"}'),
    ({"topic": "task"}, "# Todo"), ({"topic": "tasks"}, "# Tasks"),
])
def test_a_short_input_selects_a_bundled_file(task: Path, query: dict, expected: str, records) -> None:
    result = invoke(bundled(task), apigw_v2_event("GET", "/", query=query))
    assert result["body"] == expected
    assert records.detections() == []


@pytest.mark.parametrize(("route", "expected"), [
    ("/static/app.js", "console.log(1)"), ("/static/css/site.css", "body{}"),
])
def test_a_route_mirrored_under_a_bundled_folder(task: Path, route: str, expected: str, records) -> None:
    result = invoke(bundled(task), apigw_v2_event("GET", route))
    assert result["body"] == expected
    assert records.detections() == []


@pytest.mark.parametrize("route", ["/static/../app.py", "/static/css/../../app.py"])
def test_a_route_that_leaves_the_mirrored_folder_is_blocked(task: Path, route: str, records) -> None:
    result = invoke(bundled(task), apigw_v2_event("GET", route))
    assert_blocked(result)
    assert "the function's source" not in result["body"]
    assert records.detections()[0]["rule"] == "file.traversal"


def test_an_input_that_chooses_the_bundled_folder_is_still_blocked(task: Path, records) -> None:
    result = invoke(bundled(task), apigw_v2_event("GET", "/", query={"lang": "../app"}))
    assert_blocked(result)


# ---------------------------------------------------------------- paths the code normalised

NORMALISERS = {
    "abspath": lambda base, name: os.path.abspath(os.path.join(base, name)),
    "normpath": lambda base, name: os.path.normpath(os.path.join(base, name)),
    "realpath": lambda base, name: os.path.realpath(os.path.join(base, name)),
    "Path.resolve": lambda base, name: str((Path(base) / name).resolve()),
    "prefix check without separator": lambda base, name: _prefix_checked(base, name),
}


def _prefix_checked(base: str, name: str) -> str:
    full = os.path.normpath(os.path.join(base, name))
    if not full.startswith(base):  # the bug: /tmp/x/public-old passes a check for /tmp/x/public
        raise PermissionError(full)
    return full


def normalising_reader(public: Path, normalise):
    @protect(policy=policy("block"))
    def handler(event, context):
        body = event.get("queryStringParameters") or {}
        if "Records" in event:
            body = {"name": event["Records"][0]["body"]}
        with open(normalise(str(public), body["name"]), encoding="utf-8") as handle:
            return ok(handle.read())
    return handler


@pytest.fixture
def public(tmp_path: Path) -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "a.txt").write_text("a")
    (tmp_path / "public-old").mkdir()
    (tmp_path / "public-old" / "secret.txt").write_text(SECRET_TEXT)
    (tmp_path / "secret.txt").write_text(SECRET_TEXT)
    return tmp_path / "public"


@pytest.mark.parametrize(("normaliser", "name"), [
    (normaliser, name) for normaliser in NORMALISERS
    for name in ("../secret.txt", "sub/../../secret.txt", "../public-old/secret.txt")
    if "public-old" in name or not normaliser.startswith("prefix")  # that check refuses the others itself
])
def test_a_climb_the_code_normalised_away_is_blocked(public: Path, normaliser: str, name: str, records) -> None:
    handler = normalising_reader(public, NORMALISERS[normaliser])
    result = invoke(handler, apigw_v2_event("GET", "/", query={"name": name}))
    assert_blocked(result)
    assert records.detections()[0]["rule"] == "file.traversal"


def test_a_climb_normalised_away_is_blocked_from_a_queue(public: Path) -> None:
    result = invoke(normalising_reader(public, NORMALISERS["abspath"]), sqs_event("../secret.txt"))
    assert_blocked(result, http=False)


@pytest.mark.parametrize("normaliser", list(NORMALISERS))
@pytest.mark.parametrize("name", ["a.txt", "sub/../a.txt", "./a.txt"])
def test_benign_names_the_code_normalised(public: Path, normaliser: str, name: str, records) -> None:
    (public / "sub").mkdir(exist_ok=True)
    handler = normalising_reader(public, NORMALISERS[normaliser])
    result = invoke(handler, apigw_v2_event("GET", "/", query={"name": name}))
    assert result["body"] == "a"
    assert records.detections() == []


# ---------------------------------------------------------------- sinks that were missing

def sink_handler(public: Path, use):
    @protect(policy=policy("block"))
    def handler(event, context):
        return ok(str(use(public, event["queryStringParameters"]["name"])))
    return handler


def _file_io(public: Path, name: str) -> str:
    with io.FileIO(os.path.join(public, name)) as handle:
        return handle.read().decode()


def _bz2(public: Path, name: str) -> str:
    with bz2.open(os.path.join(public, name), "rb") as handle:
        return handle.read().decode()


def _symlink(public: Path, name: str) -> str:
    os.symlink(name, public / "link")
    return "linked"


def _hard_link(public: Path, name: str) -> str:
    os.link(os.path.join(public, name), public / "link")
    return "linked"


SINKS = {"io.FileIO": _file_io, "bz2.open": _bz2, "os.symlink": _symlink, "os.link": _hard_link}


@pytest.mark.parametrize("sink", list(SINKS))
def test_missing_sinks_are_judged(public: Path, sink: str, records) -> None:
    result = invoke(sink_handler(public, SINKS[sink]), apigw_v2_event("GET", "/", query={"name": "../secret.txt"}))
    assert_blocked(result)
    assert not os.path.lexists(public / "link")
    [record] = records.detections()
    assert record["sink"]["name"] == sink and record["rule"] == "file.traversal"


@pytest.mark.parametrize("opener", [gzip.open, lzma.open, bz2.open], ids=["gzip", "lzma", "bz2"])
def test_compressed_openers_imported_before_protect_are_judged(public: Path, opener, records) -> None:
    # these modules were imported at the top of this file, before any instrumentation
    result = invoke(sink_handler(public, lambda public, name: opener(os.path.join(public, name), "rb").read()),
                    apigw_v2_event("GET", "/", query={"name": "../secret.txt"}))
    assert_blocked(result)
    assert records.detections()[0]["rule"] == "file.traversal"


def test_a_symlink_to_the_environment_is_refused_without_any_input(public: Path) -> None:
    result = invoke(sink_handler(public, lambda public, name: os.symlink("/proc/self/environ", public / "link")),
                    apigw_v2_event("GET", "/", query={"name": "x"}))
    assert_blocked(result)
    assert not os.path.lexists(public / "link")


@pytest.mark.parametrize("sink", list(SINKS))
def test_missing_sinks_allow_benign_names(public: Path, sink: str, records) -> None:
    (public / "a.bz2").write_bytes(bz2.compress(b"a"))
    name = "a.bz2" if sink == "bz2.open" else "a.txt"
    result = invoke(sink_handler(public, SINKS[sink]), apigw_v2_event("GET", "/", query={"name": name}))
    assert result["body"] in ("a", "linked")
    assert records.detections() == []


def test_file_io_is_still_the_class_of_raw_files(public: Path) -> None:
    with open(public / "a.txt", "rb", buffering=0) as raw:
        assert isinstance(raw, io.FileIO) and issubclass(type(raw), io.FileIO)
    assert io.FileIO.__name__ == "FileIO"

    class Counting(io.FileIO, io.RawIOBase):  # a subclass made after instrumentation, with an ABC mixed in
        pass

    with Counting(public / "a.txt") as raw:
        assert raw.read() == b"a" and isinstance(raw, io.FileIO)


# ---------------------------------------------------------------- archives written by the code's own loop

def _zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in names.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpacking(dest: Path, kind: str, normalise: bool):
    """An upload handler that unpacks the archive itself, member by member, without any check."""
    @protect(policy=policy("block"))
    def handler(event, context):
        data = base64.b64decode(event["body"])
        if kind == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [(info.filename, archive.read(info)) for info in archive.infolist()]
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                members = [(info.name, archive.extractfile(info).read()) for info in archive]
        for name, content in members:
            target = os.path.join(dest, name)
            with open(os.path.normpath(target) if normalise else target, "wb") as handle:
                handle.write(content)
        return ok(str(len(members)))
    return handler


def upload(data: bytes) -> dict:
    return apigw_v2_event("POST", "/upload", body=base64.b64encode(data).decode())


@pytest.mark.parametrize("normalise", [False, True], ids=["joined", "normalised"])
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_member_that_climbs_is_not_written_by_the_codes_own_loop(tmp_path: Path, kind: str, normalise: bool,
                                                                    records) -> None:
    dest = tmp_path / "extract"
    dest.mkdir()
    build = _zip if kind == "zip" else _tar
    result = invoke(unpacking(dest, kind, normalise), upload(build({"ok.txt": b"ok", "../evil.txt": b"pwned"})))
    assert_blocked(result)
    assert not (tmp_path / "evil.txt").exists()
    assert records.detections()[0]["rule"] == "file.archive-slip"


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_benign_archives_are_unpacked_by_the_codes_own_loop(tmp_path: Path, kind: str, records) -> None:
    dest = tmp_path / "extract"
    (dest / "dir").mkdir(parents=True)
    build = _zip if kind == "zip" else _tar
    names = {"a.txt": b"a", "dir/b.txt": b"b", "請求書.txt": b"c", "a..b.txt": b"d"}
    result = invoke(unpacking(dest, kind, True), upload(build(names)))
    assert result["body"] == "4"
    assert sorted(p.name for p in dest.rglob("*.txt")) == sorted(["a.txt", "b.txt", "請求書.txt", "a..b.txt"])
    assert records.detections() == []


# ---------------------------------------------------------------- paths parsers read out of an input

def fetching(public: Path):
    """A document fetcher that takes a file: URL for local documents, and a glob for listings."""
    @protect(policy=policy("block"))
    def handler(event, context):
        query = event["queryStringParameters"]
        if "url" in query:
            location = urlparse(query["url"])
            path = os.path.join(public, location.path) if location.scheme == "file" else query["url"]
            with open(path, encoding="utf-8") as handle:
                return ok(handle.read())
        texts = []
        for match in sorted(glob.glob(os.path.join(public, query["pattern"]))):
            with open(match, encoding="utf-8") as handle:
                texts.append(handle.read())
        return ok("|".join(texts))
    return handler


@pytest.mark.parametrize("query", [
    {"url": "file:///SECRET"}, {"url": "file://localhost/SECRET"}, {"url": "file:../secret.txt"},
    {"pattern": "../*.txt"}, {"pattern": "../s?cret.*"}, {"pattern": "../public-old/*"},
])
def test_a_path_parsed_out_of_an_input_is_judged(public: Path, query: dict, records) -> None:
    query = {key: value.replace("/SECRET", str(public.parent / "secret.txt")) for key, value in query.items()}
    result = invoke(fetching(public), apigw_v2_event("GET", "/", query=query))
    assert_blocked(result)
    assert records.detections()[0]["rule"] in ("file.absolute", "file.traversal")


@pytest.mark.parametrize(("query", "body"), [
    ({"url": "file:a.txt"}, "a"), ({"pattern": "*.txt"}, "a"), ({"pattern": "?.txt"}, "a"),
    ({"pattern": "sub/../a.*"}, "a"),
])
def test_benign_parsed_paths(public: Path, query: dict, body: str, records) -> None:
    (public / "sub").mkdir(exist_ok=True)
    result = invoke(fetching(public), apigw_v2_event("GET", "/", query=query))
    assert result["body"] == body
    assert records.detections() == []


# ---------------------------------------------------------------- tar symlink chains, shutil.unpack_archive

TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def _chain_tar() -> bytes:
    """``sub -> .``, then ``sub/sub/esc -> ../outside``: inside on paper, next to the target on disk;
    then a file written through ``esc``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link in (("sub", "."), ("sub/sub/esc", "../outside")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, link
            archive.addfile(info)
        info = tarfile.TarInfo("esc/evil.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"pwned"))
    return buffer.getvalue()


@pytest.mark.parametrize("unpack", ["TarFile.extractall", "shutil.unpack_archive"])
def test_a_symlink_chain_is_resolved_as_the_kernel_does(tmp_path: Path, unpack: str, records) -> None:
    dest, outside = tmp_path / "extract", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    archive = tmp_path / "upload.tar"

    @protect(policy=policy("block"))
    def handler(event, context):
        archive.write_bytes(base64.b64decode(event["body"]))
        if unpack == "shutil.unpack_archive":
            shutil.unpack_archive(archive, dest, **TRUSTED)
        else:
            with tarfile.open(archive) as opened:
                opened.extractall(dest, **TRUSTED)
        return ok("unpacked")

    result = invoke(handler, upload(_chain_tar()))
    assert_blocked(result)
    assert list(outside.iterdir()) == [] and list(dest.iterdir()) == []
    assert "through the archive's own links" in records.detections()[0]["message"]


def test_benign_links_unpack(tmp_path: Path, records) -> None:
    dest = tmp_path / "extract"
    dest.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link in (("current", "v2"), ("lib/libz.so", "libz.so.1")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, link
            archive.addfile(info)
        for name in ("v2/app.py", "lib/libz.so.1"):
            info = tarfile.TarInfo(name)
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))

    @protect(policy=policy("block"))
    def handler(event, context):
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(event["body"]))) as opened:
            opened.extractall(dest, **TRUSTED)
        return ok((dest / "current" / "app.py").read_text())

    assert invoke(handler, upload(buffer.getvalue()))["body"] == "x"
    assert records.detections() == []


def test_shutil_unpack_archive_of_a_zip_skips_climbing_names_without_a_finding(tmp_path: Path, records) -> None:
    dest = tmp_path / "extract"
    dest.mkdir()
    archive = tmp_path / "upload.zip"

    @protect(policy=policy("block"))
    def handler(event, context):
        archive.write_bytes(base64.b64decode(event["body"]))
        shutil.unpack_archive(archive, dest)
        return ok(",".join(sorted(p.name for p in dest.iterdir())))

    result = invoke(handler, upload(_zip({"a.txt": b"a", "../evil.txt": b"pwned"})))
    assert result["body"] == "a.txt"  # shutil drops the climbing name itself: nothing to block
    assert not (tmp_path / "evil.txt").exists()
    assert records.detections() == []
