"""A small, bounded multipart/form-data reader for request bodies.

Linear in the body. A header parameter match may start only at a ``;``, and a
quoted value is read by the unrolled pattern, because the pattern this
replaces (``(\\w+)\\*?="..."|(\\w+)=...`` under ``findall``) retried every word
from each of its letters and took 13 s on a 30 kB ``Content-Disposition``;
a 1 MB one now takes about 10 ms.
"""
from __future__ import annotations

import re
from collections import namedtuple
from functools import cache

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
    def file_text(self) -> str | None:
        """A file's content if it is text, else None.

        Text is decided by the bytes alone: valid UTF-8 without a NUL byte (a PNG, a zip, a PDF or a
        UTF-16 file fails at once). The declared content type is the sender's claim and is not
        consulted: a text file sent as ``image/png`` is still read as text by a handler that reads
        it as text. No size bound of its own: a request body is at most 6 MB, under the cap on all
        inputs together (``limits.max_bytes``), which bounds it.
        """
        if b"\x00" in self.data:
            return None
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


@cache
def _parameter() -> re.Pattern[str]:
    # Linear: a match can start only at the header's start or at a ";", and the quoted value is the
    # unrolled form (runs of plain characters between escapes), which has nothing to backtrack into.
    return re.compile(r'(?:^|;)[ \t]*([^;=]*)=[ \t]*(?:"([^"\\]*(?:\\.[^"\\]*)*)"?|([^;]*))', re.DOTALL)


def _unquote(text: str) -> str:
    # As email.utils.unquote does, which the multipart parsers of Python frameworks rely on.
    return text.replace("\\\\", "\\").replace('\\"', '"')


def header_parameters(value: str) -> dict[str, str]:
    """``name="a b"; filename*=x`` as ``{"name": "a b", "filename": "x"}``: names lower-cased, a
    trailing ``*`` dropped, quoted values unescaped, the last of a repeated name kept."""
    params: dict[str, str] = {}
    for match in _parameter().finditer(value):
        name, quoted, bare = match.groups()
        name = name.strip().lower().removesuffix("*")
        if name:
            params[name] = _unquote(quoted) if quoted is not None else bare.strip()
    return params


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
        params = header_parameters(headers.get("content-disposition", ""))
        parts.append(Part(params.get("name", ""), params.get("filename"), headers.get("content-type", ""), data))
    return parts
