"""The files a command hands its program: which arguments of common tools name a path.

An input that stays one argument is harmless to the command-injection detector, yet
``subprocess.run(["cat", name])`` with ``name=/proc/self/environ``, ``curl -o /var/task/app.py``
or ``tar -f ../../x`` reaches the file through the child as surely as ``open`` would. So the
process sinks hand the arguments that name files to the file-access detector, which applies
its own rules (traversal out of the code's folder, sensitive paths chosen by an input, deny and
allow lists) under protection ``file_access``.

Which arguments name files comes from a table of the tools Lambda code runs (coreutils,
tar, curl, wget, zip, grep, sed, dd, rsync, scp, ssh's ``-i``/``-F``, sqlite3; find's starting
points and ``-fprint``/``-files0-from``; git's ``-C``, ``clone`` source and target, ``-F``,
``-o``; xargs's ``-a`` and the command it runs): their operands, and the values of their file options
in every spelling ``getopt`` takes (``-o x``, ``-ox``, ``--output x``, ``--output=x``, a long
option's prefix of 5 characters or more, ``if=x`` for dd, tar's old-style ``xzf x.tgz``).
Options of these tools that take a value which is not a file (``head -n 5``) are listed, so
their value is not an operand. A
command the code runs through a shell is read into its simple commands first, each judged like
a vector, and the files its redirections open (``< f``, ``> f``, ``>> f``) are named too.
A wrapper in front (``timeout 5 cat x``, ``env A=b cat x``, ``nice``) is skipped, and the
``-c`` script of a shell a vector runs (``["sh", "-c", "cat ..."]``, through wrappers or
``find -exec``) is read like a shell command. A remote path (``host:/x`` of scp and rsync, the
command ssh runs) is another machine's and reads as a relative name, which only climbing rules judge.

Only arguments an input occurs in are returned; a command without an input in it is not
parsed (the sink tests that first, in C). Relative paths are made absolute against the
command's ``cwd`` when the code sets one.
"""
from __future__ import annotations

import os
from functools import cache

