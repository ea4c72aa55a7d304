"""Worst cases: every regular expression and parser loop of the detectors, fed inputs built to hurt it.

Each case builds an input that maximises backtracking or repeated scans for one
pattern or loop (nested quotes, repeated openers without a closer, long runs of
``\\``, ``../``, ``%``, ``$``, ``{``...) and must finish within ``BUDGET`` seconds
of CPU time: generous for a loaded two-core CI machine, far below the quadratic
behaviour these inputs used to cost (26-99 s for 200 kB of SQL dollar tags, 57 s
for a 1 MB ``/proc`` path, minutes for several others). The size is 1 MB
(``MB``) where the work is a regular expression or a string method; ``LOOP``
(256 kB) where a Python loop takes a step per token, whose quadratic forms
already took 25 s and more at 200 kB; and for shell scripts the longest one
``execve`` accepts (``ARG``, 128 kB), since a longer one never runs and is not
read (one case checks that at 1 MB). The patterns of
``reporting/redaction.py`` and of the input decoders (``sources/inputs.py``) are
covered here too. The timings themselves belong to ``make bench``; these are
bounds, not measurements.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest

from app_protect_lambda.detectors import command_injection as ci
from app_protect_lambda.detectors import credential_exfiltration as ce
from app_protect_lambda.detectors import file_access as fa
from app_protect_lambda.detectors import open_redirect as ored
from app_protect_lambda.detectors import sandbox_persistence as sp
from app_protect_lambda.detectors import sql_injection as sql
from app_protect_lambda.detectors import ssrf
from app_protect_lambda.findings import AttackKind
from app_protect_lambda.policy import Policy
from app_protect_lambda.reporting import redaction
from app_protect_lambda.sources import decoders
from app_protect_lambda.sources.inputs import Input, Inputs
from app_protect_lambda.sources.multipart import Part, _other_readings

MB = 1 << 20
LOOP = 256 << 10
ARG = ci.longest_argument()
BUDGET = 2.0  # seconds of CPU per case


def fill(unit: str, size: int = MB) -> str:
    """``unit`` repeated to ``size`` characters."""
    return (unit * (size // len(unit) + 1))[:size]


def tags(size: int = MB) -> str:
    """Distinct dollar-quote tags, none closed: $t0$ $t1$ $t2$ ..."""
    parts, total, index = [], 0, 0
    while total < size:
        part = f"$t{index}$ "
        parts.append(part)
        total += len(part)
        index += 1
    return "".join(parts)


def inputs(*values: str) -> Inputs:
    return Inputs([Input(f"query.p{index}", value) for index, value in enumerate(values)])


def options(kind: AttackKind, **protection) -> dict:
    return Policy.from_dict({"protections": {kind.value: protection}} if protection else {}).options(kind)


# ---------------------------------------------------------------- SQL

def sql_case(statement: str, *values: str) -> Callable[[], object]:
    found = inputs(*values)
    return lambda: sql.detect(statement, found, {})


SQL = {
    "sql dollar tags without closers": lambda: sql_case("SELECT " + tags(LOOP) + " 'zz;'", "zz;"),
    "sql dollar tags, one closer at the end": lambda: sql_case("SELECT $a$ " + tags(LOOP) + " $a$ zz;", "zz;"),
    "sql empty-tag quotes": lambda: sql_case("SELECT " + fill("$", LOOP) + " zz;", "zz;"),
    "sql $ then a long tag": lambda: sql_case("SELECT $" + fill("a") + " zz;", "zz;"),
    "sql unterminated string of escapes": lambda: sql_case("SELECT 'zz;" + fill("\\'"), "zz;"),
    "sql unterminated string of doubled quotes": lambda: sql_case("SELECT zz; '" + fill("''") + "x", "zz;"),
    "sql unterminated double quote": lambda: sql_case('SELECT zz; "' + fill('""') + "x", "zz;"),
    "sql unterminated backtick": lambda: sql_case("SELECT zz; `" + fill("``") + "x", "zz;"),
    "sql unterminated block comment": lambda: sql_case("SELECT zz; /*" + fill("*/*"), "zz;"),
    "sql many block comments": lambda: sql_case("SELECT zz; " + fill("/*/", LOOP), "zz;"),
    "sql line comments": lambda: sql_case("SELECT zz; " + fill("--\n#\n", LOOP), "zz;"),
    "sql literals and backslashes": lambda: sql_case("SELECT " + fill("'\\\\' ", LOOP) + " zz;", "zz;"),
    "sql a run of digits that is no number": lambda: sql_case("SELECT " + fill("1") + "x;", fill("1") + "x;"),
    "sql digits with dots and exponents": lambda: sql_case("SELECT " + fill("1.") + "e+x;", fill("1.") + "e+x;"),
    "sql hex digits": lambda: sql_case("SELECT 0x" + fill("f") + "g;", "0x" + fill("f") + "g;"),
    "sql an input that occurs everywhere": lambda: sql_case(fill("'a b' ", LOOP) + "a b;", "a b"),
    # the list and sort reader (a list an app splices: 1, 2 / 'a', 'b' / price DESC NULLS LAST, name)
    "sql a long list that ends in structure": lambda: sql_case("SELECT * FROM t WHERE id IN (" + fill("1, ", LOOP)
                                                               + "1) OR 1=1", fill("1, ", LOOP) + "1) OR 1=1"),
    "sql a list of quoted literals": lambda: sql_case("SELECT " + fill("'a''b' , ", LOOP) + "x;",
                                                      fill("'a''b' , ", LOOP) + "x;"),
    "sql spaces after a list item": lambda: sql_case("SELECT a" + fill(" ") + "x;", "a" + fill(" ") + "x;"),
    "sql sort items with directions": lambda: sql_case("SELECT " + fill("a DESC NULLS  , ", LOOP) + "x;",
                                                       fill("a DESC NULLS  , ", LOOP) + "x;"),
    "sql a value that overlaps itself everywhere": lambda: sql_case("SELECT '" + fill("1,") + "'", fill("1,", LOOP)),
    "sql a number that overlaps itself everywhere": lambda: sql_case("SELECT " + fill("1."), fill("1.", LOOP)),
    "sql spaces after a comparison": lambda: sql_case("SELECT a =" + fill(" ") + "zz;", "zz;"),
    "sql comparisons of words": lambda: sql_case("SELECT " + fill("a = b IN (c LIKE ", LOOP) + "zz;", "zz;", "b"),
    "sql a decoy everywhere and an attack": lambda: sql_case(fill("'a b' ", LOOP) + "'x' OR 1=1;", "a b", "x' OR 1=1;"),
}


# ---------------------------------------------------------------- shell

def shell_case(script: str, *values: str) -> Callable[[], object]:
    found = inputs(*values)
    command = ci.Command([script], shell=True)
    return lambda: ci.detect(command, found, {})


def argv_case(vector: list[str], *values: str) -> Callable[[], object]:
    found = inputs(*values)
    command = ci.Command(vector)
    return lambda: ci.detect(command, found, {})


def prefilter_case(command: ci.Command, *values: str) -> Callable[[], object]:
    prefilter = ci.Prefilter(inputs(*values))
    return lambda: prefilter.may_inject(command)


SCRIPT = ARG - 64  # the longest script that can run, with room for what the case puts around it

SHELL = {
    "shell plain text": lambda: shell_case("echo zz " + fill("abcdefgh", SCRIPT), "zz"),
    "shell words": lambda: shell_case("echo zz " + fill("ab ", SCRIPT), "zz"),
    "shell backslashes": lambda: shell_case("echo zz " + fill("\\", SCRIPT), "zz"),
    "shell dollars, escapes and redirections": lambda: shell_case("echo zz " + fill("$ \\a 2>&1 ", SCRIPT), "zz"),
    "shell single quotes": lambda: shell_case("echo zz " + fill("'a'", SCRIPT), "zz"),
    "shell unterminated single quote": lambda: shell_case("echo zz '" + fill("a", SCRIPT), "zz"),
    "shell double quotes with escapes": lambda: shell_case('echo zz "' + fill('\\"\\$', SCRIPT), "zz"),
    "shell nested substitutions": lambda: shell_case("echo zz " + fill("$(", SCRIPT), "zz"),
    "shell nested backticks and substitutions": lambda: shell_case("echo zz " + fill("$(`", SCRIPT), "zz"),
    "shell braces": lambda: shell_case("echo zz ${" + fill("{", SCRIPT), "zz"),
    "shell many brace expansions": lambda: shell_case("echo zz " + fill("${a}", SCRIPT), "zz"),
    "shell ansi-c strings": lambda: shell_case("echo zz $'" + fill("\\'", SCRIPT), "zz"),
    "shell comments and tildes": lambda: shell_case("echo zz " + fill(" #\n ~", SCRIPT), "zz"),
    "shell commands": lambda: shell_case("echo zz; " + fill("a;", SCRIPT), "zz"),
    "shell parentheses": lambda: shell_case("echo zz; " + fill("(a)", SCRIPT), "zz"),
    "shell empty quoted words": lambda: shell_case("echo zz " + fill("'' ", SCRIPT), "zz"),
    "shell options of a dangerous program": lambda: shell_case("curl zz " + fill("-s ", SCRIPT), "zz"),
    "shell wrappers": lambda: shell_case("echo zz; " + fill("env ", SCRIPT), "zz"),
    "shell non-ASCII words": lambda: shell_case("echo zz " + fill("請求 é ", SCRIPT), "zz"),
    "shell a long input that is plain text": lambda: shell_case(f"echo '{fill('ab', SCRIPT)}'", fill("ab", SCRIPT)),
    "shell a long input judged in many places": lambda: shell_case(fill("echo ab; ", SCRIPT), "ab; echo"),
    "shell sh -c inside sh -c": lambda: shell_case(fill("sh -c 'sh -c \"echo zz\"'; ", SCRIPT), "zz"),
    "argv many options": lambda: argv_case(["curl", *["-s"] * (LOOP // 3), "zz"], "zz"),
    "shell a script longer than any that can run": lambda: shell_case("echo zz; " + fill("a;"), "zz"),
    "argv a long program path": lambda: argv_case([fill("/a", SCRIPT), "x"], "zz/"),
    "argv a shell's many options": lambda: argv_case(["sh", *["-o", "x"] * (LOOP // 4), "-c", "echo zz"], "zz"),
    "prefilter a long program path": lambda: prefilter_case(ci.Command([fill("/a") + "/x"]), "zzz", "evil"),
}


# ---------------------------------------------------------------- sandbox persistence

def sandbox_case(command: ci.Command) -> Callable[[], object]:
    opts = options(AttackKind.SANDBOX_PERSISTENCE)
    found = inputs()
    return lambda: sp.detect(command, found, opts)


def sandbox_fast_path_case(command: ci.Command) -> Callable[[], object]:
    prefixes = sp.dropped_program_prefixes(options(AttackKind.SANDBOX_PERSISTENCE))
    return lambda: sp.may_run_dropped_program(command, prefixes)


SANDBOX = {
    "sandbox a long script": lambda: sandbox_case(ci.Command([fill("ls a; ", SCRIPT)], shell=True)),
    "sandbox many options before the script": lambda: sandbox_case(ci.Command(["sh", *["-e"] * (LOOP // 3), "x"])),
    "sandbox -c repeated": lambda: sandbox_case(ci.Command(["sh", "-c", "ls", *["-c"] * (LOOP // 3)])),
    "sandbox nested sh -c": lambda: sandbox_case(ci.Command(["sh", "-c", fill("sh -c ls; ", SCRIPT)])),
    "sandbox a script longer than any that can run": lambda: sandbox_case(ci.Command([fill("ls a; ")], shell=True)),
    "sandbox fast path over a long command": lambda: sandbox_fast_path_case(ci.Command([fill("/a")])),
}


# ---------------------------------------------------------------- file access

def file_case(path: str, *values: str, **protection) -> Callable[[], object]:
    opts = options(AttackKind.FILE_ACCESS, **protection)
    found = inputs(*values)
    access = fa.FileAccess(path)
    return lambda: fa.detect(access, found, opts)


def archive_case(members: list[fa.Member]) -> Callable[[], object]:
    opts = options(AttackKind.FILE_ACCESS)
    found = inputs()
    access = fa.FileAccess("/tmp/out", True, members)
    return lambda: fa.detect(access, found, opts)


FILES = {
    "file /proc path of many components": lambda: file_case("/proc/self/" + fill("a/")),
    "file /proc path that exists deep down": lambda: file_case(fill("/proc/self/root")),
    "file /dev path": lambda: file_case("/dev/fd/" + fill("0/")),
    "file climbing": lambda: file_case("/tmp/uploads/" + fill("../"), fill("../")),
    "file climbing with backslashes": lambda: file_case("/tmp/uploads/" + fill("..\\"), fill("..\\")),
    "file an input that occurs everywhere in a sensitive path": lambda: file_case("/var/task/" + fill("ab/"), "ab"),
    "file an input that occurs everywhere in a /proc path": lambda: file_case("/proc/self/" + fill("ab/"), "ab"),
    "file percent signs": lambda: file_case("/tmp/" + fill("%2e%2e%2f"), fill("%2e%2e%2f")),
    "file dots and slashes to normalise": lambda: file_case("/tmp/" + fill("./") + fill("//", 1000)),
    "file default globs": lambda: file_case("/proc/" + fill("*/") + "environ"),
    "file globs with ** over a long path": lambda: file_case(
        "/var/" + fill("secret/"), deny_read=["/var/**/secret/**/key", "**/a/**/b/**/c"]),
    "file globs with ** over the longest openable path": lambda: file_case(
        "/" + fill("a/", 8000), deny_read=["**/a/**/b/**/c/**/d", "/*a*b*c*d"]),
    "file a glob with many * over one long segment": lambda: file_case(
        "/tmp/" + fill("a", 8000), deny_read=["/tmp/*a*b*c*d*e"]),
    "file an unanchored glob": lambda: file_case("/" + fill("x.pem/") + "y", deny_read=["*.pem"]),
    "file archive members": lambda: archive_case([fa.Member(f"d/{i}/{'../' * 3}", "../" * 3) for i in range(20000)]),
    "file archive members deep under the archive's own links": lambda: archive_case(
        [fa.Member("s", "."), fa.Member("t", "s/s")]
        + [fa.Member("t/" + "a/" * 4000 + str(i)) for i in range(MB // 8000)]
        + [fa.Member("s/" * 30 + f"l{i}", "s/" * 30 + ".") for i in range(1000)]),
    "file a glob of many climbing pieces": lambda: file_case(
        "/tmp/" + fill("../a/", 8000), "".join(f"../{i}*" for i in range(MB // 8))),
    "file a file: URL over a long path": lambda: file_case("/" + fill("a/"), "file://" + fill("a/")),
    "file a climb normalised away, landing everywhere": lambda: file_case("/" + fill("ab/"), "../" + fill("ab/")),
    "file a short piece everywhere in a sensitive path": lambda: file_case("/var/task/" + fill("ar/"), "ar"),
    "file a route under a sensitive path": lambda: file_case("/var/task" + fill("/s"), fill("/s")[:4000] + "/.."),
}


# ---------------------------------------------------------------- SSRF, open redirect, credentials

def ssrf_case(host: str, *values: str) -> Callable[[], object]:
    found = inputs(*values)
    destination = ssrf.Destination(host, 80, ("127.0.0.1",))
    return lambda: ssrf.detect(destination, found, {})


def redirect_case(location: str, *values: str) -> Callable[[], object]:
    found = inputs(*values)
    redirect = ored.Redirect(location, ("example.com",))
    return lambda: ored.detect(redirect, found, {})


def credentials_case(body: str, encoding: str | None = None) -> Callable[[], object]:
    parts = (("body", body, encoding),) if encoding else (("body", body),)
    payload = ce.Payload(parts)
    return lambda: ce.detect(payload, None, {})


OUTBOUND = {
    "ssrf an input naming the host many times": lambda: ssrf_case("localhost", fill("localhost:80 ")),
    "ssrf a host name in a long URL": lambda: ssrf_case("localhost", "http://" + fill("a") + "@localhost/"),
    "ssrf a long scheme": lambda: ssrf_case("localhost", fill("a") + "://localhost"),
    "ssrf slashes before the host": lambda: ssrf_case("localhost", fill("//") + "localhost"),
    "ssrf a long run of digits as a host": lambda: ssrf_case(fill("1")),
    "ssrf a long octal part": lambda: ssrf_case("0" + fill("7")),
    "ssrf a long hexadecimal part": lambda: ssrf_case("0x" + fill("f")),
    "ssrf many dots": lambda: ssrf_case(fill(".")),
    "ssrf many colons": lambda: ssrf_case(fill(":")),
    "ssrf a long non-ASCII host": lambda: ssrf_case(fill("ｌｏｃａｌ。", LOOP), fill("ｌｏｃａｌ。", LOOP)),
    "redirect a long scheme": lambda: redirect_case(fill("a") + "x"),
    "redirect leading controls": lambda: redirect_case(fill("\t") + "//evil.example", "evil.example"),
    "redirect slashes and backslashes": lambda: redirect_case(fill("/\\") + "evil.example", "evil.example"),
    "redirect a long authority": lambda: redirect_case("https://" + fill("a@") + "evil.example", "evil.example"),
    "redirect percent signs in the host": lambda: redirect_case("https://" + fill("%2e", LOOP), fill("%2e", LOOP)),
    "redirect an input that occurs everywhere": lambda: redirect_case("https://" + fill("ev.") + "x", "ev."),
    "credentials a long body": lambda: credentials_case(fill("AKIA/x+y=z ")),
    "credentials a long base64 body": lambda: credentials_case(fill("QUtJQQ=="), "base64"),
}


# ---------------------------------------------------------------- other modules' patterns, covered here

def redact_case(text: str) -> Callable[[], object]:
    return lambda: redaction.redact(text)


def decode_case(value: str) -> Callable[[], object]:
    return lambda: decoders.decoded_forms(value)


def upload_case(data: bytes) -> Callable[[], object]:
    return lambda: (Part("file", "a.csv", "text/csv", data).file_text, _other_readings(data))


OTHERS = {
    "redaction access key ids": lambda: redact_case(fill("AKIA")),
    "redaction almost access key ids": lambda: redact_case(fill("AKIAABCDEFGHIJKLMNO ")),
    "redaction session token prefixes": lambda: redact_case(fill("IQoJb3JpZ2lu")),
    "redaction short session tokens": lambda: redact_case(fill("IQoJb3JpZ2lu!")),
    "redaction bearer words": lambda: redact_case(fill("bearer ")),
    "redaction bearer and blanks": lambda: redact_case("bearer" + fill(" ")),
    "redaction secret names": lambda: redact_case(fill("password")),
    "redaction secret names and blanks": lambda: redact_case(fill("password ")),
    "redaction secret names, quotes and separators": lambda: redact_case(fill("password\"' := '\"")),
    "redaction a secret name then blanks": lambda: redact_case("password" + fill(" ") + "x"),
    "decoders base64 that is not": lambda: decode_case(fill("A") + "!"),
    "decoders url-safe base64 that is not": lambda: decode_case(fill("A-") + "!"),
    "decoders base64 padding": lambda: decode_case(fill("AAA=")),
    "decoders hex that is not": lambda: decode_case(fill("ab") + "g"),
    "decoders percent encoding": lambda: decode_case(fill("%25", LOOP)),
    "decoders JSON escapes": lambda: decode_case(fill("\\u0041")),
    "decoders backslashes": lambda: decode_case(fill("\\")),
    "decoders a JWT of long segments": lambda: decode_case("Bearer " + fill("e") + "." + fill("I") + "."),
    "decoders JWT-shaped blanks and dots": lambda: decode_case(fill(" eyJhbGciOiJub25l.")),
    "decoders padding past the budget": lambda: decode_case(
        quote(json.dumps([f"%25252B%2B+%5Cu0041+\\u0025{index:05}" for index in range(LOOP // 64)]))),
    "upload text: stray bytes in UTF-8": lambda: upload_case(fill("\u00e9", MB // 2).encode() + b"\xe9" * 4000),
    "upload text: stray bytes late": lambda: upload_case(b"a" * MB + bytes(range(0x80, 0x100)) * 16),
    "upload text: random-looking bytes": lambda: upload_case(bytes(range(256)) * (MB // 256)),
    "upload text: a UTF-16 mark, then odd bytes": lambda: upload_case(b"\xff\xfe" + b"\x00\xd8" * (MB // 2)),
}

CASES = {**SQL, **SHELL, **SANDBOX, **FILES, **OUTBOUND, **OTHERS}


@pytest.mark.parametrize("name", list(CASES))
def test_worst_case_within_budget(name: str) -> None:
    run = CASES[name]()  # the input is built outside the timing
    started = time.process_time()
    run()
    spent = time.process_time() - started
    assert spent < BUDGET, f"{name}: {spent:.2f} s"
