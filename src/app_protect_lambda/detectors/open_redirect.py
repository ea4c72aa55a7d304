"""Open redirect: a 3xx whose Location an input sends off-site.

The Location is read the way browsers read it (the WHATWG URL parser) and, to
be safe, the way older parsers do where they differ:

- leading and trailing C0 controls and spaces are dropped, tabs and newlines
  removed anywhere (``" //evil"``, ``"/\\t/evil"``);
- for http(s) a backslash is a slash (``/\\evil.example``, ``\\\\evil``), any run
  of slashes after the scheme or at the start opens the authority
  (``https:evil.example``, ``///evil``); the older reading, where a backslash
  does not end the authority, is judged too;
- the host is what follows the last ``@`` of the authority
  (``https://good.example@evil.example``), percent-decoded, NFKC-folded, with
  ideographic dots as dots, lower-cased, without a trailing dot;
- ``javascript:``, ``data:`` and ``vbscript:`` are dangerous whatever follows;
  any other scheme but http(s), ws(s) and ftp leaves the site.

A Location is same-site when it is relative (a path, a query, a fragment) or
its host is the request's own or in ``allow_domains``, subdomains included: a
site ``app.example.com`` owns ``www.app.example.com`` and ``eu.app.example.com``,
and a site ``www.example.com`` owns ``example.com`` and its subdomains too (the
``www.`` label is the one that names no site of its own). No other parent is
taken: ``example.execute-api.us-east-1.amazonaws.com``'s parent belongs to every
AWS customer, and telling a registrable domain from a public suffix needs a
list we do not ship.

The request's own host is the domain name the trigger reports
(``requestContext.domainName``: API Gateway and Function URLs, set from the
domain the request reached) and, where the trigger routes on it, the Host
header. Behind an ALB (which forwards any Host to its default rule) and a
Function URL the Host header is only *claimed* by the client: it makes a
Location same-site unless the input that put the host there is itself that
host (``Location: https://{Host}/login`` with ``Host: evil.example``, which a
poisoned cache or a password-reset mail then serves to others).

An input is the cause when it supplies the part that decides where the browser
goes: the scheme of a non-web URL, or the end of the host with at least one dot
of it (or all of it), alone or pieced together with other inputs and dots the
code wrote (``https://{sub}.{domain}/``), or when the whole Location was taken
out of it (a field of a JSON or base64 ``state``), or once the code turned its backslashes into
slashes (``\\\\evil.example`` "cleaned" to ``//evil.example``). An input that only fills a query
parameter of a code-chosen off-site URL (an OAuth ``state``) or a label the code places under its
own domain is not. A host the code took out of a header that lists hosts (the first of
``X-Forwarded-Host: evil.example, app.example.com``, the ``host=`` of ``Forwarded``) is that
header's choice. A Referer that is only the start of the code's own off-site URL is no cause: a
browser sends a cross-site Referer as the origin alone, so a user back from an identity provider
carries the prefix of the redirect to it (``Location: {Referer}`` itself still is). An input that
starts the host when the code wrote only a top-level label after it (``https://{name}.com``) is a
cause, since it names the registrable domain (a two-label suffix, ``.co.uk``, would need the
public suffix list).
"""
from __future__ import annotations

import re
import unicodedata
from collections import namedtuple
from functools import cache, lru_cache
from urllib.parse import unquote

from ..findings import AttackKind, Finding
from ..sources.fragments import Family, transformed
from ..sources.inputs import Input

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from ..sources import Inputs

MAX_LOCATION = 65536  # characters of a Location read past its leading controls
MAX_OCCURRENCES = 16
MIN_WHOLE = 6  # a Location shorter than this inside an input proves nothing
# A scheme's colon, the slashes or backslashes that open an authority; a fragment must be the whole
# input, blanks aside: a Location that merely starts like the Referer is the site's own doing.
FRAGMENTS = Family("redirect", (":", "//", "\\\\"), minimum=MIN_WHOLE, whole=True)
_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript"})
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


class Redirect(namedtuple("Redirect", "location site_hosts claimed_hosts", defaults=((), ()))):
    """A Location about to be sent, the hosts that are this site's own, and those the client only
    claims are (a Host header no router checked)."""

    __slots__ = ()


