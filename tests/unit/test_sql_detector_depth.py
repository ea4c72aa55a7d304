"""Issue 11, the SQL detector against an informed attacker: one-character inputs, SQLite's double-quoted
identifiers, PostgreSQL's E'...' strings, and the second stage (sqlparse) on suspicion only."""
from __future__ import annotations

import importlib.util

import pytest

from app_protect_lambda.detectors import sql_injection
from app_protect_lambda.detectors.sql_injection import (
    MYSQL,
    MYSQL_NO_BACKSLASH_ESCAPES,
    PARTIQL,
    POSTGRESQL,
    SQLITE,
    Statement,
    detect,
    single_may_matter,
)
from app_protect_lambda.sources.inputs import Input, Inputs

needs_sqlparse = pytest.mark.skipif(importlib.util.find_spec("sqlparse") is None,
                                    reason="sqlparse is installed with the package (pip install -e .)")


def judged(dialect: str | None, statement: str, *values: str):
    inputs = Inputs([Input(f"query.q{number}", value) for number, value in enumerate(values)])
    return detect(Statement(statement, dialect), inputs, {})


# ---------------------------------------------------------------- 1. one character that is structure

SINGLE_ATTACKS = [
    # a backslash that escapes the code's closing quote where backslashes escape: the literal runs on
    (MYSQL, "SELECT * FROM t WHERE a = '\\' AND b = 'zz'", "\\"),
    (MYSQL, 'SELECT * FROM t WHERE a = "\\" AND b = "zz"', "\\"),
    (MYSQL, "SELECT * FROM t WHERE a = 'x' AND b = '\\' AND c = 'zz'", "\\"),
    (None, "SELECT * FROM t WHERE a = '\\' AND b = 'zz'", "\\"),  # Aurora MySQL or PostgreSQL: either reading
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'\\' AND b = 'zz'", "\\"),
    (POSTGRESQL, "SELECT * FROM t WHERE a = e'\\' AND b = 'zz'", "\\"),
    # a quote left unterminated (the classic probe), or one that turns the code's closer into an escape
    (SQLITE, "SELECT * FROM t WHERE id = '", "'"),
    (SQLITE, "SELECT * FROM t WHERE id = ' AND owner = 'me'", "'"),
    (POSTGRESQL, "SELECT * FROM t WHERE a = ''' AND b = ''' AND c = 1", "'"),
    (SQLITE, 'SELECT * FROM t WHERE a = """ AND b = """', '"'),
    (MYSQL, "SELECT * FROM t WHERE a = `", "`"),
    # a statement separator with the code's own SQL after it; a MySQL comment that cuts it
    (SQLITE, "SELECT * FROM t ORDER BY name ; LIMIT 3", ";"),
    (POSTGRESQL, "SELECT * FROM t WHERE id = 1 ; AND owner = 2", ";"),
    (SQLITE, "UPDATE t SET note = 'seen' ; WHERE id = 1; SELECT 1", ";"),
    (MYSQL, "SELECT * FROM t WHERE id = 1 # AND owner = 2", "#"),
    (None, "SELECT * FROM t WHERE id = 1 # AND owner = 2", "#"),
]

