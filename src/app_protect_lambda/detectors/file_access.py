"""Illegal file access: paths an input steers, paths the policy denies, archive members that escape.

An input that occurs in a path is an attack when it

- makes the path climb: after normalisation the path leaves the directory the
  code had fixed before the input (``/tmp/uploads/`` + ``../../var/task/app.py``),
  with backslashes read as separators when the input uses them;
- is itself an absolute path that the path starts with (``os.path.join(base, "/etc/passwd")``);
- holds a NUL byte;
- brings the path into a sensitive location (``/proc/*/environ``, ``/var/task``,
  ``~/.aws``...) that the code alone did not choose: with the input's
  occurrence replaced by a neutral name the path would not be sensitive. So a
  function reading its own ``/var/task/static/<name>`` is not flagged, while
  ``/proc/self/<name>`` with ``name=environ`` is.

An input also makes a path climb when the code erased the climb before the sink
(``abspath``, ``normpath``, ``realpath``, ``Path.resolve``): what is left of the input
is where it lands (``../../var/task/app.py`` lands at ``var/task/app.py``), and a path
holding that landing as whole segments is judged a traversal. This also covers a
containment check by prefix without a trailing separator (``/tmp/uploads-x`` passes
``startswith("/tmp/uploads")``); at the start of a relative path the landing means the code's
relative prefix was climbed out of (``normpath("static/" + "../app.py")`` is ``app.py``). Paths a
parser reads out of an input are judged like its text: the path of a ``file:`` URL, the literal
pieces of a glob pattern that hold ``..``, the literal head of a glob pattern from the root. A
``..`` that two inputs write together (``f"{base}/{a}{b}"``, ``.`` and ``./secret``), neither
holding one, is a traversal when an input with more than dots wrote part of it.

An input in a sensitive location chooses it only where an input can land: from the start
of a segment, and, without a ``/`` of its own, as the file itself. ``?lang=ar`` in
``/var/task/locales/ar.json`` (the ``ar`` of ``var``) and a route mirrored under a bundled
folder (``/static/app.js`` under ``/var/task``) are the code's own choice, unless the route's
``..`` leaves the folder it named (``_chooses_location``). A relative path that an input starts
is read the same way from the working directory (``static/app.js``, a ``{proxy+}`` parameter), and a
file name alone there (``open(name)``, ``open("./" + name)``) is the input's choice of the working
directory's file, ``/var/task/app.py`` on Lambda: the code wrote nothing that chose it.

Archive extraction (``path`` is the target directory) is checked member by
member, input or not: a member that would be written outside the target, or a
link member pointing outside it, is a zip-slip, with the archive's own earlier
symlinks followed as the kernel follows them (``sub -> .`` then
``sub/sub/esc -> ../outside``). Member names that climb, read by ``ZipFile`` or
``TarFile`` during an invocation, are judged wherever the code's own loop writes
them (``open(join(dest, info.filename), "wb")``).

Independently of inputs, the policy's deny globs apply to every read or write
during an invocation (by default, reads of any process's ``environ``), and
allow globs exempt paths from every rule. Globs: ``*`` and ``?`` stay within a
path segment, ``**`` spans segments, a pattern also covers everything below
it, and a pattern that does not start with ``/`` matches at any depth.

Paths are judged lexically; paths under ``/proc`` and ``/dev`` are also resolved
through their symlinks (``/proc/self``, ``/proc/<pid>/root``, ``/dev/fd``), up to
the longest path the kernel accepts (a longer one cannot be opened), and only as
far as their components exist: ``os.path.realpath`` alone looks up every
component of the growing path (a 1 MB ``/proc/`` path took minutes; now 10 ms).
A symlink planted elsewhere (in ``/tmp``) is not followed: resolving every path
would cost a system call per component on every open. This package's own files
are never judged.
"""
from __future__ import annotations

import os
import posixpath
import re
from functools import cache, lru_cache

from ..findings import AttackKind, Finding
from ..sources.fragments import Family, transformed
from ..sources.inputs import Input

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from ..sources import Inputs

SENSITIVE_PATHS = (
    "/proc/*/environ", "/proc/*/task/*/environ", "/proc/*/mem", "/proc/*/task/*/mem",
    "/var/runtime", "/var/task", "/opt", "/etc/passwd", "/etc/shadow",
    "~/.aws", "/root/.aws", "/home/*/.aws",
)
_PLACEHOLDER = "\x01"
MAX_OCCURRENCES = 16
MAX_ARCHIVE_NAMES = 64  # climbing member names remembered per invocation; one is enough to block
# The kernel refuses a path argument of PATH_MAX (4096) bytes or more; made absolute against a working
# directory (itself shorter than PATH_MAX), a path that can be opened is at most twice that long.
_LONGEST_OPENABLE = 2 * 4096
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class Member:
    """An archive member about to be extracted: its name and, for a link, its target."""

    __slots__ = ("hardlink", "link", "name")

    def __init__(self, name: str, link: str | None = None, hardlink: bool = False) -> None:
        self.name = name
        self.link = link  # a symlink's target is relative to the member's directory,
        self.hardlink = hardlink  # a hard link's to the archive's root

    def __repr__(self) -> str:
        return f"Member({self.name!r}, link={self.link!r})"


