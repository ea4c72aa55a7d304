"""Declarative refreshes: the URL a ``Refresh`` header or a ``<meta http-equiv="refresh">`` sends the browser to.

Both navigate like a Location, on any status, so the open-redirect detector judges the URL
they name the same way. The value is read as browsers read it (the HTML standard's shared
declarative refresh steps): a delay of digits and dots, then ``;`` or ``,`` and blanks, an
optional ``url=`` (any case, blanks around ``=``), an optional quote that the matching quote
ends. ``"5"`` alone refreshes the page itself and names no URL.

Only HTML bodies (a ``Content-Type`` that says ``html``, or none and a body that starts with a tag,
which browsers sniff as HTML) can hold a meta refresh; elsewhere the browser never reads one. The
``http-equiv`` value is also read with its character references decoded (``&#114;efresh``), as
browsers decode attribute values; a delay ends at a blank as at ``;`` or ``,`` (``0 https://...``).

Finding the tag needs a case-insensitive search, and ``str.lower`` then ``find`` is the fastest
one Python has (0.6-0.65 ms per MB of HTML, 7 µs for a 9 KB page; a case-insensitive ``re`` search
took 4.4 ms per MB, two ``find`` calls for two spellings 1.2 ms and miss mixed case), so an HTML
body costs that once per invocation (10-12 µs in all for the 9 KB page, typed or sniffed: 12-15
µs measured for an untyped one, 0.8 before it was read); a JSON response pays the header scan only
(0.8 µs).
"""
from __future__ import annotations

import re
from functools import cache

MAX_TAG = 4096  # characters of one <meta> tag read
MAX_URLS = 256  # meta refresh URLs judged per body (a page has one); every tag is still read
_BLANKS = " \t\n\r\f"


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    tags = re.compile(rf"<meta[\s/][^<>]{{0,{MAX_TAG}}}")
    equiv = re.compile(r"""http-equiv\s*=\s*["']?\s*refresh\b""", re.IGNORECASE)
    content = re.compile(r"""(?:^|[\s"'/])content\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
    return tags, equiv, content


def refresh_url(value: str) -> str | None:
    """The URL a Refresh value navigates to, or None when it only reloads the page (or is not one)."""
    text = value.lstrip(_BLANKS)
    position = 0
    while position < len(text) and (text[position].isdigit() or text[position] == "."):
        position += 1
    if position == 0:
        return None  # no delay: browsers ignore the whole value
    blank = position < len(text) and text[position] in _BLANKS
    text = text[position:].lstrip(_BLANKS)
    if text[:1] in (";", ","):
        text = text[1:].lstrip(_BLANKS)
    elif text and not blank:
        return None  # the delay must end at a separator or a blank (``0 https://...`` navigates too)
    if text[:3].lower() == "url":
        rest = text[3:].lstrip(_BLANKS)
        if rest[:1] == "=":
            text = rest[1:].lstrip(_BLANKS)
    if text[:1] in ("'", '"'):
        quote, text = text[0], text[1:]
        end = text.find(quote)
        if end != -1:
            text = text[:end]
    return text or None


def meta_refresh_urls(html: str) -> list[str]:
    """The URLs of the ``<meta http-equiv="refresh" content=...>`` tags of an HTML text.

    Each tag is read once, up to its ``>`` (or the next ``<``, or ``MAX_TAG`` characters): linear
    in the body, however many tags or decoys it holds.
    """
    lowered = html.lower()
    if "http-equiv" not in lowered:
        return []
    tags, equiv, content = _patterns()
    found: list[str] = []
    for tag in tags.finditer(lowered):
        text = html[tag.start() + 5:tag.end()]
        # browsers decode character references in attribute values: http-equiv="&#114;efresh" is one
        refresh = equiv.search(text) or ("&" in text and equiv.search(_unescape(text)))
        match = content.search(text) if refresh else None
        if match:
            url = refresh_url(_unescape(next(group for group in match.groups() if group is not None)))
            if url and len(found) < MAX_URLS:
                found.append(url)
    return found


def _unescape(value: str) -> str:
    if "&" not in value:
        return value
    from html import unescape

    return unescape(value)
