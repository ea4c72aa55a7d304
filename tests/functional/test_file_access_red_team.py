"""File access against the issue-11 red team: the bypasses found by reading the source, through
``@protect`` and real files.

A ``..`` two inputs wrote together, a relative path the input starts in a sensitive working
directory (``/var/task`` on Lambda, a tmp directory here), a relative prefix the code normalised
away, a glob pattern from the root. Each attack checks the effect (the secret is not in the
response); each has benign neighbours that must pass unchanged.
"""
from __future__ import annotations

import base64
import glob
import io
import os
import tarfile
from pathlib import Path

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import alb_event, apigw_v1_event, apigw_v2_event
from tests.functional.test_filesystem_sinks import SECRET_TEXT, assert_blocked, invoke, ok, policy

SOURCE = f"def handler(event, context): ...  # {SECRET_TEXT}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """public/ (served), secret.txt next to it, and a bundled function (task/) with its source."""
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text(SECRET_TEXT)
    for name, text in {"app.py": SOURCE, "locales/ar.json": '{"hi": "مرحبا"}', "static/site.css": "body{}",
                       "lib/settings.py": SOURCE}.items():
        (tmp_path / "task" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "task" / name).write_text(text, encoding="utf-8")
    return tmp_path


def joining(public: Path):
    """Joins two query parameters without a separator (a folder and a name, a name and an extension)."""
    @protect(policy=policy("block"))
    def handler(event, context):
        query = event["queryStringParameters"]
        with open(f"{public}/{query['a']}{query['b']}", encoding="utf-8") as handle:
            return ok(handle.read())
    return handler


@pytest.mark.parametrize(("a", "b"), [(".", "./secret.txt"), ("./.", "./secret.txt"), ("x.", "./../secret.txt")])
def test_a_dotdot_two_inputs_write_together_is_blocked(tree: Path, a: str, b: str, records) -> None:
    (tree / "public" / "x.").mkdir(exist_ok=True)
    result = invoke(joining(tree / "public"), apigw_v2_event("GET", "/", query={"a": a, "b": b}))
    assert_blocked(result)
    [record] = records.detections()
    assert record["rule"] == "file.traversal"


@pytest.mark.parametrize(("a", "b"), [("sub/.", "./a.txt"), ("a", ".txt"), ("sub/../", "a.txt")])
def test_pieces_that_stay_in_the_folder_pass(tree: Path, a: str, b: str, records) -> None:
    result = invoke(joining(tree / "public"), apigw_v2_event("GET", "/", query={"a": a, "b": b}))
    assert result["body"] == "a"
    assert records.detections() == []


@pytest.mark.parametrize("normalise", [False, True], ids=["joined", "abspath"])
@pytest.mark.parametrize("value", ["..,secret.txt", "..|..|" + "{tree}/secret.txt"])
def test_a_list_joined_as_segments_is_blocked(tree: Path, value: str, normalise: bool, records) -> None:
    """``"/".join(value.split(sep))``: the list's items become the path's segments."""
    public = tree / "public"

    @protect(policy=policy("block"))
    def handler(event, context):
        value = event["queryStringParameters"]["parts"]
        separator = "," if "," in value else "|"
        path = f"{public}/" + "/".join(value.split(separator))
        with open(os.path.abspath(path) if normalise else path, encoding="utf-8") as handle:
            return ok(handle.read())

    result = invoke(handler, apigw_v2_event("GET", "/", query={"parts": value.format(tree=str(tree).lstrip("/"))}))
    assert_blocked(result)
    assert invoke(handler, apigw_v2_event("GET", "/", query={"parts": "sub,..,a.txt"}))["body"] == "a"


def in_the_function(task: Path, build):
    """A handler run, as on Lambda, from its bundle's folder, which the policy declares sensitive."""
    @protect(policy=policy("block", sensitive_paths=[str(task)]))
    def handler(event, context):
        with open(build(event["queryStringParameters"]), encoding="utf-8") as handle:
            return ok(handle.read())
    return handler


