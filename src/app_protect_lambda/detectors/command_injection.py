"""Command injection: an input that changes what a command line does.

Shell commands (a string run by ``/bin/sh -c``) are read the way the shell reads
them: one pass classifies every character as literal word text, quoted text,
an escaped character, a blank between words, or syntax (quotes, operators,
expansions, substitutions, globs, comments), following ``'``, ``"``, ``\\``,
``$(...)`` and backticks. An occurrence of an input is inert only when every
character it brings is literal text of the shell's words after quote removal:
a quote that opens or closes, ``;``, ``|``, ``&``, a newline, ``<``/``>``,
``$(...)``, a backtick, ``$IFS``, ``*``/``?``/``[``, ``{}``, ``~`` or ``#``
coming from an input changes the command. Blanks are allowed (they only split
words), but a word that an input starts is then judged like an argument; a blank
an input brings between quotes it closes and reopens splits a quoted word and is
not. A tilde is an expansion at a word's start and after an unquoted ``=`` or
``:`` (assignments; bash takes ``--dir=~x`` too). ``$'...'`` is a quoted context like
``'...'``, so an input that opens one leaves a quote open. A script that ``eval`` or ``sh -c``
reads again is judged again, with what each input left after the first reading's quote
removal (``eval echo \\;id`` hands eval ``echo ;id``); an input that brings a ``$'...'`` with a
backslash there is refused at once, since its ``\\x3b`` becomes a ``;`` on the second reading.
A vector's positional parameters that the outer reading expands into such a script (``sh -c
'eval "$1"' sh INPUT``) are parsed there as the script's text; expanded once, they stay data.

Where POSIX ``sh`` on Linux and another platform disagree, this follows Lambda's Linux, each
case with a test: words split at blank, tab and newline only (a carriage return, form feed or
vertical tab is a letter, where cmd.exe and some readers split); a backslash is always an escape
(``C:\\Windows`` is ``C:Windows``: no drive letters or separators); program names and options
are case-sensitive (``Curl`` is not curl, ``ENV`` runs nothing of its argument).

Argument vectors never meet a shell, so plain data in them is harmless. There
an input is an attack when it becomes the program (or the program a wrapper
such as ``env`` or ``xargs`` runs), when it injects an option into a program
whose options run commands or write files (``find -exec``, ``curl -o``, ``tar
--to-command``...), or when the vector runs a shell with ``-c``, itself or
through wrappers (``env A=b sh -c``, ``timeout 5 bash -c``, ``xargs -I {} sh -c``,
``find -exec sh -c``, ``busybox sh -c``, ``flock``/``su``/``script -c``; the command
``ssh HOST CMD...`` has the remote shell run), and the script is judged as above; an input
that is the whole script chooses its program. The builtins ``exec``, ``command``, ``builtin``,
``.`` and ``source`` run their operand, which an input then must not choose. An input the
script quotes into a variable (``Q='INPUT'``, ``export Q=...``) that an unquoted ``$Q`` expands
later is split into words and globbed there: it is judged as the arguments it makes. The text the
code writes to a child's standard input (``run(argv, input=...)``, seen at ``Popen.communicate``) is judged as what
the child builds from it (``stdin_commands``): a shell or python reading its
script there, xargs appending items or pasting ``-I`` lines into its command.
The same holds for what a shell line feeds a shell, python, perl or xargs on its standard input
(``_judge_fed``, issue 11 round 2): a here-string (``sh <<< 'INPUT'``), a here-document's body
(``sh <<EOF``), and what ``echo``, ``printf`` or ``cat <<EOF`` write into a pipe (``echo 'INPUT' | sh``);
the quotes that keep an input one word of echo do not keep it data for the shell behind the pipe.
Cost (best of 5 alternating runs of 7x2000 ``detect`` calls, 40 inputs, a loaded machine): a pipe
from echo into ``sh -c`` holding an input 45 -> 60 µs, into ``base64`` 25 -> 29, a here-document to
``cat`` 26 -> 30, a line without pipe or here-document unchanged (24-25, 36-37).
An input that starts an assignment word and brings its ``=`` (``{} cmd``, ``env {} cmd``) chooses
which variable of the command's environment it sets (``LD_PRELOAD``, ``BASH_ENV``,
``GIT_SSH_COMMAND``, ``PAGER`` load or run code): rule ``cmdi.environment``.
An input that equals the program is indistinguishable from code that picks the
program by comparing a value (``if fmt == "zip"``); the policy's ``allow_programs`` names the programs inputs may pick.

A vector the code split from a string (``shlex.split``, ``str.split``) holds an input spread over
several arguments: the arguments it made are judged as the input's own (``split_forms``). A long
option is known by any prefix of three letters or more, as ``getopt_long`` takes it
(``--checkpoint-act=``); the word after an option that takes a value is that value, not an option
(``git commit -m "- bump"``); curl's data options read a file when an input brings their ``@``.
Program text that awk, jq, sed, perl -e or python -c read from an argument is judged by
``program_text`` (rule ``cmdi.code``): an input there must stay inside one string literal. A search
term named like a program (``git log --grep git``) does not choose the program when the
same value stands as a word of its own elsewhere in the command. Cost, measured against the
previous revision in alternating runs (80 inputs, 5 of them holding a blank): the first vector of
an invocation +10 µs (the split forms, 17 against 7; a spawn costs 1 ms and more), each later call
+0.5-1.1 µs, shell commands unchanged; a vector of awk, jq, sed, perl or python holding an input
is now read: 18 µs, where it was skipped (1 µs). The scripts wrappers hand on (issue 11), measured
as the whole Popen hook with the fork stubbed (best CPU time of 7x300 calls, 4 alternating runs, a
43-value event, a loaded machine): ``env LC_ALL=C sh -c 'echo <input>'`` 40 -> 80 µs (the script
is now read), a shell pipeline holding an input 86-96 either way, ``git status`` 6 -> 7.
"""
from __future__ import annotations

import os
import re
import sys
from bisect import bisect_right
from functools import cache, lru_cache
from itertools import accumulate

from ..findings import AttackKind, Finding
from ..sources.fragments import Family, transformed
from ..sources.inputs import UNLOCATED, Input
from . import program_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from typing import Any

    from ..sources import Inputs

MAX_OCCURRENCES = 16
# What carries shell syntax in a fragment an input left after the code transformed it: separators,
# pipes, redirections, substitutions, quotes, globs, braces, comments (sources/fragments.py).
FRAGMENTS = Family("shell", ";|&$`<>()'\"\\*?{}~#[", quotes="'\"")
# The one-character inputs that are shell structure on their own: a glob outside quotes (rm /tmp/up/{name}
# with name=*), a tilde at a word's start. Elsewhere (quoted, mid-word) the same character is text.
GLOB_SINGLES = "*?~"
# In an argument vector, what may start an option (`` --upload-pack=...``.strip()).
OPTION_FRAGMENTS = Family("option", ("-",), leading=True)

# Character classes of a shell command line.
LITERAL, QUOTED, ESCAPED, BLANK, QUOTE, OPERATOR, EXPANSION, SUBST, GLOB, COMMENT, REMARK = range(11)
WORD_BREAKS = frozenset((BLANK, OPERATOR, SUBST, COMMENT, REMARK))

# The one table of interpreters, shared with sandbox_persistence. A program is one of them when its
# file name is a listed name followed by nothing but a version of digits and dots (python3.12, bash5,
# perl5.36, lua5.4): program_name() drops that version, so shasum, phpunit or nodemon are not.
SHELLS = frozenset(("sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"))
# Programs whose own options end at the first operand (the script they run).
INTERPRETERS = frozenset(("python", "pypy", "perl", "ruby", "node", "nodejs", "php", "lua", "luajit", *SHELLS))
# Programs that run their first non-option argument as a program.
_WRAPPERS = frozenset(("env", "nohup", "nice", "setsid", "stdbuf", "sudo", "time", "timeout", "xargs",
                       "ionice", "chroot", "strace", "doas", "flock", "watch",
                       # shell builtins that run their operand: exec, command, builtin, and . / source the file
                       "exec", "command", "builtin", ".", "source"))
# The programs whose command may hand a script to another shell reading (their names without a version).
_HANDS_ON_A_SCRIPT = frozenset(("eval", "find", "su", "runuser", "script", "ssh", *SHELLS, *_WRAPPERS))


class Command:
    """What a process sink is about to run.

    ``shell`` commands have their script in ``argv[0]`` (the rest are the
    script's positional parameters); otherwise ``argv`` is the argument vector
    and ``program`` the file that is executed (``argv[0]`` unless a sink names
    it separately). ``executable`` is the shell for shell commands, when given;
    ``cwd`` the directory the process starts in, when the sink sets one. ``stdin`` is the text the
    code writes to the process's standard input (``subprocess.run(..., input=...)``), when a sink
    sees it: then what the process builds from it is judged (``stdin_commands``), not the command.
    """

    __slots__ = ("argv", "cwd", "executable", "program", "shell", "stdin")

    def __init__(self, argv: Sequence[str], *, shell: bool = False, program: str | None = None,
                 executable: str | None = None, cwd: str | None = None, stdin: str | None = None) -> None:
        self.argv = tuple(argv)
        self.shell = shell
        self.executable = executable
        self.cwd = cwd
        self.stdin = stdin
        self.program = program if program is not None else (self.argv[0] if self.argv and not shell else "")

    @property
    def script(self) -> str:
        return self.argv[0] if self.shell and self.argv else ""

    def display(self) -> str:
        """The command as a record shows it."""
        if self.shell:
            return self.script
        shown = " ".join(self.argv)
        if self.program and self.argv and self.program != self.argv[0]:
            return f"{self.program}: {shown}"
        return shown

    def __repr__(self) -> str:
        return f"Command({self.display()!r}, shell={self.shell})"


def _any(value: str) -> bool:
    # Shell commands are judged for every input that occurs in them: spawning costs far more than this.
    return True


# ---------------------------------------------------------------- the shell's reading of a command line
# The reader classifies each run of characters whose class does not depend on what came before with
# one regular expression match and one bytes.translate, and steps through the rest (quotes, escapes,
# expansions, substitutions, parentheses, ~ and #) one by one. Detection over plain text costs about
# 0.02 µs per character, over a realistic command line 0.4 µs and over dense syntax 0.4-3 µs, where a
# step per character cost 0.9, 1.0 and 0.7-4.8 µs (the same machine, loaded).

_CONTEXT_DEPENDENT = frozenset("'\"\\`$()~#")
_DOUBLE_QUOTED_SYNTAX = frozenset('"\\`$')


