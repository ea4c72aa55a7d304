"""End-to-end fixtures: the built layer in an /opt-like directory, runtime interpreters, moto_server.

The layer is built once (layer/build.py caches the zip by the hash of its inputs under
build/layer-cache/) and unpacked once per test session and worker. The runtime
interpreters (build/runtime-envs/py3.X: the real awslambdaric and boto3, not this
project) are created on first use. A Python version this machine lacks is skipped
with a message, except in CI, where it fails.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sam.runtime import environment
from sam.runtime.moto_server import MotoServer

FUNCTION = environment.ROOT / "sam" / "demo" / "function"
PYTHONS = environment.PYTHONS


def runtime_or_skip(version: str) -> str:
    try:
        return environment.runtime_python(version)
    except environment.Unavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error}: CI must run the end-to-end tests on every Python 3.10-3.13")
        pytest.skip(f"{error}: its end-to-end tests are skipped here (CI runs them)")


def host_version() -> str:
    import sys

    return f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def layer_zip() -> Path:
    return environment.build_layer("all", "all")


@pytest.fixture(scope="session")
def opt(layer_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer as Lambda unpacks it into /opt."""
    return environment.unpack_layer(layer_zip, tmp_path_factory.mktemp("lambda") / "opt")


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server
