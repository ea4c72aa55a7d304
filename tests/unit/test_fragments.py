"""Transformation-tolerant correlation: a piece of a sink argument that came from an input the
code transformed (case, strip, collapse, truncation, split, html.unescape, a naive sanitiser, ASCII
folding) is judged by the detector; the code's own text that merely resembles an input is not."""
from __future__ import annotations

import html
import re
import time
import unicodedata
from collections.abc import Callable

import pytest

from app_protect_lambda.detectors import command_injection, file_access, open_redirect, sql_injection, ssrf
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.detectors.file_access import FileAccess
from app_protect_lambda.detectors.open_redirect import Redirect
from app_protect_lambda.detectors.ssrf import Destination
from app_protect_lambda.sources.fragments import normal, transformed
from app_protect_lambda.sources.inputs import Input, Inputs


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


# (name, transformation, the payload a client sends): each transformation hides the payload from
# verbatim containment; the attack survives it.
TRANSFORMATIONS: list[tuple[str, Callable[[str], str]]] = [
    ("strip", str.strip), ("lower", str.lower), ("upper", str.upper),
    ("collapse", lambda x: " ".join(x.split())), ("truncate", lambda x: x[:40]),
    ("split", lambda x: x.split(",")[1]), ("html.unescape", html.unescape),
    ("replace <", lambda x: x.replace("<", "")), ("re.sub [;&|]", lambda x: re.sub("[;&|]", "", x)),
    ("ascii fold", ascii_fold),
]
SQL_PAYLOADS = {
    "strip": "  x' OR '1'='1  ", "lower": "X' OR 'A'='A", "upper": "x' or 'a'='a",
    "collapse": "x'   OR\t'1'='1", "truncate": "x' OR '1'='1' --" + "padding " * 10,
    "split": "alice,x' OR '1'='1", "html.unescape": "x&#39; OR &#39;1&#39;=&#39;1",
    "replace <": "<x' OR '1'='1", "re.sub [;&|]": "x' OR '1'='1';", "ascii fold": "x' OR 'é'='é",
}
SHELL_PAYLOADS = {
    "strip": "  a.png; id  ", "lower": "A.PNG; ID", "upper": "a.png; id",
    "collapse": "a.png;   id", "truncate": "a.png $(id) " + "b" * 60,
    "split": "x.png,a.png $(id)", "html.unescape": "a.png&#59; id",
    "replace <": "<a.png $(id)", "re.sub [;&|]": "a.png;$(cat /etc/passwd)", "ascii fold": "á.png $(id)",
}
PATH_PAYLOADS = {
    "strip": "  ../../etc/passwd ", "lower": "../../ETC/PASSWD", "upper": "../../etc/passwd",
    "collapse": "../../etc/pass  wd", "truncate": "../../etc/passwd" + "x" * 60,
    "split": "a.txt,../../etc/passwd", "html.unescape": "&period;&period;/&period;&period;/etc/passwd",
    "replace <": "<../../etc/passwd", "re.sub [;&|]": "a.txt|../../../etc/passwd", "ascii fold": "../../étc/passwd",
}


def inputs(*values: str) -> Inputs:
    return Inputs([Input(f"query.q{number}", value) for number, value in enumerate(values)])


@pytest.mark.parametrize(("name", "transform"), TRANSFORMATIONS)
def test_sql_through_each_transformation_is_found(name: str, transform: Callable[[str], str]) -> None:
    payload = SQL_PAYLOADS[name]
    statement = f"SELECT * FROM users WHERE name = '{transform(payload)}'"
    assert payload not in statement
    finding = sql_injection.detect(statement, inputs("alice", payload), {})
    assert finding is not None and finding.rule == "sqli.structure"
    located = inputs("alice", payload)
    assert located.locate(finding.input).location == "query.q1"
    assert finding.input.transform == "transformed"