RELATIVE_ATTACKS = {
    "open(name)": (lambda q: q["name"], "app.py"),
    "open('./' + name)": (lambda q: "./" + q["name"], "app.py"),
    "open(route) leaving its folder": (lambda q: q["name"], "static/../lib/settings.py"),
    "normpath('static/' + name)": (lambda q: os.path.normpath("static/" + q["name"]), "../app.py"),
    "normpath('static/' + name) deeper": (lambda q: os.path.normpath("static/" + q["name"]), "../lib/settings.py"),
}


@pytest.mark.parametrize("case", list(RELATIVE_ATTACKS))
def test_a_relative_path_into_the_functions_own_files_is_blocked(tree: Path, case: str, monkeypatch, records) -> None:
    monkeypatch.chdir(tree / "task")
    build, name = RELATIVE_ATTACKS[case]
    result = invoke(in_the_function(tree / "task", build), apigw_v2_event("GET", "/", query={"name": name}))
    assert_blocked(result)
    assert records.detections()[0]["rule"] in ("file.sensitive", "file.traversal")


RELATIVE_BENIGN = {
    "locales/{lang}.json": (lambda q: f"locales/{q['name']}.json", "ar", '{"hi": "مرحبا"}'),
    "static/{name}": (lambda q: "static/" + q["name"], "site.css", "body{}"),
    "normpath(static/{name})": (lambda q: os.path.normpath("static/" + q["name"]), "./site.css", "body{}"),
    "./static/{name}": (lambda q: "./static/" + q["name"], "site.css", "body{}"),
    "open(route), a {proxy+} parameter": (lambda q: q["name"], "static/site.css", "body{}"),
}


@pytest.mark.parametrize("case", list(RELATIVE_BENIGN))
def test_bundled_files_chosen_by_a_short_input_pass(tree: Path, case: str, monkeypatch, records) -> None:
    monkeypatch.chdir(tree / "task")
    build, name, expected = RELATIVE_BENIGN[case]
    result = invoke(in_the_function(tree / "task", build), apigw_v2_event("GET", "/", query={"name": name}))
    assert result["body"] == expected
    assert records.detections() == []


RESOLVERS = {"realpath": os.path.realpath, "Path.resolve": lambda path: str(Path(path).resolve())}


@pytest.mark.parametrize("resolver", list(RESOLVERS))
@pytest.mark.parametrize("via", ["proc/self/root{tree}", "proc/thread-self/root{tree}", "proc/self/cwd"])
def test_a_climb_resolved_through_proc_links_is_blocked(tree: Path, resolver: str, via: str, monkeypatch,
                                                        records) -> None:
    """``realpath`` takes ``/proc/self/root/...`` to ``/...``: nothing of the input's text is left."""
    monkeypatch.chdir(tree)
    public = tree / "public"

    @protect(policy=policy("block"))
    def handler(event, context):
        with open(RESOLVERS[resolver](f"{public}/{event['queryStringParameters']['name']}"), encoding="utf-8") as f:
            return ok(f.read())

    name = "../" * (len(public.parts) + 1) + via.format(tree=tree) + "/secret.txt"
    result = invoke(handler, apigw_v2_event("GET", "/", query={"name": name}))
    assert_blocked(result)
    assert records.detections()[0]["rule"] == "file.traversal"
    assert invoke(handler, apigw_v2_event("GET", "/", query={"name": "sub/../a.txt"}))["body"] == "a"


def test_a_home_directory_the_input_names_is_blocked(tree: Path, monkeypatch, records) -> None:
    """``os.path.expanduser(name)``: ``~/.aws/credentials`` is the input's choice of an absolute path."""
    monkeypatch.setenv("HOME", str(tree))

    @protect(policy=policy("block"))
    def handler(event, context):
        with open(os.path.expanduser(event["queryStringParameters"]["name"]), encoding="utf-8") as handle:
            return ok(handle.read())

    assert_blocked(invoke(handler, apigw_v2_event("GET", "/", query={"name": "~/secret.txt"})))
    assert records.detections()[0]["rule"] == "file.absolute"
    monkeypatch.chdir(tree / "public")
    assert invoke(handler, apigw_v2_event("GET", "/", query={"name": "a.txt"}))["body"] == "a"