SINGLE_BENIGN = [
    # a backslash where it escapes nothing, or escapes no quote
    (SQLITE, "SELECT * FROM t WHERE a = '\\' AND b = 'zz'", "\\"),
    (POSTGRESQL, "SELECT * FROM t WHERE a = '\\' AND b = 'zz'", "\\"),  # a standard string
    (MYSQL_NO_BACKSLASH_ESCAPES, "SELECT * FROM t WHERE a = '\\' AND b = 'zz'", "\\"),
    (MYSQL, "SELECT * FROM t WHERE a = '\\\\' AND b = 'zz'", "\\"),  # the code escaped it
    (MYSQL, "SELECT * FROM t WHERE a LIKE '%\\%%'", "\\"),
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'\\\\' AND b = 'zz'", "\\"),
    # the code's own quotes, or a quote the code doubled
    (SQLITE, "SELECT * FROM t WHERE a = 'x' AND c = 1", "'"),
    (SQLITE, "SELECT * FROM t WHERE a = '''' AND c = 1", "'"),
    (MYSQL, "SELECT * FROM t WHERE a = '\\'' AND c = 1", "'"),
    (SQLITE, 'SELECT * FROM t WHERE a = "x"', '"'),
    # ; inside a literal, or the statement's own terminator (a comment after it adds nothing)
    (SQLITE, "SELECT * FROM t WHERE a = ';' LIMIT 1", ";"),
    (SQLITE, "SELECT 1;", ";"),
    (SQLITE, "SELECT 1; -- done\n", ";"),
    # a script's own ; before its next statement (executescript)
    (SQLITE, "UPDATE t SET note = 'seen' WHERE id = 1; UPDATE t SET n = n + 1 WHERE 0;", ";"),
    (POSTGRESQL, "BEGIN; /* then */ SELECT 1; COMMIT", ";"),
    # # is an operator outside MySQL; a value in a literal
    (POSTGRESQL, "SELECT 5 # 3", "#"),
    (MYSQL, "SELECT * FROM t WHERE tag = '#'", "#"),
    # one letter or one digit, wherever it lands; a character that is never structure alone
    (SQLITE, "SELECT * FROM t WHERE page = 1 LIMIT 1", "1"),
    (SQLITE, "SELECT * FROM t ORDER BY a", "a"),
    (SQLITE, "SELECT * FROM t WHERE q = 'x'", "x"),
    (MYSQL, "SELECT * FROM t WHERE a = 'x' AND b LIKE '%'", "%"),
    (SQLITE, "SELECT * FROM t WHERE a = '-' AND b = 5 - 1", "-"),
]


@pytest.mark.parametrize(("dialect", "statement", "value"), SINGLE_ATTACKS)
def test_one_character_that_changes_the_tokens_is_an_attack(dialect, statement: str, value: str) -> None:
    result = judged(dialect, statement, value)
    assert result is not None and result.rule == "sqli.structure"
    assert result.input.value == value


@pytest.mark.parametrize(("dialect", "statement", "value"), SINGLE_BENIGN)
def test_one_character_that_changes_nothing_passes(dialect, statement: str, value: str) -> None:
    assert judged(dialect, statement, value) is None


def test_one_character_input_is_located() -> None:
    inputs = Inputs([Input("query.page", "1"), Input("body.name", "\\")])
    result = detect(Statement("SELECT * FROM t WHERE a = '\\' AND b = 'zz'", MYSQL), inputs, {})
    assert inputs.locate(result.input) == Input("body.name", "\\")


def test_one_letter_or_digit_is_not_kept_aside() -> None:
    # the benign path pays one attribute read: no structure character, nothing to judge
    inputs = Inputs([Input("query.page", "1"), Input("query.sort", "a"), Input("query.q", "x"),
                     Input("query.blank", " ")])
    assert inputs.singles == frozenset()
    assert Inputs([Input("query.sep", ";"), Input("query.page", "1")]).singles == frozenset(";")


def test_one_character_decoded_from_a_longer_value_counts() -> None:
    inputs = Inputs([Input("body.raw", "%27")])  # URL-decoded by the code: a lone quote
    assert "'" in inputs.singles
    assert detect(Statement("SELECT * FROM t WHERE id = '", SQLITE), inputs, {}) is not None


@pytest.mark.parametrize(("statement", "singles", "looked"), [
    ("SELECT * FROM t WHERE a = 'x'", frozenset("'"), True),
    ("SELECT * FROM t WHERE a = 1", frozenset("'"), False),  # no quote in it: not even looked at
    ("SELECT * FROM t WHERE a = 'x'", frozenset("%-"), False),
])
def test_the_sinks_fast_path_for_one_character_inputs(statement: str, singles: frozenset[str], looked: bool) -> None:
    assert single_may_matter(statement, singles) is looked


# ---------------------------------------------------------------- 2. SQLite's double-quoted identifiers

