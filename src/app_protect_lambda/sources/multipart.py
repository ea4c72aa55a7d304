"""A small, bounded multipart/form-data reader for request bodies.

Linear in the body. A header parameter match may start only at a ``;``, and a
quoted value is read by the unrolled pattern, because the pattern this
replaces (``(\\w+)\\*?="..."|(\\w+)=...`` under ``findall``) retried every word
from each of its letters and took 13 s on a 30 kB ``Content-Disposition``;
a 1 MB one now takes about 10 ms.

Where frameworks read a part two ways, both readings are parts: a file name given as ``filename``
and as ``filename*`` (RFC 2231/5987: ``UTF-8''%2E%2E%2Fx``, continuations ``filename*0*=`` ...
joined; RFC 6266 has clients send both, and parsers differ in which they keep), and a
``Content-Transfer-Encoding: quoted-printable`` or ``base64`` part, as sent and decoded, and a text
file with bytes UTF-8 refuses, as read by handlers that replace those bytes and by those that drop them.
"""
from __future__ import annotations

import binascii
import codecs
import re
from collections import namedtuple
from functools import cache
from urllib.parse import unquote  # multipart.py loads on a multipart body's first need, not at cold start

MAX_PARTS = 1000


class Part(namedtuple("Part", "name filename content_type data")):
    __slots__ = ()
    name: str
    filename: str | None
    content_type: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    @property
    def file_text(self) -> str:
        """A file's content as the text a handler reads it as, whatever its bytes.

        A handler that imports a CSV reads it however it was written: ``decode("latin-1")`` for a
        spreadsheet's export, ``errors="replace"`` or ``"ignore"`` for the stray byte. So no file is
        refused as binary: one Latin-1 byte or one NUL made the whole content no input at all, and
        an attacker picks the bytes around the line that reaches the statement. The text is UTF-8
        where the bytes are UTF-8 and each stray byte its Latin-1 character (what both readings
        agree on is kept), or UTF-16/32 where a byte-order mark says so; a binary file (many stray
        bytes in the 4 kB after the first, or more than ``STRAY_BYTES`` in all) is read as Latin-1
        whole. The declared content type is the sender's claim and is not consulted. No size bound
        of its own: a request body is at most 6 MB, under the cap on all inputs together
        (``limits.max_bytes``), which bounds it. Measured on 1 MB of random bytes: 0.5 ms, where
        reading every stray byte as Latin-1 one by one took 16 (``translate``: 70).
        """
        data = self.data
        for mark, codec in _BYTE_ORDER_MARKS:
            if data.startswith(mark):
                return data[len(mark):].decode(codec, "replace")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            first = error.start
        if _few_strays(data, first):
            text, strays = _stray_byte().subn(_latin1_character, data.decode("utf-8", "surrogateescape"),
                                              STRAY_BYTES + 1)
            if strays <= STRAY_BYTES:
                return text
        return data.decode("latin-1")


# Stray bytes read as Latin-1 one by one (~0.3 µs each) in mostly UTF-8 text; past this many, the whole file is.
STRAY_BYTES = 4096
# The longer marks first: UTF-32-LE's starts as UTF-16-LE's does.
_BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                     (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
                     (codecs.BOM_UTF8, "utf-8"))

_BYTE_ORDER_MARKS_ALONE = tuple(mark for mark, _ in _BYTE_ORDER_MARKS)


def _few_strays(data: bytes, first: int) -> bool:
    """Whether the 4 kB after the first byte UTF-8 refuses hold few more (text, not a binary file)."""
    sample = data[first:first + 4096].decode("utf-8", "surrogateescape")
    return len(_stray_byte().findall(sample, 0, 4096)) <= 64


@cache
def _stray_byte() -> re.Pattern[str]:
    return re.compile("[\udc80-\udcff]")  # ``surrogateescape`` keeps an undecodable byte b as U+DC00+b


def _latin1_character(match: re.Match[str]) -> str:
    return chr(ord(match.group()) - 0xDC00)


@cache
def _parameter() -> re.Pattern[str]:
    # Linear: a match can start only at the header's start or at a ";", and the quoted value is the
    # unrolled form (runs of plain characters between escapes), which has nothing to backtrack into.
    return re.compile(r'(?:^|;)[ \t]*([^;=]*)=[ \t]*(?:"([^"\\]*(?:\\.[^"\\]*)*)"?|([^;]*))', re.DOTALL)


def _unquote(text: str) -> str:
    # As email.utils.unquote does, which the multipart parsers of Python frameworks rely on.
    return text.replace("\\\\", "\\").replace('\\"', '"')


