"""Build the app-protect Lambda layer zip.

    python layer/build.py --python 3.12 --arch x86_64        # dist/app-protect-layer-3.12-x86_64.zip
    python layer/build.py --python all --arch all            # one zip for python3.10-3.13 on both architectures
    python layer/build.py --python all --arch all --tree DIR  # also unpack it into DIR (sam build)

The zip holds ``python/`` (our package and the dependencies the Lambda runtime lacks,
installed by pip for each target Python version and architecture, binary wheels only)
and the exec wrapper ``app-protect`` (mode 0755) at the root, so that it lands at
``/opt/app-protect``. Extension modules, when a dependency has any, are named per Python
version and architecture (``_x.cpython-312-aarch64-linux-gnu.so``), so several targets
can share one zip: their pure-Python files must then be identical, and the build checks
that.

The build checks its own output: the layout, the wrapper's mode, that every target has
its compiled modules for the right machine, and that the package imports and protects a
handler under each target interpreter present on this machine. Zips are cached by the
hash of their inputs under build/layer-cache/.

Only the standard library and pip are needed, so any Python 3.8+ with pip can run this.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRAPPER = ROOT / "layer" / "app-protect"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
ARCHES = {"x86_64": ("x86_64", 62), "arm64": ("aarch64", 183)}  # Lambda name: (machine triplet, ELF e_machine)
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
# Dropped from what pip installs: the PyYAML C loader (about 0.7 MB per target; the policy is parsed once
# with yaml.safe_load, which uses the pure-Python loader anyway), byte code (compiled afresh, see
# compile_bytecode), console scripts.
STRIP_DIRS = ("__pycache__", "_yaml", "bin")
STRIP_GLOBS = ("yaml/_yaml.*.so",)
# Shipped as source only (paths under python/): what a function never imports on Lambda (the CLI, the
# test helpers), and what only an attack's path imports: sqlparse and our sql_tokens are the SQL
# detector's second stage, where compiling them costs ~35 ms once per sandbox (65 ms instead of 30 ms
# for sqlparse's first parse). Their byte code for four Pythons was ~430 kB of the zip.
SOURCE_ONLY = ("sqlparse/", "app_protect_lambda/cli.py", "app_protect_lambda/testing.py",
               "app_protect_lambda/detectors/sql_tokens.py")


def log(message: str) -> None:
    print(f"layer: {message}", flush=True)


def parse_targets(pythons: str, arches: str) -> list[tuple[str, str]]:
    versions = []
    for item in pythons.split(","):
        item = item.strip().removeprefix("python")
        if item == "all":
            versions.extend(PYTHONS)
        elif item in PYTHONS:
            versions.append(item)
        else:
            raise SystemExit(f"layer: unsupported Python version {item!r}; expected one of {', '.join(PYTHONS)}"
                             " or all")
    archs = []
    for item in arches.split(","):
        item = {"aarch64": "arm64", "amd64": "x86_64"}.get(item.strip(), item.strip())
        if item == "all":
            archs.extend(ARCHES)
        elif item in ARCHES:
            archs.append(item)
        else:
            raise SystemExit(f"layer: unsupported architecture {item!r}; expected x86_64, arm64 or all")
    return [(v, a) for a in dict.fromkeys(archs) for v in dict.fromkeys(versions)]


def source_files() -> list[Path]:
    files = [ROOT / "pyproject.toml", WRAPPER, Path(__file__).resolve()]
    for path in sorted((ROOT / "src" / "app_protect_lambda").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files.append(path)
    return files


def input_hash(targets: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256(repr(targets).encode())
    for path in source_files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"layer: pip failed: {' '.join(args[:1])} (exit {result.returncode})")


def installed_versions(target: Path) -> dict[str, str]:
    versions = {}
    for info in target.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        versions[name] = version
    return versions


def install_target(wheel: Path, version: str, arch: str, into: Path, pins: dict[str, str] | None) -> None:
    machine = ARCHES[arch][0]
    requirements = [str(wheel)]
    if pins:
        requirements += [f"{name}=={ver}" for name, ver in sorted(pins.items()) if not wheel.name.startswith(name)]
    pip("install", "--target", str(into), "--no-compile", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", version, "--platform", f"manylinux2014_{machine}",
        "--platform", f"manylinux_2_17_{machine}", *(["--no-deps"] if pins else []), *requirements)
    for name in STRIP_DIRS:
        for path in list(into.rglob(name)):
            if path.is_dir():
                shutil.rmtree(path)
    for pattern in STRIP_GLOBS:
        for path in into.glob(pattern):
            path.unlink()


def merge(source: Path, into: Path, label: str) -> None:
    """Copy ``source`` over ``into``; shared pure-Python files must be identical."""
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(source)
        destination = into / relative
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        elif ".dist-info" in relative.parts[0]:
            continue  # WHEEL and RECORD name the first target's tags; the files they describe are checked here
        elif destination.read_bytes() != path.read_bytes():
            raise SystemExit(f"layer: {relative} differs for {label}; build that target in its own zip")


def compile_bytecode(tree: Path, versions: list[str]) -> None:
    """Byte code for each target Python: /opt is read-only on Lambda, so without it every cold
    start compiles our modules from source (about 85 ms for the demo function on python3.12).
    ``SOURCE_ONLY`` packages get none.

    ``unchecked-hash`` pyc files are used without looking at the source's mtime, which the zip
    does not keep anyway. A version whose interpreter this machine lacks gets no byte code.
    """
    for version in dict.fromkeys(versions):
        interpreter = find_interpreter(version)
        if interpreter is None:
            log(f"python{version} is not on this machine: no byte code for it (cold starts compile from source)")
            continue
        skip = "|".join(re.escape(path) for path in SOURCE_ONLY)
        subprocess.run([interpreter, "-I", "-m", "compileall", "-q", "-d", "/opt/python",
                        "--invalidation-mode", "unchecked-hash", "-x", rf"/python/({skip})", str(tree)],
                       check=True, capture_output=True, timeout=300)


def write_zip(tree: Path, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        entry = zipfile.ZipInfo("app-protect", ZIP_TIME)
        entry.external_attr = (stat.S_IFREG | 0o755) << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, WRAPPER.read_bytes())
        for path in sorted(tree.rglob("*")):
            if not path.is_file():
                continue
            entry = zipfile.ZipInfo(str(Path("python") / path.relative_to(tree)), ZIP_TIME)
            entry.external_attr = (stat.S_IFREG | 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    partial.replace(output)


def build(targets: list[tuple[str, str]], work: Path) -> Path:
    wheels = work / "wheel"
    pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(ROOT))
    wheel = next(wheels.glob("app_protect_lambda-*.whl"))
    tree = work / "python"
    tree.mkdir()
    pins: dict[str, str] | None = None
    for version, arch in targets:
        label = f"python{version} {arch}"
        log(f"installing for {label}")
        staging = work / f"{version}-{arch}"
        install_target(wheel, version, arch, staging, pins)
        if pins is None:
            pins = installed_versions(staging)
        merge(staging, tree, label)
    compile_bytecode(tree, [version for version, _ in targets])
    archive = work / "layer.zip"
    write_zip(tree, archive)
    return archive


# ---------------------------------------------------------------- checks

def find_interpreter(version: str) -> str | None:
    """The python3.X of this machine: on PATH, or under pyenv's versions."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")))
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    if found and f"{os.sep}shims{os.sep}" not in found:  # a pyenv shim may name a version it cannot run
        return found
    return None


