"""Program text in a command's arguments: an input that becomes code of awk, jq, sed, perl, python,
node, ruby or php.

``awk '$1 == "'"$q"'"'``, ``jq ".[] | select(.name == \\"$q\\")"``, ``sed "s/$q/x/"``, ``perl -e``
and ``python -c`` read an argument as a program: no shell is involved, yet an input there can run
a command (awk's ``system`` and ``|``, sed's ``e`` command and ``s///e`` flag, perl's and python's
everything) or read the environment (awk's ``ENVIRON``, jq's ``env`` and ``$ENV``). An input is inert
in program text only when it stays inside one string literal of the language (awk, jq, perl,
python) or inside the pattern or replacement of one sed ``s`` command (or the pattern of an
address): it must not open or close the literal, nor bring what interpolates code into it (perl's
``$`` and ``@`` in double quotes, ``@{[ system "id" ]}``; ``{`` in a python f-string; ``$`` in a
javascript template literal, ``#`` in ruby's and ``$``/``{`` in php's double quotes; ruby's and php's
backticks run a shell, and are no literal here). ``node -e``/``-p``, ``ruby -e`` and ``php -r`` read
their program from the option only. Outside
literals a number, or a name that is none of the language's dangerous ones, is allowed (``awk '$3
> 100'``, ``jq .items[2]``, ``jq .name``). Each language is read by a short scanner of its quoting
only: regular-expression literals of awk and perl are taken as code, which errs on the side of a
finding; python's triple quotes read as three strings, which is the same literal text.
"""
from __future__ import annotations

import re
from functools import cache, lru_cache

# The programs that read program text, and the options whose value is that text. An empty option
# set means the first operand is the text (unless a file option gave it).
_TEXT_OPTIONS = {"awk": ("-e", "--source"), "gawk": ("-e", "--source"), "mawk": (), "nawk": (),
                 "sed": ("-e", "--expression"), "jq": (), "perl": ("-e", "-E"), "python": ("-c",),
                 "pypy": ("-c",), "node": ("-e", "--eval", "-p", "--print"),
                 "nodejs": ("-e", "--eval", "-p", "--print"), "ruby": ("-e",), "php": ("-r",)}
# Options whose presence means the program comes from a file: the first operand is then data.
_FILE_OPTIONS = {"awk": ("-f", "--file"), "gawk": ("-f", "--file"), "mawk": ("-f",), "nawk": ("-f",),
                 "sed": ("-f", "--file"), "jq": ("-f", "--from-file")}
# Options of these programs that take a value as the next word (so that word is no operand), and
# jq's that take two.
_VALUED = {"awk": ("-v", "-F", "--assign", "--field-separator"), "gawk": ("-v", "-F", "--assign"),
           "mawk": ("-v", "-F"), "nawk": ("-v", "-F"), "sed": ("-l", "--line-length"),
           "jq": ("--indent", "-L")}
_JQ_TWO_VALUES = frozenset(("--arg", "--argjson", "--slurpfile", "--rawfile"))

LANGUAGE = {"awk": "awk", "gawk": "awk", "mawk": "awk", "nawk": "awk", "jq": "jq", "sed": "sed",
            "perl": "perl", "python": "python", "pypy": "python", "node": "javascript", "nodejs": "javascript",
            "ruby": "ruby", "php": "php"}
# Languages whose script comes from an option (-e, -c, -r) only: a first operand is a script file.
_OPTION_ONLY = frozenset(("perl", "python", "pypy", "node", "nodejs", "ruby", "php"))
# Per language, its quotes, and for each quote what starts code inside the string it opens.
_QUOTES = {"perl": {'"': "$@", "'": ""}, "python": {'"': "", "'": ""}, "javascript": {'"': "", "'": "", "`": "$"},
           "ruby": {'"': "#", "'": ""}, "php": {'"': "${", "'": ""}}
# Names that run a command, read or write a file or read the environment, per language.
_DANGEROUS_NAMES = {
    "awk": frozenset(("system", "getline", "close", "fflush", "ENVIRON", "PROCINFO")),
    "jq": frozenset(("env", "$ENV", "ENV", "input", "inputs", "input_filename", "$__loc__", "debug", "stderr",
                     "getpath", "splits")),
    "sed": frozenset(),
    "perl": frozenset(("system", "exec", "qx", "open", "eval", "require", "do", "ENV", "unlink", "kill", "fork")),
    "python": frozenset(("exec", "eval", "open", "compile", "breakpoint", "input", "help", "exit", "quit")),
    "javascript": frozenset(("require", "process", "eval", "Function", "import", "globalThis", "global", "module",
                             "constructor", "child_process", "Deno", "Bun")),
    "ruby": frozenset(("system", "exec", "eval", "open", "spawn", "fork", "send", "public_send", "instance_eval",
                       "class_eval", "ENV", "File", "IO", "Kernel", "require", "load", "syscall", "binding")),
    "php": frozenset(("system", "exec", "shell_exec", "passthru", "popen", "proc_open", "eval", "assert", "include",
                      "require", "file_get_contents", "file_put_contents", "fopen", "getenv", "putenv", "mail",
                      "unlink", "call_user_func", "create_function")),
}