@cache
def _unquoted_ascii_run() -> re.Pattern[str]:
    return re.compile(r"[^'\"\\`$()~#\x80-\U0010ffff]+")


@cache
def _non_ascii_run() -> re.Pattern[str]:
    return re.compile(r"[\x80-\U0010ffff]+")


@cache
def _ascii_classes() -> bytes:
    """A bytes.translate table from ASCII to the class of a character outside quotes."""
    table = bytearray(256)  # LITERAL
    for chars, cls in ((" \t", BLANK), (";&|<>\n", OPERATOR), ("*?[{}", GLOB)):
        for char in chars:
            table[ord(char)] = cls
    return bytes(table)


@cache
def _double_quoted_run() -> re.Pattern[str]:
    return re.compile(r'[^"\\`$]+')


@cache
def _ansi_c_run() -> re.Pattern[str]:
    return re.compile(r"[^\\']+")


@cache
def _braces() -> re.Pattern[str]:
    return re.compile(r"[{}]")


def _one_of(classes: Iterable[int]) -> bytes:
    """A regular expression over a bytearray of classes: one character of ``classes``."""
    return b"[" + re.escape(bytes(sorted(classes))) + b"]"


@cache
def word_token() -> re.Pattern[bytes]:
    """Over the classes: a word (a run of anything but blanks, operators, substitutions and comments),
    or one operator or substitution character; what neither matches only separates words."""
    return re.compile(_one_of(set(range(REMARK + 1)) - WORD_BREAKS) + b"+|" + _one_of((OPERATOR, SUBST)))


@cache
def _unquoted_pieces() -> re.Pattern[bytes]:
    """Over the classes of one word: the runs that quote removal keeps."""
    return re.compile(_one_of(set(range(REMARK + 1)) - {QUOTE}) + b"+")


@cache
def _structure() -> re.Pattern[bytes]:
    """Over the classes: the first character that is not plain text after quote removal."""
    return re.compile(_one_of((OPERATOR, EXPANSION, SUBST, GLOB, COMMENT)))


def classify(text: str) -> tuple[bytearray, bytearray]:
    """The class of every character of ``text`` as ``sh -c`` reads it, and the quoting context before it.

    A context is 0 (unquoted), 1 (in '...' or $'...') or 2 (in "...") plus 3 for each
    enclosing command substitution; ``contexts[len(text)]`` is the state at the end. The body of a
    here-document is text, not commands (``REMARK``, context 1 like '...' when its delimiter is
    quoted), where an unquoted delimiter leaves ``$``, backticks and ``\\`` their meaning and quotes
    none: ``'$(id)'`` runs there.
    """
    classes, contexts = _read(text)
    if "<<" in text:
        _here_documents(text, classes, contexts)
    return classes, contexts


MAX_HERE_DOCUMENTS = 16  # each one read re-reads the text after it; past them the text reads as commands


def _here_documents(text: str, classes: bytearray, contexts: bytearray) -> None:
    """Re-read the bodies of the top-level here-documents of ``text``, and the text after each, in place."""
    position = 0
    for _ in range(MAX_HERE_DOCUMENTS):
        found = _here_document_line(text, classes, contexts, position)
        if found is None:
            return
        after = _here_document_bodies(text, classes, contexts, *found)
        if after >= len(text):
            return
        rest_classes, rest_contexts = _read(text[after:])
        classes[after:] = rest_classes
        contexts[after:] = rest_contexts
        position = after


def _here_document_line(text: str, classes: bytearray, contexts: bytearray,
                        position: int) -> tuple[int, list[tuple[str, bool, bool]]] | None:
    """The end of the first line from ``position`` that opens here-documents at the top level, and for each
    its delimiter after quote removal, whether the delimiter was quoted, and whether ``<<-`` strips tabs."""
    n = len(text)
    documents: list[tuple[str, bool, bool]] = []
    newline = -1  # the line that opened the first one ends at its first top-level newline
    index = text.find("<<", position)
    while index != -1:
        if newline != -1 and newline < index:
            return newline, documents
        if classes[index] == OPERATOR and contexts[index] == 0 and text[index + 2:index + 3] != "<" and \
                (index == 0 or text[index - 1] != "<"):
            strip = text[index + 2:index + 3] == "-"
            start = index + 2 + strip
            while start < n and classes[start] == BLANK:
                start += 1
            end = start
            while end < n and classes[end] not in WORD_BREAKS:
                end += 1
            if end > start:
                word = unquoted_word(text, classes, start, end) if classes.find(QUOTE, start, end) != -1 \
                    else Word(start, end, text[start:end])
                documents.append((word.value, classes.find(QUOTE, start, end) != -1, strip))
                if newline == -1:
                    newline = _top_level(text, classes, contexts, "\n", end)
                    if newline == -1:
                        return None  # no body follows
            position = end
        else:
            position = index + 2
        index = text.find("<<", position)
    return (newline, documents) if documents else None


def _top_level(text: str, classes: bytearray, contexts: bytearray, char: str, position: int) -> int:
    index = text.find(char, position)
    while index != -1 and (classes[index] != OPERATOR or contexts[index] != 0):
        index = text.find(char, index + 1)
    return index


def _here_document_bodies(text: str, classes: bytearray, contexts: bytearray, newline: int,
                          documents: list[tuple[str, bool, bool]]) -> int:
    """Classify the bodies that follow ``newline``, one per document; the index after the last delimiter line."""
    n = len(text)
    i = newline + 1
    for delimiter, quoted, strip in documents:
        body, inside = i, 1 if quoted else 2
        end = n
        while i < n:  # each step moves to the next line
            line_end = text.find("\n", i)
            line_end = n if line_end == -1 else line_end
            line = text[i:line_end]
            if (line.lstrip("\t") if strip else line) == delimiter:
                end = i
                i = min(line_end + 1, n)
                break
            i = line_end + 1
        else:
            end = n
        if quoted:
            classes[body:end] = bytes((REMARK,)) * (end - body)
            contexts[body:end] = bytes((inside,)) * (end - body)
        else:  # as in "...", where a quote is a letter
            wrapped = '"' + text[body:end].replace('"', "x") + '"'
            read, reading = _read(wrapped)
            classes[body:end] = read[1:-1].translate(_remarks())
            contexts[body:end] = reading[1:-1]
        classes[end:i] = bytes((REMARK,)) * (i - end)  # the delimiter line
        contexts[end:i] = bytes((inside,)) * (i - end)
        contexts[i] = 0 if end < n else inside
        if i >= n:
            break
    return i


@cache
def _remarks() -> bytes:
    """A bytes.translate table: quoted text of a here-document's body is a remark (no word)."""
    table = bytearray(range(256))
    table[QUOTED] = REMARK
    return bytes(table)


def _read(text: str) -> tuple[bytearray, bytearray]:
    n = len(text)
    classes = bytearray(n)  # LITERAL is 0
    contexts = bytearray(n + 1)
    stack: list[tuple[int, str, int]] = []  # contexts saved when entering $( ... ) or ` ... `
    mode, closer, depth = 0, "", 0
    ansi_body: tuple[int, int, int] | None = None  # the body of a $'...' just read, and its context
    ansi_open = 0  # the context at the end when a $'... is never closed
    ascii_run, double_quoted, ascii_classes = _unquoted_ascii_run(), _double_quoted_run(), _ascii_classes()
    i = 0
    while i < n:
        code = mode + 3 * len(stack)
        if code > 255:
            code = 255
        c = text[i]
        if mode == 1:  # '...': text up to the closing quote
            end = text.find("'", i)
            end = n if end == -1 else end
            classes[i:end] = bytes((QUOTED,)) * (end - i)
            if end < n:
                classes[end] = QUOTE
                mode = 0
                end += 1
            contexts[i:end] = bytes((code,)) * (end - i)
            i = end
            continue
        if mode == 0 and c not in _CONTEXT_DEPENDENT:  # words, blanks, operators and globs
            if c >= "\x80":
                end = _non_ascii_run().match(text, i).end()  # type: ignore[union-attr]
            elif i + 1 == n or text[i + 1] in _CONTEXT_DEPENDENT:  # one character: no run to match
                classes[i] = ascii_classes[ord(c)]
                contexts[i] = code
                i += 1
                continue
            else:
                end = ascii_run.match(text, i).end()  # type: ignore[union-attr]
                classes[i:end] = text[i:end].encode("ascii").translate(ascii_classes)
            contexts[i:end] = bytes((code,)) * (end - i)
            i = end
            continue
        if mode == 2 and c not in _DOUBLE_QUOTED_SYNTAX:
            if i + 1 == n or text[i + 1] in _DOUBLE_QUOTED_SYNTAX:
                classes[i] = QUOTED
                contexts[i] = code
                i += 1
                continue
            end = double_quoted.match(text, i).end()  # type: ignore[union-attr]
            classes[i:end] = bytes((QUOTED,)) * (end - i)
            contexts[i:end] = bytes((code,)) * (end - i)
            i = end
            continue
        here = i
        i += 1
        if c == "`":
            classes[here] = SUBST
            if closer == "`":
                mode, closer, depth = stack.pop()
            else:
                stack.append((mode, closer, depth))
                mode, closer, depth = 0, "`", 0
        elif c == "$" and i < n:
            last = _dollar(text, here, classes, mode == 2)
            i = last + 1
            if classes[last] == SUBST:
                stack.append((mode, closer, depth))
                mode, closer, depth = 0, ")", 0
            elif classes[last] == QUOTE and text[last] == "'":
                i = _ansi_c_string(text, i, classes)
                closed = i - 1 > last and text[i - 1] == "'" and classes[i - 1] == QUOTE
                ansi_body = (last + 1, i, min(code + 1, 255))  # quoted like '...', up to its closing quote
                if not closed:
                    ansi_open = ansi_body[2]
        elif mode == 2:
            classes[here] = QUOTED
            if c == '"':
                classes[here] = QUOTE
                mode = 0
            elif c == "\\" and i < n and text[i] in '$`"\\\n':
                classes[here] = QUOTE
                classes[i] = QUOTE if text[i] == "\n" else ESCAPED
                i += 1
        elif c == "'":
            classes[here] = QUOTE
            mode = 1
        elif c == '"':
            classes[here] = QUOTE
            mode = 2
        elif c == "\\":
            classes[here] = QUOTE
            if i < n:
                classes[i] = QUOTE if text[i] == "\n" else ESCAPED
                i += 1
        elif c == ")" and closer == ")" and depth == 0:
            classes[here] = SUBST
            mode, closer, depth = stack.pop()
        elif c in ";&|<>()\n":
            classes[here] = OPERATOR
            if closer == ")":
                depth += (c == "(") - (c == ")")
        elif c in "*?[{}" or (c == "~" and (_word_start(classes, here) or _after_assignment(text, classes, here))):
            classes[here] = GLOB
        elif c == "#" and _word_start(classes, here):
            classes[here] = COMMENT
            end = text.find("\n", i)
            i = n if end == -1 else end
            classes[here + 1:i] = bytes((REMARK,)) * (i - here - 1)
        if i - here == 1:
            contexts[here] = code
        else:
            contexts[here:i] = bytes((code,)) * (i - here)
        if ansi_body is not None:
            contexts[ansi_body[0]:ansi_body[1]] = bytes((ansi_body[2],)) * (ansi_body[1] - ansi_body[0])
            ansi_body = None
    contexts[n] = ansi_open if ansi_open else min(mode + 3 * len(stack), 255)
    return classes, contexts