def _extended_value(text: str, charset: str | None) -> str:
    """An RFC 2231 ``charset'language'%xx`` value (``charset`` None: read it from ``text``) as text."""
    if charset is None:
        charset, _, rest = text.partition("'")
        text = rest.partition("'")[2] if rest else charset
        charset = charset if rest else "utf-8"
    try:
        return unquote(text, encoding=charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return unquote(text, errors="replace")


def _read_parameters(value: str) -> tuple[dict[str, str], dict[str, str]]:
    """The plain parameters and the extended (``name*``, RFC 2231) ones, decoded, of a header value."""
    plain: dict[str, str] = {}
    extended: dict[str, str] = {}
    pieces: dict[str, list[tuple[int, bool, str]]] = {}  # continuations: name -> (index, encoded, text)
    for match in _parameter().finditer(value):
        name, quoted, bare = match.groups()
        name = name.strip().lower()
        text = _unquote(quoted) if quoted is not None else bare.strip()
        encoded = name.endswith("*")
        name = name.removesuffix("*")
        base, star, index = name.rpartition("*")
        if star and base and index.isdigit() and len(index) <= 4:
            pieces.setdefault(base, []).append((int(index), encoded, text))
        elif name and encoded:
            extended[name] = _extended_value(text, None)
        elif name:
            plain[name] = text
    for name, parts in pieces.items():
        parts.sort(key=lambda part: part[0])
        charset: str | None = None
        joined = []
        for position, (_, encoded, text) in enumerate(parts):
            if encoded and position == 0:
                charset, _, rest = text.partition("'")
                text, charset = (rest.partition("'")[2], charset or "utf-8") if rest else (charset, "utf-8")
            joined.append(_extended_value(text, charset or "utf-8") if encoded else text)
        extended.setdefault(name, "".join(joined))
    return plain, extended


def header_parameters(value: str) -> dict[str, str]:
    """``name="a b"; filename*=UTF-8''x%20y`` as ``{"name": "a b", "filename": "x y"}``: names
    lower-cased, quoted values unescaped, the last of a repeated name kept, and an extended value
    (``name*``, continuations joined) decoded and preferred to the plain one, as RFC 6266 asks."""
    plain, extended = _read_parameters(value)
    return {**plain, **extended}


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body; a malformed body yields the parts that could be read."""
    boundary = header_parameters(content_type).get("boundary", "").strip()
    if not boundary:
        return []
    delimiter = b"--" + boundary.encode("utf-8", "surrogatepass")  # the body's bytes were encoded the same way
    parts: list[Part] = []
    for chunk in body.split(delimiter, MAX_PARTS + 1)[1:MAX_PARTS + 1]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, data = chunk.partition(b"\n\n")
            if not sep:
                continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        plain, extended = _read_parameters(headers.get("content-disposition", ""))
        name = extended.get("name", plain.get("name", ""))
        filename = plain.get("filename", extended.get("filename"))
        part = Part(name, filename, headers.get("content-type", ""), data)
        parts.append(part)
        other_filename = extended.get("filename")
        if other_filename is not None and other_filename != filename:
            parts.append(part._replace(filename=other_filename))
        decoded = _transfer_decoded(data, headers.get("content-transfer-encoding", ""))
        if decoded is not None and decoded != data:
            parts.append(part._replace(data=decoded))
        if filename is not None:
            parts += [part._replace(data=reading) for reading in _other_readings(data)]
    return parts


def _other_readings(data: bytes) -> list[bytes]:
    """A text file's content as the handlers read it that replace or drop the bytes UTF-8 refuses, where
    that differs from ``Part.file_text``: a stray byte inside the attack's line (``nob\\xe9ody' OR
    '1'='1``) made the line one of those readings only. As UTF-8, which ``file_text`` gives as it is.
    Clean UTF-8 (most uploads) has none, found in C; neither has a file with a byte-order mark. A
    binary file has none either (its Latin-1 reading only): both readings doubled the cost of a 1 MB
    image upload (38 ms to 73), and a binary file whose stray
    byte sits inside the line is a known limit. (A NUL needs no reading of its own: sqlite3, the PostgreSQL drivers,
    ``subprocess`` and ``open`` refuse it, and code that drops it is a deleting sanitiser.)"""
    if data.isascii() or data.startswith(_BYTE_ORDER_MARKS_ALONE):
        return []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if _few_strays(data, error.start):
            return [data.decode("utf-8", "replace").encode(), data.decode("utf-8", "ignore").encode()]
    return []


def _transfer_decoded(data: bytes, encoding: str) -> bytes | None:
    """A part's data decoded by its ``Content-Transfer-Encoding``, if that names one (None if not)."""
    encoding = encoding.strip().lower()
    try:
        if encoding == "quoted-printable":
            return binascii.a2b_qp(data)
        if encoding == "base64":
            return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return None
    return None
