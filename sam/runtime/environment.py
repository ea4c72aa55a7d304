"""The pieces of a local Lambda environment, built once and cached under build/.

- ``runtime_python(version)``: an interpreter that looks like the managed runtime's: the
  real ``awslambdaric`` for that Python and the packages the runtime ships (boto3), plus
  the demo function's own dependency (Powertools, which ``sam build`` would put in the
  task root); and nothing else: not this project, nor wrapt, sqlparse or PyYAML, which
  must come from the layer. A venv without pip whose ``.pth`` file points at directories
  that pip filled with ``--target`` (compiled wheels for that Python).
- ``build_layer()``: layer/build.py, once per input hash; ``unpack_layer()``: the zip into
  an ``/opt``-like directory, modes kept.
All of it is guarded by a file lock: pytest-xdist workers may ask for the same thing at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BUILD = ROOT / "build"
ENVS = BUILD / "runtime-envs"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# What the managed runtime provides (boto3) and what the demo function needs (Powertools).
SHARED_PACKAGES = ("boto3", "aws-lambda-powertools")


class Unavailable(RuntimeError):
    """A Python version this machine does not have."""


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    BUILD.mkdir(exist_ok=True)
    with open(BUILD / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def find_interpreter(version: str) -> str | None:
    """python3.X on this machine (layer/build.py's search), or this interpreter if it is that version."""
    found = _layer_build().find_interpreter(version)
    if found is None and f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    return found


@functools.lru_cache(maxsize=1)
def _layer_build():
    """layer/build.py as a module: a standalone script (python3 and pip only), so not a package."""
    spec = importlib.util.spec_from_file_location("app_protect_layer_build", ROOT / "layer" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def host_arch() -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]


def _machine() -> str:
    return {"x86_64": "x86_64", "arm64": "aarch64"}[host_arch()]


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def _shared_packages() -> Path:
    shared = ENVS / "shared"
    if not (shared / ".complete").exists():
        shutil.rmtree(shared, ignore_errors=True)
        _pip("install", "--target", str(shared), "--no-compile", "--only-binary=:all:", "--python-version", "3.10",
             *SHARED_PACKAGES)
        (shared / ".complete").touch()
    return shared


def runtime_python(version: str) -> str:
    """The runtime interpreter for python3.X (built on first use); raises Unavailable if absent."""
    base = find_interpreter(version)
    if base is None:
        raise Unavailable(f"python{version} is not installed on this machine")
    env = ENVS / f"py{version}"
    python = env / "venv" / "bin" / "python"
    with locked("runtime-envs"):
        if (env / ".complete").exists() and python.exists():
            return str(python)
        shutil.rmtree(env, ignore_errors=True)
        shared = _shared_packages()
        client = env / "runtime"
        _pip("install", "--target", str(client), "--no-compile", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", version, "--platform", f"manylinux2014_{_machine()}",
             "--platform", f"manylinux_2_17_{_machine()}", "awslambdaric")
        subprocess.run([base, "-m", "venv", "--without-pip", str(env / "venv")], check=True, timeout=120)
        site = env / "venv" / "lib" / f"python{version}" / "site-packages"
        (site / "lambda_runtime.pth").write_text(f"{client}\n{shared}\n")
        # The runtime's own packages come with byte code, as they do on Lambda (where /var/runtime is
        # read-only); the function's processes then run with PYTHONDONTWRITEBYTECODE, like a read-only /opt.
        subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", str(client), str(shared)],
                       check=True, timeout=600, capture_output=True)
        subprocess.run([str(python), "-c", "import awslambdaric.bootstrap, boto3, aws_lambda_powertools"],
                       check=True, timeout=120)
        (env / ".complete").touch()
    return str(python)


def available_pythons() -> list[str]:
    return [v for v in PYTHONS if find_interpreter(v) is not None]


def build_layer(python: str = "all", arch: str = "all", quiet: bool = True) -> Path:
    """The layer zip for these targets (layer/build.py; cached by input hash)."""
    with locked("layer"):
        result = subprocess.run([sys.executable, str(ROOT / "layer" / "build.py"), "--python", python,
                                 "--arch", arch, "--out-dir", str(BUILD / "layer")],
                                capture_output=quiet, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"the layer build failed:\n{result.stdout or ''}{result.stderr or ''}")
    return BUILD / "layer" / f"app-protect-layer-{python}-{arch}.zip"


def unpack_layer(archive: Path, opt: Path) -> Path:
    """Unpack a layer zip the way Lambda does, into ``opt`` (our /opt); returns ``opt``."""
    opt.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            opened.extract(info, opt)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(opt / info.filename, mode)
    return opt