class FileAccess:
    """One file operation: ``path`` as the sink got it, whether it writes, for an archive
    extraction the ``members`` written under ``path``, and the climbing member ``names`` of the
    archives the code read in this invocation (its own extraction loop may write them)."""

    __slots__ = ("members", "names", "path", "write")

    def __init__(self, path: str, write: bool = False, members: list[Member] | None = None,
                 names: tuple[str, ...] = ()) -> None:
        self.path = path
        self.write = write
        self.members = members
        self.names = names

    def __repr__(self) -> str:
        return f"FileAccess({self.path!r}, write={self.write})"


class Globs:
    """A compiled set of path globs, with the literal prefixes that gate the matching.

    Globs with at most one variable part per stretch (no ``**``, one ``*`` per segment) are one
    regular expression, which matches them in linear time. The others would make the regex engine
    backtrack polynomially (``**/a/**/b/**/c`` over an 8 kB path of ``a/``: minutes); each is run
    as a small automaton instead, a set of positions in the glob advanced once per character.
    """

    __slots__ = ("machines", "pattern", "prefixes")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        cleaned = [os.path.expanduser(p.strip()) if p.strip().startswith("~") else p.strip() for p in patterns]
        cleaned = [p for p in cleaned if p]
        simple = [p for p in cleaned if not _backtracks(p)]
        self.pattern = re.compile("(?:" + "|".join(map(_glob_to_regex, simple)) + r")\Z", re.DOTALL) \
            if simple else None
        self.machines = tuple(_GlobMachine(p) for p in cleaned if _backtracks(p))
        self.prefixes = tuple(dict.fromkeys(_literal_prefix(p) for p in cleaned))

    def match(self, forms: tuple[str, ...]) -> str | None:
        """The first form of a path that a glob covers, or None."""
        for form in forms:
            if not form.startswith(self.prefixes):
                continue
            if self.pattern is not None and self.pattern.match(form):
                return form
            if any(machine.match(form) for machine in self.machines):
                return form
        return None


def _backtracks(pattern: str) -> bool:
    """Whether the regular expression of ``pattern`` could backtrack more than linearly."""
    if "**" in pattern:
        return True
    return any(segment.count("*") > 1 for segment in pattern.split("/"))


_LITERAL, _ONE, _STAR, _GLOBSTAR = range(4)