def _word_start(classes: bytearray, i: int) -> bool:
    return i == 0 or classes[i - 1] in WORD_BREAKS


def _after_assignment(text: str, classes: bytearray, i: int) -> bool:
    """A tilde right after an unquoted ``=`` or ``:``: expanded in an assignment (``A=~/x``,
    ``PATH=a:~/bin``) and, by bash outside POSIX mode, in any word like one (``--dir=~root``)."""
    return text[i - 1] in "=:" and classes[i - 1] == LITERAL


def _dollar(text: str, i: int, classes: bytearray, in_double_quotes: bool) -> int:
    """Classify a ``$`` at ``i`` and what it introduces; the index of the last character handled."""
    nxt = text[i + 1]
    if nxt == "(":
        classes[i] = classes[i + 1] = SUBST
        return i + 1
    if nxt == "{":  # ${...} up to the brace that balances it, else to the end
        end, level = len(text) - 1, 0
        for brace in _braces().finditer(text, i + 1):
            level += 1 if brace.group() == "{" else -1
            if level == 0:
                end = brace.start()
                break
        classes[i:end + 1] = bytes((EXPANSION,)) * (end + 1 - i)
        return end
    if nxt == "'" and not in_double_quotes:  # bash's $'...' with C escapes
        classes[i] = classes[i + 1] = QUOTE
        return i + 1
    if nxt == '"' and not in_double_quotes:  # bash's $"..." (translated string)
        classes[i] = QUOTE
        return i
    if nxt.isalnum() or nxt in "_@*#?$!-":
        classes[i] = EXPANSION
        return i
    classes[i] = QUOTED if in_double_quotes else LITERAL
    return i


def _ansi_c_string(text: str, i: int, classes: bytearray) -> int:
    """Classify the body of ``$'...'`` from ``i``; the index after its closing quote."""
    n = len(text)
    while i < n:
        run = _ansi_c_run().match(text, i)
        if run is not None:
            classes[i:run.end()] = bytes((QUOTED,)) * (run.end() - i)
            i = run.end()
        elif text[i] == "'":
            classes[i] = QUOTE
            return i + 1
        elif i + 1 < n:  # a backslash and the character it escapes
            classes[i] = QUOTE
            classes[i + 1] = ESCAPED
            i += 2
        else:  # a backslash that ends the text
            classes[i] = QUOTED
            i += 1
    return i


class Word:
    """One word of a command: ``start``/``end`` bound its text inside the quotes that wrap it."""

    __slots__ = ("end", "start", "value")

    def __init__(self, start: int, end: int, value: str) -> None:
        self.start, self.end, self.value = start, end, value

    def __repr__(self) -> str:
        return f"Word({self.start}, {self.end}, {self.value!r})"


def simple_commands(text: str, classes: bytearray | None = None, piped: list[int] | None = None) -> list[list[Word]]:
    """The simple commands of a command line, each as its words after quote removal.

    Leading assignments (``A=b cmd``) and redirection targets are left out, so
    the first word of each command is the program it runs. ``piped`` gets the index of each command
    whose output a ``|`` (not ``||``) sends to the next one's standard input.
    """
    if classes is None:
        classes = classify(text)[0]
    commands: list[list[Word]] = []
    words: list[Word] = []
    redirect = False
    for token in word_token().finditer(classes):
        start, end = token.span()
        if classes[start] not in WORD_BREAKS:
            if redirect:
                redirect = False
            elif words or not _is_assignment(text, start, end, classes):
                words.append(Word(start, end, text[start:end]) if classes.find(QUOTE, start, end) == -1
                             else unquoted_word(text, classes, start, end))
            continue
        char = text[start]
        if char in "<>":
            if words and words[-1].end == start and words[-1].value.isdigit():
                words.pop()  # the descriptor of 2>file
            redirect = True
        elif char == "&" and start > 0 and text[start - 1] in "<>":
            pass  # 2>&1 is one redirection
        elif words:
            commands.append(words)
            words = []
            if piped is not None and char == "|" and text[start + 1:start + 2] != "|":
                piped.append(len(commands) - 1)
    if words:
        commands.append(words)
    return commands


def unquoted_word(text: str, classes: bytearray, start: int, end: int) -> Word:
    """The word at ``start:end``, which holds quotes, after quote removal."""
    pieces = [piece.span() for piece in _unquoted_pieces().finditer(classes, start, end)]
    if not pieces:  # an empty quoted word: ''
        return Word(start - 1, start, "")
    return Word(pieces[0][0], pieces[-1][1], "".join(text[a:b] for a, b in pieces))


def _leading_assignments(text: str, classes: bytearray) -> list[Word]:
    """The assignments in front of each simple command (``A=b B=c cmd``), which set its environment or
    the shell's variables, and those ``export``, ``local``, ``readonly``, ``declare`` and ``typeset`` make."""
    found: list[Word] = []
    at_start, redirect, declaring = True, False, False
    for token in word_token().finditer(classes):
        start, end = token.span()
        if classes[start] in WORD_BREAKS:  # one operator or substitution character
            char = text[start]
            if char in "<>":
                redirect = True
            elif not (char == "&" and start > 0 and text[start - 1] in "<>"):  # 2>&1 is one redirection
                at_start, declaring = True, False
            continue
        if redirect:
            redirect = False
        elif (at_start or declaring) and _is_assignment(text, start, end, classes):
            found.append(Word(start, end, text[start:end]))
        else:
            declaring = at_start and text[start:end] in ("export", "local", "readonly", "declare", "typeset")
            at_start = False
    return found