@pytest.mark.parametrize(("name", "transform"), TRANSFORMATIONS)
def test_shell_through_each_transformation_is_found(name: str, transform: Callable[[str], str]) -> None:
    payload = SHELL_PAYLOADS[name]
    command = Command([f"convert {transform(payload)} out.jpg"], shell=True)
    assert payload not in command.script
    finding = command_injection.detect(command, inputs(payload), {})
    assert finding is not None and finding.rule == "cmdi.shell-syntax"
    assert command_injection.Prefilter(inputs(payload)).may_inject(command)


@pytest.mark.parametrize(("name", "transform"), TRANSFORMATIONS)
def test_traversal_through_each_transformation_is_found(name: str, transform: Callable[[str], str]) -> None:
    payload = PATH_PAYLOADS[name]
    path = f"/srv/files/{transform(payload)}"
    assert payload not in path
    finding = file_access.detect(FileAccess(path, False), inputs(payload), {})
    assert finding is not None and finding.rule == "file.traversal"


@pytest.mark.parametrize(("vector", "payload", "transform"), [
    (["git", "clone", "{}", "/tmp/repo"], "  --upload-pack=touch /tmp/pwned ", str.strip),
    (["curl", "-s", "{}", "https://api.example.com"], "-O /TMP/PWNED", str.lower),
    (["curl", "-s", "{}", "https://api.example.com"], "https://a.example,--output=/tmp/pwned",
     lambda x: x.split(",")[1]),
])
def test_option_injection_through_a_transformation_is_found(vector: list[str], payload: str,
                                                            transform: Callable[[str], str]) -> None:
    argv = [part.format(transform(payload)) for part in vector]
    assert payload not in argv
    command = Command(argv)
    assert command_injection.Prefilter(inputs(payload)).may_inject(command)
    finding = command_injection.detect(command, inputs(payload), {})
    assert finding is not None and finding.rule == "cmdi.option"


def test_traversal_through_a_naive_sanitiser_is_found() -> None:
    payload = "....//....//etc/passwd"
    path = "/srv/files/" + payload.replace("../", "")
    finding = file_access.detect(FileAccess(path, False), inputs(payload), {})
    assert finding is not None and finding.rule == "file.traversal"


@pytest.mark.parametrize(("transform", "payload"), [
    (str.strip, "  https://evil.example/login  "), (str.lower, "HTTPS://EVIL.EXAMPLE/login"),
    (html.unescape, "https:&#47;&#47;evil.example/login"),
])
def test_open_redirect_through_a_transformation_is_found(transform: Callable[[str], str], payload: str) -> None:
    location = transform(payload)
    assert payload not in location
    finding = open_redirect.detect(Redirect(location, ("shop.example.com",)), inputs(payload), {})
    assert finding is not None and finding.rule == "open_redirect.offsite"


# Sanitisers that delete a character, beaten by repeating it between the others (review 1.2).
INTERLEAVED = [
    ("sql", lambda x: x.replace("<", ""), "x<'< <O<R< <'<1<'<=<'<1"),
    ("sql", lambda x: re.sub("[;&|]", "", x), "x|'| |O|R| |1|=|1| |-|-"),
    ("shell", lambda x: re.sub("[;&|]", "", x), "a|.|p|n|g| |>|p|w|n|e|d|.|t|x|t"),
    ("shell", lambda x: x.replace("<", ""), "a<.p<ng <><pw<ned<.t<xt"),
    ("path", lambda x: x.replace("|", ""), ".|.|/|.|.|/|e|t|c|/|p|a|s|s|w|d"),
]


@pytest.mark.parametrize(("family", "transform", "payload"), INTERLEAVED)
def test_a_deleted_character_repeated_between_the_others_is_found(family: str, transform: Callable[[str], str],
                                                                  payload: str) -> None:
    values = inputs("alice", payload)
    if family == "sql":
        finding = sql_injection.detect(f"UPDATE users SET email = 'x' WHERE name = '{transform(payload)}'", values, {})
        assert finding is not None and finding.rule == "sqli.structure"
    elif family == "shell":
        finding = command_injection.detect(Command([f"echo converting {transform(payload)}"], shell=True), values, {})
        assert finding is not None and finding.rule == "cmdi.shell-syntax"
    else:
        finding = file_access.detect(FileAccess(f"/srv/files/{transform(payload)}", False), values, {})
        assert finding is not None and finding.rule == "file.traversal"
    assert finding.input.transform == "transformed"


