"""File sinks: open, io.FileIO, os.open, pathlib, directory listing, shutil, remove/rename, links,
archive extraction.

``builtins.open`` and ``io.open`` (one function) are replaced by a plain
function whose no-invocation path is one context lookup; the Python runtime's
own reads (imports go through ``io.open_code``, not ``open``) never reach it,
and reads of this package's own files are exempt from the policy's deny rules.
Paths may be str, bytes, os.PathLike or a file descriptor (not a path: allowed).

A high-level sink (``pathlib.Path.open``, ``shutil.copy``, ``ZipFile.extractall``)
checks its paths once under its own name; the ``open``/``os.*`` calls it makes
inside are not checked again. Archive extraction checks every member before
anything is written: a member that would land outside the target directory, or
a link member pointing outside it, is a zip-slip. ``zipfile`` itself drops
``..`` from member names, so there the finding records the attempt; ``tarfile``
before Python 3.14 (without ``filter="data"``) would follow it.
"""
from __future__ import annotations

import os
import posixpath
from contextvars import ContextVar

from ..context import current
from ..detectors.file_access import FileAccess, Gate, Member, rules_for
from ..findings import AttackKind
from ..guard import failsafe, inspect
from ..policy import Mode
from .base import Instrumentor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    from ..context import RequestContext
    from .patching import Wrapper

    Paths = Callable[[tuple, dict], list[tuple[Any, bool, int | None]]]
    Extraction = Callable[[Any, tuple, dict], tuple[Any, list[Member]]]

KIND = AttackKind.FILE_ACCESS

_inside: ContextVar[bool] = ContextVar("app_protect_file_inside", default=False)


def _call_inside(wrapped: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Call a high-level sink's original; the lower-level sinks it reaches are not judged again."""
    token = _inside.set(True)
    try:
        return wrapped(*args, **kwargs)
    finally:
        _inside.reset(token)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def path_text(value: Any) -> str | None:
    """The path a sink argument names, or None for a file descriptor or an unknown type."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return None
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(value))
    try:
        return os.fsdecode(os.fspath(value))
    except TypeError:
        return None


@failsafe(KIND)
def check_path(context: RequestContext, sink: str, value: Any, write: bool | str, dir_fd: int | None = None) -> None:
    """Judge one path before ``sink`` uses it.

    ``write`` may be an ``open()`` mode, read only when the path is not cleared by the fast path.
    """
    path = value if type(value) is str else path_text(value)
    if path is None:
        return
    gate = context.files
    if gate is None:
        gate = file_gate(context)
    if gate is False:
        return
    if dir_fd is not None and not path.startswith("/"):
        path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
    if gate.clear(path):
        return
    if type(write) is not bool:
        write = _is_write(write)
    inspect(KIND, sink, FileAccess(path, write, names=gate.archive_names), argument=path, context=context)


def file_gate(context: RequestContext) -> Gate | Literal[False]:
    """Per invocation: False when the protection is off, else the fast path's gate."""
    policy = context.policy
    gate: Gate | Literal[False] = False
    if policy.mode_for(KIND) is not Mode.OFF:
        gate = Gate(rules_for(policy.options(KIND)), context.inputs)
    context.files = gate
    return gate


def _is_write(mode: Any) -> bool:
    return isinstance(mode, str) and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)


# ---------------------------------------------------------------- open, io.open, os.open

class Open(Instrumentor):
    """``builtins.open`` and ``io.open``, with a plain function for the hot path."""

    module = "builtins"

    def patch(self, module: Any) -> None:
        import io

        original = module.open

        def open(file, mode="r", *args, **kwargs):
            context = current()
            if context is not None and not _inside.get():
                check_path(context, "builtins.open", file, mode)
            return original(file, mode, *args, **kwargs)

        open.__wrapped__ = original  # type: ignore[attr-defined]
        open.__doc__ = original.__doc__
        self.replace(module, "open", open)
        if io.open is original:
            self.replace(io, "open", open)