def program_texts(name: str, arguments: list[str]) -> list[str]:
    """The arguments that ``name`` (a program name without a version) reads as its program."""
    if name not in LANGUAGE:
        return []
    text_options, file_options = _TEXT_OPTIONS[name], _FILE_OPTIONS.get(name, ())
    valued = _VALUED.get(name, ())
    texts: list[str] = []
    from_file = False
    index = 0
    while index < len(arguments):
        arg = arguments[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        option, has_value, value = arg.partition("=")
        if option in text_options:
            if has_value:
                texts.append(value)
            elif index + 1 < len(arguments):
                texts.append(arguments[index + 1])
                index += 1
        elif len(arg) > 2 and arg[:2] in text_options and not arg.startswith("--"):
            texts.append(arg[2:])  # -e'...' with the text attached
        elif len(arg) > 2 and "-" + arg[-1] in text_options and not arg.startswith("--") and arg[1:].isalpha():
            if index + 1 < len(arguments):  # a cluster that ends with it: perl -ne, sed -ne, python -Bc
                texts.append(arguments[index + 1])
                index += 1
        elif option in file_options or (arg[:2] in file_options and not arg.startswith("--")):
            from_file = True
            index += 0 if has_value or (len(arg) > 2 and not arg.startswith("--")) else 1
        elif option in valued and not has_value:
            index += 1
        elif name == "jq" and option in _JQ_TWO_VALUES:
            index += 2
        index += 1
    if not texts and not from_file and name not in _OPTION_ONLY and index < len(arguments):
        texts.append(arguments[index])  # the first operand is the program
    return texts


@cache
def _plain() -> re.Pattern[str]:
    """An input that is harmless as code: a number, or one name or dotted path."""
    return re.compile(r"-?[0-9]+(?:\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@lru_cache(maxsize=4)  # one mask per program text, whatever the number of inputs found in it
def literal_mask(language: str, text: str) -> bytes:
    """Per character of ``text``: 1 inside a string literal (or a sed pattern or replacement), else 0;
    2 marks the characters that open or close a literal (quotes, delimiters)."""
    if language == "sed":
        return bytes(_sed_mask(text))
    quotes = "".join(_QUOTES[language]) if language in _QUOTES else '"'
    mask = bytearray(len(text))
    quote = ""
    interpolating = ""  # what starts code inside the open string: perl's "$@", a python f-string's "{"
    depth = 0  # parentheses open in the code of a jq interpolation
    interpolations: list[tuple[str, int]] = []  # the string and depth each \( ... ) returns to
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and i + 1 < len(text):
                if language == "jq" and text[i + 1] == "(":  # \( ... ) is code inside the string
                    mask[i] = mask[i + 1] = 2
                    interpolations.append((quote, depth))
                    quote, depth = "", 0
                    i += 2
                    continue
                mask[i] = mask[i + 1] = 1
                i += 2
                continue
            if char == quote:
                mask[i] = 2
                quote = ""
            elif char in interpolating:
                mask[i] = 2
            else:
                mask[i] = 1
        elif char in quotes:
            mask[i] = 2
            quote = char
            if language in ("perl", "javascript", "ruby", "php"):
                interpolating = _QUOTES[language][char]
            elif language == "python":
                prefix = text[max(0, i - 2):i].lower()
                interpolating = "{}" if "f" in prefix and prefix.strip("rbf") == "" else ""
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0 and interpolations:
                mask[i] = 2
                quote, depth = interpolations.pop()
            else:
                depth -= 1
        i += 1
    return bytes(mask)


def _sed_mask(text: str) -> bytearray:
    """Patterns and replacements of ``s`` commands and address patterns are literal (1), their
    delimiters 2; commands, flags, labels and file names are code (0)."""
    mask = bytearray(len(text))
    i, n = 0, len(text)

    def delimited(start: int, parts: int) -> int:
        """Mark ``parts`` parts delimited by ``text[start]``; the index after the last delimiter."""
        delimiter = text[start]
        mask[start] = 2
        j = start + 1
        while parts and j < n:
            if text[j] == "\\" and j + 1 < n:
                mask[j] = mask[j + 1] = 1
                j += 2
                continue
            if text[j] == delimiter or text[j] == "\n":
                mask[j] = 2
                parts -= 1
            else:
                mask[j] = 1
            j += 1
        return j

    command_start = True
    while i < n:
        char = text[i]
        if char in " \t;\n{}!,0123456789$":
            command_start = char in ";\n{}" or command_start
            i += 1
            continue
        if char == "/" and command_start:  # an address pattern
            i = delimited(i, 1)
            continue
        if char == "\\" and command_start and i + 1 < n:  # \cREGEXc
            i = delimited(i + 1, 1)
            continue
        if char in "sy" and i + 1 < n and text[i + 1] not in "\n;\\":
            i = delimited(i + 1, 2)  # then the flags, code up to the end of the command
            command_start = False
            continue
        if char in "aic":  # text to the end of the line is data
            end = text.find("\n", i)
            end = n if end == -1 else end
            mask[i + 1:end] = b"\x01" * (end - i - 1)
            i = end
            continue
        command_start = False
        i += 1
    return mask


def judge(language: str, program_text: str, value: str) -> str | None:
    """Why the input ``value`` in ``program_text`` is code, or None when it stays data."""
    start = program_text.find(value)
    if start == -1:
        return None
    mask = literal_mask(language, program_text)  # read only
    count = 0
    while start != -1 and count < 16:
        end = start + len(value)
        inside = mask.count(1, start, end) == len(value)  # within one literal, opening and closing none
        if not inside and not _harmless_code(language, value):
            return f"is code of the {language} program"
        start, count = program_text.find(value, start + 1), count + 1
    return None


def _harmless_code(language: str, value: str) -> bool:
    if language == "sed":  # every letter outside a pattern is a command or a flag (s///ge runs)
        return value.isdigit()
    if language in ("perl", "python"):
        return _plain().fullmatch(value) is not None and value not in _DANGEROUS_NAMES[language]
    if _plain().fullmatch(value) is None:
        return False
    return not any(part in _DANGEROUS_NAMES[language] for part in value.split("."))