# Values shaped like a JSON document that are none (review 1.5), typographic quotes a code folding
# turns into ASCII ones (1.6).
@pytest.mark.parametrize(("transform", "payload"), [
    (str.lower, "{X' OR 1=1 OR '}"), (str.strip, " [x' OR 1=1 OR '] "),
    (lambda x: x.translate(str.maketrans({"\u2018": "'", "\u2019": "'"})), "nobody\u2019 OR \u20191\u2019=\u20191"),
    (lambda x: x.replace("\u201c", '"').replace("\u201d", '"').lower(), "X\u201d OR \u201c1\u201d=\u201c1"),
])
def test_a_bracketed_or_typographic_payload_is_found(transform: Callable[[str], str], payload: str) -> None:
    quote = '"' if "\u201c" in payload else "'"
    statement = f"SELECT * FROM users WHERE name = {quote}{transform(payload)}{quote}"
    finding = sql_injection.detect(statement, inputs(payload), {})
    assert finding is not None and finding.rule == "sqli.structure"


def test_a_bracketed_shell_payload_is_found() -> None:
    payload = "{A.PNG >PWNED.TXT}"
    finding = command_injection.detect(Command([f"echo converting {payload.lower()}"], shell=True), inputs(payload), {})
    assert finding is not None and finding.rule == "cmdi.shell-syntax"


@pytest.mark.parametrize(("payload", "transform"), [  # review 1.7: the dash after =, : or /
    ("file=--use-compress-program=touch pwned.txt", lambda x: x.split("=", 1)[1]),
    ("file:--use-compress-program=touch pwned.txt", lambda x: x.split(":", 1)[1]),
    ("/--use-compress-program=touch pwned.txt", lambda x: x.lstrip("/")),
])
def test_an_option_after_a_separator_the_code_cut_is_found(payload: str, transform: Callable[[str], str]) -> None:
    command = Command(["tar", "-cf", "out.tar", transform(payload), "a.txt"])
    assert command_injection.Prefilter(inputs(payload)).may_inject(command)
    finding = command_injection.detect(command, inputs(payload), {})
    assert finding is not None and finding.rule == "cmdi.option"


def test_a_single_label_host_spelled_with_an_entity_is_found() -> None:  # review 1.11
    finding = ssrf.detect(Destination("localhost", 80, ("127.0.0.1",)), inputs("local&#104;ost"), {})
    assert finding is not None and finding.rule == "ssrf.internal"


# A few junk inputs no longer switch the correlation off (review 1.3).
def test_junk_sharing_the_payloads_4_grams_does_not_hide_it() -> None:
    low = "nobody' or '1'='1"
    junk = "Z".join(low[i:i + 4] for i in range(len(low) - 3))
    values = inputs(*[junk + str(i) for i in range(40)], "NOBODY' OR '1'='1")
    finding = sql_injection.detect(f"UPDATE users SET email = 'x' WHERE name = '{low}'", values, {})
    assert finding is not None and finding.input.value == low


def test_short_junk_next_to_the_codes_list_does_not_hide_the_payload() -> None:
    values = inputs(*[f"q', 'q{i}" for i in range(40)], "NOBODY' OR '1'='1")
    statement = ("UPDATE users SET email = 'x' WHERE status IN ('new', 'open', 'held', 'late', 'gone') "
                 "AND name = 'nobody' or '1'='1'")
    finding = sql_injection.detect(statement, values, {})
    assert finding is not None and finding.input.value == "nobody' or '1'='1"