def globbing():
    """Lists files matching a caller's pattern and returns the first one's text."""
    @protect(policy=policy("block"))
    def handler(event, context):
        found = sorted(glob.glob(event["queryStringParameters"]["pattern"]))
        with open(found[0], encoding="utf-8") as handle:
            return ok(handle.read())
    return handler


@pytest.mark.parametrize("pattern", ["{root}/secre*", "{root}/[s]ecret.txt", "{root}/secret.tx?"])
def test_a_glob_pattern_from_the_root_is_blocked(tree: Path, pattern: str, records) -> None:
    event = alb_event(query={"pattern": pattern.format(root=tree)})
    event["queryStringParameters"]["pattern"] = pattern.format(root=tree)  # as the code reads it, decoded
    result = invoke(globbing(), event)
    assert_blocked(result)
    assert records.detections()[0]["rule"] == "file.absolute"


def test_a_glob_listing_from_the_root_is_blocked(tree: Path, records) -> None:
    """glob lists the pattern's directory (os.scandir) before any file is opened: names disclosed."""
    @protect(policy=policy("block"))
    def handler(event, context):
        return ok("\n".join(glob.glob(event["queryStringParameters"]["pattern"])))

    result = invoke(handler, apigw_v2_event("GET", "/", query={"pattern": f"{tree}/task/*.py"}))
    assert_blocked(result)
    assert "app.py" not in str(result)
    assert records.detections()[0]["sink"]["name"] == "os.scandir"


def test_a_relative_glob_under_the_codes_folder_passes(tree: Path, monkeypatch, records) -> None:
    monkeypatch.chdir(tree / "public")
    result = invoke(globbing(), apigw_v1_event(query={"pattern": "*.txt"}))
    assert result["body"] == "a"
    assert records.detections() == []


def _tar_with_links(members: list[tuple[str, str | None, bytes]]) -> bytes:
    """(name, symlink target or None, data) members, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, link, data in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def linking_unpacker(dest: Path):
    """An upload handler whose own loop recreates the archive's symlinks, then writes files through them."""
    @protect(policy=policy("block"))
    def handler(event, context):
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(event["body"]))) as archive:
            for member in archive:
                target = os.path.join(dest, member.name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if member.issym():
                    os.symlink(member.linkname, target)
                elif member.isfile():
                    with open(target, "wb") as handle:
                        handle.write(archive.extractfile(member).read())
        return ok("unpacked")
    return handler


@pytest.mark.parametrize("link", ["../..", "sub/../../..", "{outside}"])
def test_a_link_member_the_codes_own_loop_plants_out_of_dest_is_blocked(tmp_path: Path, link: str,
                                                                          records) -> None:
    dest, outside = tmp_path / "up" / "extract", tmp_path / "outside"
    dest.mkdir(parents=True)
    outside.mkdir()
    data = _tar_with_links([("ln", link.format(outside=outside), b""), ("ln/pwned.txt", None, b"pwned")])
    result = invoke(linking_unpacker(dest), apigw_v2_event("POST", "/upload", body=base64.b64encode(data).decode()))
    assert_blocked(result)
    assert not os.path.lexists(dest / "ln")
    assert sorted(p.name for p in tmp_path.rglob("pwned.txt")) == []
    assert records.detections()[0]["rule"] == "file.archive-slip"


def test_link_members_that_stay_inside_are_planted(tmp_path: Path, records) -> None:
    dest = tmp_path / "extract"
    dest.mkdir()
    data = _tar_with_links([("d/f.txt", None, b"f"), ("sub/ln", "../d/f.txt", b""), ("top", "d", b""),
                            ("d/g.txt", None, b"g")])
    result = invoke(linking_unpacker(dest), apigw_v2_event("POST", "/upload", body=base64.b64encode(data).decode()))
    assert result["body"] == "unpacked"
    assert (dest / "sub" / "ln").read_text() == "f" and (dest / "top" / "g.txt").read_text() == "g"
    assert records.detections() == []