def host_arch() -> str | None:
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)


def elf_machine(data: bytes) -> int | None:
    if data[:4] != b"\x7fELF":
        return None
    order = "little" if data[5] == 1 else "big"
    return int.from_bytes(data[18:20], order)


IMPORT_CHECK = textwrap.dedent("""
    import importlib, os, sys
    layer = sys.argv[1]
    python = os.path.join(layer, "python")
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], python]
    for entry in sorted(os.listdir(python)):
        name = entry[:-3] if entry.endswith(".py") else entry
        package = os.path.exists(os.path.join(python, entry, "__init__.py"))
        if name.isidentifier() and (entry.endswith(".py") or package):
            module = importlib.import_module(name)
            assert module.__file__.startswith(layer), module.__file__
    if os.path.isdir(os.path.join(python, "yaml")):
        import yaml
        assert yaml.safe_load("mode: block") == {"mode": "block"}
    import app_protect_lambda.bootstrap as bootstrap
    assert bootstrap.handler({"ping": 1}, None) == {"pong": 1}
    from app_protect_lambda.sinks.patching import is_patched
    assert is_patched(os.system), "the exec wrapper did not instrument the sinks"
    print("ok")
""")


def extension_family(name: str) -> str | None:
    """``python/x/_y.cpython-312-x86_64-linux-gnu.so`` -> ``python/x/_y``; None for other files."""
    if not name.endswith(".so"):
        return None
    return name.split(".cpython-")[0] if ".cpython-" in name else name[:-3]