def test_padding_past_the_index_size_does_not_push_a_small_payload_out() -> None:
    values = inputs(*[f"{i}'" + "a" * 65534 for i in range(6)], "NOBODY' OR '1'='1")
    finding = sql_injection.detect("UPDATE users SET email = 'x' WHERE name = 'nobody' or '1'='1'", values, {})
    assert finding is not None and finding.input.value == "nobody' or '1'='1"


def test_a_line_of_an_input_past_the_indexed_size_is_found() -> None:  # review 1.4
    upload = "bob\n" * 17500 + "nobody' OR '1'='1\n" + "carol\n" * 10
    assert len(upload) > 65536
    statement = "UPDATE users SET email = 'imported' WHERE name = 'NOBODY' OR '1'='1'"
    finding = sql_injection.detect(statement, inputs(upload), {})
    assert finding is not None and finding.rule == "sqli.structure"


def test_ssrf_through_html_unescape_and_split_is_found() -> None:
    payload = "https://cdn.example.com,http://169&#46;254&#46;169&#46;254/latest/meta-data/"
    finding = ssrf.detect(Destination("169.254.169.254", 80, ("169.254.169.254",)), inputs(payload), {})
    assert finding is not None and finding.rule == "ssrf.metadata"


# ---------------------------------------------------------------- benign: allowed

SQL_BENIGN = [
    # (statement the code builds, inputs): quotes in names correctly escaped after a transformation
    ("SELECT * FROM users WHERE name = 'o''brien'", ["O'Brien"]),
    ("SELECT * FROM users WHERE name = 'O''BRIEN' AND city = 'd''ARCY'", ["o'brien", "D'Arcy"]),
    ("SELECT * FROM users WHERE name = 'o''brien'", ["O\u2019Brien"]),  # a typographic quote, folded, escaped
    # bracketed values that are JSON documents: their fields are inputs of their own
    ("SELECT * FROM t WHERE a = '[''x'', ''y'']' OR b = ?", ['["x", "y"]', '{"a": "it\'s"}']),
    # repeated punctuation the code deletes, next to the code's own structure
    ("INSERT INTO phones (a, b) VALUES (?, ?)", ["(555) 123-4567, (555) 987-6543", "a.b.c.d.e", "--x--y--"]),
    ("SELECT * FROM t WHERE v = '1.2.3'", ["v1.2.3; v1.2.4; v1.2.5"]),
    # many inputs sharing the code's own text around an anchor: no cap, no finding
    ("SELECT * FROM t WHERE name = 'bob' AND x = 1",
     [f"note {i}: where name = 'bob' was seen" for i in range(40)] + [f"x = {i}" for i in range(2, 300)]),
    # a search term in a LIKE pattern, stripped and lower-cased
    ("SELECT * FROM items WHERE name LIKE '%rock & roll%'", ["  Rock & Roll "]),
    ("SELECT * FROM items WHERE name LIKE '%50% off%' ORDER BY name DESC", ["50% OFF", "Order By", "DESC"]),
    # inputs whose lowercase form is the code's own SQL keywords: no structure, no fragment
    ("SELECT id FROM users WHERE status = ? ORDER BY created DESC", ["Select", "order by", "desc", "status"]),
    # a value that starts like the code's own text is not a piece of it
    ("SELECT * FROM prefs WHERE name=? AND theme=?", ["name=bob", "theme=dark; lang=en"]),
    # headers full of parentheses and semicolons next to a parameterised statement
    ("INSERT INTO visits (agent, lang) VALUES (?, ?)",
     ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "en-GB,en;q=0.9"]),
    # a JSON body whose quoting matches the code's quoted names: its fields are inputs
    ('SELECT "name", "email" FROM users WHERE id = ?', ['{"name": "bob", "email": "b@example.com"}']),
    # quoted pieces of a longer input next to the code's own list
    ("INSERT INTO t VALUES ('x', 'y')", ["He said 'hi', 'bye'"]),
]