@cache
def _variable() -> re.Pattern[str]:
    return re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expanded_variables(script: str, classes: bytearray, contexts: bytearray, assignments: list[Word],
                        spans: list[tuple[Input, int]], inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    """An input the script quoted into a variable (``Q='INPUT'``) that an unquoted ``$Q`` later expands:
    the value is split into words and globbed there, never parsed, so it is judged as the arguments it
    makes (``Q='-o/var/task/app.py'; curl $Q URL``, ``rm $Q`` with ``*``)."""
    values: dict[str, str] = {}
    for word in assignments:
        if any(start < word.end and start + len(item.value) > word.start for item, start in spans):
            equals = script.index("=", word.start)
            values[script[word.start:equals]] = "".join(
                script[i] for i in range(equals + 1, word.end) if classes[i] != QUOTE)
    if not values:
        return None
    commands = None
    for found in _variable().finditer(script):
        name = found.group(1) or found.group(2)
        if name not in values or classes[found.start()] != EXPANSION or contexts[found.start()] % 3:
            continue  # another variable, or quoted ("$Q" stays one word)
        value = values[name]
        item = next((item for item, _ in spans if item.value in value or value in item.value), spans[0][0])
        if any(char in value for char in "*?["):
            return _finding("cmdi.shell-syntax", f"input from {item.describe()} expands unquoted into a glob",
                            item, script, found.start())
        if commands is None:
            commands = simple_commands(script, classes)
        for words in commands:
            if words[0].start <= found.start() < words[-1].end:
                argv: list[str] = []
                for word in words:  # the word holding the expansion splits where the value has blanks
                    argv += word.value.replace(found.group(), value).split() \
                        if word.start <= found.start() < word.end else [word.value]
                finding = _judge_argv(Command(argv), inputs, options) if argv else None
                if finding:
                    return finding
    return None


def _names_a_variable(words: Iterable[Word], text: str, spans: list[tuple[Input, int]]) -> Finding | None:
    """A finding when an input starts an assignment word and brings its ``=``: it chooses which variable
    of the program's environment it sets (``LD_PRELOAD``, ``BASH_ENV``, ``PATH``, ``GIT_SSH_COMMAND``,
    ``PAGER``, ``LESSOPEN``: each can load or run code), where an input after the ``=`` is only a value."""
    for word in words:
        equals = text.find("=", word.start, word.end)
        if equals <= word.start:
            continue
        for item, start in spans:
            if start <= word.start and start + len(item.value) > equals:
                name = text[word.start:equals]
                return _finding("cmdi.environment", f"input from {item.describe()} sets the environment "
                                f"variable {name} of the command", item, text, start)
    return None


def _is_assignment(text: str, start: int, end: int, classes: bytearray) -> bool:
    equals = text.find("=", start, end)
    if equals <= start or classes[equals] != LITERAL:
        return False
    name = text[start:equals]
    return (name[0].isalpha() or name[0] == "_") and name.replace("_", "a").isalnum()


# ---------------------------------------------------------------- dangerous options

@cache
def _builtin_dangerous_options() -> dict[str, frozenset[str]]:
    # Options that run a command, read, write or delete a file the caller did not intend, or send
    # traffic elsewhere (a pass over each program's manual: curl 8, wget 1.21, GNU tar 1.35, git 2.4x,
    # OpenSSH 9, rsync 3.2, zip 3, GNU find/xargs/env/sed, gawk 5, perl 5, CPython 3, node 20).
    table = {
        "curl": "-o --output -O --remote-name --output-dir -K --config -T --upload-file -d --data "
                "--data-binary --data-raw --data-urlencode --data-ascii --json --url-query -F --form "
                "--form-string -x --proxy --preproxy --create-dirs -w --write-out -D --dump-header "
                "-H --header --proxy-header -b --cookie -c --cookie-jar --trace --trace-ascii --stderr "
                "--libcurl --etag-save --etag-compare --hsts --alt-svc --netrc-file --variable "
                "--unix-socket --abstract-unix-socket --connect-to --resolve",
        "wget": "-O --output-document -o --output-file -a --append-output -P --directory-prefix "
                "--post-file --body-file --post-data --body-data -i --input-file -e --execute --use-askpass "
                "--config --load-cookies --save-cookies --rejected-log --warc-file --header",
        "tar": "--checkpoint-action --to-command --use-compress-program -I --rsh-command "
               "--info-script -F --new-volume-script --absolute-names -P -f --file -C --directory "
               "-T --files-from -X --exclude-from --index-file --volno-file -g --listed-incremental "
               "--remove-files --recursive-unlink --unlink-first --overwrite",
        "find": "-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls -files0-from",
        "zip": "-T --test -TT --unzip-command -O --output-file --out",
        "git": "--upload-pack -u --receive-pack --exec -c --config-env --output -o --template "
               "--exec-path --git-dir --work-tree --separate-git-dir -C --extcmd -x -O "
               "--open-files-in-pager --output-directory --contents",
        "rsync": "-e --rsh --rsync-path --remove-source-files --delete --files-from --exclude-from "
                 "--include-from --log-file --write-batch --only-write-batch --read-batch --backup-dir "
                 "--password-file --partial-dir --temp-dir --link-dest --copy-dest",
        "ssh": "-o -F -E -i -J -L -R -D -W -S -w",
        "scp": "-S -o -F -J -i",
        "sed": "-e --expression -f --file -i --in-place -s",
        "awk": "-f --file -e --source -E --exec -i --include -l --load -d --dump-variables -p "
               "--profile -o --pretty-print",
        "perl": "-e -E -x -M -m -I -i -d",
        "python": "-c -m",
        "pypy": "-c -m",
        "ruby": "-e -r -I -x -i",
        "node": "-e --eval -p --print -r --require --import --loader --experimental-loader --inspect "
                "--inspect-brk --env-file",
        "php": "-r -B -R -E -F",
        "sendmail": "-X -C -O -be -oQ",
        "convert": "-write -script -define -authenticate",
        "magick": "-write -script -define -authenticate",
        "mogrify": "-write -script -define -path",
        "pandoc": "-o --output --lua-filter -L --filter -F --template --include-in-header -H "
                  "--include-before-body -B --include-after-body -A --extract-media --resource-path --data-dir "
                  "--pdf-engine --pdf-engine-opt --metadata-file -d --defaults --csl --bibliography "
                  "--reference-doc --syntax-definition --abbreviations --log",
        "wkhtmltopdf": "--enable-local-file-access --allow --run-script --post-file --cookie-jar "
                       "--user-style-sheet --cache-dir --load-error-handling",
        "wkhtmltoimage": "--enable-local-file-access --allow --run-script --post-file --cookie-jar "
                         "--user-style-sheet --cache-dir",
        "gs": "-dNOSAFER -dDELAYSAFER -dNOSAFETY -sOutputFile -o -c -f -I --permit-file-read --permit-file-write "
              "--permit-file-all --permit-file-control",
        "ffmpeg": "-f -i -y",
        "sqlite3": "-cmd -init -unsafe-testing",
        "7z": "-o",
        "psql": "-c --command -f --file -o --output",
        "mysql": "-e --execute",
        "aws": "--endpoint-url --cli-input-json",
        "less": "-o --log-file -O --LOG-FILE",
        "man": "-P --pager -H --html",
        "openssl": "-engine -out",
        "xargs": "-a --arg-file -I -i",
        "env": "-S --split-string -C --chdir",
        "timeout": "-s",
        # issue 11, round 2: sort writes its output where -o says and runs a compressor; tcpdump runs -z
        # after each file it writes; vim runs ex commands (:!cmd); ncat/nc run a program for each
        # connection; ssh-keygen -D loads a shared library; make runs what its makefile or --eval says;
        # jq reads files into variables; nmap runs NSE scripts and writes its reports.
        "sort": "-o --output --compress-program --files0-from --random-source",
        "tcpdump": "-z -w -F -V -r",
        "vim": "-c --cmd -S -u -U -i -s -w -W",
        "nc": "-e -c --exec --sh-exec --lua-exec -o --output",
        "ssh-keygen": "-D",
        "make": "-f --file --makefile -C --directory --eval -E -I --include-dir",
        "jq": "-f --from-file --rawfile --slurpfile -L",
        "nmap": "--script --script-args-file -iL -oN -oX -oG -oA -oS --datadir --resume",
    }
    table["gawk"] = table["awk"]
    table["nodejs"] = table["node"]
    table["ncat"] = table["netcat"] = table["nc"]
    table["vi"] = table["nvim"] = table["ex"] = table["view"] = table["vim"]
    for shell in SHELLS:
        table[shell] = "-c"
    return {program: frozenset(options.split()) for program, options in table.items()}


@cache
def _options_taking_a_value() -> dict[str, frozenset[str]]:
    """Per program, the options whose value is the next word when it is not attached (``-m MSG``).

    That word is data, not an option, whatever it starts with (``git commit -m "- bump"``). A
    cluster (``-sSo FILE``) is not looked at: the next word stays judged, the safe side.
    """
    table = {
        "git": "-m --message -F --file -C -c -b -B --branch --grep --author --committer -S -G --format "
               "--pretty --since --until -n --max-count -X --strategy-option -s --strategy --depth "
               "--origin --date --reference --template -e --config-env",
        "curl": "-d --data --data-binary --data-raw --data-urlencode --data-ascii --json --url-query -H "
                "--header -u --user -A --user-agent -e --referer -X --request -x --proxy -b --cookie -c "
                "--cookie-jar -F --form --form-string -T --upload-file -K --config -w --write-out -D "
                "--dump-header -m --max-time --url --connect-timeout --retry -r --range -E --cert --key "
                "-o --output",
        "wget": "-O --output-document -o --output-file -a -P -e -i --header --post-data --post-file "
                "--body-file --body-data -U --user-agent --user --password -t --tries -T --timeout",
        "tar": "-f --file -C --directory -I -F -T -X -g -b -K -L -N -V --label",
        "ssh": "-o -F -E -i -p -l -L -R -D -J -W -S -b -c -m -O -Q -w -B -e",
        "scp": "-S -o -F -J -i -P -l -c",
        "rsync": "-e --rsh -f --filter -T --temp-dir --log-file --files-from --exclude --include",
        "sed": "-e --expression -f --file -l",
        "awk": "-f --file -e --source -v --assign -F --field-separator -i --include -l --load",
        "find": "-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -type -user "
                "-group -perm -size -newer -mtime -atime -ctime -mmin -amin -cmin -maxdepth -mindepth "
                "-samefile -inum -links -uid -gid -fstype -printf -fprint -fprint0 -fls",
        "xargs": "-I -a --arg-file -d --delimiter -E -n --max-args -P --max-procs -s -L",
        "zip": "-b -n -t -tt -P --password",
        "env": "-u --unset -C --chdir -S --split-string",
        "sort": "-k --key -t --field-separator -S --buffer-size -T --temporary-directory -o --output "
                "--parallel --batch-size",
        "sqlite3": "-cmd -init -separator -newline -nullvalue -vfs -pagecache -lookaside -heap -mmap -maxsize "
                   "-escape -A",
    }
    table["gawk"] = table["awk"]
    return {program: frozenset(options.split()) for program, options in table.items()}


def _settings(options: Mapping[str, Any]) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """The option table and the programs inputs may pick, for one policy."""
    return (_dangerous_options(tuple(options.get("dangerous_options", ()))),
            _allowed_programs(tuple(options.get("allow_programs", ()))))


@lru_cache(maxsize=8)
def _allowed_programs(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(os.path.basename(name) for name in names)


@lru_cache(maxsize=8)
def _dangerous_options(extra: tuple[str, ...]) -> dict[str, frozenset[str]]:
    table = dict(_builtin_dangerous_options())
    for entry in extra:
        program, _, option = entry.partition(":")
        if program and option:
            name = program_name(program)
            table[name] = table.get(name, frozenset()) | {option}
    return table


def program_name(program: str) -> str:
    """The name a program is known by: its file name, without the version of an interpreter."""
    name = os.path.basename(program)
    bare = name.rstrip("0123456789.")
    return bare if bare in INTERPRETERS else name


# Programs whose options all start with one dash and never cluster (-dNOSAFER, -filter_complex).
_NO_CLUSTERS = frozenset(("gs", "find", "convert", "magick", "mogrify", "ffmpeg", "openssl"))


def _dangerous_option(option_word: str, options: frozenset[str], *, clusters: bool = True) -> str | None:
    """The dangerous option ``option_word`` (``--output=x``, ``--outp=x``, ``-sSo``, ``-ofile``) stands for.

    GNU ``getopt_long`` (tar, wget, sed, gawk, env, xargs), git's parse-options and popt take any
    unambiguous prefix of a long option (``--checkpoint-act=``, ``--upload-pa=``, ``--post-f=``): a
    prefix of a dangerous long option of three characters or more after ``--`` stands for it. Which
    other options share the prefix is the program's own knowledge (ambiguous, it refuses to run).
    """
    name = option_word.split("=", 1)[0]
    if name in options:
        return name
    if option_word.startswith("--"):
        if len(name) < 5:
            return None
        return min((option for option in options if option.startswith(name)), default=None)
    if len(option_word) < 2 or not clusters:
        return None
    letters = option_word[1:].split("=", 1)[0]
    for option in options:  # a cluster of short options, or one with its value attached
        if len(option) == 2 and option[1] in letters:
            # getopt reads the cluster letter by letter: the option counts only if every letter
            # before it is an option letter (no blank or punctuation: "- bump" is no cluster).
            before = letters[:letters.index(option[1])]
            if before.isalnum() or not before:
                return option
    return None


# ---------------------------------------------------------------- the sinks' fast path

class Prefilter:
    """Per invocation, over every decoded input value: whether ``detect`` can find anything in a command.

    Every finding needs an input in the command: in a shell script anywhere; in
    an argument vector as the program (or its name after a ``/``), in an
    argument that starts with ``-``, or anywhere when the program is a shell or
    a wrapper that runs another program.
    """

    __slots__ = ("_split", "every", "everything", "inputs", "lengths")

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self.every = inputs.values  # distinct, shared with the other families
        self.everything = frozenset(self.every)
        self.lengths = frozenset(map(len, self.every))
        self._split: tuple[str, ...] | None = None

    def split(self) -> tuple[str, ...]:
        """The split forms of the inputs (``split_forms``), made on the first argument vector."""
        if self._split is None:
            self._split = tuple(form for _, form in split_forms_of(self.every))
        return self._split

    def may_inject(self, command: Command) -> bool:
        every = self.every
        if not every and not self.inputs.singles:
            return False
        if command.shell:  # verbatim, else a piece of an input the code transformed
            script = command.script
            return any(map(script.__contains__, every)) or bool(transformed(script, self.inputs, FRAGMENTS)) \
                or bool(self.inputs.singles and self.inputs.singles_in(script, GLOB_SINGLES))
        program = command.program
        if program in self.everything:
            return True
        slash, size = program.find("/"), len(program)
        while slash != -1:  # an input that is the program's path after a "/": one look per "/", and a
            # suffix is cut only at an input's length (each length once, so linear in the path)
            if size - slash - 1 in self.lengths and program[slash + 1:] in self.everything:
                return True
            slash = program.find("/", slash + 1)
        name = program_name(program)
        argv = command.argv
        split = self.split()
        if split and len(argv) > 1:  # an input the code split into several arguments
            spaced = " ".join(argv)
            if any(map(spaced.__contains__, split)) and _crosses(argv, spaced, split):
                return True
        if name in _HANDS_ON_A_SCRIPT or name in program_text.LANGUAGE:
            text = "\x00".join(argv)
            return any(map(text.__contains__, every)) or bool(transformed(text, self.inputs, FRAGMENTS))
        if name in _operand_prefixes():  # an operand an input starts with a coder
            text = "\x00".join([arg for arg in argv[1:] if ":" in arg or arg[:1] in "@|%.{["])
            if text and any(map(text.__contains__, every)):
                return True
        if name in _file_reading_values():  # an input's @file as an option's value
            text = "\x00".join([arg for arg in argv[1:] if "@" in arg or "<" in arg])
            if text and any(map(text.__contains__, every)):
                return True
        text = "\x00".join([arg for arg in argv[1:] if arg[:1] == "-"])
        return bool(text) and (any(map(text.__contains__, every)) or
                               bool(transformed(text, self.inputs, OPTION_FRAGMENTS)))


def _crosses(argv: Sequence[str], spaced: str, forms: Iterable[str]) -> bool:
    """Whether a form occurs in ``spaced`` (``argv`` joined by blanks) across an argument boundary."""
    joined = "\x00".join(argv)
    for form in forms:
        index, count = spaced.find(form), 0
        while index != -1 and count < MAX_OCCURRENCES:
            if joined.find("\x00", index, index + len(form)) != -1:
                return True
            index, count = spaced.find(form, index + 1), count + 1
    return False


# ---------------------------------------------------------------- detection

@cache
def longest_argument() -> int:
    """The longest string ``execve`` takes as one argument, in characters (each at least one byte).

    Linux refuses a longer one with E2BIG (MAX_ARG_STRLEN: 32 pages, 128 KiB), so a shell script past
    it never runs and is not read: the reader costs up to 1-3 µs per character of dense syntax (quotes,
    substitutions, one-letter commands), and 6 MB of it took 15 s. Elsewhere ARG_MAX bounds the list.
    """
    linux = sys.platform.startswith("linux")
    return os.sysconf("SC_PAGE_SIZE") * 32 - 1 if linux else os.sysconf("SC_ARG_MAX")


def runnable(command: Command) -> bool:
    """False when ``execve`` would refuse the command: one of its arguments is longer than it takes."""
    limit = longest_argument()
    return all(len(argument) <= limit for argument in command.argv)


def detect(command: Command, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    if command.stdin is not None:
        return _judge_stdin(command, command.stdin, inputs, options)
    if not runnable(command):
        return None  # the process is never started
    if command.shell:
        return _judge_script(command.script, inputs, options)
    return _judge_argv(command, inputs, options)


def _judge_script(script: str, inputs: Inputs, options: Mapping[str, Any], depth: int = 0,
                  reread: Sequence[Input] = (), parameters: Sequence[str] = ()) -> Finding | None:
    # The inputs that occur verbatim, and the pieces of inputs the code transformed on the way; in a
    # script a shell reads again (eval, sh -c), also what the outer reading left of each input.
    candidates = inputs.occurring_in(script, _any) + transformed(script, inputs, FRAGMENTS)
    if inputs.singles:  # a lone * or ? where the shell globs, a ~ that starts a word (_syntax_reason)
        candidates += inputs.singles_in(script, GLOB_SINGLES)
    candidates += [item for item in reread if item.value in script]
    if not candidates and not (parameters and inputs.occurring_in("\x00".join(parameters), _any)):
        return None
    classes, contexts = classify(script)
    spans = list(_occurrences(script, candidates))
    for item, start in spans:
        reason = _syntax_reason(script, classes, contexts, start, start + len(item.value))
        if reason:
            return _finding("cmdi.shell-syntax", f"input from {item.describe()} {reason} in the shell command",
                            item, script, start)
    assignments = _leading_assignments(script, classes) if "=" in script else []
    if assignments and any("=" in item.value for item, _ in spans):
        finding = _names_a_variable(assignments, script, spans)
        if finding:
            return finding
    if assignments and "$" in script:
        finding = _expanded_variables(script, classes, contexts, assignments, spans, inputs, options)
        if finding:
            return finding
    table, allowed = _settings(options)
    reach = _Reach(spans)
    piped: list[int] = []
    commands = simple_commands(script, classes, piped)
    if depth < 3 and (piped or "<<" in script):
        finding = _judge_fed(script, classes, contexts, commands, piped, inputs, options, depth)
        if finding:
            return finding
    for words in commands:
        if reach.touches(words):
            finding = _judge_words(words, script, spans, table, allowed)
            if finding:
                return finding
        if words[0].value.rpartition("/")[2].rstrip("0123456789.") not in _HANDS_ON_A_SCRIPT:
            continue
        inner = _inner_script(words)
        if inner is not None and depth < 3:  # sh -c '...' and eval read their argument as a new script
            left, escapes = _left_after_quote_removal(script, classes, words, spans)
            if escapes is not None:
                return _finding("cmdi.shell-syntax", f"input from {escapes[0].describe()} brings $'...' escapes "
                                "into a script a shell reads again", escapes[0], script, escapes[1])
            if parameters and "$" in inner:  # eval "$1": the parameter's text is parsed
                inner = _inner_script([Word(word.start, word.end, _expanded(script, classes, word, parameters))
                                       for word in words])
            if inner is None:
                continue
            shell = None if program_name(words[0].value) == "eval" else _handed_shell([word.value for word in words])
            finding = _judge_script(inner, inputs, options, depth + 1, left,
                                    _script_parameters(shell) if shell is not None else ())
            if finding:
                return finding
    return None


def _output(words: list[Word], fed: str | None) -> str | None:
    """What ``echo``, ``printf`` or a bare ``cat`` of a here-document writes, as far as the words tell."""
    name = program_name(words[0].value)
    args = [word.value for word in words[1:]]
    if name == "echo":
        while args and _echo_option().fullmatch(args[0]):
            args.pop(0)
        return " ".join(args) + "\n"
    if name == "printf" and args:
        return "\n".join(args[1:]) if len(args) > 1 else args[0]
    if name == "cat" and not args:
        return fed
    return None


@cache
def _echo_option() -> re.Pattern[str]:
    return re.compile(r"-[neE]+")


def _judge_reading(reader: list[Word], data: str, inputs: Inputs, options: Mapping[str, Any],
                   depth: int) -> Finding | None:
    """Judge what ``reader`` builds from ``data`` on its standard input, when an input occurs there."""
    if not inputs.occurring_in(data, _any):
        return None
    for built in _reading(tuple(word.value for word in reader), data, inputs.values):
        finding = _judge_script(built.script, inputs, options, depth + 1) if built.shell \
            else detect(built, inputs, options)
        if finding:
            return finding
    return None


# The programs that read a script (or xargs its items) on their standard input.
_READS_STDIN = frozenset(("python", "pypy", "perl", "xargs", *SHELLS, *_WRAPPERS))


def _judge_fed(script: str, classes: bytearray, contexts: bytearray, commands: list[list[Word]], piped: list[int],
               inputs: Inputs, options: Mapping[str, Any], depth: int) -> Finding | None:
    """What a shell, python, perl or xargs reads on its standard input, read as that child reads it
    (``stdin_commands``): a here-string (``sh <<< 'INPUT'``), a here-document's body (``sh <<EOF``),
    and what ``echo``, ``printf`` or ``cat <<EOF`` write into a pipe (``echo 'INPUT' | sh``). The
    quotes that keep an input one word of echo, and a body the outer reading takes as text, do not
    keep it data for the shell that reads it. Other writers (``cat FILE``, ``curl``) send what the
    code cannot see here, and are not followed."""
    fed: dict[int, str] = {}
    if "<<" in script:
        pipes = set(piped)
        readers = [index for index, words in enumerate(commands)
                   if program_name(words[0].value) in _READS_STDIN
                   or (index in pipes and index + 1 < len(commands)
                       and program_name(commands[index + 1][0].value) in _READS_STDIN)]
        for index in readers[:MAX_HERE_DOCUMENTS]:
            words = commands[index]
            limit = commands[index + 1][0].start if index + 1 < len(commands) else len(script)
            position = script.find("<<", words[0].start, limit)
            while position != -1 and (classes[position] != OPERATOR or contexts[position] != 0):
                position = script.find("<<", position + 2, limit)
            if position != -1:
                data = _here_string(script, classes, position) if script.startswith("<<<", position) \
                    else _here_body(script, classes, contexts, position)
                if data is not None:
                    fed[index] = data
    for index in piped:
        if index + 1 < len(commands) and program_name(commands[index + 1][0].value) in _READS_STDIN:
            data = _output(commands[index], fed.get(index))
            if data is not None:
                fed[index + 1] = data
    judged: set[tuple[str, ...]] = set()  # one body read by many (sh <<A; sh <<A; ...) is judged once per reader
    for index, data in sorted(fed.items()):
        key = (data, *(word.value for word in commands[index]))
        if program_name(commands[index][0].value) in _READS_STDIN and key not in judged:
            judged.add(key)
            finding = _judge_reading(commands[index], data, inputs, options, depth)
            if finding:
                return finding
    return None


def _here_string(script: str, classes: bytearray, position: int) -> str | None:
    start, n = position + 3, len(script)
    while start < n and classes[start] == BLANK:
        start += 1
    end = start
    while end < n and classes[end] not in WORD_BREAKS:
        end += 1
    if end == start:
        return None
    word = unquoted_word(script, classes, start, end) if classes.find(QUOTE, start, end) != -1 \
        else Word(start, end, script[start:end])
    return word.value + "\n"


def _here_body(script: str, classes: bytearray, contexts: bytearray, position: int) -> str | None:
    """The body of the first here-document opened at ``position`` (up to its delimiter line)."""
    found = _here_document_line(script, classes, contexts, position)
    if found is None:
        return None
    newline, documents = found
    delimiter, _, strip = documents[0]
    lines: list[str] = []
    start = newline + 1
    while start < len(script):  # line by line, up to the delimiter's
        end = script.find("\n", start)
        end = len(script) if end == -1 else end
        line = script[start:end].lstrip("\t") if strip else script[start:end]
        if line == delimiter:
            break
        lines.append(line)
        start = end + 1
    return "\n".join(lines) + "\n"


def _left_after_quote_removal(script: str, classes: bytearray, words: list[Word], spans: list[tuple[Input, int]]
                              ) -> tuple[list[Input], tuple[Input, int] | None]:
    """What each input occurrence leaves in ``words`` after quote removal, where that differs from the
    input: ``eval echo \\;id`` and ``eval echo ';'id`` hand eval ``echo ;id``. And an occurrence that
    brings a ``$'...'`` with a backslash, whose ``\\x3b`` the second reading gets as ``;`` (the reader
    keeps no decoded form of C escapes, so such an input is judged at once)."""
    left: list[Input] = []
    first, last = words[0].start, words[-1].end
    for item, start in spans:
        end = start + len(item.value)
        if end <= first or start >= last:
            continue
        dollar = script.find("$'", start, end)
        if dollar != -1 and classes[dollar] == QUOTE and script.find("\\", dollar, end) != -1:
            return left, (item, start)
        kept = "".join(script[i] for i in range(max(start, first), min(end, last)) if classes[i] != QUOTE)
        if kept and kept != item.value:
            left.append(Input(item.location, kept, "+".join(filter(None, (item.transform, "unquoted")))))
    return left, None


class _Reach:
    """Which simple commands an input occurrence reaches, so that only those are judged word by word.

    ``_judge_words`` finds something only through an occurrence that ends after the start of the
    command's first word and starts inside one of its words or at most two characters past its start.
    """

    __slots__ = ("ends", "starts")

    def __init__(self, spans: list[tuple[Input, int]]) -> None:
        ordered = sorted((start, start + len(item.value)) for item, start in spans)
        self.starts = [start for start, _ in ordered]
        self.ends = list(accumulate((end for _, end in ordered), max))  # the furthest end so far

    def touches(self, words: list[Word]) -> bool:
        last = words[-1]
        index = bisect_right(self.starts, max(last.end - 1, last.start + 2)) - 1
        return index >= 0 and self.ends[index] > words[0].start


def _inner_script(words: list[Word]) -> str | None:
    """The script a command hands to another shell reading (``sh -c '...'``, ``eval ...``, through
    wrappers and ``find -exec``), if any."""
    if program_name(words[0].value) == "eval":
        return " ".join(word.value for word in words[1:]) or None
    return handed_script([word.value for word in words], remote=True)


def _occurrences(text: str, candidates: Iterable[Input]) -> Iterator[tuple[Input, int]]:
    for item in candidates:
        index, count = text.find(item.value), 0
        while index != -1 and count < MAX_OCCURRENCES:
            yield item, index
            index, count = text.find(item.value, index + 1), count + 1


def _syntax_reason(script: str, classes: bytearray, contexts: bytearray, start: int, end: int) -> str | None:
    """Why the characters ``start:end`` are not plain word text after quote removal, or None.

    Quotes and backslashes that the input brings are allowed as long as what
    they quote stays inside the input: the quoting context after the input must
    be the one before it, and a backslash must not escape the character after it.
    """
    found = _structure().search(classes, start, end)
    if found is not None:
        i = found.start()
        cls, char = classes[i], script[i]
        if cls == OPERATOR:
            if char in ";\n&":
                return "adds a command separator"
            if char == "|":
                return "adds a pipe" if script[i:i + 2] != "||" else "adds a command separator"
            if char in "<>":
                return "adds a redirection"
            return "adds a subshell"
        if cls == SUBST:
            return "adds a command substitution"
        if cls == EXPANSION:
            return "adds a parameter expansion"
        if cls == GLOB:
            return "adds a glob, brace or tilde expansion"
        return "adds a comment that cuts the command"
    if contexts[start] % 3 and classes.find(BLANK, start, end) != -1:
        return "splits a quoted word into several"  # closes the quote, adds a blank, opens it again
    if contexts[start] != contexts[end]:
        if contexts[start] % 3:
            return "breaks out of a quoted string"
        return "leaves a quote open"
    if end < len(script) and classes[end] == ESCAPED and classes[end - 1] == QUOTE:
        return "escapes the character after it"
    return None


def _judge_words(words: list[Word], text: str, spans: list[tuple[Input, int]], table: dict[str, frozenset[str]],
                 allowed: frozenset[str], *, check_first: bool = True) -> Finding | None:
    """Program choice and option injection in one simple command."""
    index: int | None = 0
    programs: list[int] = []  # each wrapper's index, then the program's
    while index is not None:
        word = words[index]
        if (index or check_first) and os.path.basename(word.value) not in allowed:
            for item, start in spans:
                if _chooses_program(text, word, item, start) and not _also_a_term(text, word, item, spans):
                    return _finding("cmdi.program", f"input from {item.describe()} chooses the program run",
                                    item, text, start)
        programs.append(index)
        name = program_name(word.value)
        index = _wrapped_program(words, index, name) if name in _WRAPPERS else None
    ends = [*programs[1:], len(words)]
    for start, end in zip(programs, ends, strict=True):  # a wrapper's own options (env -S, --chdir) are judged too
        finding = _judge_options(words[start].value, words[start + 1:end], text, spans, table)
        if finding:
            return finding
        if program_name(words[start].value) == "env":
            finding = _names_a_variable([word for word in words[start + 1:end] if not word.value.startswith("-")],
                                        text, spans)
            if finding:
                return finding
    program = words[programs[-1]].value
    if program_name(program) in program_text.LANGUAGE:
        return _judge_program_text(program, words[programs[-1] + 1:], text, spans)
    return None


def _judge_program_text(program: str, words: list[Word], text: str,
                        spans: list[tuple[Input, int]]) -> Finding | None:
    """An input that is code in the program text awk, jq, sed, perl or python read from an argument."""
    name = program_name(program)
    for program_text_ in program_text.program_texts(name, [word.value for word in words]):
        for item, start in spans:
            if item.value in program_text_:
                reason = program_text.judge(program_text.LANGUAGE[name], program_text_, item.value)
                if reason:
                    return _finding("cmdi.code", f"input from {item.describe()} {reason}", item, text, start)
    return None


def _judge_options(program: str, words: list[Word], text: str, spans: list[tuple[Input, int]],
                   table: dict[str, frozenset[str]]) -> Finding | None:
    """Option injection into ``program``, whose arguments are ``words``."""
    name = program_name(program)
    dangerous = table.get(name)
    if not dangerous:
        return None
    stops_at_operand = name in INTERPRETERS
    takes_a_value = _options_taking_a_value().get(name, frozenset())
    reads_a_file = _file_reading_values().get(name, frozenset())
    value_of = ""
    operands = 0
    for index, word in enumerate(words):
        value = word.value
        if value_of:  # the value of the option before it, whatever it starts with
            if value_of in reads_a_file:
                finding = _file_reference(word, text, spans, value_of, program)
                if finding:
                    return finding
            if value_of == "-cmd" and name == "sqlite3":  # a dot-command the CLI runs first
                finding = _coder_operand(program, word, text, spans)
                if finding:
                    return finding
            value_of = ""
            continue
        if value == "--":
            for rest in words[index + 1:]:  # operands only from here: their coders still count
                operands += 1
                finding = None if name == "sqlite3" and operands == 1 else _coder_operand(program, rest, text, spans)
                if finding:
                    return finding
            break
        value_of = value if value in takes_a_value else ""
        if "=" in value and value.startswith("--") and value.split("=", 1)[0] in reads_a_file:
            finding = _file_reference(Word(word.start + value.index("=") + 1, word.end, value.split("=", 1)[1]),
                                      text, spans, value.split("=", 1)[0], program)
            if finding:
                return finding
        operands += not value.startswith("-")
        if not (name == "sqlite3" and operands == 1 and not value.startswith("-")):  # sqlite3's database
            finding = _coder_operand(program, word, text, spans)
            if finding:
                return finding
        if not value.startswith("-"):
            if stops_at_operand:  # what follows the script belongs to the script
                break
            continue
        option = _dangerous_option(value, dangerous, clusters=name not in _NO_CLUSTERS)
        if option is None:
            continue
        for item, start in spans:
            end = start + len(item.value)
            if start <= word.start < end or (word.start < start <= word.start + 2 and
                                             text[word.start:start].strip("-") == ""):
                return _finding("cmdi.option", f"input from {item.describe()} injects the option {option} "
                                f"into {os.path.basename(program)}", item, text, start)
    return None


@cache
def _operand_prefixes() -> dict[str, tuple[str, ...]]:
    """Per program, how an operand that an input starts makes it run a command or read a file:
    ImageMagick's coders (``text:/etc/passwd``, ``msl:``, ``label:@file``, ``@list``, ``|cmd`` a
    pipe, ``ephemeral:`` deletes, ``url:`` fetches; the name before the colon in any case), and
    ghostscript's ``%pipe%`` output file."""
    magick = ("|", "@", "text:", "msl:", "mvg:", "svg:", "ephemeral:", "label:@", "caption:@", "url:", "http:",
              "https:", "ftp:", "pango:", "inline:", "ps:", "eps:", "epi:", "pdf:", "xps:", "show:", "win:",
              "x:", "vid:", "msvg:", "rsvg:", "html:", "txt:", "clipboard:", "fd:")
    return {"convert": magick, "magick": magick, "mogrify": magick, "identify": magick, "composite": magick,
            "montage": magick, "compare": magick, "gs": ("%pipe%", "|"),
            # curl reads a local file for a file: URL (file:///proc/self/environ); sqlite3's CLI runs an
            # operand after the database that starts with "." as a dot-command (.shell, .system, .load)
            "curl": ("file:", "{", "["), "sqlite3": (".",)}  # curl's globs ({file,x}:///...) choose the scheme


def _coder_operand(program: str, word: Word, text: str, spans: list[tuple[Input, int]]) -> Finding | None:
    """A finding when an input starts an operand that ``program`` reads through a coder or a pipe."""
    prefixes = _operand_prefixes().get(program_name(program))
    if prefixes and word.value.startswith("-sOutputFile="):  # gs names its output in the option
        word = Word(word.start + 13, word.end, word.value[13:])
    if not prefixes or not word.value.lower().startswith(prefixes):
        return None
    for item, start in spans:
        if start <= word.start < start + len(item.value):
            prefix = next(prefix for prefix in prefixes if word.value.lower().startswith(prefix))
            what = "run a dot-command" if prefix == "." else f"read {prefix!r}"
            return _finding("cmdi.option", f"input from {item.describe()} makes {os.path.basename(program)} "
                            f"{what}", item, text, start)
    return None


@cache
def _file_reading_values() -> dict[str, frozenset[str]]:
    """Per program, the options whose value names a file to read and send when it starts with ``@``
    (curl's ``-d @file``, ``--json @file``, ``-H @file``; ``-F name=@file`` or ``name=<file``)."""
    options = "-d --data --data-ascii --data-binary --data-urlencode --json --url-query -H --header --proxy-header " \
              "-F --form --variable"
    return {"curl": frozenset(options.split())}


def _file_reference(word: Word, text: str, spans: list[tuple[Input, int]], option: str,
                    program: str) -> Finding | None:
    """A finding when an input brings the ``@`` (or ``<``) that makes an option's value a file to read."""
    at = word.value.find("@")
    if at > 0 and not (word.value[at - 1] == "=" and "=" not in word.value[:at - 1]):
        at = -1  # "a@b" is data; only "@file" and "name=@file" name a file
    if at == -1 and option in ("-F", "--form", "--variable"):
        less = word.value.find("=<")
        at = less + 1 if less != -1 else -1
    if at == -1:
        return None
    position = word.start + at
    for item, start in spans:
        if start <= position < start + len(item.value):
            return _finding("cmdi.option", f"input from {item.describe()} makes {option} of "
                            f"{os.path.basename(program)} read a file", item, text, start)
    return None


def _chooses_program(text: str, word: Word, item: Input, start: int) -> bool:
    """An occurrence that covers the program word from its start, or from a path segment, to its end."""
    if start < word.start or start >= word.end or start + len(item.value) < word.end:
        return False
    return start == word.start or (text[start - 1] == "/" and not item.value.startswith("/"))


def _also_a_term(text: str, word: Word, item: Input, spans: list[tuple[Input, int]]) -> bool:
    """Whether the value that fills the program word also stands as a word of its own elsewhere
    (``git log --grep git``): that is where the input went, the program is the code's own. Known
    limit: a template that places one input twice, once as the program, reads the same."""
    for other, start in spans:
        end = start + len(other.value)
        if other.value == item.value and (end <= word.start or start >= word.end) and \
                not (start and _word_character(text[start - 1])) and \
                not (end < len(text) and _word_character(text[end])):
            return True
    return False


def _word_character(char: str) -> bool:
    return char.isalnum() or char in "_-.+"


def _wrapped_program(words: list[Word], index: int, name: str) -> int | None:
    """The index of the program a wrapper runs, skipping its options and their values
    (``xargs -I {} sh``, ``timeout -s KILL 5 sh``, ``nice -n 5 sh``, ``env -u A sh``)."""
    positional_to_skip = 1 if name in ("timeout", "flock", "chroot") else 0
    valued = _wrapper_values().get(name, frozenset())
    i = index + 1
    if name == "command" and i < len(words) and words[i].value in ("-v", "-V"):
        return None  # command -v NAME only looks the name up
    while i < len(words):
        value = words[i].value
        if value == "--":
            i += 1
            break
        if value.startswith("-") and len(value) > 1:
            i += 2 if value in valued else 1
            continue
        if name == "env" and "=" in value:
            i += 1
            continue
        if positional_to_skip:
            positional_to_skip -= 1
            i += 1
            continue
        break
    return i if i < len(words) else None


@cache
def _wrapper_values() -> dict[str, frozenset[str]]:
    """Per wrapper, the options whose value is the next word (so that word is not the program run)."""
    table = {"xargs": "-I -a --arg-file -d --delimiter -E -e -n --max-args -P --max-procs -s --max-chars -L "
                      "--max-lines --process-slot-var",
             "env": "-u --unset -C --chdir -S --split-string",
             "timeout": "-s --signal -k --kill-after", "nice": "-n --adjustment", "ionice": "-c -n -p -P -u",
             "stdbuf": "-i -o -e", "sudo": "-u -g -C -D -h -p -r -t -U", "doas": "-u -C",
             "strace": "-o -e -p -s -u -E -a -b -I -O -S -X -P", "flock": "-w -E --timeout --conflict-exit-code",
             "watch": "-n --interval -d", "chroot": "--userspec --groups", "exec": "-a"}
    return {name: frozenset(options.split()) for name, options in table.items()}


# Programs whose -c/--command option takes a command line they hand to ``sh -c``.
_SHELL_COMMAND_OPTIONS = frozenset(("flock", "su", "runuser", "script"))


def _command_option(args: Sequence[str]) -> str | None:
    """The value of ``-c``/``--command`` (``-qc CMD``, ``--command=CMD``) among a program's arguments."""
    for position, arg in enumerate(args):
        if arg == "--":
            return None
        if arg.startswith("--command"):
            if "=" in arg:
                return arg.partition("=")[2]
            return args[position + 1] if position + 1 < len(args) else None
        if arg[:1] == "-" and arg[1:2] != "-" and arg.endswith("c") and arg[1:].isalpha():
            return args[position + 1] if position + 1 < len(args) else None
    return None


def handed_script(argv: Sequence[str], *, remote: bool = False) -> str | None:
    """The script of a shell a vector runs through wrappers or ``find -exec``: ``env A=b sh -c S``,
    ``xargs -I {} sh -c S``, ``timeout 5 bash -c S``, ``find . -exec sh -c S {} ;``; with ``remote``,
    also the command ``ssh HOST CMD...`` has the remote user's shell run (its words joined by blanks)."""
    shell = _handed_shell(argv, remote=remote)
    return None if shell is None else _shell_script(shell)


def _ssh_command(argv: Sequence[str]) -> str | None:
    """The command line ssh sends to the remote shell: its operands after the host, joined by blanks."""
    valued = _options_taking_a_value()["ssh"]
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-"):
            break
        index += 2 if arg in valued else 1
    return " ".join(argv[index + 1:]) or None


def _handed_shell(argv: Sequence[str], *, remote: bool = True) -> Sequence[str] | None:
    """The part of ``argv`` from the shell with ``-c`` that it runs (``handed_script``), if any."""
    words: list[Word] = []  # made for a wrapper only: cat's vector may hold a hundred thousand arguments
    index = 0
    for _ in range(8):  # a wrapper chain: each step moves forward
        name = program_name(argv[index])
        if name in _WRAPPERS and not words:
            words = [Word(0, 0, arg) for arg in argv]
        if name == "busybox" and index + 1 < len(argv) and program_name(argv[index + 1]) in SHELLS:
            index += 1  # busybox sh -c SCRIPT: the applet is the shell
            continue
        if name in SHELLS:
            return argv[index:] if _shell_script(argv[index:]) is not None else None
        if name == "ssh" and remote:
            command = _ssh_command(argv[index:])
            return ("sh", "-c", command) if command is not None else None
        if name in _SHELL_COMMAND_OPTIONS:  # flock FILE -c CMD, su -c CMD, script -c CMD: run by sh -c
            script = _command_option(argv[index + 1:])
            if script is not None:
                return ("sh", "-c", script)
        if name == "find":
            for position in range(index + 1, len(argv) - 1):
                if argv[position] in ("-exec", "-execdir", "-ok", "-okdir") and \
                        program_name(argv[position + 1]) in SHELLS and \
                        _shell_script(argv[position + 1:]) is not None:
                    return argv[position + 1:]
            return None
        wrapped = _wrapped_program(words, index, name) if name in _WRAPPERS else None
        if wrapped is None:
            return None
        index = wrapped
    return None


def _judge_argv(command: Command, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    argv = command.argv
    program = command.program or (argv[0] if argv else "")
    if not program:
        return None
    table, allowed = _settings(options)
    whole = Word(0, len(program), program)
    for item in () if os.path.basename(program) in allowed else inputs.occurring_in(program, _any):
        if len(argv) > 1 and program == argv[0] and item.value in argv[1:]:
            continue  # a search term named like the program (git log --grep git): the input is there
        for _, start in _occurrences(program, (item,)):
            if _chooses_program(program, whole, item, start):
                return _finding("cmdi.program", f"input from {item.describe()} chooses the program run",
                                item, program, start)
    name = program_name(program)
    if name in SHELLS or name in _WRAPPERS or name in _HANDS_ON_A_SCRIPT:
        shell = _handed_shell([program, *argv[1:]])
        script = None if shell is None else _shell_script(shell)
        if shell is not None and script is not None:
            finding = _judge_script(script, inputs, options, parameters=_script_parameters(shell))
            if finding is not None or name in SHELLS:
                return finding
    if len(argv) < 2:
        return None
    joined = "\x00".join(argv)
    words, offset = [], 0
    for index, arg in enumerate(argv):
        words.append(Word(offset, offset + len(arg), program if index == 0 else arg))
        offset += len(arg) + 1
    produced = _split_words(joined, words, inputs)
    if produced and produced[0][1] == 0 and len(produced[0][0].value) == len(argv[0]) \
            and program == argv[0] and os.path.basename(program) not in allowed:
        item = produced[0][0]
        return _finding("cmdi.program", f"input from {item.describe()} chooses the program run", item, joined, 0)
    candidates = inputs.occurring_in(joined, _any) + transformed(joined, inputs, OPTION_FRAGMENTS)
    if not candidates and not produced:
        return None
    spans = [(item, start) for item, start in _occurrences(joined, candidates) if start > len(argv[0])]
    return _judge_words(words, joined, spans + produced, table, allowed, check_first=False)


# ---------------------------------------------------------------- argument vectors split from a string
# Code builds a vector with shlex.split(f"find . -name {q}") or f"...".split(): an input then makes
# several arguments, none of which holds it whole. Each input that splits into two words or more is
# looked for as its words joined by one blank in the vector joined likewise; an occurrence that
# crosses an argument boundary made the arguments that start inside it, and those are judged as the
# input's own (the program, options). str.split's form is taken of inputs up to MAX_SPLIT_INPUT
# characters (a vector holds at most 2 MiB), shlex's of those up to MAX_SHLEX_INPUT that quote or
# escape, at most MAX_SHLEX_VALUES of them per invocation (shlex reads 1-2 µs per character: 64 of
# 1024 cost 0.1 s at worst, where a thousand hostile values would have cost seconds).
MAX_SPLIT_INPUT = 1 << 16
MAX_SHLEX_INPUT = 1024
MAX_SHLEX_VALUES = 64


@cache
def _shlex_split() -> Callable[[str], list[str]]:
    import shlex

    return shlex.split


@lru_cache(maxsize=2)  # the fast path's and the detector's question, one invocation's values
def split_forms_of(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(value, form)`` for every split form of every value holding a blank, shlex's within budget."""
    shlex_budget = [MAX_SHLEX_VALUES]
    return tuple((value, form) for value in _with_blanks(values) for form in split_forms(value, shlex_budget))


def split_forms(value: str, shlex_budget: list[int] | None = None) -> tuple[str, ...]:
    """The words ``str.split`` and ``shlex.split`` make of ``value``, each joined by one blank, when
    they are two or more (so that the form crosses an argument boundary). ``shlex_budget`` holds how
    many more values shlex may read; this one takes one of them."""
    if len(value) > MAX_SPLIT_INPUT:
        return ()
    plain = value.split()
    forms: tuple[str, ...] = (" ".join(plain),) if len(plain) > 1 else ()
    if len(value) <= MAX_SHLEX_INPUT and ("'" in value or '"' in value or "\\" in value) and \
            (shlex_budget is None or shlex_budget[0] > 0):
        if shlex_budget is not None:
            shlex_budget[0] -= 1
        try:
            words = _shlex_split()(value)
        except ValueError:  # an unterminated quote: shlex.split raises, the code never ran the vector
            words = []
        if len(words) > 1 and " ".join(words) not in forms:
            forms += (" ".join(words),)
    return forms


@cache
def _blank() -> re.Pattern[str]:
    return re.compile(r"\s")  # what str.split splits at; shlex splits at fewer


def _with_blanks(values: Sequence[str]) -> list[str]:
    """The values holding a blank: one regex scan over all of them joined, and a step per such value
    (a test per value cost 7 µs on 80 values, mostly without blanks; this about 3). A NUL in a value
    cuts it here: no argument of a vector can hold one."""
    text = "\x00".join(values)
    search = _blank().search
    found = search(text)
    holding = []
    while found is not None:
        start = text.rfind("\x00", 0, found.start()) + 1
        end = text.find("\x00", found.end())
        end = len(text) if end == -1 else end
        holding.append(text[start:end])
        found = search(text, end)
    return holding


def _split_words(joined: str, words: list[Word], inputs: Inputs) -> list[tuple[Input, int]]:
    """The arguments an input made when the code split it: one span per argument that starts inside an
    occurrence crossing an argument boundary, the span's value the argument's part inside it."""
    spaced = joined.replace("\x00", " ")
    starts = [word.start for word in words]
    spans: list[tuple[Input, int]] = []
    for value, form in split_forms_of(inputs.values):
        index, count = spaced.find(form), 0
        while index != -1 and count < MAX_OCCURRENCES:
            end = index + len(form)
            if joined.find("\x00", index, end) != -1:
                for word in words[bisect_right(starts, index - 1):]:
                    if word.start >= end:
                        break
                    part = joined[word.start:min(word.end, end)]
                    spans.append((Input(UNLOCATED + value, part, "split"), word.start))
            index, count = spaced.find(form, index + 1), count + 1
    return spans


def _shell_script(argv: Sequence[str]) -> str | None:
    """The script of ``sh -c SCRIPT`` (or ``bash -ec SCRIPT``), if the vector has one."""
    operand = shell_operand(argv)
    return operand[1] if operand is not None and operand[0] else None


def shell_operand(argv: Sequence[str]) -> tuple[bool, str] | None:
    """What a shell's argument vector runs: ``(True, script)`` for ``sh -c SCRIPT`` (``bash -ec
    SCRIPT``), ``(False, path)`` for a script file, None when it reads its commands from stdin.

    Options are found by their position in the vector: an option's value or the script may be
    spelled like an option elsewhere in it (``sh -c /tmp/x -c``).
    """
    found = _operand_at(argv)
    return None if found is None else (found[0], argv[found[1]])


def _operand_at(argv: Sequence[str]) -> tuple[bool, int] | None:
    """``shell_operand``'s answer with the operand's index instead of its text."""
    index, from_stdin = 1, False
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith(("-", "+")):
            break
        if arg in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            index += 2
            continue
        if not arg.startswith("--") and "c" in arg[1:]:
            return (True, index + 1) if index + 1 < len(argv) else None
        if not arg.startswith("--") and "s" in arg[1:]:
            from_stdin = True  # sh -s: the operands are the script's parameters
        index += 1
    if from_stdin or index >= len(argv):
        return None
    return False, index


def _script_parameters(argv: Sequence[str]) -> tuple[str, ...]:
    """The positional parameters of ``sh -c SCRIPT $0 $1 ...``, from ``$0`` on."""
    found = _operand_at(argv)
    return tuple(argv[found[1] + 1:]) if found is not None and found[0] else ()


@cache
def _positional() -> re.Pattern[str]:
    return re.compile(r"\$(?:\{(\d+|[@*])\}|(\d|[@*]))")


def _expanded(text: str, classes: bytearray, word: Word, parameters: Sequence[str]) -> str:
    """``word``'s value after the outer shell's expansion of the positional parameters in it (``$1``,
    ``${10}``, ``$@``, ``$*``) and its quote removal: what a second reading (eval, sh -c) parses.
    A ``$1`` the outer shell left alone (inside '...') stays as it is."""
    pieces: list[str] = []
    i = word.start
    search = _positional().match
    while i < word.end:  # each step moves forward
        if classes[i] == QUOTE:
            i += 1
            continue
        found = search(text, i) if classes[i] == EXPANSION and text[i] == "$" else None
        if found is None:
            pieces.append(text[i])
            i += 1
            continue
        name = found.group(1) or found.group(2)
        pieces.append(" ".join(parameters[1:]) if name in "@*" else
                      parameters[int(name)] if int(name) < len(parameters) else "")
        i = found.end()
    return "".join(pieces)


def _finding(rule: str, message: str, item: Input, text: str, start: int) -> Finding:
    fragment = text[max(0, start - 20): start + len(item.value) + 20].replace("\x00", " ")
    return Finding(AttackKind.COMMAND_INJECTION, rule, message, item, fragment)


# ---------------------------------------------------------------- what a child builds from its standard input
# A shell that reads its script from stdin (``sh``, ``bash -s``) runs the text the code writes to it,
# python and perl without a script run it as their program, and ``xargs`` appends the items it reads
# to its command or, with ``-I R``, pastes each line where R stands (``xargs -I {} sh -c 'echo {}'``
# makes every line shell text). What it builds is judged as the command it is. At most
# MAX_STDIN_COMMANDS lines that hold an input are judged one by one; the items are read from the first
# MAX_STDIN characters (xargs's own buffer and ARG_MAX bound what one command takes).
MAX_STDIN = 1 << 20
MAX_STDIN_COMMANDS = 256


def stdin_commands(command: Command, data: str, values: Sequence[str] = ()) -> list[Command]:
    """The commands ``command`` runs with ``data`` on its standard input, as far as they can be told:
    ``[Command([data], shell=True)]`` for a shell that reads its script from stdin, one command per
    line (those holding one of ``values``, when given) for ``xargs -I``, the items appended for
    ``xargs``, and none for a program that reads stdin as data."""
    if command.shell:  # any command of the script may read the stream: sh -c "xargs ...", "cat | xargs ..."
        built: list[Command] = []
        for words in simple_commands(command.script)[:MAX_STDIN_COMMANDS]:
            built += _reading(tuple(word.value for word in words), data, values)
        return built
    argv = command.argv
    return _reading((command.program, *argv[1:]) if command.program and argv else argv, data, values)


def _reading(argv: Sequence[str], data: str, values: Sequence[str]) -> list[Command]:
    index = _past_wrapper_chain(argv)
    if index is None:
        return []
    argv = argv[index:]
    name = program_name(argv[0])
    if name in SHELLS and shell_operand(argv) is None:
        return [Command([data], shell=True)]
    if name in ("python", "pypy", "perl") and (len(argv) == 1 or argv[1] == "-"):
        return [Command([name, "-c" if name != "perl" else "-e", data])]
    if name != "xargs":
        return []
    return _xargs_commands(argv, data[:MAX_STDIN], values)


def _past_wrapper_chain(argv: Sequence[str]) -> int | None:
    """The index of the program a chain of wrappers other than xargs runs (``timeout 5 xargs``)."""
    words = [Word(0, 0, arg) for arg in argv]
    index = 0
    for _ in range(8):
        if index >= len(argv):
            return None
        name = program_name(argv[index])
        if name not in _WRAPPERS or name == "xargs":
            return index
        wrapped = _wrapped_program(words, index, name)
        if wrapped is None:
            return None
        index = wrapped
    return None


def _xargs_commands(argv: Sequence[str], data: str, values: Sequence[str]) -> list[Command]:
    replace, delimiter, index = None, None, 1
    valued = _wrapper_values()["xargs"]
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if arg in ("-0", "--null"):
            delimiter = "\x00"
        elif arg.startswith("--replace"):
            replace = arg.partition("=")[2] or "{}"
        elif arg.startswith("-I"):  # -I R or -IR
            replace = arg[2:] or following or "{}"
            index += 0 if arg[2:] else 1
        elif arg.startswith("-i"):  # the old -i[R]
            replace = arg[2:] or "{}"
        elif arg.startswith(("-d", "--delimiter")):  # -d X, -dX, --delimiter=X, --delimiter X
            value = arg[2:] if arg[:2] == "-d" and len(arg) > 2 else arg.partition("=")[2] if "=" in arg \
                else following
            index += 0 if (arg[:2] == "-d" and len(arg) > 2) or "=" in arg else 1
            delimiter = {"\\n": "\n", "\\t": "\t", "\\0": "\x00"}.get(value, value[:1] or "\n")
        elif arg in valued:
            index += 1
        index += 1
    template = list(argv[index:]) or ["echo"]
    if replace is not None:  # one command per line, R replaced in every argument
        commands: list[Command] = []
        for line in data.split("\n" if delimiter is None else delimiter):
            if len(commands) >= MAX_STDIN_COMMANDS:
                break
            item = line.lstrip(" \t") if delimiter is None else line
            if item and (not values or any(map(item.__contains__, values))):
                commands.append(Command([arg.replace(replace, item) for arg in template]))
        return commands
    if delimiter is not None:
        items = [item for item in data.split(delimiter) if item]
    else:
        try:
            items = _shlex_split()(data)
        except ValueError:  # xargs refuses an unmatched quote too, but runs the items before it
            items = data.split()
    return [Command([*template, *items])]


def _judge_stdin(command: Command, data: str, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    if not inputs.occurring_in(data, _any) and not transformed(data, inputs, FRAGMENTS):
        return None
    for built in stdin_commands(command, data, inputs.values):
        finding = detect(built, inputs, options)
        if finding is not None:
            return finding
    return None