def _glob_tokens(pattern: str) -> list[tuple[int, Any]]:
    """``pattern`` (without its trailing slashes) as (kind, value) tokens: a literal character, one
    character of a class, ``*`` (within a segment) or ``**`` (across segments)."""
    tokens: list[tuple[int, Any]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            tokens.append((_GLOBSTAR, None))
            i += 2
            continue
        if c == "*":
            tokens.append((_STAR, None))
        elif c == "?":
            tokens.append((_ONE, "[^/]"))
        elif c == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            tokens.append((_ONE, f"[{'^' if negate else ''}{body}]"))
            i = end
        else:
            tokens.append((_LITERAL, c))
        i += 1
    return tokens


class _GlobMachine:
    """One glob matched in time linear in the path: the set of glob positions reachable so far,
    advanced once per character (the regular expression's automaton, without backtracking)."""

    __slots__ = ("anchored", "kinds", "values")

    def __init__(self, pattern: str) -> None:
        self.anchored = pattern.startswith("/")
        tokens = _glob_tokens(pattern.rstrip("/") or "/")
        self.kinds = [kind for kind, _ in tokens]
        self.values = [re.compile(value, re.DOTALL) if kind == _ONE else value for kind, value in tokens]

    def _closure(self, states: set[int]) -> set[int]:
        """``states`` with every position reachable by letting a ``*`` or ``**`` match nothing."""
        kinds, end = self.kinds, len(self.kinds)
        closed = set()
        for state in states:
            closed.add(state)
            while state < end and kinds[state] >= _STAR:
                state += 1
                closed.add(state)
        return closed

    def match(self, path: str) -> bool:
        if len(path) > _LONGEST_OPENABLE:  # no file has this path: the operation fails before any is reached
            return False
        kinds, values, end = self.kinds, self.values, len(self.kinds)
        start = self._closure({0})
        states = set(start)
        index = 0
        while index < len(path):
            char = path[index]
            index += 1
            if end in states and char == "/":
                return True  # a glob also covers everything below what it names
            following = set()
            for state in states:
                if state == end:
                    continue
                kind = kinds[state]
                if kind == _GLOBSTAR or (kind == _STAR and char != "/"):
                    following.add(state)
                elif kind == _LITERAL:
                    if values[state] == char:
                        following.add(state + 1)
                elif kind == _ONE and values[state].match(char):
                    following.add(state + 1)
            states = self._closure(following)
            if self.anchored:
                if not states:
                    return False
            elif char == "/":
                states |= start  # a glob without a leading / may start after any /
            elif not states:  # nothing left until the next /
                index = path.find("/", index)
                if index == -1:
                    return False
        return end in states


def _literal_prefix(pattern: str) -> str:
    if not pattern.startswith("/"):
        return ""
    cut = min((i for i in map(pattern.find, "*?[") if i >= 0), default=len(pattern))
    return pattern[:cut]


class Rules:
    """The policy's globs for one options mapping, compiled."""

    __slots__ = ("allow_read", "allow_write", "deny_gate", "deny_read", "deny_write", "sensitive")

    def __init__(self, options: Mapping[str, Any]) -> None:
        deny = tuple(options.get("deny_paths", ()))
        allow = tuple(options.get("allow_paths", ()))
        self.deny_read = compile_globs(deny + tuple(options.get("deny_read", ())))
        self.deny_write = compile_globs(deny + tuple(options.get("deny_write", ())))
        self.allow_read = compile_globs(allow + tuple(options.get("allow_read", ())))
        self.allow_write = compile_globs(allow + tuple(options.get("allow_write", ())))
        self.sensitive = compile_globs(SENSITIVE_PATHS + tuple(options.get("sensitive_paths", ())))
        # Paths under these are resolved through symlinks or may be denied: never on the fast path.
        prefixes = {"/proc/", "/dev/"}
        for globs in (self.deny_read, self.deny_write):
            if globs is not None:
                prefixes.update(globs.prefixes)
        self.deny_gate = tuple(sorted(prefixes))


class Gate:
    """The sinks' fast path for one invocation: which paths ``detect`` cannot find anything in.

    A path is clear when, made absolute, it is already normal, lies outside
    every location the policy may deny, holds no input that could make it
    climb, start at the root or carry a NUL, and, if it lies in a sensitive
    location, holds no input at all.
    """

    __slots__ = ("archive_names", "inputs", "landings", "parsed", "rules")

    def __init__(self, rules: Rules, inputs: Inputs) -> None:
        self.rules = rules
        self.inputs = inputs
        self.landings: tuple[str, ...] | None = None
        self.parsed: tuple[str, ...] = ()  # the paths parsers read out of inputs (parsed_forms)
        self.archive_names: tuple[str, ...] = ()  # climbing member names of the archives read so far

    def read_member(self, name: str) -> None:
        """Remember an archive member's name the code read, when it could make a path climb."""
        if name and relevant(name):
            names = self.archive_names
            if len(names) < MAX_ARCHIVE_NAMES and name not in names:
                self.archive_names = (*names, name)
                landing = landing_of(name.replace("\\", "/"))
                if landing is not None and self.landings is not None:
                    self.landings = (*self.landings, landing)

    def _landings(self) -> tuple[str, ...]:
        """Where the invocation's climbing inputs and archive member names land in a normalised path."""
        # The values alone (not ``view``, which walks the event for locations: 0.27 s on a 1 MB body).
        every = self.inputs.values
        values = list(filter(relevant, every))
        values += [name.replace("\\", "/") for name in self.archive_names]
        found = (landing for value in values for landing in landings_of(value))
        self.landings = landings = tuple(dict.fromkeys(found))
        self.parsed = tuple(dict.fromkeys(form for value in filter(parsable, every)
                                          for form in parsed_forms(value)))
        return landings

    def clear(self, path: str) -> bool:
        full = path
        if path[:1] != "/":
            if not path or path[0] == ".":
                return False
            full = os.getcwd() + "/" + path
        if "/." in full or "//" in full or full.startswith(self.rules.deny_gate):
            return False
        landings = self.landings
        if landings is None:
            landings = self._landings()
        if self.archive_names and any(map(path.__contains__, self.archive_names)):
            return False
        if self.parsed and any(map(path.__contains__, self.parsed)):
            return False
        if landings and any(map(path.__contains__, landings)) \
                and any(_lands_in(path, landing) for landing in landings):  # the first test runs in C
            return False
        sensitive = self.rules.sensitive
        if sensitive is not None and full.startswith(sensitive.prefixes):
            return not any(map(path.__contains__, self.inputs.values))  # any input at all, in C
        return not self.inputs.any_in(path, relevant)


_rules_cache: dict[int, tuple[Mapping[str, Any], Rules]] = {}


def rules_for(options: Mapping[str, Any]) -> Rules:
    entry = _rules_cache.get(id(options))
    if entry is not None and entry[0] is options:
        return entry[1]
    if len(_rules_cache) > 32:
        _rules_cache.clear()
    rules = Rules(options)
    _rules_cache[id(options)] = (options, rules)
    return rules


@lru_cache(maxsize=64)
def compile_globs(patterns: tuple[str, ...]) -> Globs | None:
    """The compiled globs, or None when there are none."""
    return Globs(patterns) if any(p.strip() for p in patterns) else None


def _glob_to_regex(pattern: str) -> str:
    anchored = pattern.startswith("/")
    pattern = pattern.rstrip("/") or "/"
    out = [] if anchored else ["(?:.*/)?"]
    for kind, value in _glob_tokens(pattern):
        out.append({_GLOBSTAR: ".*", _STAR: "[^/]*", _LITERAL: re.escape(value or ""), _ONE: value}[kind])
    out.append("(?:/.*)?" if pattern != "/" else ".*")
    return "".join(out)


def relevant(value: str) -> bool:
    """Inputs that can make a path climb, start at the root, or hide a NUL byte."""
    return ".." in value or value[0] == "/" or "\x00" in value


def _any(value: str) -> bool:
    return True


def absolute(path: str) -> str:
    """``path`` made absolute and normalised, lexically."""
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    if "/." in path or "//" in path:
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
    return path


def _forms(full: str) -> tuple[str, ...]:
    """The forms of an absolute path the globs are matched against."""
    if full.startswith(("/proc/", "/dev/")) and len(full) <= _LONGEST_OPENABLE:
        real = _realpath(full)
        if real != full:
            return full, real
    return (full,)


def _realpath(full: str) -> str:
    """``os.path.realpath``, resolving only the components that exist.

    realpath looks up every component of the growing path, a quadratic cost
    (8 kB of ``/proc/self/a/a/...`` took 74 ms here). A component past the
    first missing one cannot be a symlink, so the longest existing prefix
    (existence is monotonic along the path: found by bisection) is resolved
    and the rest appended as written. A link we may not read (another user's
    ``/proc/<pid>/cwd``) cannot be traversed by the function either: the path
    is then judged as written.
    """
    parts = full.rstrip("/").split("/")  # as realpath, without a trailing slash
    low, high = 1, len(parts)  # parts[:low] exists ("" is the root); find the longest prefix that does
    while low < high:
        middle = (low + high + 1) // 2
        if os.path.lexists("/".join(parts[:middle]) or "/"):
            low = middle
        else:
            high = middle - 1
    try:
        if low == len(parts):
            return os.path.realpath(full)
        return posixpath.join(os.path.realpath("/".join(parts[:low]) or "/"), *parts[low:])
    except OSError:
        return full


def _matches(globs: Globs | None, forms: tuple[str, ...]) -> str | None:
    return None if globs is None else globs.match(forms)


def detect(access: FileAccess, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    rules = rules_for(options)
    path = access.path
    forms = _forms(absolute(path))
    if forms[0].startswith(_PACKAGE):  # our own files (rules, data): reading them discloses nothing
        return None
    finding = _input_finding(path, forms, inputs, rules)
    if finding is None and access.names:
        finding = _member_written(path, access.names)
    if finding is None:
        finding = _denied(path, forms, access.write, rules)
    if finding is None and access.members is not None:
        finding = _extraction(forms[0], access.members, rules)
    if finding is None:
        return None
    if _matches(rules.allow_write if access.write else rules.allow_read, forms):
        return None
    return finding


def _denied(path: str, forms: tuple[str, ...], write: bool, rules: Rules) -> Finding | None:
    denied = _matches(rules.deny_write if write else rules.deny_read, forms)
    if denied is None:
        return None
    operation = "write to" if write else "read of"
    return Finding(AttackKind.FILE_ACCESS, "file.deny-write" if write else "file.deny-read",
                   f"{operation} {denied} is denied by the policy", None, path)


def _extraction(root: str, members: list[Member], rules: Rules) -> Finding | None:
    links: dict[Any, Any] = {}  # the archive's symlinks so far, as a tree of their real locations
    for member in members:
        name = member.name.replace("\\", "/")
        target = posixpath.normpath(posixpath.join(root, name))
        if _matches(rules.allow_write, (target,)):
            continue
        finding = _archive_escape(root, member, target) or _denied(target, (target,), True, rules)
        if finding is None and (links or (member.link is not None and not member.hardlink)):
            finding = _escape_through_links(root, member, name, links)
        if finding is not None:
            return finding
    return None


_TARGET = object()  # the key of a symlink's target in the tree of the archive's links
MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS: one more and the lookup fails with ELOOP


def _escape_through_links(root: str, member: Member, name: str, links: dict[Any, Any]) -> Finding | None:
    """Where ``member`` really lands when the archive's earlier symlinks are followed as the kernel
    follows them, not lexically: ``sub -> .`` then ``sub/sub/sub/link -> ../../../x`` is inside the
    target on paper and three levels above it on disk. A link member is created in place of its last
    component; a file member's open follows a link already there. Paths the kernel would refuse
    (more than 40 links) fail the extraction themselves. Links are kept as a tree of components, so a
    lookup costs one step per component whatever the depth."""
    place = _through_links(f"{root}/{name}", links, follow_last=member.link is None)
    if place is None:
        return None
    if not _within(place, root):
        return Finding(AttackKind.FILE_ACCESS, "file.archive-slip",
                       f"archive member {member.name!r} would be written outside {root} through the "
                       "archive's own links", None, member.name)
    if member.link is None or member.hardlink:
        return None
    pointed = _through_links(f"{posixpath.dirname(place)}/{member.link}", links, follow_last=True)
    if pointed is not None and not _within(pointed, root):
        return Finding(AttackKind.FILE_ACCESS, "file.archive-slip",
                       f"archive link {member.name!r} points outside {root} through the archive's own links "
                       f"({member.link})", None, f"{member.name} -> {member.link}")
    node = links
    for part in place.split("/")[1:]:
        node = node.setdefault(part, {})
    node.clear()  # a link replaces whatever was below its name
    node[_TARGET] = member.link
    return None


def _through_links(path: str, links: dict[Any, Any], follow_last: bool) -> str | None:
    """``path`` resolved through ``links`` component by component; None past the kernel's hop limit."""
    pending = [part for part in path.split("/")[::-1] if part and part != "."]
    names: list[str] = []
    nodes: list[dict[Any, Any] | None] = [links]
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if names:
                names.pop()
                nodes.pop()
            continue
        node = nodes[-1]
        child = node.get(part) if node is not None else None
        target = child.get(_TARGET) if child is not None else None
        if target is not None and (follow_last or pending):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            if target.startswith("/"):
                names.clear()
                del nodes[1:]
            pending.extend(part for part in target.split("/")[::-1] if part and part != ".")
            continue
        names.append(part)
        nodes.append(child)
    return "/" + "/".join(names)


# What makes a path climb in a fragment an input left after the code transformed it; a naive
# sanitiser's one pass of ``replace("../", "")`` gives the input a second form (sources/fragments.py).
FRAGMENTS = Family("path", ("..",), removed=("../", "..\\"))


def _input_finding(path: str, forms: tuple[str, ...], inputs: Inputs, rules: Rules) -> Finding | None:
    for item in inputs.view(parsable):
        for form in parsed_forms(item.value):
            if form in path:
                parser = "file-url" if item.value[:5].lower() == "file:" else \
                    "expanduser" if item.value[:1] == "~" else "glob"
                transform = f"{item.transform}+{parser}" if item.transform else parser
                finding = _judge_occurrences(path, Input(item.location, form, transform))
                if finding:
                    return finding
    for item in _climbing(path, inputs):
        if item.value in path:
            finding = _judge_occurrences(path, item)
            if finding:
                return finding
        elif "\\" in item.value:  # the code turned the input's backslashes into separators
            slashed = item.value.replace("\\", "/")
            if slashed in path:
                transform = f"{item.transform}+backslash" if item.transform else "backslash"
                finding = _judge_occurrences(path, Input(item.location, slashed, transform))
                if finding:
                    return finding
    if ".." in path:
        finding = _pieced_climb(path, inputs)
        if finding:
            return finding
    else:  # the code may have normalised the path the input made climb
        for item in inputs.view(relevant):
            if any(_lands_in(path, landing) for landing in landings_of(item.value)):
                return Finding(AttackKind.FILE_ACCESS, "file.traversal",
                               f"input from {item.describe()} made the path climb before the code "
                               "normalised it", item, path)
    if _sensitive(forms, rules):
        for item in inputs.occurring_in(path, _any):
            finding = _chooses_location(path, forms, item, rules)
            if finding:
                return finding
    return None


@cache
def _wildcards() -> re.Pattern[str]:
    return re.compile(r"[*?[\]]")


def parsable(value: str) -> bool:
    """Inputs a parser turns into a path that is not their text: ``file:`` URLs, glob patterns that climb
    or start at the root."""
    return value[:5].lower() == "file:" or value[:1] == "~" or (
        (".." in value or value[:1] == "/") and _wildcards().search(value) is not None)


def parsed_forms(value: str) -> list[str]:
    """The paths a parser reads out of ``value``.

    ``urlparse("file:///etc/passwd").path`` (and ``url2pathname``) is ``/etc/passwd``, with the host
    (``localhost``, or any name: a local file is meant) dropped, as are the query and fragment. A glob
    pattern (``../*``, ``../../var/task/*.py``) names no file itself: ``glob`` returns paths that keep
    its literal pieces (``/tmp/uploads/../secret.txt``), so the pieces that climb are what the path
    holds. A literal ``..`` is needed: glob's wildcards never match ``..``. A pattern that starts at the
    root (``glob.glob(pattern)`` with ``/var/task/*.py``) chooses the files below the directory its
    literal head names, which every path it returns starts with (the root alone names nothing: ``/*``
    and ``/a?x=1`` are not kept). ``os.path.expanduser`` reads ``~`` and ``~user`` as a home directory.
    """
    forms = []
    if value[:1] == "~":  # os.path.expanduser("~/.aws/credentials"): the home directory the input named
        expanded = os.path.expanduser(value.partition("\x00")[0])
        if expanded != value and expanded.startswith("/"):
            forms.append(expanded)
    if value[:1] == "/":
        wildcard = _wildcards().search(value)
        # whole segments, without the last slash: glob lists the directory itself (os.scandir("/var/task"));
        # ``/a?x=1`` (a login's next=) names no directory
        head = value[:value.rfind("/", 0, wildcard.start())] if wildcard is not None else ""
        if head.strip("/"):
            forms.append(head)
    if value[:5].lower() == "file:":
        rest = value[5:]
        if rest.startswith("//"):
            host_and_path = rest[2:]
            cut = host_and_path.find("/")
            rest = host_and_path[cut:] if cut != -1 else ""
        for end in "?#":
            rest = rest.partition(end)[0]
        if rest:
            forms.append(rest)
    if ".." in value:
        pieces = 0
        for piece in _wildcards().split(value):  # a bounded number kept: each is one pass over the path
            piece = piece.rstrip("/")
            if ".." in piece and piece != value and piece not in forms:
                forms.append(piece)
                pieces += 1
                if pieces == MAX_OCCURRENCES:
                    break
    return forms


def landing_of(value: str) -> str | None:
    """Where an input that climbs lands once the code normalised the path: the input, normalised,
    after its leading ``..`` segments (``../../var/task/app.py``: ``var/task/app.py``); None when it
    does not climb (``sub/../a.txt``) or names no file below where it climbed to.

    ``abspath``, ``normpath``, ``realpath`` and ``Path.resolve`` all erase the ``..`` that made the
    path climb, and with it the input's text: only this landing is left to correlate. A prefix check
    without a trailing separator (``full.startswith("/tmp/uploads")``) lets ``../uploads-x/a`` through
    to ``/tmp/uploads-x/a``; it lands there all the same.
    """
    if ".." not in value:
        return None
    kept: list[str] = []
    climbed = False
    for segment in value.replace("\\", "/").split("/"):
        if segment == "..":
            if kept:
                kept.pop()
            else:
                climbed = True  # above where the input starts (for "/../x", above the root)
        elif segment and segment != ".":
            kept.append(segment)
    return "/".join(kept) if climbed and kept else None


def landings_of(value: str) -> tuple[str, ...]:
    """``landing_of(value)`` and, for a landing in ``/proc`` or ``/dev``, where ``realpath`` and
    ``Path.resolve`` take it through the kernel's links: ``../../proc/self/cwd/app.py`` lands at
    ``var/task/app.py``, ``../../proc/self/root/etc/passwd`` at ``etc/passwd``. One bisection of
    ``lexists`` per such input and invocation (``_realpath``); other inputs pay nothing."""
    landing = landing_of(value)
    if landing is None:
        if ".." in value:  # a list's items joined as segments (``..,secret.txt``), then normalised
            for separator in _LIST_SEPARATORS:
                if separator in value and (landing := landing_of(value.replace(separator, "/"))) is not None:
                    break
        if landing is None:
            return ()
    if landing.startswith(("proc/", "dev/")) and len(landing) < _LONGEST_OPENABLE:
        real = _realpath("/" + landing)
        if real != "/" + landing and real.strip("/"):
            return landing, real.lstrip("/")
    return (landing,)


def _lands_in(path: str, landing: str) -> bool:
    """Whether ``landing`` is in ``path`` as whole segments, up to the end or a suffix the code added."""
    start = path.find(landing)
    looks = 0
    while start != -1 and looks < MAX_OCCURRENCES:
        looks += 1
        end = start + len(landing)
        # a landing starts a segment; at the very start of a relative path, the code's own relative
        # prefix (``static/``) was climbed out of entirely (``normpath("static/../app.py")``)
        if (path[start - 1] == "/" if start > 0 else path[:1] != "/") and (end == len(path) or path[end] in "/."):
            return True
        start = path.find(landing, start + 1)
    return False


def _chooses_location(path: str, forms: tuple[str, ...], item: Input, rules: Rules) -> Finding | None:
    """Whether an occurrence of ``item`` brings ``path`` into the sensitive location it lies in.

    An occurrence chooses the location when, replaced by a neutral name, the path would not be
    sensitive. Not every occurrence of the input's text is where the input landed, though:
    ``?lang=ar`` occurs in ``/var/task/locales/ar.json`` twice, once inside the code's own ``var``.
    So an occurrence is judged only where an input can land and choose: starting a segment, and, for
    an input without ``/``, as the whole last segment, the file itself (``/proc/self/`` + ``environ``).
    A piece of a name the code wrote (``ar`` in ``var``, ``ta`` in ``task``) or a whole directory with
    more path below it (``?topic=task`` in ``/var/task/docs/todo.md``) is the code's own path. The
    price: code that lets an input name a top directory (``f"/{x}/python/lib.py"`` with ``x=opt``)
    is not flagged by this rule (an input with ``/`` or ``..`` in it still is). An input
    starting with ``/`` (a route such as ``/static/app.js`` mirrored under ``/var/task``) is a path
    below the code's directory: its separators stay, only its names are replaced, and its ``..``
    may not leave the folder it named first (``/static/../app.py`` reads the function's source).
    """
    value = item.value
    core = value.strip("/")
    if not core:
        return None
    lead = len(value) - len(value.lstrip("/"))
    trail = len(value) - len(value.rstrip("/"))
    one_segment = "/" not in core
    start, count = path.find(value), 0
    while start != -1 and count < MAX_OCCURRENCES:  # each look costs a pass over the path
        count += 1
        end = start + len(value)
        judged = lead or start == 0 or path[start - 1] == "/"
        if one_segment:
            judged = judged and not path[end:].strip("/")
        if judged:
            if not lead and path[:1] != "/" and not path[:start].replace("./", ""):
                finding = _relative_start(path, forms, item)
                if finding is not None:
                    return finding
            if lead and ".." in core:
                folder = _mirrored_folder(path, start, value)
                if folder is not None:
                    return Finding(AttackKind.FILE_ACCESS, "file.traversal",
                                   f"input from {item.describe()} makes the path climb out of {folder}",
                                   item, forms[-1])
            neutral = absolute(path[:start + lead] + _PLACEHOLDER + path[end - trail:])
            if not _sensitive(_forms(neutral), rules):
                return Finding(AttackKind.FILE_ACCESS, "file.sensitive",
                               f"input from {item.describe()} brings the path to a sensitive location",
                               item, forms[-1])
        start = path.find(value, start + 1)
    return None


def _dotted(value: str) -> bool:
    return "." in value and bool(value.strip("."))


def _pieced_climb(path: str, inputs: Inputs) -> Finding | None:
    """A ``..`` segment of ``path`` that an input wrote part of, climbing out of the directory the
    code fixed before it: two inputs make one (``f"{base}/{a}{b}"`` with ``a="."``, ``b="./secret"``),
    neither holding ``..``. An input of dots alone is left out: a ``.`` coincides with any ``..`` the
    code wrote itself (``join(here, "..", "data")``), where it proves nothing."""
    items: list[Input] | None = None
    segment = path.find("..")
    looks = 0
    while segment != -1 and looks < MAX_OCCURRENCES:
        looks += 1
        end = segment + 2
        if (segment == 0 or path[segment - 1] == "/") and (end == len(path) or path[end] == "/"):
            if items is None:
                items = inputs.occurring_in(path, _dotted)
                if not items:
                    return None
            writers = []  # (where it starts, the input) of the inputs that wrote part of this `..`
            for item in items:
                value = item.value
                start = path.find(value, max(0, segment - len(value) + 1), end + len(value) - 1)
                if start != -1:
                    writers.append((start, item))
            if writers:  # judged from where the first of them starts (``sub/.`` + ``./a.txt`` stays in)
                first = min(start for start, _ in writers)
                if _climbs(path, min(first, segment), False) is not None:
                    item = writers[-1][1]
                    return Finding(AttackKind.FILE_ACCESS, "file.traversal",
                                   f"input from {item.describe()} writes part of a `..` that makes the path "
                                   "climb", item, path)
        segment = path.find("..", end)
    return None


def _relative_start(path: str, forms: tuple[str, ...], item: Input) -> Finding | None:
    """An input that starts a relative path (the code wrote nothing before it, or ``./``).

    A file name alone (``open(name)``, ``open("./" + name)``) is the input's choice of a file of
    the working directory, ``/var/task/app.py`` on Lambda: the code chose nothing. With folders
    (``static/app.js``, a greedy ``{proxy+}`` path parameter) it is a route mirrored under the
    working directory, as ``/static/app.js`` is under ``/var/task``: its own, unless its ``..``
    leaves the folder it named first (``static/../app.py``)."""
    value = item.value
    while value.startswith("./"):
        value = value[2:].lstrip("/")
    first, slash, _ = value.partition("/")
    if not slash:
        return Finding(AttackKind.FILE_ACCESS, "file.sensitive",
                       f"input from {item.describe()} names a file of the working directory, a sensitive "
                       "location", item, forms[-1])
    if ".." in value and first not in ("", ".", ".."):
        folder = absolute(first)
        if not _within(absolute(path), folder):
            return Finding(AttackKind.FILE_ACCESS, "file.traversal",
                           f"input from {item.describe()} makes the path climb out of {folder}", item, forms[-1])
    return None


def _mirrored_folder(path: str, start: int, value: str) -> str | None:
    """The folder a route-like input names first (``/var/task`` + ``/static``), when the path,
    normalised, leaves it; else None."""
    first = value.lstrip("/").split("/", 1)[0]
    named = path[:start] if first in ("", ".", "..") else path[:start] + "/" + first
    folder = absolute(named or "/")
    if _within(absolute(path), folder):
        return None
    return folder


def _climbing(path: str, inputs: Inputs) -> Iterator[Input]:
    """The inputs that may make ``path`` climb: every relevant form (also as pathlib spells it, and a
    list's items joined as segments, ``..,secret.txt`` as ``../secret.txt``), then, if the path climbs
    and none of them made it, the pieces of inputs the code transformed on the way."""
    for item in inputs.view(relevant):
        yield item
        if "/." in item.value or "//" in item.value or item.value.startswith("./"):
            # pathlib drops `.` segments and doubled separators: `public / "./../x"` is `public/../x`,
            # where only this reading of the input occurs.
            reading = _as_pathlib_reads(item.value)
            if reading != item.value:
                yield Input(item.location, reading, f"{item.transform}+pathlib" if item.transform else "pathlib")
        if ".." in item.value:
            for separator in _LIST_SEPARATORS:  # "/".join(value.split(",")): the list's items as segments
                if separator in item.value:
                    joined = item.value.replace(separator, "/")
                    yield Input(item.location, joined, f"{item.transform}+split" if item.transform else "split")
    if ".." in path:
        yield from transformed(path, inputs, FRAGMENTS)


_LIST_SEPARATORS = (",", ";", "|", ":", " ")


def _as_pathlib_reads(value: str) -> str:
    """``value`` as ``str(PurePosixPath(value))`` spells it (``..`` kept; a leading ``//`` read as ``/``),
    without importing pathlib."""
    parts = [part for part in value.split("/") if part and part != "."]
    root = "/" if value.startswith("/") else ""
    return root + "/".join(parts) if parts or root else "."


def _sensitive(forms: tuple[str, ...], rules: Rules) -> bool:
    if _matches(rules.sensitive, forms):
        return True
    for form in forms:  # another process's command line
        if form.startswith("/proc/") and form.endswith("/cmdline"):
            pid = form[6:-8]
            if pid.isdigit() and int(pid) != os.getpid():
                return True
    return False


def _judge_occurrences(path: str, item: Input) -> Finding | None:
    value = item.value
    if "\x00" in value:
        return Finding(AttackKind.FILE_ACCESS, "file.nul-byte",
                       f"input from {item.describe()} puts a NUL byte in the path", item, path)
    start = path.find(value)
    if start == 0 and value.startswith("/"):
        return Finding(AttackKind.FILE_ACCESS, "file.absolute",
                       f"input from {item.describe()} is an absolute path that chooses the file", item, path)
    if ".." not in value:
        return None
    count = 0
    while start != -1 and count < MAX_OCCURRENCES:
        anchor = _climbs(path, start, "\\" in value)
        if anchor is not None:
            where = f"out of {anchor}" if anchor else "above the working directory"
            return Finding(AttackKind.FILE_ACCESS, "file.traversal",
                           f"input from {item.describe()} makes the path climb {where}", item, path)
        start = path.find(value, start + 1)
        count += 1
    return None


def _climbs(path: str, start: int, backslashes: bool) -> str | None:
    """The directory the code fixed before ``start`` when the path leaves it, else None."""
    if backslashes:
        path = path.replace("\\", "/")
    anchor = path[:path.rfind("/", 0, start) + 1]
    resolved = posixpath.normpath(path)
    if not anchor:
        return "" if resolved == ".." or resolved.startswith("../") else None
    base = posixpath.normpath(anchor)
    if base in ("/", "//"):
        return None
    if resolved == base or resolved.startswith(base.rstrip("/") + "/"):
        return None
    return base


def _member_written(path: str, names: tuple[str, ...]) -> Finding | None:
    """A climbing archive member name in ``path``: the code's own extraction loop
    (``open(os.path.join(dest, info.filename), "wb")``) writes it outside ``dest``. Its name comes
    from the archive's bytes, an input not seen as text: the same traversal rules apply to it."""
    for name in names:
        finding = None
        if name in path:
            finding = _judge_occurrences(path, Input("archive member", name))
        elif "\\" in name and name.replace("\\", "/") in path:
            finding = _judge_occurrences(path, Input("archive member", name.replace("\\", "/")))
        elif ".." not in path:
            landing = landing_of(name.replace("\\", "/"))
            if landing is not None and _lands_in(path, landing):
                finding = Finding(AttackKind.FILE_ACCESS, "file.traversal", "", None, path)
        if finding is not None:
            return Finding(AttackKind.FILE_ACCESS, "file.archive-slip",
                           f"archive member {name!r}, written by the code's own loop, lands outside the "
                           "directory it chose", None, path)
    return None


def _archive_escape(root: str, member: Member, target: str) -> Finding | None:
    if not _within(target, root):
        return Finding(AttackKind.FILE_ACCESS, "file.archive-slip",
                       f"archive member {member.name!r} would be written outside {root}", None, member.name)
    if member.link is not None:
        base = root if member.hardlink else posixpath.dirname(target)
        link = posixpath.normpath(posixpath.join(base, member.link.replace("\\", "/")))
        if not _within(link, root):
            return Finding(AttackKind.FILE_ACCESS, "file.archive-slip",
                           f"archive link {member.name!r} points outside {root} ({member.link})",
                           None, f"{member.name} -> {member.link}")
    return None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