from .command_injection import (
    QUOTE,
    SHELLS,
    WORD_BREAKS,
    Command,
    classify,
    handed_script,
    program_name,
    simple_commands,
    unquoted_word,
    word_token,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# How a tool's operands (its non-option arguments) name files.
READ, WRITE, LAST_WRITTEN, AFTER_PATTERN, AFTER_SCRIPT, FIRST_WRITTEN, NONE = range(7)

class Tool:
    """One program's command line: how operands name files, its file options (option -> written),
    and the options whose value is no file (so it is not taken for an operand)."""

    __slots__ = ("files", "operands", "values")

    def __init__(self, operands: int, files: dict[str, bool] | None = None, values: str = "") -> None:
        self.operands = operands
        self.files = files or {}
        self.values = frozenset(values.split())


@cache
def tools() -> dict[str, Tool]:
    # The options are read from each tool's manual (GNU coreutils 9, tar 1.35, curl 8, wget 1.21,
    # Info-ZIP 3/6, GNU grep 3, GNU sed 4); only the ones that take a value matter here.
    plain = Tool(READ, values="-n -c --lines --bytes --pid -s --sleep-interval --max-unchanged-stats")
    table = {name: plain for name in ("cat", "head", "tail", "less", "more", "tac", "nl", "wc", "stat",
                                      "strings", "od", "hexdump", "file", "ls", "du")}
    table.update({
        "base64": Tool(READ, values="-w --wrap"),
        "base32": Tool(READ, values="-w --wrap"),
        "xxd": Tool(LAST_WRITTEN, values="-c -g -l -s -o -cols -len -seek -offset -groupsize -n -name"),
        "sha256sum": Tool(READ), "sha1sum": Tool(READ), "sha512sum": Tool(READ), "md5sum": Tool(READ),
        "cksum": Tool(READ), "sort": Tool(READ, {"-o": True, "--output": True}, "-k -t -S -T --key"),
        "cp": Tool(LAST_WRITTEN, {"-t": True, "--target-directory": True}, "-S --suffix"),
        "mv": Tool(LAST_WRITTEN, {"-t": True, "--target-directory": True}, "-S --suffix"),
        "ln": Tool(LAST_WRITTEN, {"-t": True, "--target-directory": True}, "-S --suffix"),
        "install": Tool(LAST_WRITTEN, {"-t": True, "--target-directory": True}, "-m -o -g --mode --owner"),
        "rm": Tool(WRITE), "shred": Tool(WRITE, values="-n -s --iterations --size"), "touch": Tool(WRITE),
        "tee": Tool(WRITE), "truncate": Tool(WRITE, values="-s --size -r --reference"),
        "mkdir": Tool(WRITE, values="-m --mode"), "rmdir": Tool(WRITE),
        "chmod": Tool(WRITE), "chown": Tool(WRITE),
        "tar": Tool(NONE, {"-f": True, "--file": True, "-C": True, "--directory": True, "-T": False,
                           "--files-from": False, "-X": False, "--exclude-from": False}),
        "curl": Tool(NONE, {"-o": True, "--output": True, "-T": False, "--upload-file": False,
                            "-K": False, "--config": False, "-D": True, "--dump-header": True,
                            "-c": True, "--cookie-jar": True, "--output-dir": True, "--trace": True,
                            "--trace-ascii": True, "--stderr": True, "--netrc-file": False,
                            "-E": False, "--cert": False, "--key": False, "--cacert": False}),
        "wget": Tool(NONE, {"-O": True, "--output-document": True, "-P": True, "--directory-prefix": True,
                            "-i": False, "--input-file": False, "-o": True, "--output-file": True,
                            "-a": True, "--append-output": True, "--load-cookies": False,
                            "--save-cookies": True, "--post-file": False, "--body-file": False}),
        "zip": Tool(FIRST_WRITTEN, {"-b": True, "--temp-path": True}, "-P --password -n -s"),
        "unzip": Tool(READ, {"-d": True}, "-P -x"),
        "gzip": Tool(READ, values="-S --suffix"), "gunzip": Tool(READ, values="-S --suffix"),
        "bzip2": Tool(READ), "xz": Tool(READ), "zcat": Tool(READ),
        "grep": Tool(AFTER_PATTERN, {"-f": False, "--file": False},
                     "-e --regexp -m --max-count -A -B -C --context --label --include --exclude "
                     "--exclude-dir --color --colour -d -D --binary-files"),
        "egrep": Tool(AFTER_PATTERN, {"-f": False, "--file": False}, "-e --regexp -m -A -B -C"),
        "fgrep": Tool(AFTER_PATTERN, {"-f": False, "--file": False}, "-e --regexp -m -A -B -C"),
        "sed": Tool(AFTER_SCRIPT, {"-f": False, "--file": False}, "-e --expression -l --line-length"),
        "dd": Tool(NONE),
        # find: the starting points before the expression, and the files its actions write or read.
        "find": Tool(NONE, {"-fprint": True, "-fprint0": True, "-fprintf": True, "-fls": True,
                            "-files0-from": False},
                     "-name -iname -path -ipath -wholename -iwholename -regex -iregex -lname -ilname -type "
                     "-xtype -user -group -perm -size -newer -anewer -cnewer -mtime -atime -ctime -mmin -amin "
                     "-cmin -maxdepth -mindepth -samefile -inum -links -uid -gid -fstype -printf -used "
                     "-regextype -context -D -O"),
        "rsync": Tool(LAST_WRITTEN, {"--files-from": False, "--exclude-from": False, "--include-from": False,
                                     "--log-file": True, "--write-batch": True, "--only-write-batch": True,
                                     "--read-batch": False, "--password-file": False, "--backup-dir": True,
                                     "--partial-dir": True, "-T": True, "--temp-dir": True,
                                     "--link-dest": False, "--copy-dest": False, "--compare-dest": False},
                      "-e --rsh --rsync-path -f --filter --exclude --include --chmod --chown --port --timeout "
                      "--bwlimit --max-size --min-size --suffix -M --remote-option --out-format --log-file-format "
                      "--usermap --groupmap --info --debug --iconv --contimeout --sockopts --protocol "
                      "--checksum-choice --compress-choice --compress-level --skip-compress --block-size -B"),
        "scp": Tool(LAST_WRITTEN, {"-i": False, "-F": False},
                    "-S -o -J -P -l -c -D -X"),
        "ssh": Tool(NONE, {"-i": False, "-F": False, "-E": True, "-S": True},
                    "-o -p -l -L -R -D -J -W -b -c -m -O -Q -w -B -e -I -P"),
        "sqlite3": Tool(FIRST_WRITTEN, {"-init": False},
                        "-cmd -separator -newline -nullvalue -vfs -pagecache -lookaside -heap -mmap -maxsize "
                        "-escape -A -zip"),
        "xargs": Tool(NONE, {"-a": False, "--arg-file": False},
                      "-I -i -d --delimiter -E -e -n --max-args -P --max-procs -s --max-chars -L --max-lines "
                      "--process-slot-var"),
        "git": Tool(NONE, {"-C": False, "--git-dir": True, "--work-tree": True, "-F": False, "--file": False,
                           "-o": True, "--output": True, "--output-directory": True, "--template": False},
                    "-c -m --message -b -B --branch --grep --author --committer -S -G --format --pretty --since "
                    "--until -n --max-count -X --strategy-option -s --strategy --depth --origin --date "
                    "--reference -e --config-env --upload-pack -u --exec"),
    })
    return table


_WRAPPERS = {"timeout": 1, "nice": 0, "nohup": 0, "env": 0, "stdbuf": 0, "ionice": 0, "setsid": 0, "time": 0}


def names_files(program: str) -> bool:
    """Whether ``program`` (or the wrapper in front of one) is a tool whose arguments may name files,
    or a shell whose ``-c`` script may."""
    return program.rpartition("/")[2] in _named() or program_name(program) in SHELLS


@cache
def _named() -> frozenset[str]:
    return frozenset((*tools(), *_WRAPPERS))


def file_arguments(command: Command) -> list[tuple[str, bool]]:
    """(path, written) for every argument of ``command`` that names a file, in order.

    Shell commands: every simple command of the script. Paths relative to a ``cwd`` the code set
    are joined to it.
    """
    if command.shell:
        found = script_files(command.script)
    else:
        argv = command.argv  # every argument: the kernel's ARG_MAX bounds the vector, a cut would be a bypass
        vector = [command.program, *argv[1:]] if argv else [command.program]
        found = vector_files(vector)
        script = handed_script(vector)  # ["sh", "-c", "cat ..."], ["env", "bash", "-c", ...], find -exec sh -c
        if script is not None:
            found += script_files(script)
    cwd = command.cwd
    if cwd:
        found = [(path if path.startswith("/") else os.path.join(cwd, path), written) for path, written in found]
    return found


def script_files(script: str) -> list[tuple[str, bool]]:
    """(path, written) for the files a shell script's simple commands and redirections name."""
    classes = classify(script)[0]
    found = redirections(script, classes)
    for words in simple_commands(script, classes):
        found += vector_files([word.value for word in words])
    return found


def redirections(script: str, classes: bytearray) -> list[tuple[str, bool]]:
    """(path, written) for the files a script's redirections open: ``< f`` reads, ``> f`` and ``>> f``
    write. A descriptor (``2>&1``), a here-document's delimiter (``<<EOF``) and a here-string
    (``<<< text``) name no file."""
    found: list[tuple[str, bool]] = []
    pending: bool | None = None  # after a redirection operator: whether the file it opens is written
    operator = ""
    for token in word_token().finditer(classes):
        start, end = token.span()
        if classes[start] not in WORD_BREAKS:
            if pending is not None:
                word = script[start:end] if classes.find(QUOTE, start, end) == -1 \
                    else unquoted_word(script, classes, start, end).value
                if not operator.endswith(("&", "<<")):
                    found.append((word, pending))
                pending = None
            continue
        char = script[start]
        if char in "<>":
            operator = operator + char if pending is not None and end == start + 1 and \
                script[start - 1:start] in "<>" and start > 0 else char
            pending = ">" in operator
        elif char == "&" and pending is not None and script[start - 1:start] in "<>":
            operator += "&"
        else:
            pending = None
    return found


def vector_files(argv: Sequence[str]) -> list[tuple[str, bool]]:
    """(path, written) for the arguments of one argument vector that name files."""
    start = _past_wrappers(argv)
    if start >= len(argv):
        return []
    name = program_name(argv[start])
    tool = tools().get(name)
    if tool is None:
        return []
    if name == "dd":
        return [(arg[3:], arg[:3] == "of=") for arg in argv[start + 1:] if arg[:3] in ("if=", "of=") and arg[3:]]
    if name in ("sqlite3", "find", "git", "xargs"):
        return _own_grammar(name, argv[start + 1:], tool)
    found: list[tuple[str, bool]] = []
    operands: list[str] = []
    pattern_given = False
    in_place = False
    args = list(argv[start + 1:])
    if name == "tar" and args and args[0][:1] != "-" and args[0].isalpha():
        args[0] = "-" + args[0]  # the old style (tar xzf x.tgz): a cluster without its dash
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            operands += args[index:]
            break
        if arg[:1] != "-" or arg == "-":
            operands.append(arg)
            continue
        option, value, attached = _split_option(arg, tool)
        if option is None:
            if (name == "sed" and arg[:2] == "-i") or arg.startswith("--in-place"):
                in_place = True
            continue
        if not attached:
            if index >= len(args):
                break
            value = args[index]
            index += 1
        if option in tool.files:
            found.append((value, tool.files[option]))
            if name in ("grep", "egrep", "fgrep", "sed") and option in ("-f", "--file"):
                pattern_given = True
        elif option in ("-e", "--regexp", "--expression") and name in ("grep", "egrep", "fgrep", "sed"):
            pattern_given = True
        if option in ("-t", "--target-directory"):  # the operands are then all sources
            pattern_given = True
    found += _operand_files(tool.operands, operands, pattern_given, in_place)
    return found


def _operand_files(rule: int, operands: list[str], pattern_given: bool, in_place: bool) -> list[tuple[str, bool]]:
    """``pattern_given``: grep's or sed's first operand is no pattern (``-e``/``-f`` gave it), or cp's
    last operand no target (``-t`` gave it)."""
    if rule == NONE or not operands:
        return []
    if rule == AFTER_PATTERN:
        return [(path, False) for path in (operands if pattern_given else operands[1:])]
    if rule == AFTER_SCRIPT:
        return [(path, in_place) for path in (operands if pattern_given else operands[1:])]
    if rule == LAST_WRITTEN:
        if pattern_given:
            return [(path, False) for path in operands]
        return [(path, False) for path in operands[:-1]] + [(operands[-1], True)]
    if rule == FIRST_WRITTEN:
        return [(operands[0], True)] + [(path, False) for path in operands[1:]]
    return [(path, rule == WRITE) for path in operands]


def _split_option(arg: str, tool: Tool) -> tuple[str | None, str, bool]:
    """(option, attached value, whether attached) for an option that takes a value; None else.

    ``--output=x`` and ``-ox`` carry their value; ``--output`` and ``-o`` take the next argument. A long
    option is known by a prefix of 5 characters or more (getopt_long's abbreviations); a cluster of
    short flags ends with the one option that takes a value (``-sSo x``, ``-xzf x.tgz``).
    """
    if arg.startswith("--"):
        name, equals, value = arg.partition("=")
        known = name if name in tool.files or name in tool.values else None
        if known is None and len(name) >= 5:
            known = next((option for option in (*tool.files, *tool.values)
                          if option.startswith("--") and option.startswith(name)), None)
        return known, value, bool(equals)
    for position in range(1, len(arg)):
        option = "-" + arg[position]
        if option in tool.files or option in tool.values:
            rest = arg[position + 1:]
            return option, rest, bool(rest)
        if not arg[position].isalnum():
            break
    if arg in tool.values or arg in tool.files:  # xxd's -cols, find-style long options with one dash
        return arg, "", False
    return None, "", False


def _past_wrappers(argv: Sequence[str]) -> int:
    """The index of the program a wrapper chain runs (``timeout 5 nice -n 5 cat x``: ``cat``)."""
    index = 0
    for _ in range(8):
        if index >= len(argv):
            return index
        name = program_name(argv[index])
        if name not in _WRAPPERS:
            return index
        index += 1
        while index < len(argv) and (argv[index][:1] == "-" or (name == "env" and "=" in argv[index])):
            index += 2 if argv[index] in ("-n", "-s", "-k", "-u", "-o", "-e", "-i", "-c") and name != "env" \
                else 1
        index += _WRAPPERS[name]  # timeout's duration
    return index


def _option_files(args: Sequence[str], tool: Tool) -> list[tuple[str, bool]]:
    """(path, written) for the values of ``tool``'s file options among ``args``."""
    found: list[tuple[str, bool]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if arg[:1] != "-" or arg == "-":
            continue
        option, value, attached = _split_option(arg, tool)
        if option is None:
            continue
        if not attached:
            if index >= len(args):
                break
            value = args[index]
            index += 1
        if option in tool.files:
            found.append((value, tool.files[option]))
    return found


def _operands(args: Sequence[str], tool: Tool, *, stop: bool = False) -> list[str]:
    """The arguments among ``args`` that are neither options nor an option's value; with ``stop``,
    every argument from the first operand on (a wrapper's command)."""
    operands: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            return operands + list(args[index:])
        if arg[:1] != "-" or arg == "-":
            if stop:
                return list(args[index - 1:])
            operands.append(arg)
            continue
        option, _, attached = _split_option(arg, tool)
        if option is not None and not attached:
            index += 1
    return operands


def _own_grammar(name: str, args: Sequence[str], tool: Tool) -> list[tuple[str, bool]]:
    """(path, written) for the tools whose operands follow a grammar of their own."""
    if name == "sqlite3":  # options may follow the database name: only the first operand is a file
        operands = _operands(args, tool)
        return _option_files(args, tool) + ([(operands[0], True)] if operands else [])
    if name == "find":
        return _find_files(args, tool)
    if name == "git":
        return _git_files(args, tool)
    # xargs: its options end at the command it runs, whose own files are named too
    own = len(args) - len(_operands(args, tool, stop=True))
    return _option_files(args[:own], tool) + (vector_files(args[own:]) if own < len(args) else [])


def _find_files(args: Sequence[str], tool: Tool) -> list[tuple[str, bool]]:
    """find's starting points (read: it lists them and what is below), and the files its actions
    write (``-fprint``, ``-fls``) or read (``-files0-from``). The expression starts at the first
    argument that begins with ``-``, ``(`` or ``!``; ``-H``/``-L``/``-P`` and ``-D``/``-O`` come before."""
    index = 0
    while index < len(args) and (args[index] in ("-H", "-L", "-P", "-D") or args[index][:2] == "-O"):
        index += 2 if args[index] == "-D" else 1
    found: list[tuple[str, bool]] = []
    while index < len(args) and args[index][:1] not in ("-", "(", "!", ")", ","):
        found.append((args[index], False))
        index += 1
    expression = args[index:]
    for position, arg in enumerate(expression[:-1]):
        if arg in tool.files and (position == 0 or expression[position - 1] not in tool.values):
            found.append((expression[position + 1], tool.files[arg]))
    return found


def _git_files(args: Sequence[str], tool: Tool) -> list[tuple[str, bool]]:
    """git's top-level ``-C``/``--git-dir``/``--work-tree``, the file options of its commands (``commit -F``,
    ``archive -o``, ``format-patch -o``, ``clone --template``), and ``clone``'s local source and target
    directory. Other operands are revisions and pathspecs, which git keeps inside the work tree."""
    found = _option_files(args, tool)
    operands = _operands(args, tool)
    if operands[:1] == ["clone"] and len(operands) > 1:
        source = operands[1]
        if "://" not in source and ":" not in source.split("/", 1)[0]:  # a local repository
            found.append((source, False))
        if len(operands) > 2:
            found.append((operands[2], True))
    return found