class _Reading(namedtuple("_Reading", "kind target span", defaults=("", (0, 0)))):
    """How a browser reads a Location: ``kind`` relative, host, scheme (non-web) or dangerous;
    ``target`` the host or the scheme; ``span`` where it sits in the raw Location."""

    __slots__ = ()


@cache
def _scheme_pattern() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def normalize_host(text: str) -> str:
    """A host as browsers compare it: percent-decoded, NFKC, ideographic dots, lower-case."""
    host = unquote(text) if "%" in text else text
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host).translate(_IDEOGRAPHIC_DOTS)
    host = host.lower().strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") else host


def _clean(location: str) -> tuple[str, Sequence[int]]:
    """The Location as parsers see it, and the raw index of each of its characters."""
    if location[:1] > " " and location[-1:] > " " and not any(ch in location for ch in "\t\n\r"):
        return location, range(len(location) + 1)
    start = len(location) - len(location.lstrip(_C0_AND_SPACE))
    end = min(len(location.rstrip(_C0_AND_SPACE)), start + MAX_LOCATION)
    while end > start and location[end - 1] <= " ":
        end -= 1
    index = [i for i in range(start, end) if location[i] not in "\t\n\r"]
    index.append(end)
    return "".join(location[i] for i in index[:-1]), index


def _read(text: str, index: Sequence[int], backslash_is_slash: bool) -> _Reading:
    slashes = "/\\" if backslash_is_slash else "/"
    match = _scheme_pattern().match(text)
    if match:
        scheme = match.group()[:-1].lower()
        span = (index[0], index[match.end()])
        if scheme in _DANGEROUS_SCHEMES:
            return _Reading("dangerous", scheme, span)
        if scheme not in _WEB_SCHEMES:
            return _Reading("scheme", scheme, span)
        start = match.end()
        while start < len(text) and text[start] in "/\\":  # web schemes: any run of slashes
            start += 1
    elif len(text) >= 2 and text[0] in slashes and text[1] in slashes:
        start = 2
        while start < len(text) and text[start] in slashes:
            start += 1
    else:
        return _Reading("relative")
    end = start
    stops = "/\\?#" if backslash_is_slash else "/?#"
    while end < len(text) and text[end] not in stops:
        end += 1
    host_start = start + text[start:end].rfind("@") + 1
    host_end = end
    if text[host_start:host_start + 1] == "[":
        close = text.find("]", host_start, end)
        host_end = close + 1 if close != -1 else end
    else:
        colon = text.find(":", host_start, end)
        host_end = colon if colon != -1 else end
    host = normalize_host(text[host_start:host_end])
    if not host:
        return _Reading("relative")  # no host: browsers refuse the URL
    return _Reading("host", host, (index[host_start], index[host_end]))


def readings(location: str) -> list[_Reading]:
    text, index = _clean(location)
    result = [_read(text, index, True)]
    if "\\" in text:
        legacy = _read(text, index, False)
        if legacy != result[0]:
            result.append(legacy)
    return result