@pytest.mark.parametrize(("statement", "values"), SQL_BENIGN)
def test_benign_sql_is_allowed(statement: str, values: list[str]) -> None:
    assert sql_injection.detect(statement, inputs(*values), {}) is None


SHELL_BENIGN = [
    ("convert 'o'\"'\"'brien.png' out.jpg", ["O'Brien.png"]),  # shlex.quote(name.lower())
    ("grep -i 'rock & roll' /srv/songs.txt", ["  Rock & Roll"]),
    ("echo 'what?' >> /tmp/questions.txt", ["What?"]),
    ("tar -czf /tmp/out.tgz -C /srv files", ["Mozilla/5.0 (X11; Linux x86_64)"]),
]


@pytest.mark.parametrize(("script", "values"), SHELL_BENIGN)
def test_benign_shell_is_allowed(script: str, values: list[str]) -> None:
    assert command_injection.detect(Command([script], shell=True), inputs(*values), {}) is None


ARGV_BENIGN = [
    (["convert", "in.png", "-resize", "{}", "out.png"], " -100 "),  # a negative number, stripped
    (["git", "log", "--format=%h", "{}"], "  Main-Branch "),
    (["true", "--order", "{}"], "ord-2026-118734"),
    (["true", "--lang", "{}"], "en-US"),
    (["true", "--when", "{}"], "at=2026-03-14"),  # a dash inside a word after the cut
]


@pytest.mark.parametrize(("vector", "payload"), ARGV_BENIGN)
def test_benign_argument_vectors_are_allowed(vector: list[str], payload: str) -> None:
    command = Command([part.format(payload.strip().lower()) for part in vector])
    assert command_injection.detect(command, inputs(payload, "en-GB,en;q=0.9", "2026-03-14T09:00:01Z"), {}) is None


PATH_BENIGN = [
    ("/srv/diffs/v1..v2.txt", ["V1..V2"]),  # a git range, lower-cased: no climb
    ("/srv/files/reports/2024.csv", ["Reports", "files"]),  # a segment equal to a folder name
    ("/srv/app/../shared/config.json", ["Loading... please wait", "v1..v2"]),  # the code's own ..
]


@pytest.mark.parametrize(("path", "values"), PATH_BENIGN)
def test_benign_paths_are_allowed(path: str, values: list[str]) -> None:
    assert file_access.detect(FileAccess(path, False), inputs(*values), {}) is None


def test_a_single_label_host_the_code_chose_is_not_from_prose() -> None:
    destination = Destination("redis", 6379, ("10.0.0.5",))
    assert ssrf.detect(destination, inputs("&lt;b&gt;redis&lt;/b&gt; is great", "cache"), {}) is None


def test_a_location_that_begins_like_the_referer_is_not_from_it() -> None:
    location = "https://accounts.example.org/o/oauth2/auth?client_id=1"
    finding = open_redirect.detect(Redirect(location, ("shop.example.com",)),
                                   inputs("https://accounts.example.org/signin?x=1"), {})
    assert finding is None


# ---------------------------------------------------------------- the module itself

def test_normal_form() -> None:
    assert normal("  Zoë\t\tO&#39;Brien ", unescape=True) == " zoe o'brien "
    assert normal("Zoë&#39;") == "zoe&#39;"  # the argument is what runs: never unescaped


def test_fragments_are_as_in_the_argument_and_located() -> None:
    found = transformed("SELECT 1 FROM t WHERE a = 'ZOË' OR\n  'A'='A'", inputs("x", "zoë' or 'a'='a"),
                        sql_injection.FRAGMENTS)
    assert [item.value for item in found] == ["ZOË' OR\n  'A'='A"]
    assert found[0].describe().endswith("(transformed)")


def test_values_with_nul_and_empty_values_are_placed_right() -> None:
    values = inputs("", "a\x00b", "", "\x00\x00", "x' OR '1'='1", "-", "-y")
    found = transformed("SELECT 1 FROM t WHERE a = 'X' OR '1'='1'", values, sql_injection.FRAGMENTS)
    assert [(item.location, item.value) for item in found] == [("\x00unlocated:x' OR '1'='1", "X' OR '1'='1")]