class FileIO(Instrumentor):
    """``io.FileIO``, the raw file ``open`` builds on, opened directly: a subclass that checks the path
    first, which ``isinstance`` and ``issubclass`` take for the original class."""

    module = "io"

    def patch(self, module: Any) -> None:
        self.replace(module, "FileIO", _checked_file_io(module.FileIO))


def _checked_file_io(original: type) -> type:
    from abc import ABCMeta  # loaded with io; a subclass mixing in io.RawIOBase (ABCMeta) has no metaclass conflict

    class SameAsOriginal(ABCMeta):
        def __instancecheck__(cls, instance: Any) -> bool:
            return isinstance(instance, original)

        def __subclasscheck__(cls, subclass: type) -> bool:
            return issubclass(subclass, original)

    class CheckedFileIO(original, metaclass=SameAsOriginal):
        __doc__ = original.__doc__

        def __init__(self, file: Any, mode: str = "r", closefd: bool = True, opener: Any = None) -> None:
            context = current()
            if context is not None and not _inside.get():
                check_path(context, "io.FileIO", file, mode)
            super().__init__(file, mode, closefd, opener)

    CheckedFileIO.__module__ = original.__module__
    CheckedFileIO.__name__ = CheckedFileIO.__qualname__ = original.__name__
    return CheckedFileIO


class BoundOpen(Instrumentor):
    """A module that bound ``builtins.open`` by value when it was imported (``bz2``'s
    ``_builtin_open``): imported before instrumentation, it holds the unpatched built-in."""

    module = "bz2"

    def patch(self, module: Any) -> None:
        original = getattr(module, "_builtin_open", None)
        if original is None or hasattr(original, "__wrapped__"):  # absent, or our open (imported after us)
            return
        sink = f"{self.module}.open"

        def bound_open(file, mode="r", *args, **kwargs):
            context = current()
            if context is not None and not _inside.get():
                check_path(context, sink, file, mode)
            return original(file, mode, *args, **kwargs)

        bound_open.__wrapped__ = original  # type: ignore[attr-defined]
        self.replace(module, "_builtin_open", bound_open)

    def patched_functions(self) -> dict[int, tuple[Any, Any]]:
        return {}  # names bound to the built-in open elsewhere are the Open instrumentor's to rebind


class BoundOpenLzma(BoundOpen):
    module = "lzma"


class BoundOpenGzip(BoundOpen):
    module = "gzip"


class OSFiles(Instrumentor):
    module = "os"

    def patch(self, module: Any) -> None:
        original_open = module.open

        def os_open(path, flags, mode=0o777, *, dir_fd=None):
            context = current()
            if context is not None and not _inside.get():
                check_path(context, "os.open", path, bool(flags & _WRITE_FLAGS), dir_fd)
            return original_open(path, flags, mode, dir_fd=dir_fd)

        os_open.__wrapped__ = original_open  # type: ignore[attr-defined]
        os_open.__doc__ = original_open.__doc__
        self.replace(module, "open", os_open)
        for name in ("listdir", "scandir"):
            self.wrap(module, name, _paths_sink(f"os.{name}", _listing))
        for name in ("remove", "unlink", "rmdir"):
            self.wrap(module, name, _paths_sink(f"os.{name}", _first_written))
        for name in ("rename", "replace"):
            self.wrap(module, name, _paths_sink(f"os.{name}", _both_written))
        self.wrap(module, "symlink", _paths_sink("os.symlink", _symlinked))
        self.wrap(module, "link", _paths_sink("os.link", _hard_linked))


