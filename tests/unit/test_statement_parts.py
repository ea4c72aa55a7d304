"""The parts of an input that a script's statement boundaries cut it into (sqlite3's trace hook sees one
statement at a time): attack rows and benign rows, and linear time on hostile input."""
from __future__ import annotations

import time

import pytest

from app_protect_lambda.detectors.sql_injection import detect
from app_protect_lambda.sinks.early_connections import _overlaps
from app_protect_lambda.sources.inputs import Inputs

# (statement as traced, input): the statement carries a part of the input that changes its structure
ATTACKS = [
    ("UPDATE users SET email = 'x' WHERE name = 'nobody';", "nobody'; DELETE FROM users; --"),
    (" DELETE FROM users;", "nobody'; DELETE FROM users; --"),
    ("SELECT 1 WHERE 'a' = 'a';", "a'; DROP TABLE users; --"),
    (" DROP TABLE users;", "a'; DROP TABLE users; --"),
    ("UPDATE t SET a = 1 WHERE name = 'bob' OR 1=1;", "bob' OR 1=1; UPDATE t SET p = 'owned'; --"),
    (" UPDATE t SET p = 'owned';", "bob' OR 1=1; UPDATE t SET p = 'owned'; --"),
    # 40 semicolons inside a literal before the one that ends the statement
    ("UPDATE t SET e = 'x' WHERE name = 'x' || '" + ";" * 40 + "' OR 1=1;",
     "x' || '" + ";" * 40 + "' OR 1=1; DELETE FROM t; --"),
]
# The whole input inside one literal, or no part of it in the statement.
BENIGN = [
    ("INSERT INTO notes VALUES ('a; b');", "a; b"),
    ("INSERT INTO notes VALUES ('50%; -- not a comment');", "50%; -- not a comment"),
    ("UPDATE users SET email = 'x' WHERE name = 'bob';", "alice; bob"),
    ("SELECT 1;", "x; y; z"),
    ("COMMIT;", "please commit; thanks"),
]


def judge(statement: str, value: str):
    parts = _overlaps(statement, value)
    return detect(statement, Inputs(parts, max_decode_chars=0), {}) if parts else None


@pytest.mark.parametrize(("statement", "value"), ATTACKS)
def test_a_statement_cut_out_of_an_input_is_found(statement: str, value: str) -> None:
    finding = judge(statement, value)
    assert finding is not None and finding.rule == "sqli.structure"


@pytest.mark.parametrize(("statement", "value"), BENIGN)
def test_benign_statements_are_not(statement: str, value: str) -> None:
    assert judge(statement, value) is None


HOSTILE = [
    ("UPDATE t SET a = '" + "x" * 50_000 + "';", ";" * 200_000),
    ("UPDATE t SET a = '" + "x" * 50_000 + "';", "a;" * 100_000),
    ("UPDATE t SET a = '" + "x" * 50_000 + "';", "'" + ";'" * 100_000),
    # Every semicolon of the input a candidate whose first character matches and whose full compare fails.
    ("SELECT '" + "a;" * 25_000 + "';", "a;" * 25_000 + "b;"),
    (";" * 50_000, ";" * 50_000 + "x"),
]


@pytest.mark.parametrize(("statement", "value"), HOSTILE, ids=range(len(HOSTILE)))
def test_linear_on_hostile_input(statement: str, value: str) -> None:
    start = time.process_time()
    for _ in range(5):
        _overlaps(statement, value)
    assert time.process_time() - start < 0.5