@lru_cache(maxsize=16)
def _domains(entries: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = (normalize_host(entry).lstrip("*").lstrip(".") for entry in entries)
    return tuple(entry for entry in cleaned if entry)


def _site_host(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        return normalize_host(host[: host.find("]") + 1])
    return normalize_host(host.partition(":")[0])


def _within(host: str, domain: str) -> bool:
    return host == domain or (host.endswith(domain) and host[-len(domain) - 1:-len(domain)] == ".")


def same_site(host: str, site_hosts: Sequence[str], allow_domains: Sequence[str]) -> bool:
    for site in site_hosts:
        if site:
            own = _site_host(site)
            if own and (_within(host, own) or (own.startswith("www.") and _within(host, own[4:]))):
                return True
    return any(_within(host, domain) for domain in _domains(tuple(allow_domains)))


def _is_claim(value: str, claimed_hosts: Sequence[str]) -> bool:
    """Whether an input is a claimed host itself (a Host header, a copy of it), port aside."""
    host = _site_host(value)
    return bool(host) and same_site(host, claimed_hosts, ())


def _decides(location: str, start: int, end: int, reading: _Reading) -> bool:
    """Whether an input at [start, end) of the raw Location chose where ``reading`` goes."""
    target_start, target_end = reading.span
    if reading.kind != "host":
        return start < target_end and end > target_start
    if end < target_end or start >= target_end:
        return False  # the code, not the input, wrote the end of the host
    return start <= target_start or "." in normalize_host(location[start:target_end])


_HOST_HEADERS = frozenset({"header.x-forwarded-host", "header.forwarded", "header.x-original-host", "header.x-host",
                           "header.x-forwarded-server"})
MAX_HOST_PARTS = 16
MAX_HOST_HEADER = 4096  # characters of a header value read as a list of hosts


def _list_like(value: str) -> bool:
    return "," in value or "=" in value


def _referer_prefix(location: str, item: Input, inputs: Inputs) -> bool:
    """Whether ``item`` is only the Referer, and only the start of a longer Location.

    A browser sends a cross-site Referer as the origin alone (``https://accounts.partner.example/``,
    the default policy), so a user back from an identity provider carries the very prefix of the
    code's own redirect to it (``https://accounts.partner.example/o/oauth2/auth?...``). Sending the
    browser back where it came from (``Location: {Referer}``) is still the Referer's choice; a
    value that also came in another way is judged as that."""
    if location.strip() == item.value.strip():
        return False
    forms = [form for form in inputs.forms if form.value == item.value]
    return bool(forms) and all(form.location == "header.referer" for form in forms)


def _forwarded_piece(reading: _Reading, inputs: Inputs) -> Input | None:
    """A header that carries hosts as a list, one of which the code took as the host: the first of
    ``X-Forwarded-Host: evil.example, app.example.com``, the ``host=`` of ``Forwarded``. Only these
    headers: an off-site host the code wrote itself also occurs in other inputs (the Referer back
    from an identity provider). The values are tested in C before any location is looked up."""
    host = reading.target
    if not any(len(value) <= MAX_HOST_HEADER and host in value.lower() for value in inputs.values):
        return None  # a proxy's header is short: a large body is not lower-cased for it
    for item in inputs.view(_list_like):
        if item.location not in _HOST_HEADERS or len(item.value) > MAX_HOST_HEADER or host not in item.value.lower():
            continue
        for part in item.value.replace(";", ",").split(",")[:MAX_HOST_PARTS]:
            name, equals, text = part.partition("=")
            if equals and name.strip().lower() != "host":
                continue
            if _site_host((text if equals else part).strip().strip('"')) == host:
                return item
    return None


def _names_domain(location: str, reading: _Reading, inputs: Inputs) -> Input | None:
    """An input that starts the host when the code wrote only a top-level label after it
    (``https://{name}.com``): the input names the registrable domain, every label below the TLD."""
    target_start, target_end = reading.span
    for item in inputs.occurring_in(location[target_start:target_end], relevant):
        end = target_start + len(item.value)
        if end < target_end and location.startswith(item.value, target_start) \
                and _top_label(location[end:target_end]):
            return item
    return None


def _top_label(text: str) -> bool:
    """Whether ``text`` is ``.`` and one label of letters (``.com``, ``.io``): what only a TLD looks like."""
    return len(text) > 2 and text[0] == "." and text[1:].isascii() and text[1:].isalpha()


def relevant(value: str) -> bool:
    return not value.isspace()


def detect(redirect: Redirect, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    location = redirect.location
    allow_domains = tuple(options.get("allow_domains") or ())
    offsite = [reading for reading in readings(location) if reading.kind != "relative" and not (
        reading.kind == "host" and same_site(reading.target, redirect.site_hosts, allow_domains))]
    if not offsite:
        return None
    claimed = [reading for reading in offsite if reading.kind == "host" and redirect.claimed_hosts
               and same_site(reading.target, redirect.claimed_hosts, ())]
    unclaimed = [reading for reading in offsite if reading not in claimed]
    by_claim: dict[_Reading, Input] = {}
    vouched: set[_Reading] = set()
    for candidates in _candidates(location, inputs):
        for reading in unclaimed:
            for item in candidates:
                if _decided_by(location, reading, item) and not _referer_prefix(location, item, inputs):
                    return _finding(reading, item)
        for reading in claimed:
            # the client's claim of the site vouches for a host another input chose (a browser sends the
            # site's real Host); the claim alone choosing the host is the poisoned-Host redirect
            for item in candidates:
                if reading not in vouched and _decided_by(location, reading, item):
                    if _is_claim(item.value, redirect.claimed_hosts):
                        by_claim.setdefault(reading, item)
                    else:
                        vouched.add(reading)
    for reading, item in by_claim.items():
        if reading not in vouched:
            return _finding(reading, item)
    for reading in unclaimed:
        if reading.kind == "host":
            pieced = _pieced_host(location, reading, inputs) or _names_domain(location, reading, inputs)
            if pieced is not None:
                return _finding(reading, pieced)
    for reading in offsite:
        if reading.kind == "host" and reading not in vouched:
            forwarded = _forwarded_piece(reading, inputs)
            if forwarded is not None:
                return _finding(reading, forwarded)
    # the whole Location inside a larger input: taken out of a JSON field, a state blob...
    whole = location.strip()
    if len(whole) >= MIN_WHOLE and unclaimed:
        for item in inputs.view(relevant):
            if len(item.value) > len(whole) and whole in item.value:
                return _finding(unclaimed[0], item)
    return None


def _pieced_host(location: str, reading: _Reading, inputs: Inputs) -> Input | None:
    """The last input of a host's end pieced together from several (``https://{sub}.{domain}/``).

    Inputs that occur in the host, each adjacent to the next or apart only by dots the code
    wrote, decide it together when the run they make ends the host and holds one of its dots.
    """
    target_start, target_end = reading.span
    ends: dict[int, tuple[int, Input]] = {}  # end of an occurrence -> (its earliest start, the input)
    for item in inputs.occurring_in(location[target_start:target_end], relevant):
        if not item.value:
            continue
        start = location.find(item.value, target_start, target_end)
        seen = 0
        while start != -1 and seen < MAX_OCCURRENCES:
            seen += 1
            end = start + len(item.value)
            if end not in ends or start < ends[end][0]:
                ends[end] = (start, item)
            start = location.find(item.value, start + 1, target_end)
    if target_end not in ends:
        return None
    position, last = ends[target_end][0], ends[target_end][1]
    pieces = 1
    while position > target_start:
        gap = position
        if gap not in ends:  # not adjacent: only dots the code wrote may lie between two inputs
            while gap > target_start and location[gap - 1] == ".":
                gap -= 1
            if gap == position or gap not in ends:
                break
        position, pieces = ends[gap][0], pieces + 1
    if pieces > 1 and (position <= target_start or "." in normalize_host(location[position:target_end])):
        return last
    return None


def _decided_by(location: str, reading: _Reading, item: Input) -> bool:
    start = location.find(item.value)
    seen = 0
    while start != -1 and seen < MAX_OCCURRENCES:
        seen += 1
        if _decides(location, start, start + len(item.value), reading):
            return True
        start = location.find(item.value, start + 1)
    return False


def _backslashed(value: str) -> bool:
    return "\\" in value


def _candidates(location: str, inputs: Inputs) -> Iterator[list[Input]]:
    """The inputs in ``location`` verbatim, then the inputs the code transformed on the way there:
    with their backslashes turned into slashes (a "cleanup" that makes ``\\\\evil.example``
    ``//evil.example``), then as fragments."""
    yield inputs.occurring_in(location, relevant)
    if "/" in location:
        yield [Input(item.location, slashed, f"{item.transform}+backslash" if item.transform else "backslash")
               for item in inputs.view(_backslashed)
               if (slashed := item.value.replace("\\", "/")) in location]
    yield transformed(location, inputs, FRAGMENTS)


def _finding(reading: _Reading, item: Any) -> Finding:
    if reading.kind == "dangerous":
        rule, where = "open_redirect.scheme", f"a {reading.target}: URL"
    elif reading.kind == "scheme":
        rule, where = "open_redirect.offsite", f"a {reading.target}: URL outside the web"
    else:
        rule, where = "open_redirect.offsite", f"the off-site host {reading.target}"
    return Finding(AttackKind.OPEN_REDIRECT, rule,
                   f"input from {item.describe()} sends the redirect to {where}", item)
