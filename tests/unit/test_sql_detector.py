"""The structural SQL check on its own: literals stay literals, anything else is structure."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.sql_injection import (
    MYSQL,
    MYSQL_NO_BACKSLASH_ESCAPES,
    POSTGRESQL,
    SQLITE,
    Statement,
    detect,
)
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
    assert detect("SELECT DROP, user_id FROM users WHERE DROP = 'user_id'", inputs, {}) is None


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


# ---------------------------------------------------------------- issue 11: each statement in its driver's dialect

def judged(dialect: str | None, statement: str, *values: str):
    inputs = Inputs([Input(f"query.q{number}", value) for number, value in enumerate(values)])
    return detect(Statement(statement, dialect), inputs, {})


@pytest.mark.parametrize(("dialect", "statement", "values"), [
    # MySQL escapes with a backslash in "..." too: a value ending in \ turns the next input live
    (MYSQL, 'SELECT * FROM t WHERE a = "x\\" AND b = " OR 1=1 -- "', ("x\\", " OR 1=1 -- ")),
    (MYSQL, "SELECT * FROM t WHERE a = 'x\\' AND b = ' OR 1=1 -- '", ("x\\", " OR 1=1 -- ")),
    (None, 'SELECT * FROM t WHERE a = "x\\" AND b = " OR 1=1 -- "', ("x\\", " OR 1=1 -- ")),
    # without backslash escapes (sqlite3, PostgreSQL, MySQL in NO_BACKSLASH_ESCAPES) \' ends the text
    (SQLITE, "SELECT * FROM t WHERE a = '\\' OR 1=1 -- '", ("\\' OR 1=1 -- ",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a = '\\' OR 1=1 -- '", ("\\' OR 1=1 -- ",)),
    (MYSQL_NO_BACKSLASH_ESCAPES, "SELECT * FROM t WHERE a = '\\' OR 1=1 -- '", ("\\' OR 1=1 -- ",)),
    # # starts a comment in MySQL only; a doubled quote is still a quote in MySQL
    (MYSQL, "SELECT * FROM t WHERE id = 1 #' AND owner = 'me'", ("1 #",)),
    # an input that opens a comment, the rest of the statement inside it
    (SQLITE, "SELECT * FROM t WHERE id = 1 -- AND owner = 'me'", ("-- AND owner",)),
    (SQLITE, "SELECT * FROM t WHERE id = 1 --", ("--",)),
    (POSTGRESQL, "SELECT * FROM t WHERE id = 1 /* AND owner = 1 */", ("/* AND owner = 1 */",)),
    (MYSQL, "SELECT * FROM t WHERE id = 1 # AND owner = 1", ("# AND owner",)),
    (SQLITE, "SELECT * FROM t WHERE id = 1 /* AND owner = 1", ("/* AND",)),
    # a decoy repeated many times does not spend the budget of the input that breaks out
    (SQLITE, "SELECT * FROM t WHERE a IN (" + ", ".join(["'a b'"] * 40) + ") AND b = 'x' OR 1=1 --'",
     ("a b", "x' OR 1=1 --")),
    (SQLITE, "SELECT " + "'a b', " * 40 + "1 WHERE b = 'z' OR 'a b' = 'a b'", ("a b", "z' OR 'a b' = 'a b")),
    # quotes that swallow the code's own text into literals, each occurrence part of one literal
    (SQLITE, "SELECT * FROM t WHERE a = ' x AND owner = 'me' AND b = ' x", ("' x",)),
    (MYSQL, 'SELECT * FROM t WHERE a = "\\" AND owner = 1 OR "\\"', ('"\\"',)),
    # lists and sorts: any operator, call, subquery, CASE, comment or second statement is structure
    (SQLITE, "SELECT * FROM t WHERE id IN (1, 2) OR 1=1", ("1, 2) OR 1=1",)),
    (SQLITE, "SELECT * FROM t WHERE id IN (1, (SELECT max(id) FROM s))", ("1, (SELECT max(id) FROM s)",)),
    (SQLITE, "SELECT * FROM t ORDER BY price DESC, sleep(5)", ("price DESC, sleep(5)",)),
    (SQLITE, "SELECT * FROM t ORDER BY CASE WHEN 1=1 THEN a ELSE b END", ("CASE WHEN 1=1 THEN a ELSE b END",)),
    (SQLITE, "SELECT * FROM t ORDER BY price DESC; DROP TABLE t", ("price DESC; DROP TABLE t",)),
    (SQLITE, "SELECT * FROM t ORDER BY price DESC -- , name", ("price DESC -- ",)),
    (SQLITE, "SELECT * FROM t ORDER BY price /**/DESC", ("price /**/DESC",)),
    (SQLITE, "SELECT * FROM t WHERE a IN ('a','b') OR 'x'='x'", ("'a','b') OR 'x'='x'",)),
    (SQLITE, "SELECT * FROM t WHERE a IN ('a','b')", ("a','b",)),  # closes the code's quote
    (SQLITE, "SELECT * FROM t ORDER BY price DESC, name || 'x'", ("price DESC, name || 'x'",)),
    (SQLITE, "SELECT * FROM t ORDER BY a DESC NULLS LAST UNION SELECT 1", ("a DESC NULLS LAST UNION SELECT 1",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a = 'x' || $$ OR 1=1 $$", ("x' || $$ OR 1=1 $$",)),
])
def test_dialect_attacks(dialect, statement: str, values: tuple[str, ...]) -> None:
    result = judged(dialect, statement, *values)
    assert result is not None and result.rule == "sqli.structure"


@pytest.mark.parametrize(("dialect", "statement", "values"), [
    # a correctly doubled text ending in \ is one literal where \ escapes nothing
    (SQLITE, "SELECT * FROM t WHERE a = 'C:\\temp\\' AND b = 'it''s'", ("C:\\temp\\", "it''s")),
    (POSTGRESQL, "SELECT * FROM t WHERE a = 'x\\' AND b = 'y z'", ("x\\", "y z")),
    (MYSQL, "SELECT * FROM t WHERE a = 'x\\\\' AND b = 'y z'", ("x\\\\", "y z")),
    (MYSQL, "SELECT * FROM t WHERE a = '\\' OR 1=1 -- '", ("\\' OR 1=1 -- ",)),  # one literal in MySQL
    (MYSQL, 'SELECT * FROM t WHERE a = "it\\"s fine"', ('it\\"s fine',)),
    # # is an operator, not a comment, outside MySQL; $$ quotes only in PostgreSQL
    (POSTGRESQL, "SELECT 5 # 3, '{x}'", ("{x}",)),
    (POSTGRESQL, "SELECT $$it's a note$$", ("it's a note",)),
    # a comment the code opened holds the input
    (SQLITE, "SELECT 1 -- a note: it's -- fine", ("a note: it's -- fine",)),
    (MYSQL, "SELECT 1 # a note: it's fine", ("a note: it's fine",)),
    # a bound value that coincides with the code's own text: it never entered the statement
    (SQLITE, "SELECT note FROM notes WHERE kind = 'memo' AND note = ?", ("memo'",)),
    (POSTGRESQL, "SELECT note FROM notes WHERE kind = 'memo' AND note = %s", ("'memo",)),
    (MYSQL, "SELECT note FROM notes WHERE kind = 'a b' AND note = %s", ("'a b'",)),
    # one complete quoted literal
    (SQLITE, "SELECT * FROM t WHERE a = 'O''Brien'", ("'O''Brien'",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a = 'it''s'", ("'it''s'",)),
    (MYSQL, "SELECT * FROM t WHERE a = 'it\\'s'", ("'it\\'s'",)),
    # lists and sorts an app splices
    (SQLITE, "SELECT * FROM t WHERE id IN (1,2,3)", ("1,2,3",)),
    (SQLITE, "SELECT * FROM t WHERE id IN (1, -2.5, 0x1F)", ("1, -2.5, 0x1F",)),
    (SQLITE, "SELECT * FROM t WHERE a IN ('a','b')", ("'a','b'",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a IN ('it''s', 'b c')", ("'it''s', 'b c'",)),
    (SQLITE, "SELECT * FROM t ORDER BY price DESC, name", ("price DESC, name",)),
    (POSTGRESQL, "SELECT * FROM t ORDER BY price DESC NULLS LAST, t.name asc", ("price DESC NULLS LAST, t.name asc",)),
    (SQLITE, "SELECT id, name, price FROM t", ("id, name, price",)),
    (MYSQL, "SELECT * FROM t ORDER BY `order` DESC", ("`order` DESC",)),
    (POSTGRESQL, 'SELECT * FROM t ORDER BY "Price" DESC', ('"Price" DESC',)),
    # a decoy repeated many times, every occurrence inert
    (SQLITE, "SELECT " + ", ".join(["'a b'"] * 200), ("a b",)),
])
def test_dialect_benign(dialect, statement: str, values: tuple[str, ...]) -> None:
    assert judged(dialect, statement, *values) is None


def test_a_plain_string_is_read_in_every_dialect() -> None:
    # the RDS Data API runs Aurora MySQL or PostgreSQL: the statement must be safe in both readings
    assert judged(None, "SELECT * FROM t WHERE a = '\\' OR 1=1 -- '", "\\' OR 1=1 -- ") is not None
    assert judged(None, "SELECT * FROM t WHERE a = 'x\\' AND b = ' OR 1=1 -- '", "x\\", " OR 1=1 -- ") is not None
    assert judged(None, "SELECT * FROM t WHERE id IN (1,2,3)", "1,2,3") is None


@pytest.mark.parametrize(("statement", "value", "attack"), [
    # an input of letters and digits that stands bare where a value belongs names a column
    ("SELECT * FROM users WHERE id = id", "id", True),
    ("SELECT * FROM users WHERE name = name AND password = password", "password", True),
    ("SELECT * FROM t WHERE a LIKE name", "name", True),
    ("SELECT * FROM t WHERE a IN (owner)", "owner", True),
    ("SELECT * FROM t WHERE a <> other_col", "other_col", True),
    ("UPDATE users SET balance = balance", "balance", True),
    ("SELECT * FROM t WHERE a IS NOT secret", "secret", True),
    # the same words as values, keywords, or the code's own names
    ("SELECT * FROM users WHERE id = 'id'", "id", False),
    ("SELECT * FROM users WHERE id = 42", "42", False),
    ("SELECT * FROM users WHERE active = TRUE", "TRUE", False),
    ("SELECT * FROM users WHERE deleted IS NULL", "NULL", False),
    ("SELECT id FROM users ORDER BY id", "id", False),
    ("SELECT * FROM users WHERE name = ?", "name", False),
    ("SELECT * FROM a JOIN b ON a.id = b.id", "b", False),
    ("SELECT * FROM users WHERE created = now()", "now", False),
    ("SELECT * FROM t WHERE a = 1 -- = id", "id", False),
])
def test_inputs_of_letters_and_digits_where_a_value_belongs(statement: str, value: str, attack: bool) -> None:
    result = detect(Statement(statement, SQLITE), Inputs([Input("query.q", value)]), {})
    assert (result is not None) is attack
