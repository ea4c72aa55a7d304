"""The layer zip and the exec wrapper script, as files: layout, modes, byte code, size budget, env handling."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from sam.runtime import environment

ROOT = environment.ROOT
WRAPPER = ROOT / "layer" / "app-protect"
# Bytes per zip. One zip carries byte code for four Python versions (about 80% of it); issue 10's coverage
# (transformed inputs, new triggers, decoders, early connections) and issue 11's detector depth took it
# past the 2 MiB this was (2.18 MB): 3 MiB keeps it far under Lambda's 50 MB zipped limit.
BUDGET = 3 * 1024 * 1024


def load_build_module():
    spec = importlib.util.spec_from_file_location("layer_build", ROOT / "layer" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_layout(archive: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as opened:
        entries = {info.filename: info for info in opened.infolist()}
        assert opened.read("app-protect") == WRAPPER.read_bytes()
    assert (entries["app-protect"].external_attr >> 16) & 0o777 == 0o755
    assert all(name == "app-protect" or name.startswith("python/") for name in entries)
    assert "python/app_protect_lambda/bootstrap.py" in entries
    assert "python/app_protect_lambda/rules/payload.json" in entries  # package data: the payload rule pack
    if "PyYAML" in (ROOT / "pyproject.toml").read_text():  # a dependency the runtime lacks: it must ship
        assert "python/yaml/__init__.py" in entries
    assert not any(name.startswith(("python/bin/", "python/_yaml/")) for name in entries)
    assert not any("/tests/" in name for name in entries)
    return entries


def versions_with_bytecode(entries: dict[str, zipfile.ZipInfo]) -> set[str]:
    found = set()
    for name in entries:
        if name.startswith("python/app_protect_lambda/__pycache__/bootstrap.cpython-"):
            found.add(name.split("cpython-")[1].split(".")[0])
    return found


def test_the_published_zip_serves_every_python_and_stays_within_budget(layer_zip: Path) -> None:
    entries = check_layout(layer_zip)
    assert layer_zip.stat().st_size <= BUDGET
    present = {version.replace(".", "") for version in environment.available_pythons()}
    assert versions_with_bytecode(entries) == present


def test_one_runtime_zip_has_only_its_own_bytecode() -> None:
    if environment.find_interpreter("3.12") is None:
        pytest.skip("python3.12 is not on this machine")
    archive = environment.build_layer("3.12", "arm64")
    entries = check_layout(archive)
    assert archive.name == "app-protect-layer-3.12-arm64.zip"
    assert archive.stat().st_size <= BUDGET
    assert versions_with_bytecode(entries) == {"312"}


@pytest.mark.parametrize(("python", "arch", "message"), [
    ("3.9", "x86_64", "unsupported Python version '3.9'"),
    ("3.12", "s390x", "unsupported architecture 's390x'"),
])
def test_build_refuses_targets_lambda_does_not_offer(python: str, arch: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        load_build_module().parse_targets(python, arch)


def test_build_target_spellings() -> None:
    parse = load_build_module().parse_targets
    assert parse("python3.12", "aarch64") == [("3.12", "arm64")]
    assert parse("all", "x86_64") == [(v, "x86_64") for v in ("3.10", "3.11", "3.12", "3.13")]
    assert len(parse("3.11,3.12", "all")) == 4


# ---------------------------------------------------------------- the exec wrapper script

def run_wrapper(env: dict[str, str], wrapper: Path = WRAPPER) -> dict[str, str]:
    """Run ``app-protect env`` (the wrapper then execs ``env``) and parse what it exported."""
    result = subprocess.run([str(wrapper), "env", "-0"], env={"PATH": os.environ["PATH"], **env},
                            capture_output=True, timeout=10, check=True)
    pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


def test_wrapper_moves_the_handler_and_points_the_runtime_at_the_bootstrap() -> None:
    exported = run_wrapper({"_HANDLER": "src/app.handler"})
    assert exported["APP_PROTECT_HANDLER"] == "src/app.handler"
    assert exported["_HANDLER"] == "app_protect_lambda.bootstrap.handler"
    assert "PYTHONPATH" not in exported  # unset stays unset: the runtime then adds /opt/python itself


def test_wrapper_run_twice_keeps_the_users_handler() -> None:
    once = run_wrapper({"_HANDLER": "app.handler"})
    twice = run_wrapper({"_HANDLER": once["_HANDLER"], "APP_PROTECT_HANDLER": once["APP_PROTECT_HANDLER"]})
    assert twice["APP_PROTECT_HANDLER"] == "app.handler"


def test_wrapper_appends_the_layer_to_a_pythonpath_the_function_set(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    opt.mkdir()
    wrapper = opt / "app-protect"
    wrapper.write_bytes(WRAPPER.read_bytes())
    wrapper.chmod(0o755)
    exported = run_wrapper({"_HANDLER": "app.handler", "PYTHONPATH": "/var/task/vendor"}, wrapper)
    assert exported["PYTHONPATH"] == f"/var/task/vendor:{opt}/python"
    again = run_wrapper({"_HANDLER": "app.handler", "PYTHONPATH": exported["PYTHONPATH"]}, wrapper)
    assert again["PYTHONPATH"] == exported["PYTHONPATH"]


def test_wrapper_passes_arguments_and_exit_status_through(tmp_path: Path) -> None:
    result = subprocess.run([str(WRAPPER), "sh", "-c", 'printf "%s|" "$@"; exit 7', "sh", "a b", "", "c"],
                            env={"PATH": os.environ["PATH"], "_HANDLER": "app.handler"}, capture_output=True,
                            timeout=10)
    assert result.returncode == 7
    assert result.stdout == b"a b||c|"