@pytest.mark.parametrize("padding", [0, 5000])  # the index searched joined, and the table of 4-grams
def test_both_kinds_of_index_find_the_same(padding: int) -> None:
    values = inputs("Mozilla/5.0 (X11; Linux x86_64); " * (padding // 30), "  X' OR 'A'='A ", "O'Brien")
    statement = "SELECT 1 FROM t WHERE a = 'x' or 'a'='a' AND b = 'o''brien'"
    assert [item.value for item in transformed(statement, values, sql_injection.FRAGMENTS)] == ["x' or 'a'='a"]


def test_anchors_inside_a_found_window_do_not_count_towards_the_cap() -> None:
    padding = "a'" * 30000  # one input of 60,000 characters holding 30,000 quotes
    values = inputs(padding, padding[:-2] + "b'", "x' OR '1'='1")
    statement = f"SELECT 1 FROM t WHERE a = '{padding.upper()}' AND c = '{padding.upper()}' AND b = 'X' OR '1'='1'"
    found = transformed(statement, values, sql_injection.FRAGMENTS)
    assert "X' OR '1'='1" in [item.value for item in found]


def test_no_anchor_no_work() -> None:
    assert transformed("SELECT id FROM users WHERE active", inputs("x' OR 1=1 --"), sql_injection.FRAGMENTS) == []


def _hostile(size: int) -> float:
    """CPU seconds (best of two) of the correlation over arguments of ``size`` characters dense
    with anchors, shared and not, and over inputs past the sizes indexed whole."""
    values = inputs("'=" * 30000, "a'" * 30000, "x' OR 1=1 --" * 10, "(;" * 2000,
                    "bob'\n" * (size // 20), ".|.|/" * (size // 50), "Zoë  O'Brien ’ " * (size // 150))
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        for family in (sql_injection.FRAGMENTS, command_injection.FRAGMENTS, file_access.FRAGMENTS):
            transformed("SELECT " + "'='" * (size // 3), values, family)
            transformed("SELECT " + "a'b" * (size // 3), values, family)
            transformed("SELECT " + "x' or 1=1 --(;" * (size // 14), values, family)
            transformed("../" * (size // 3), values, family)
            transformed("SELECT '" + "Zoë  o''brien ’ " * (size // 16) + "' x' or 1=1 --", values, family)
        best = min(best, time.process_time() - started)
    return best


def test_hostile_arguments_stay_linear() -> None:
    """Dense anchors in the argument and the inputs, shared and not, long non-ASCII arguments with
    runs of blanks: bounded windows, linear scans, the caps told (no invocation here: nothing to
    tell). Ten times the size must cost about ten times as much, not a hundred (the timings belong to
    ``python -m bench.transformations``)."""
    small, large = _hostile(100_000), _hostile(1_000_000)
    assert large < 25 * max(small, 0.005), f"{small * 1000:.0f} ms at 100 kB, {large * 1000:.0f} ms at 1 MB"


@pytest.mark.parametrize("cut", [0, 1, 4095, 4096, 4097, 8191])
def test_a_window_across_the_chunks_of_a_long_argument_is_mapped_back(cut: int) -> None:
    """A long argument is normalised and mapped back a chunk at a time: a window on either side of a
    cut, or across it, after a run of blanks or non-ASCII letters that straddles it, is the same."""
    payload = "Ä' OR\t\t'Ü'='Ü"
    filler = ("é  " * 5000)[:cut] if cut else ""
    statement = f"SELECT 1 FROM t WHERE a = '{filler}' AND b = '{payload}' AND c = '{'ö ' * 3000}'"
    found = transformed(statement, inputs("x", "ä' or 'ü'='ü"), sql_injection.FRAGMENTS)
    assert [item.value for item in found] == [payload]