IDENTIFIER_ATTACKS = [
    # SQLite reads "password" as the column when the table has one: true of every row
    (SQLITE, 'SELECT * FROM users WHERE password = "password"', ("password",)),
    (SQLITE, 'SELECT * FROM users WHERE name = "name" AND active = 1', ("name",)),
    (SQLITE, 'SELECT * FROM users WHERE owner IN ("owner")', ("owner",)),
    (SQLITE, "SELECT * FROM users WHERE owner = `owner`", ("owner",)),
    (SQLITE, 'SELECT * FROM users WHERE id = "rowid"', ("rowid",)),      # implicit: every table has it
    (SQLITE, 'SELECT * FROM users WHERE api_key = "API_KEY"', ("API_KEY",)),  # names are case-blind
    (POSTGRESQL, 'SELECT * FROM users WHERE owner = "owner"', ("owner",)),  # always a name in PostgreSQL
    (PARTIQL, 'SELECT * FROM "users" WHERE owner = "owner"', ("owner",)),
    (MYSQL, "SELECT * FROM users WHERE owner = `owner`", ("owner",)),
    (None, 'SELECT * FROM users WHERE owner = "owner"', ("owner",)),  # PostgreSQL's reading
    # an input that closes or opens the double quote
    (SQLITE, 'SELECT * FROM users WHERE name = "x" OR "a"="a"', ('x" OR "a"="a',)),
    (SQLITE, 'SELECT * FROM users ORDER BY "price" DESC, "x" || (SELECT 1)', ('price" DESC, "x" || (SELECT 1)',)),
    (SQLITE, 'SELECT * FROM t ORDER BY "price" DESC, "name"', ('price" DESC, "name',)),  # one name made two
]

IDENTIFIER_BENIGN = [
    # a whole identifier the code quotes, picked from its own list: a sort, a column list
    (SQLITE, 'SELECT * FROM users ORDER BY "price" DESC', ("price",)),
    (SQLITE, 'SELECT "name", "price" FROM t', ("name",)),
    (SQLITE, 'SELECT * FROM t ORDER BY "Price Total" DESC', ("Price Total",)),
    # text no column is named like: SQLite's fallback, a string
    (SQLITE, 'SELECT * FROM users WHERE name = "john smith"', ("john smith",)),
    # a word in "..." that the statement names nowhere else: code that writes its strings in "..."
    # (SQLite's misfeature); the detector does not see the schema, the statement stands in for it
    (SQLITE, 'SELECT * FROM users WHERE name = "bob"', ("bob",)),
    (SQLITE, 'SELECT * FROM users WHERE name = "bob" AND kind = "admin"', ("bob", "admin")),
    (SQLITE, 'SELECT * FROM users WHERE name = "x_owner"', ("owner",)),  # part of the name only
    # MySQL reads "..." as a string; a qualified name's head is the code's
    (MYSQL, 'SELECT * FROM users WHERE name = "owner"', ("owner",)),
    (SQLITE, 'SELECT * FROM users WHERE a = "t".owner', ("t",)),
    (SQLITE, "SELECT * FROM users WHERE name = 'owner'", ("owner",)),
]


@pytest.mark.parametrize(("dialect", "statement", "values"), IDENTIFIER_ATTACKS)
def test_quoted_identifier_attacks(dialect, statement: str, values: tuple[str, ...]) -> None:
    result = judged(dialect, statement, *values)
    assert result is not None and result.rule == "sqli.structure"


@pytest.mark.parametrize(("dialect", "statement", "values"), IDENTIFIER_BENIGN)
def test_quoted_identifier_benign(dialect, statement: str, values: tuple[str, ...]) -> None:
    assert judged(dialect, statement, *values) is None


# ---------------------------------------------------------------- 3. PostgreSQL's E'...' escape strings

