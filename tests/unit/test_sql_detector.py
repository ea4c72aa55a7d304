"""The structural SQL check on its own: literals stay literals, anything else is structure."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.sql_injection import detect
from app_protect_lambda.sources.inputs import Input, Inputs


def finding(statement_template: str, value: str):
    return detect(statement_template.format(value), Inputs([Input("query.q", value)]), {})


@pytest.mark.parametrize(("template", "value"), [
    ("SELECT * FROM t WHERE a = '{}'", "x' OR 'a'='a"),
    ("SELECT * FROM t WHERE a = '{}'", "admin'--"),
    ("SELECT * FROM t WHERE a = '{}'", "admin'/*"),
    ("SELECT * FROM t WHERE a = \"{}\"", 'x" OR 1=1 --'),
    ("SELECT * FROM t WHERE a = `{}`", "x` OR 1=1 --"),
    ("SELECT * FROM t WHERE id = {}", "1 OR 1=1"),
    ("SELECT * FROM t WHERE id = {}", "1/**/OR/**/1=1"),
    ("SELECT * FROM t WHERE id = {}", "1;DROP TABLE t"),
    ("SELECT * FROM t WHERE id = {}", "(SELECT 1)"),
    ("SELECT * FROM t WHERE id = {}", "1)) OR ((1=1"),
    ("SELECT * FROM t ORDER BY {}", "name DESC, (SELECT 1)"),
    ("SELECT * FROM t LIMIT {}", "1 UNION SELECT 1"),
    ("SELECT * FROM t WHERE a = '{}'", "x'||(SELECT secret FROM s)||'"),
    ("SELECT * FROM t WHERE a = $${}$$", "x$$ OR 1=1 --"),
    ("SELECT * FROM t WHERE a = '{}'", "\\' OR 1=1 -- "),  # one literal for MySQL, a break for PostgreSQL
    ("SELECT * FROM t WHERE id = {} -- comment", "1\nOR 1=1"),
    ("SELECT * FROM t WHERE a = 'x' -- {}", "note\nDELETE FROM t"),
    ("SELECT * FROM t WHERE id = {}", "1e3 OR 1"),
    ("SELECT * FROM t WHERE a = '{}'", "unterminated'"),
    ("SELECT * FROM t WHERE id = {}", "0x41 OR 1"),
    ("SELECT * FROM t WHERE id = {}", "-1 OR 1"),
])
def test_attacks(template: str, value: str) -> None:
    result = finding(template, value)
    assert result is not None and result.rule == "sqli.structure"
    assert result.input.location == "query.q"


@pytest.mark.parametrize(("template", "value"), [
    ("SELECT * FROM t WHERE a = '{}'", "john smith"),
    ("SELECT * FROM t WHERE a = '{}'", "O''Brien"),  # already escaped by the code: stays inside
    ("SELECT * FROM t WHERE a = '{}'", "select * from where; drop -- union"),
    ("SELECT * FROM t WHERE a = \"{}\"", "it's fine"),
    ("SELECT * FROM t WHERE a = $${}$$", "it's 'quoted' \"twice\""),
    ("SELECT * FROM t WHERE a LIKE '%{}%'", "50%"),
    ("SELECT * FROM t WHERE id = {}", "-1"),
    ("SELECT * FROM t WHERE id = {}", "3.14"),
    ("SELECT * FROM t WHERE id = {}", "1e-3"),
    ("SELECT * FROM t WHERE id = {}", "0x1F"),
    ("SELECT * FROM t WHERE a = '{}'", "山田 太郎"),
    ("SELECT * FROM t WHERE a = '{}'", "line one\nline two"),
    ("SELECT * FROM t WHERE a = 'x' -- {}", "a harmless note"),
    ("SELECT * FROM t WHERE a = '{}'", "2026-01-01T00:00:00Z"),
    ("SELECT * FROM t WHERE a = '{0}' AND b = '{0}'", "a b"),  # in two literals, both fine
])
def test_benign(template: str, value: str) -> None:
    assert finding(template, value) is None


def test_inputs_without_structure_characters_are_never_checked() -> None:
    inputs = Inputs([Input("q", "users"), Input("q", "DROP"), Input("q", "user_id")])
    assert detect("SELECT * FROM users WHERE DROP = user_id", inputs, {}) is None


def test_input_not_in_statement() -> None:
    assert detect("SELECT 1", Inputs([Input("q", "' OR 1=1")]), {}) is None


def test_number_that_is_part_of_a_larger_token_is_structure() -> None:
    # "1.5" glued to a name is not one whole number
    assert finding("SELECT * FROM t{}", "1.5") is not None


def test_many_occurrences_are_bounded() -> None:
    statement = "SELECT " + ", ".join(["'a b'"] * 5000)
    assert detect(statement, Inputs([Input("q", "a b")]), {}) is None


@pytest.mark.parametrize(("statement", "value", "broken"), [
    # a $tag$ without a closer is no dollar quote: its $ is structure and reading goes on after it
    ("SELECT $a$ , '{}'", "x y", False),
    ("SELECT $a$ , {}", "x y", True),
    ("SELECT $t0$ $t1$ {} $t1$", "x y", False),
    # a closer is the next occurrence of the opener's tag, other tags inside are content
    ("SELECT $a$ $b$ {} $a$", "x y", False),
    ("SELECT $a$ $b$ $b$ {} $a$", "x y", False),
    ("SELECT $a$ $b$ $b$ $a$ {}", "x y", True),
    ("SELECT $a$x$a$ {} $a$", "x y", True),
    ("SELECT $t$ {0} $t$ $t$ {0}", "x y", True),  # the second occurrence is outside
    # overlapping tags: $t0$$t1$ holds the empty tag $$, which opens a quote closed by the next $$
    ("SELECT $t0$$t1$$t2$ {}", "x y", True),
    ("SELECT $t0$$t1$$t2$ $$ {} $$", "x y", False),
])
def test_dollar_quotes(statement: str, value: str, broken: bool) -> None:
    assert (finding(statement, value) is not None) is broken


def test_long_numbers() -> None:
    digits = "1" * 5000
    assert finding("SELECT * FROM t WHERE id = {}", digits + ".5e10") is None
    assert finding("SELECT * FROM t WHERE id = {}", digits + "x;").rule == "sqli.structure"


def test_comments() -> None:
    assert finding("SELECT 1 /* {} */", "line one\nline two") is None  # a block comment spans lines
    assert finding("SELECT 1 -- {}\n", "a note") is None
    assert finding("SELECT 1 /* {}", "note */").rule == "sqli.structure"  # the input closes the comment
    assert finding("SELECT 1 /* {} */ FROM t", "x */ OR 1=1 /*").rule == "sqli.structure"