def _listing(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    path = args[0] if args else kwargs.get("path")
    return [("." if path is None else path, False, None)]


def _first_written(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    return [(args[0] if args else kwargs["path"], True, kwargs.get("dir_fd"))]


def _both_written(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    src = args[0] if args else kwargs["src"]
    dst = args[1] if len(args) > 1 else kwargs["dst"]
    return [(src, True, kwargs.get("src_dir_fd")), (dst, True, kwargs.get("dst_dir_fd"))]


def _symlinked(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    """A symlink's target, judged as a read through the link, relative to the link's directory; the link
    itself as a write. Planting ``/tmp/x -> /proc/self/environ`` is refused here: paths outside ``/proc``
    and ``/dev`` are not resolved through links when they are opened."""
    target = args[0] if args else kwargs["src"]
    link = args[1] if len(args) > 1 else kwargs["dst"]
    target_text, link_text = path_text(target), path_text(link)
    if target_text is not None and link_text is not None and not target_text.startswith("/"):
        target = os.path.join(os.path.dirname(link_text), target_text)
    return [(target, False, None), (link, True, kwargs.get("dir_fd"))]


def _hard_linked(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    src = args[0] if args else kwargs["src"]
    dst = args[1] if len(args) > 1 else kwargs["dst"]
    return [(src, False, kwargs.get("src_dir_fd")), (dst, True, kwargs.get("dst_dir_fd"))]


def _read_then_write(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    src = args[0] if args else kwargs["src"]
    dst = args[1] if len(args) > 1 else kwargs["dst"]
    return [(src, False, None), (dst, True, None)]


def _moved(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    return [(path, True, fd) for path, _, fd in _read_then_write(args, kwargs)]


def _removed_tree(args: tuple, kwargs: dict) -> list[tuple[Any, bool, int | None]]:
    return [(args[0] if args else kwargs["path"], True, kwargs.get("dir_fd"))]


@failsafe(KIND)
def _check_paths(context: RequestContext, sink: str, paths: Paths, args: tuple, kwargs: dict) -> None:
    for value, write, dir_fd in paths(args, kwargs):
        check_path(context, sink, value, write, dir_fd)


def _paths_sink(sink: str, paths: Paths) -> Wrapper:
    """A wrapper checking the paths of a call once, then calling through with ``_inside`` set."""
    def wrapper(wrapped, instance, args, kwargs):
        context = current()
        if _inside.get() or context is None:
            return wrapped(*args, **kwargs)
        _check_paths(context, sink, paths, args, kwargs)
        return _call_inside(wrapped, args, kwargs)
    return wrapper


# ---------------------------------------------------------------- pathlib, shutil

class Pathlib(Instrumentor):
    """``Path.open`` (which read_text/write_bytes... go through); Python 3.10 bound io.open at import."""

    module = "pathlib"

    def patch(self, module: Any) -> None:
        def wrapper(wrapped, instance, args, kwargs):
            context = current()
            if _inside.get() or context is None:
                return wrapped(*args, **kwargs)
            mode = args[0] if args else kwargs.get("mode", "r")
            check_path(context, "pathlib.Path.open", instance, mode)
            return _call_inside(wrapped, args, kwargs)

        self.wrap(module.Path, "open", wrapper)


class Shutil(Instrumentor):
    module = "shutil"

    def patch(self, module: Any) -> None:
        for name in ("copyfile", "copy", "copy2", "copytree"):
            self.wrap(module, name, _paths_sink(f"shutil.{name}", _read_then_write))
        self.wrap(module, "move", _paths_sink("shutil.move", _moved))
        self.wrap(module, "rmtree", _paths_sink("shutil.rmtree", _removed_tree))


# ---------------------------------------------------------------- archives

@failsafe(KIND)
def _check_extraction(context: RequestContext, sink: str, target: Extraction, archive: Any, args: tuple,
                      kwargs: dict) -> None:
    root, members = target(archive, args, kwargs)
    path = path_text(root) or "."
    inspect(KIND, sink, FileAccess(path, True, members=members), argument=path, context=context)


def _extraction_sink(sink: str, target: Extraction) -> Wrapper:
    def wrapper(wrapped, instance, args, kwargs):
        context = current()
        if _inside.get() or context is None:
            return wrapped(*args, **kwargs)
        _check_extraction(context, sink, target, instance, args, kwargs)
        return _call_inside(wrapped, args, kwargs)
    return wrapper


def _zip_member(member: Any) -> Member:
    return Member(getattr(member, "filename", member))


def _zip_extract(archive: Any, args: tuple, kwargs: dict) -> tuple[Any, list[Member]]:
    member = args[0] if args else kwargs["member"]
    root = args[1] if len(args) > 1 else kwargs.get("path")
    return root or os.getcwd(), [_zip_member(member)]


def _zip_extractall(archive: Any, args: tuple, kwargs: dict) -> tuple[Any, list[Member]]:
    root = args[0] if args else kwargs.get("path")
    members = args[1] if len(args) > 1 else kwargs.get("members")
    return root or os.getcwd(), [_zip_member(m) for m in (archive.namelist() if members is None else members)]


def _tar_member(archive: Any, member: Any) -> Member:
    info = archive.getmember(member) if isinstance(member, str) else member
    if info.issym():
        return Member(info.name, info.linkname)
    if info.islnk():
        return Member(info.name, info.linkname, hardlink=True)
    return Member(info.name)


def _tar_extract(archive: Any, args: tuple, kwargs: dict) -> tuple[Any, list[Member]]:
    member = args[0] if args else kwargs["member"]
    root = args[1] if len(args) > 1 else kwargs.get("path", "")
    return root or os.getcwd(), [_tar_member(archive, member)]


def _tar_extractall(archive: Any, args: tuple, kwargs: dict) -> tuple[Any, list[Member]]:
    root = args[0] if args else kwargs.get("path", ".")
    members = args[1] if len(args) > 1 else kwargs.get("members")
    chosen = archive.getmembers() if members is None else members
    return root or os.getcwd(), [_tar_member(archive, m) for m in chosen]


@failsafe(KIND)
def _members_read(context: RequestContext, names: list[str]) -> None:
    gate = context.files
    if gate is None:
        gate = file_gate(context)
    if gate is not False:
        for name in names:
            gate.read_member(name)


def _zip_contents_read(wrapped, instance, args, kwargs):
    """After a ZipFile read its central directory: remember the names that climb, for the code's
    own extraction loop (``for info in archive.infolist(): open(join(dest, info.filename), "wb")``)."""
    result = wrapped(*args, **kwargs)
    context = current()
    if context is not None:
        _members_read(context, [info.filename for info in getattr(instance, "filelist", ())])
    return result


def _tar_member_read(wrapped, instance, args, kwargs):
    """After a TarFile read one more member (iteration, ``getmembers``): remember its name if it climbs,
    and where a link member points, from the archive's root, if that climbs or is absolute: the code's
    own loop (``os.symlink(m.linkname, join(dest, m.name))``) would plant a link out of ``dest``
    (``ln -> ../..``, then ``ln/x`` writes above it). A link that stays inside (``sub/ln -> ../d/f``)
    is not remembered."""
    info = wrapped(*args, **kwargs)
    context = current()
    if context is not None and info is not None:
        names = [info.name]
        link = getattr(info, "linkname", "")
        if link and info.issym():
            names.append(link if link.startswith("/") else
                         posixpath.normpath(posixpath.join(posixpath.dirname(info.name), link)))
        elif link and info.islnk():
            names.append(link)
        _members_read(context, names)
    return info


class Zipfile(Instrumentor):
    module = "zipfile"

    def patch(self, module: Any) -> None:
        self.wrap(module.ZipFile, "extract", _extraction_sink("zipfile.ZipFile.extract", _zip_extract))
        self.wrap(module.ZipFile, "extractall", _extraction_sink("zipfile.ZipFile.extractall", _zip_extractall))
        self.wrap(module.ZipFile, "_RealGetContents", _zip_contents_read)


class Tarfile(Instrumentor):
    module = "tarfile"

    def patch(self, module: Any) -> None:
        self.wrap(module.TarFile, "extract", _extraction_sink("tarfile.TarFile.extract", _tar_extract))
        self.wrap(module.TarFile, "extractall", _extraction_sink("tarfile.TarFile.extractall", _tar_extractall))
        self.wrap(module.TarFile, "next", _tar_member_read)


INSTRUMENTORS = [Open, FileIO, BoundOpen, BoundOpenLzma, BoundOpenGzip, OSFiles, Pathlib, Shutil, Zipfile,
                 Tarfile]