E_STRING_ATTACKS = [
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'x\\' AND b = ' OR 1=1 --'", ("x\\",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a = e'x\\' AND b = 'zz'", ("x\\",)),
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'x\\\\\\' AND b = 'zz'", ("x\\\\\\",)),  # three: the last escapes
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'it\\'s' OR 1=1 --'", ("it\\'s' OR 1=1 --",)),
    (None, "SELECT * FROM t WHERE a = E'x\\' AND b = 'zz'", ("x\\",)),
    # the escape rule holds for MySQL's literals too: the value, not only the next input, is named
    (MYSQL, "SELECT * FROM t WHERE a = 'x\\' AND b = 'zz'", ("x\\",)),
]

E_STRING_BENIGN = [
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'x\\\\' AND b = 'y z'", ("x\\\\",)),  # an escaped backslash
    (POSTGRESQL, "SELECT * FROM t WHERE a = 'x\\' AND b = 'y z'", ("x\\",)),  # a standard string
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'it\\'s fine'", ("it\\'s fine",)),  # one literal in E'...'
    (POSTGRESQL, "SELECT * FROM t WHERE a = E'line\\nnext' AND b = 'y z'", ("line\\nnext",)),
    (POSTGRESQL, "SELECT * FROM t WHERE name = 'e' AND b = 'x\\'", ("x\\",)),  # 'e' is a literal, no E prefix
    (POSTGRESQL, "SELECT * FROM t WHERE a IN (E'it\\'s', 'b c')", ("it\\'s",)),
]


@pytest.mark.parametrize(("dialect", "statement", "values"), E_STRING_ATTACKS)
def test_escape_string_attacks(dialect, statement: str, values: tuple[str, ...]) -> None:
    result = judged(dialect, statement, *values)
    assert result is not None and result.rule == "sqli.structure"
    assert result.input.value == values[0]


@pytest.mark.parametrize(("dialect", "statement", "values"), E_STRING_BENIGN)
def test_escape_string_benign(dialect, statement: str, values: tuple[str, ...]) -> None:
    assert judged(dialect, statement, *values) is None


# ---------------------------------------------------------------- 4. the second stage: sqlparse on suspicion

SECOND_STAGE_LISTS = [
    # lists and sorts the first stage's pattern does not spell: qualified quoted names, prefixed literals
    (SQLITE, 'SELECT * FROM t ORDER BY "t"."Price" DESC, name', '"t"."Price" DESC, name'),
    (POSTGRESQL, 'SELECT * FROM t ORDER BY "t"."Price" DESC NULLS LAST', '"t"."Price" DESC NULLS LAST'),
    (MYSQL, "SELECT * FROM t ORDER BY `t`.`order` DESC", "`t`.`order` DESC"),
    (SQLITE, "SELECT * FROM t WHERE b IN (X'41', x'42')", "X'41', x'42'"),
    (MYSQL, "SELECT * FROM t WHERE b IN (N'x', N'y')", "N'x', N'y'"),
    (POSTGRESQL, "SELECT * FROM t WHERE b IN (E'a\\'b', 'c')", "E'a\\'b', 'c'"),
    (SQLITE, "SELECT * FROM t WHERE b IN (NULL, TRUE, -1, X'00')", "NULL, TRUE, -1, X'00'"),
]

SECOND_STAGE_ATTACKS = [
    # the same shapes with a call, a cast, a subquery, an operator, a comment, a second statement
    (SQLITE, 'SELECT * FROM t ORDER BY "t"."Price" DESC, sleep(5)', '"t"."Price" DESC, sleep(5)', "Name, Punctuation"),
    (POSTGRESQL, 'SELECT * FROM t ORDER BY "t"."Price"::int', '"t"."Price"::int', "Punctuation, Name.Builtin"),
    (SQLITE, "SELECT * FROM t WHERE b IN (X'41', (SELECT 1))", "X'41', (SELECT 1)", "Keyword.DML"),
    (SQLITE, "SELECT * FROM t WHERE b IN (X'41' || 'a')", "X'41' || 'a'", "Operator"),
    (SQLITE, "SELECT * FROM t WHERE b IN (N'x' -- )", "N'x' -- ", "Comment.Single"),
    (SQLITE, 'SELECT * FROM t ORDER BY "t"."a" DESC; DROP TABLE t', '"t"."a" DESC; DROP TABLE t', "Keyword.DDL"),
    (SQLITE, 'SELECT * FROM t ORDER BY CASE WHEN "t"."a" THEN 1 END', 'CASE WHEN "t"."a" THEN 1 END', "Keyword"),
    (SQLITE, "SELECT * FROM t WHERE id = 1 OR 1=1", "1 OR 1=1", "Literal.Number.Integer, Keyword"),
    (SQLITE, "SELECT * FROM t WHERE a = 'x' OR 'a'='a'", "x' OR 'a'='a", "Operator.Comparison"),
    (POSTGRESQL, "SELECT * FROM t WHERE b IN (X'4' 'x')", "X'4' 'x'", "Literal.String.Single"),
]


