"""A small, bounded multipart/form-data reader for request bodies."""
from __future__ import annotations

import re
from collections import namedtuple

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_DISPOSITION_PARAM = re.compile(r'(\w+)\*?="((?:[^"\\]|\\.)*)"|(\w+)=([^;\s]+)')
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


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body; a malformed body yields the parts that could be read."""
    match = _BOUNDARY.search(content_type)
    if not match:
        return []
    delimiter = b"--" + match.group(1).strip().encode("latin-1")
    parts: list[Part] = []
    for chunk in body.split(delimiter)[1:MAX_PARTS + 1]:
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
        params: dict[str, str] = {}
        for quoted_key, quoted, bare_key, bare in _DISPOSITION_PARAM.findall(
                headers.get("content-disposition", "")):
            params[(quoted_key or bare_key).lower()] = quoted if quoted_key else bare
        parts.append(Part(params.get("name", ""), params.get("filename"),
                          headers.get("content-type", ""), data))
    return parts
