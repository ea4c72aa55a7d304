"""Native libraries loaded with ctypes from the sandbox's writable space: refused before dlopen runs."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event


def policy(mode: str, **options) -> dict:
    return {"mode": "off", "protections": {"sandbox_persistence": {"mode": mode, **options}}}


def system_library() -> str:
    """A real shared object of this system (zlib, else libc), found the way the loader finds it."""
    for name in ("z", "c"):
        found = ctypes.util.find_library(name)
        if found:
            for folder in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                           "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"):
                if os.path.exists(os.path.join(folder, found)):
                    return os.path.realpath(os.path.join(folder, found))
    pytest.skip("no system shared object found")


def mapped(path: Path) -> bool:
    return str(path) in Path("/proc/self/maps").read_text()


@pytest.fixture
def dropped_library() -> Iterator[Path]:
    """A shared object copied into /tmp at run time, as a function that downloads native code would."""
    folder = Path(tempfile.mkdtemp(prefix="dropped-lib-", dir="/tmp"))
    library = folder / "libpayload.so"
    shutil.copy(system_library(), library)
    yield library
    shutil.rmtree(folder, ignore_errors=True)


LOADERS = [
    ("ctypes.CDLL", lambda path: ctypes.CDLL(str(path))),
    ("ctypes.CDLL", lambda path: ctypes.cdll.LoadLibrary(str(path))),
    ("ctypes.PyDLL", lambda path: ctypes.PyDLL(str(path))),
    ("ctypes.CDLL", lambda path: ctypes.CDLL(path)),  # a PathLike
    ("ctypes.CDLL", lambda path: ctypes.CDLL(f"/proc/self/root{path}")),
]


@pytest.mark.parametrize(("sink", "load"), LOADERS, ids=[str(i) for i in range(len(LOADERS))])
def test_a_library_dropped_in_tmp_is_not_loaded(dropped_library: Path, sink: str, load, records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        load(dropped_library)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert not mapped(dropped_library)  # dlopen never ran
    [record] = records.detections()
    assert record["rule"] == "sandbox.tmp-load" and record["sink"]["name"] == sink


def test_a_library_behind_a_memfd_is_not_loaded(records) -> None:
    descriptor = os.memfd_create("payload")
    try:
        with open(system_library(), "rb") as source:
            os.write(descriptor, source.read())

        @protect(policy=policy("block"))
        def handler(event, context):
            ctypes.CDLL(f"/proc/self/fd/{descriptor}")
            return {"statusCode": 200}

        assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
        assert "memfd:payload" not in Path("/proc/self/maps").read_text()
        assert records.detections()[0]["rule"] == "sandbox.fd-exec"
    finally:
        os.close(descriptor)


def test_report_mode_and_allowed_paths_load_it(dropped_library: Path, records) -> None:
    for options in ({"mode": "report"}, {"mode": "block", "exec_allow_paths": [str(dropped_library.parent)]}):
        @protect(policy=policy(**options))
        def handler(event, context):
            return {"statusCode": 200, "body": str(ctypes.CDLL(str(dropped_library))._handle != 0)}

        assert handler(apigw_v1_event(), LambdaContext())["body"] == "True"
    assert [r["action"] for r in records.detections()] == ["reported"]


def test_system_libraries_load(records) -> None:
    @protect(policy=policy("block"))
    def handler(event, context):
        libc = ctypes.CDLL("libc.so.6")
        found = ctypes.CDLL(ctypes.util.find_library("c"))
        direct = ctypes.CDLL(system_library())
        main = ctypes.CDLL(None)
        return {"statusCode": 200, "body": str(libc.getpid() == found.getpid() == main.getpid() == os.getpid()
                                                and direct._handle != 0)}

    assert handler(apigw_v1_event(), LambdaContext())["body"] == "True"
    assert records.detections() == []


def test_protection_does_not_import_ctypes_or_multiprocessing() -> None:
    code = ("import sys, app_protect_lambda.start\n"
            "from app_protect_lambda import protect\n"
            "protect(mode='block')(lambda e, c: None)\n"
            "print(sorted(m for m in ('ctypes', 'multiprocessing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