def check(archive: Path, targets: list[tuple[str, str]]) -> None:
    with zipfile.ZipFile(archive) as opened:
        entries = {info.filename: info for info in opened.infolist()}
        wrapper = entries.get("app-protect")
        if wrapper is None or (wrapper.external_attr >> 16) & 0o777 != 0o755:
            raise SystemExit("layer check: app-protect is missing from the zip root or is not mode 0755")
        strays = [name for name in entries if name != "app-protect" and not name.startswith("python/")]
        if strays:
            raise SystemExit(f"layer check: files outside python/: {strays[:5]}")
        for required in ("python/app_protect_lambda/__init__.py", "python/app_protect_lambda/bootstrap.py"):
            if required not in entries:
                raise SystemExit(f"layer check: {required} is missing")
        # Every compiled module must be there for every target, built for the target's machine.
        families = {family for family in map(extension_family, entries) if family}
        for version, arch in targets:
            machine, elf = ARCHES[arch]
            tag = f".cpython-{version.replace('.', '')}-{machine}-linux-gnu.so"
            for family in sorted(families):
                name = family + tag
                if name not in entries and f"{family}.abi3.so" not in entries:
                    raise SystemExit(f"layer check: {name} is missing for python{version} {arch}")
                if name in entries and elf_machine(opened.read(name)[:20]) != elf:
                    raise SystemExit(f"layer check: {name} is not built for {arch}")
        if families:
            log(f"compiled modules for every target: {', '.join(sorted(f.split('/', 1)[1] for f in families))}")
        else:
            log("pure Python: no compiled modules")
        with tempfile.TemporaryDirectory(prefix="app-protect-layer-check-") as scratch:
            opt = Path(scratch, "opt")
            opened.extractall(opt)
            task = Path(scratch, "task")
            task.mkdir()
            (task / "layer_check.py").write_text("def handler(event, context):\n    return {'pong': event['ping']}\n")
            # Compiled modules only load on their own machine; a pure-Python layer is checked for every target.
            for version in dict.fromkeys(v for v, a in targets if a == host_arch() or not families):
                interpreter = find_interpreter(version)
                if interpreter is None:
                    log(f"python{version} is not on this machine: import check skipped for it")
                    continue
                environment = {"PATH": os.environ.get("PATH", ""), "LAMBDA_TASK_ROOT": str(task),
                               "APP_PROTECT_HANDLER": "layer_check.handler", "APP_PROTECT_MODE": "block"}
                result = subprocess.run([interpreter, "-I", "-S", "-c", IMPORT_CHECK, str(opt)], env=environment,
                                        capture_output=True, text=True, timeout=120)
                if result.returncode != 0 or result.stdout.strip() != "ok":
                    sys.stderr.write(result.stdout + result.stderr)
                    raise SystemExit(f"layer check: the layer does not import under {interpreter}")
                log(f"imports and protects a handler under python{version} ({interpreter})")


def copy_atomically(source: Path, destination: Path) -> None:
    """Readers of ``destination`` (another build, a test unpacking it) never see half a zip."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def prune(cache: Path, keep: int) -> None:
    entries = sorted(cache.glob("*.zip"), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        stale.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="3.12", help="3.10, 3.11, 3.12, 3.13, a comma list, or all")
    parser.add_argument("--arch", default="x86_64", help="x86_64, arm64, or all")
    parser.add_argument("--out-dir", default=str(ROOT / "dist"), help="where the zip is written")
    parser.add_argument("--tree", help="also unpack the layer into this directory (sam build's ARTIFACTS_DIR)")
    parser.add_argument("--cache-dir", default=str(ROOT / "build" / "layer-cache"))
    parser.add_argument("--no-cache", action="store_true")
    options = parser.parse_args(argv)

    targets = parse_targets(options.python, options.arch)
    label = f"{options.python.removeprefix('python').replace(',', '+')}-{options.arch.replace(',', '+')}"
    output = Path(options.out_dir) / f"app-protect-layer-{label}.zip"
    cached = Path(options.cache_dir) / f"{input_hash(targets)}.zip"
    if cached.exists() and not options.no_cache:
        log(f"up to date: {cached.name}")
        os.utime(cached)  # recently used: kept by prune()
    else:
        with tempfile.TemporaryDirectory(prefix="app-protect-layer-") as work:
            archive = build(targets, Path(work))
            check(archive, targets)
            copy_atomically(archive, cached)
            prune(cached.parent, keep=8)
    copy_atomically(cached, output)
    if options.tree:
        tree = Path(options.tree)
        tree.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output) as opened:
            for info in opened.infolist():
                opened.extract(info, tree)
                os.chmod(tree / info.filename, (info.external_attr >> 16) & 0o777 or 0o644)
    size = output.stat().st_size
    log(f"{output} ({size / 1024:.0f} KiB, {size:,} bytes) for "
        + ", ".join(f"python{v}/{a}" for v, a in targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