@needs_sqlparse
@pytest.mark.parametrize(("dialect", "statement", "value"), SECOND_STAGE_LISTS)
def test_second_stage_lets_lists_of_whole_operands_through(dialect, statement: str, value: str) -> None:
    assert judged(dialect, statement, value) is None


@pytest.mark.parametrize(("dialect", "statement", "value", "token"), SECOND_STAGE_ATTACKS)
def test_second_stage_confirms_and_names_the_tokens(dialect, statement: str, value: str, token: str) -> None:
    result = judged(dialect, statement, value)
    assert result is not None and result.rule == "sqli.structure"
    if importlib.util.find_spec("sqlparse") is not None:
        tokens, _, around = result.evidence.partition(" | at: ")
        assert tokens.startswith("tokens: ") and token in tokens.partition(" in: ")[0]
        assert value.strip() in tokens.partition(" in: ")[2]  # the tokens' text in one piece
        assert value in around  # the statement around the occurrence follows


@needs_sqlparse
def test_second_stage_evidence_is_bounded() -> None:
    value = "1 OR " + " OR ".join(["1=1"] * 40) + " OR '" + "x" * 500 + "'"
    result = judged(SQLITE, f"SELECT * FROM t WHERE id = {value}", value)
    kinds = result.evidence.partition(" in: ")[0]
    assert "more" in kinds and kinds.count(",") == 12  # twelve types, then how many more


@pytest.mark.parametrize(("dialect", "statement", "value"), SECOND_STAGE_LISTS)
def test_those_lists_are_the_second_stages_precision(dialect, statement: str, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the first stage alone judges each of them structure: the second stage is what lets them through
    monkeypatch.setattr(sql_injection, "_second_stage", lambda *args: "")
    assert judged(dialect, statement, value) is not None


@needs_sqlparse
def test_second_stage_looks_at_a_bounded_number_of_occurrences(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = sql_injection._second_stage

    def counting(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(sql_injection, "_second_stage", counting)
    # occurrences the first stage flags and the second lets through, again and again: past the
    # bound the first stage's verdict stands
    item = '"t"."a" DESC'
    statement = "SELECT * FROM t ORDER BY " + ", ".join([item] * 40)
    result = judged(SQLITE, statement, item)
    assert len(calls) == sql_injection.MAX_SECOND_STAGES
    assert result is not None or importlib.util.find_spec("sqlparse") is None


def test_second_stage_window_is_bounded() -> None:
    value = "1 OR " + "1" * (sql_injection.SECOND_STAGE_WINDOW + 10)
    result = judged(SQLITE, f"SELECT * FROM t WHERE id = {value}", value)
    assert result is not None and not result.evidence.startswith("tokens: ")


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRESQL, MYSQL, "unknown", "unknown, backslash escapes"])
def test_quotes_that_pair_off_leave_none_open(dialect: str) -> None:
    # _balanced settles a lone quote without reading the statement: wherever it says so, a reading
    # finds no quote left open and no run of three opening a literal
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="'\"`\\#$-/* ax;", max_size=24))
    def check(text: str) -> None:
        for char in "'\"`":
            if sql_injection._balanced(text, char):
                regions = sql_injection._regions(text, len(text), dialect)
                starts = [region[0] for region in regions]
                assert sql_injection._single_reason(text, char, regions, starts, dialect) is None

    check()
