"""Issue 11, round 2: the SQL detector read by an attacker who has its source.

Each attack row is a shape that got through before its fix (a list of whole operands that names a
column where a value belongs; an IN list that the code joins from separate values; a PostgreSQL
block comment that an input nests), next to the benign rows of the same shape that must pass."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.sql_injection import MYSQL, POSTGRESQL, SQLITE, Statement, detect
from app_protect_lambda.sources.inputs import Input, Inputs


def judged(dialect: str | None, statement: str, *values: str):
    inputs = Inputs([Input(f"query.q{number}", value) for number, value in enumerate(values)])
    return detect(Statement(statement, dialect), inputs, {})


ATTACKS = [
    # a name where a value belongs compares a column with itself: true of every row
    (SQLITE, "SELECT body FROM notes WHERE id IN (1, id)", ("1, id",)),
    (SQLITE, "SELECT body FROM notes WHERE id IN (id,1)", ("id,1",)),
    (SQLITE, "SELECT body FROM notes WHERE id IN ('a', id) AND owner = 'bob'", ("'a', id",)),
    (SQLITE, "SELECT body FROM notes WHERE owner = notes.owner", ("notes.owner",)),
    (SQLITE, "SELECT body FROM notes WHERE owner = `owner`", ("`owner`",)),
    (SQLITE, "SELECT body FROM notes WHERE owner = [owner]", ("[owner]",)),
    (SQLITE, "SELECT body FROM notes WHERE id = id\t", ("id\t",)),
    (SQLITE, "SELECT body FROM notes WHERE owner LIKE owner ", ("owner ",)),
    (SQLITE, "SELECT body FROM notes WHERE id BETWEEN 1 AND id ", ("id ",)),
    (MYSQL, "SELECT body FROM notes WHERE owner = `owner`", ("`owner`",)),
    (MYSQL, "SELECT body FROM notes WHERE id IN (`id`, 1) AND owner = 'bob'", ("`id`, 1",)),
    (POSTGRESQL, 'SELECT body FROM notes WHERE owner = "owner"', ('"owner"',)),
    (POSTGRESQL, "SELECT body FROM notes WHERE owner = notes.owner LIMIT 5", ("notes.owner",)),
    (None, "SELECT body FROM notes WHERE owner = `owner`", ("`owner`",)),
    # the left-hand side of the comparison spells the column too: that is no list position
    (SQLITE, "SELECT body FROM notes WHERE owner = owner ", ("owner ",)),
    (SQLITE, "SELECT owner, body FROM notes WHERE id = notes.id", ("notes.id",)),
    # an IN list the code joins from several values (?id=1&id=id): a bare word after a comma
    (SQLITE, "SELECT body FROM notes WHERE id IN (1,id)", ("1", "id")),
    (SQLITE, "SELECT body FROM notes WHERE id IN (1, `id`)", ("1", "id")),
    (POSTGRESQL, "SELECT body FROM notes WHERE id IN (1, 2, id)", ("1", "2", "id")),
    # PostgreSQL nests block comments: /* in a comment the code wrote makes its */ close the input's
    (POSTGRESQL, "/* route=web/* */ SELECT body FROM notes WHERE owner = 'bob' AND body LIKE '%*/ SELECT 1 --%'",
     ("web/*", "*/ SELECT 1 --")),
    (POSTGRESQL, "SELECT body FROM notes /* user=a/*b */ WHERE owner = 'bob'", ("a/*b",)),
    (None, "/* route=web/* */ SELECT 1", ("web/*",)),
]

BENIGN = [
    # names where the code asked for names: a sort, a column list, a filter's left-hand side
    (SQLITE, "SELECT body FROM notes ORDER BY notes.owner DESC, id", ("notes.owner DESC, id",)),
    (SQLITE, "SELECT notes.id, notes.owner FROM notes", ("notes.id, notes.owner",)),
    (SQLITE, "INSERT INTO notes (id, owner) VALUES (1, 'x')", ("id, owner",)),
    (SQLITE, "SELECT body FROM notes GROUP BY notes.owner", ("notes.owner",)),
    (SQLITE, "SELECT body FROM notes WHERE notes.owner LIKE ?", ("notes.owner",)),
    (SQLITE, "SELECT body FROM notes WHERE kind = 'memo' AND t.owner = ?", ("t.owner",)),
    (MYSQL, "SELECT body FROM notes ORDER BY `price` DESC", ("`price` DESC",)),
    (POSTGRESQL, 'SELECT "id", "owner" FROM notes', ('"id", "owner"',)),
    # a sort the request picked that the code's own join condition spells too
    (SQLITE, "SELECT * FROM orders JOIN users ON orders.user_id = users.id ORDER BY users.id", ("users.id",)),
    (POSTGRESQL, "SELECT * FROM orders o, users u WHERE o.user_id = u.id AND u.name = %s ORDER BY u.id",
     ("u.id",)),
    (MYSQL, "SELECT * FROM orders o JOIN users u ON o.user_id = `u`.`id` ORDER BY `u`.`id`", ("`u`.`id`",)),
    # values where values belong: numbers, strings, constants, prefixed literals
    (SQLITE, "SELECT body FROM notes WHERE id IN (1,2,3)", ("1,2,3",)),
    (SQLITE, "SELECT body FROM notes WHERE tag IN ('a','b')", ("'a','b'",)),
    (SQLITE, 'SELECT body FROM notes WHERE tag IN ("a","b")', ('"a","b"',)),  # SQLite's strings: no such column named
    (SQLITE, "SELECT body FROM notes WHERE flag IN (TRUE, NULL)", ("TRUE, NULL",)),
    (SQLITE, "SELECT body FROM notes WHERE data = X'41'", ("X'41'",)),
    (SQLITE, "SELECT body FROM notes WHERE n = -5", ("-5",)),
    (SQLITE, "SELECT body FROM notes WHERE n = 0x1F", ("0x1F",)),
    (SQLITE, "SELECT body FROM notes WHERE s IN ('open', 'closed')", ("open", "closed")),
    (SQLITE, "SELECT body FROM notes WHERE s IN ('a, closed', 'x')", ("closed",)),
    (SQLITE, "SELECT id, owner FROM notes WHERE s IN (1, 2)", ("owner",)),
    # realistic text: apostrophes, ; # -- in a product name, markdown backticks, JSON in a text column
    (SQLITE, "SELECT * FROM people WHERE name = 'O''Brien'", ("O'Brien",)),
    (MYSQL, "SELECT * FROM people WHERE name = 'O\\'Brien'", ("O'Brien",)),
    (SQLITE, "SELECT * FROM people WHERE name LIKE '%O''Brien%'", ("O'Brien",)),
    (SQLITE, "SELECT * FROM products WHERE name = 'Widget; #1 -- new'", ("Widget; #1 -- new",)),
    (MYSQL, "SELECT * FROM products WHERE name = 'Widget; #1 -- new'", ("Widget; #1 -- new",)),
    (SQLITE, "SELECT * FROM notes WHERE body = 'use `ls -la` to list'", ("use `ls -la` to list",)),
    (SQLITE, """INSERT INTO docs (body) VALUES ('{"a": "b\\"c", "n": [1,2]}')""", ('{"a": "b\\"c", "n": [1,2]}',)),
    # a comment the code writes with a value in it (sqlcommenter): no nesting outside PostgreSQL
    (POSTGRESQL, "/* route=web */ SELECT 1", ("web",)),
    (POSTGRESQL, "/* route='/notes/%2A' */ SELECT 1", ("/notes/%2A",)),
    (MYSQL, "/* route=web/* */ SELECT 1", ("web/*",)),
    (SQLITE, "/* route=web/* */ SELECT 1", ("web/*",)),
    (POSTGRESQL, "SELECT 1 WHERE note = '/* not a comment */'", ("/* not a comment */",)),
]


@pytest.mark.parametrize(("dialect", "statement", "values"), ATTACKS)
def test_informed_attack_is_structure(dialect, statement: str, values: tuple[str, ...]) -> None:
    finding = judged(dialect, statement, *values)
    assert finding is not None and finding.rule == "sqli.structure"


@pytest.mark.parametrize(("dialect", "statement", "values"), BENIGN)
def test_informed_benign_passes(dialect, statement: str, values: tuple[str, ...]) -> None:
    assert judged(dialect, statement, *values) is None


def test_a_name_where_a_value_belongs_is_reported_so() -> None:
    finding = judged(SQLITE, "SELECT body FROM notes WHERE id IN (1, id)", "1, id")
    assert "names a column where a value belongs" in finding.message and finding.input.value == "1, id"


def test_a_nested_comment_is_reported_on_the_input_that_opens_it() -> None:
    finding = judged(POSTGRESQL, "/* route=web/* */ SELECT body FROM notes WHERE body LIKE '%*/ SELECT 1 --%'",
                     "web/*", "*/ SELECT 1 --")
    assert "nested comment" in finding.message and finding.input.value == "web/*"


MB = 1 << 20
BUDGET = 2.0  # seconds of CPU per case, as tests/unit/test_worst_case.py


def fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


WORST_CASES = {
    "IN lists of words": ("SELECT 1 WHERE id IN (" + fill("1, id, ") + ")", "zz"),
    "unclosed IN lists": ("SELECT 1 WHERE id " + fill("IN (a, b "), "zz"),
    "names where values belong": ("SELECT 1 WHERE " + fill("a = t.b AND "), "t.b"),
    "lists after many blanks": ("SELECT 1 WHERE a =" + fill(" ") + "t.b", "t.b"),
    "block comments that nest": ("/*" + fill(" /* zz") + " */ SELECT 1", "/* zz"),
}


@pytest.mark.parametrize("name", list(WORST_CASES))
def test_the_new_readings_are_linear(name: str) -> None:
    import time

    statement, value = WORST_CASES[name]
    found = Inputs([Input("query.q", value), Input("query.w", "id")])
    for dialect in (SQLITE, POSTGRESQL, None):
        started = time.process_time()
        detect(Statement(statement, dialect), found, {})
        assert time.process_time() - started < BUDGET, dialect
