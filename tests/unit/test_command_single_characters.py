"""Issue 11, the shell's part of one-character inputs: a lone glob or tilde where the shell expands it."""
from __future__ import annotations

import pytest

from app_protect_lambda.detectors.command_injection import Command, Prefilter, detect
from app_protect_lambda.sources.inputs import Input, Inputs


def judged(script: str, value: str):
    inputs = Inputs([Input("query.name", value), Input("query.page", "1")])
    command = Command([script], shell=True)
    return Prefilter(inputs).may_inject(command), detect(command, inputs, {})


@pytest.mark.parametrize(("script", "value"), [
    ("rm -f /tmp/up/*", "*"),  # rm /tmp/up/{name}: every upload
    ("rm -f /tmp/up/?", "?"),
    ("rm -f /tmp/up/report*", "*"),  # glued to the code's text, still a glob
    ("cat /tmp/up/a /tmp/up/*", "*"),
    ("ls ~", "~"),  # a tilde that starts a word: the home directory
    ("cp /tmp/up/a ~", "~"),
])
def test_lone_glob_or_tilde_the_shell_expands_is_an_attack(script: str, value: str) -> None:
    looked, result = judged(script, value)
    assert looked
    assert result is not None and result.rule == "cmdi.shell-syntax" and result.input.value == value
    assert "glob" in result.message


@pytest.mark.parametrize(("script", "value"), [
    ("rm -f '/tmp/up/*'", "*"),  # quoted: text
    ('echo "*"', "*"),
    ("rm -f /tmp/up/\\*", "*"),  # escaped
    ("ls /tmp/a~", "~"),  # not at a word's start
    ("echo 'a~'", "~"),
    ("echo 1", "1"),  # one digit, one letter: never kept aside
    ("cat /tmp/up/a", "a"),
    ("cat /tmp/up/a-b", "-"),  # a character that is no structure alone
    ("[ -f /tmp/x ] && echo ok", "["),  # [ alone matches nothing without a ] of its own: not judged
])
def test_lone_character_the_shell_reads_as_text_passes(script: str, value: str) -> None:
    _, result = judged(script, value)
    assert result is None


def test_argument_vectors_never_glob() -> None:
    inputs = Inputs([Input("query.name", "*")])
    assert detect(Command(["rm", "-f", "/tmp/up/*"]), inputs, {}) is None


def test_one_letter_inputs_add_nothing_to_the_prefilter() -> None:
    inputs = Inputs([Input("query.page", "1"), Input("query.q", "x")])
    assert not Prefilter(inputs).may_inject(Command(["rm -f /tmp/up/*"], shell=True))
