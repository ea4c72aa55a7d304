"""SSRF: a connection whose destination an input chose, to an address no outsider should reach.

The sinks hand over a ``Destination``: the host as the caller named it (a name
or an IP literal in any notation) and the addresses it actually resolved to, so
DNS rebinding and names that resolve to internal addresses are judged on what
the socket will really reach.

- A destination is *internal* when an address is loopback, private (RFC 1918,
  IPv6 ULA), link-local, CGNAT, unspecified or reserved. IPv6 forms that embed
  an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged by the
  IPv4 address they carry.
- The Lambda Runtime API (``AWS_LAMBDA_RUNTIME_API``), the credentials endpoints
  (169.254.170.2, the EKS Pod Identity agent) and instance metadata
  (169.254.169.254, fd00:ec2::254) are *special*: reaching one of them from an
  input is always an attack, whatever ``allow_hosts`` says, and reaching one
  with no input involved is reported as stored SSRF, unless the SDK's own
  credential providers make the call.
- The host *came from an input* when an input names it whole (a bare host, a
  ``host:port`` or a URL whose authority is that host, whatever port the code
  then uses; for loopback and link-local hosts, where the sandbox's own
  extensions listen, only at the port called), or when an input with a dot ends
  the host behind at most one label the code added (``api.{input}``). Every
  occurrence of the host in an input is looked at, in linear time. An input made of address
  characters alone that is the destination's address in another notation (``2130706433``,
  ``7f000001``, ``127,0,0,1``) chose it too: code converts such values before it connects
  (``inet_ntoa``, ``ip_address(int(v))``). A redirect followed from an
  input-chosen URL carries that input to the next hop (the sink passes it as
  ``carried``).
- A URL fetcher that reads a ``file:`` URL (urllib's ``FileHandler``) reads a
  file, not the network: when an input chose that scheme (rule ``ssrf.scheme``)
  the fetch is refused whatever the path.
- Public destinations are never an SSRF: the fast path classifies the
  addresses (memoised per address) before looking at any input.
- The ``Host`` header names the host the request came in through. Behind an
  internal ALB, that is the service a function calls by its own configuration
  (``USERS_URL=http://internal-alb.../users``), so an ALB's Host header naming a
  host that a variable of the function's own names as a URL or ``host:port`` at
  the port called did not choose the call; any other input naming it still
  does. Nothing else is configuration: the platform's variables (the X-Ray
  daemon in ``AWS_XRAY_DAEMON_ADDRESS``), a bare host (``DB_HOST=10.0.1.5`` says
  nothing of its port), hosts in the sandbox (``localhost:4318``, an OTLP
  collector extension), the Host header of any other trigger, a metadata or
  credentials endpoint, the Runtime API, and ``X-Forwarded-Host`` (which no ALB
  sets). The environment is read only on that suspicion.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import unicodedata
from collections import namedtuple
from functools import cache, lru_cache
from itertools import compress, filterfalse, repeat
from operator import contains, itemgetter

from ..findings import AttackKind, Finding
from ..sources.fragments import transformed_inputs
from ..sources.kinds import ALB

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..sources import Input, Inputs

    IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_AUTHORITY_STOPS = "/?#\\ \t\r\n"  # what ends a URL's authority, looking back from its host
_MAX_SCHEME = 32
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_SERVICE_PORTS = {"http": 80, "https": 443}
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# The endpoints that hand out the function's identity or other callers' events.
_ENDPOINTS = {
    "169.254.169.254": "metadata",
    "fd00:ec2::254": "metadata",
    "169.254.170.2": "credentials",
    "169.254.170.23": "credentials",
    "fd00:ec2::23": "credentials",
}


def _never() -> bool:
    return False


class Destination(namedtuple("Destination", "host port addresses carried trusted_caller trigger",
                             defaults=(None, _never, None))):
    """Where a connection is about to go, as the sink saw it.

    ``host`` as the caller named it (a name or an IP literal), ``port`` (None when unknown),
    ``addresses`` what it resolved to (or the literal itself), ``carried`` the input behind an
    earlier hop that redirected here, ``trusted_caller()`` True when the SDK's own credential
    providers are calling, and ``trigger`` the kind of event the invocation came from.
    """

    __slots__ = ()


# ---------------------------------------------------------------- host text and IP literals

def fold(text: str) -> str:
    """Lower-case; for non-ASCII text also NFKC and ideographic dots, as IDNA does to host names."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_IDEOGRAPHIC_DOTS).lower()
    return text


def host_key(host: str | bytes) -> str:
    """The comparable form of a host: folded, without brackets or a trailing dot."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = fold(host.strip())
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _aton_part(part: str) -> int | None:
    if not part:
        return None
    if len(part.lstrip("0x")) > 12:  # past 32 bits in any base, however many leading zeros
        return None  # (and int() of a long digit string is quadratic before Python 3.11)
    try:
        if part[:2] == "0x":
            return int(part[2:], 16) if part[2:] else 0
        if len(part) > 1 and part[0] == "0":
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """IPv4 in every notation the C resolver accepts: 127.1, 0177.0.0.1, 0x7f000001, 2130706433."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_aton_part(part) for part in parts]
    if any(value is None for value in values):
        return None
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (5 - len(values)):  # type: ignore[operator]
        return None
    number = last
    for index, value in enumerate(head):  # the leading parts are single bytes; the last fills the rest
        number |= value << (8 * (3 - index))  # type: ignore[operator]
    return ipaddress.IPv4Address(number)


@lru_cache(maxsize=512)
def parse_literal(host: str) -> IPAddress | None:
    """The address an IP literal in any notation stands for, or None for a host name."""
    text = host_key(host)
    if not text:
        return None
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    if text[0] not in "0123456789":
        return None
    return _inet_aton(text)


# ---------------------------------------------------------------- address classes

@cache
def _networks() -> tuple[tuple, tuple]:
    v4 = (("127.0.0.0/8", "loopback"), ("10.0.0.0/8", "private"), ("172.16.0.0/12", "private"),
          ("192.168.0.0/16", "private"), ("169.254.0.0/16", "link-local"), ("100.64.0.0/10", "cgnat"),
          ("0.0.0.0/8", "unspecified"), ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "reserved"),
          ("192.88.99.0/24", "reserved"), ("198.18.0.0/15", "reserved"), ("198.51.100.0/24", "reserved"),
          ("203.0.113.0/24", "reserved"), ("224.0.0.0/4", "reserved"), ("240.0.0.0/4", "reserved"))
    v6 = (("fe80::/10", "link-local"), ("fc00::/7", "private"), ("fec0::/10", "private"),
          ("64:ff9b:1::/48", "private"), ("ff00::/8", "reserved"), ("100::/64", "reserved"),
          ("2001:db8::/32", "reserved"), ("2001:2::/48", "reserved"))
    return (tuple((ipaddress.ip_network(n), c) for n, c in v4),
            tuple((ipaddress.ip_network(n), c) for n, c in v6))


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms that route to it."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _LOCAL_NAT64 or address in _SIIT or (
            address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class AddressClass(namedtuple("AddressClass", "effective category endpoint")):
    """``effective``: the address reached (the embedded IPv4 of 6to4 & co.); ``category``: loopback,
    private, link-local, cgnat, unspecified or reserved (None: public); ``endpoint``: metadata,
    credentials or None."""

    __slots__ = ()


@lru_cache(maxsize=1024)
def classify(address: str) -> AddressClass:
    """What kind of address ``address`` (a resolved address or an IP literal) is."""
    try:
        parsed: IPAddress = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        literal = parse_literal(address)
        if literal is None:
            return AddressClass(address, None, None)
        parsed = literal
    v4_networks, v6_networks = _networks()
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.scope_id:
            parsed = ipaddress.IPv6Address(str(parsed).partition("%")[0])
        embedded = _embedded_v4(parsed)
        if embedded is not None:
            inner = classify(str(embedded))
            category = inner.category
            if category is None and parsed in _LOCAL_NAT64:
                category = "private"
            return AddressClass(inner.effective, category, inner.endpoint)
        text = str(parsed)
        if parsed.is_unspecified:
            return AddressClass(text, "unspecified", None)
        if parsed.is_loopback:
            return AddressClass(text, "loopback", None)
        category = next((c for network, c in v6_networks if parsed in network), None)
        if category is None and parsed not in _GLOBAL_UNICAST:
            category = "reserved"
        return AddressClass(text, category, _ENDPOINTS.get(text))
    text = str(parsed)
    category = next((c for network, c in v4_networks if parsed in network), None)
    return AddressClass(text, category, _ENDPOINTS.get(text))


@lru_cache(maxsize=8)
def _runtime_api(value: str) -> tuple[str, int | None] | None:
    """(effective address or folded name, port) of ``AWS_LAMBDA_RUNTIME_API``."""
    host, _, port = value.strip().rpartition(":")
    if not host:
        host, port = value.strip(), ""
    literal = parse_literal(host)
    effective = classify(str(literal)).effective if literal is not None else host_key(host)
    return effective, int(port) if port.isdigit() else None


def is_runtime_api(destination: Destination) -> bool:
    configured = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not configured:
        return False
    runtime = _runtime_api(configured)
    if runtime is None:
        return False
    address, port = runtime
    if port is not None and destination.port is not None and destination.port != port:
        return False
    if host_key(destination.host) == address:
        return True
    return any(classify(a).effective == address for a in destination.addresses)


# ---------------------------------------------------------------- did an input choose the host?

@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(r"[0-9]*"), re.compile(r"\s*")


def _port_of(text: str, index: int) -> int | None:
    """The port written at ``index``, leading zeros and all (``:0000080`` is port 80); None if none."""
    if index >= len(text) or not text[index].isdigit():
        return None
    digits = _patterns()[0].match(text, index).group().lstrip("0")  # type: ignore[union-attr]
    return int(digits or "0") if len(digits) <= 5 else -1  # past 65535: no port anything listens on


def _scheme_at(text: str, slashes: int) -> str:
    """The scheme before the ``//`` at ``slashes`` ("" for a scheme-relative ``//host``)."""
    if slashes < 1 or text[slashes - 1] != ":":
        return ""
    begin = slashes - 1
    while begin > 0 and slashes - begin <= _MAX_SCHEME and (text[begin - 1].isalnum() or text[begin - 1] in "+.-"):
        begin -= 1
    return text[begin:slashes - 1]


class _Occurrences:
    """Where the occurrences of a host in ``text``, visited left to right, sit.

    The last character that ends an authority (``_AUTHORITY_STOPS``) before each occurrence is
    found by searching only the stretch since the previous occurrence, and the leading blanks are
    measured once, so visiting every occurrence of a host reads the text a bounded number of times:
    no cap on occurrences is needed to stay linear (a cap would let an input hide its URL behind
    repetitions of the host).
    """

    __slots__ = ("_leading", "_searched", "_stop", "text")

    def __init__(self, text: str) -> None:
        self.text, self._searched, self._stop, self._leading = text, 0, -1, -1

    def scheme(self, start: int) -> str | None:
        """For a host that begins at ``start``: the scheme of the URL whose authority it is in ("" for
        ``//host``), or None when it is in no authority."""
        text = self.text
        if start > self._searched:
            stop = max(text.rfind(ch, self._searched, start) for ch in _AUTHORITY_STOPS)
            self._stop, self._searched = max(stop, self._stop), start
        stop = self._stop
        if stop < 1 or text[stop] != "/" or text[stop - 1] != "/":
            return None
        return _scheme_at(text, stop - 1)

    def first(self, start: int) -> bool:
        """Whether nothing but blanks comes before ``start``."""
        if self._leading < 0:
            self._leading = _patterns()[1].match(self.text).end()  # type: ignore[union-attr]
        return start == self._leading

    def ends_host(self, close: int) -> bool:
        """Whether only blanks, or a path, query or fragment, follow ``close``."""
        after = _patterns()[1].match(self.text, close).end()  # type: ignore[union-attr]
        return self.text[after:after + 1] in ("", "/", "?", "#")


def _names_at(at: _Occurrences, start: int, end: int, ipv6: bool, port: int | None) -> bool:
    """Whether the host token at [start, end) of an input chose a connection to ``port``.

    It does as a URL authority (``//host``, ``scheme://user@host``), as ``host:port``, and as the
    whole input (``host``, ``host/path``). ``port`` None means any port: the caller passes a port
    only for hosts in the sandbox, where the function's own extensions and daemons listen on ports
    of their own (a dev ``Origin: http://localhost:3000`` did not choose its call to
    ``localhost:2773``); there the port given, or the scheme's default, must be that port. A host
    merely mentioned in prose ("runs on localhost") did not choose the function's calls to it.
    """
    text = at.text
    close = end + 1 if end < len(text) and text[end] == "]" else end
    given = None
    if close < len(text) and text[close] == ":" and not (ipv6 and close == end):
        given = _port_of(text, close + 1)
    if given is not None:
        return port is None or given == port
    authority_start = start - 1 if start > 0 and text[start - 1] == "[" else start
    scheme = at.scheme(authority_start)
    if scheme is not None:
        default = _DEFAULT_PORTS.get(scheme.lower()) if scheme else None
        return port is None or default is None or default == port
    return at.first(authority_start) and at.ends_host(close)


def _names_host(text: str, needle: str, port: int | None, names: Callable[..., bool] = _names_at) -> bool:
    """``needle`` occurs in ``text`` as a whole host that ``names`` the connection (``_names_at``: chose it).

    Every occurrence is looked at, in linear time (``_Occurrences``).
    """
    ipv6 = ":" in needle
    at = _Occurrences(text)
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = text[start - 1] if start else ""
        if end < len(text) and text[end] == "." and (end + 1 == len(text) or text[end + 1] not in _HOST_CHARS):
            end += 1  # a trailing dot
        after = text[end] if end < len(text) else ""
        whole = before not in _HOST_CHARS and after not in _HOST_CHARS
        if ipv6 and (before == ":" or after == ":"):
            whole = False
        if whole and names(at, start, end, ipv6, port):
            return True
        start = text.find(needle, start + 1)
    return False


def _needles(host: str) -> tuple[str, ...]:
    key = host_key(host)
    if not key:
        return ()
    needles = {key}
    raw = fold(host.strip().strip("[]"))
    if raw:
        needles.add(raw)
    if "xn--" in key:
        with contextlib.suppress(UnicodeError, ValueError):
            needles.add(fold(key.encode("ascii").decode("idna")))
    return tuple(sorted(needles, key=len, reverse=True))


def _is_suffix_source(text: str, key: str) -> bool:
    """``api.{input}``: an input with a dot that ends the host behind at most one added label."""
    value = text.rstrip(".")
    if len(value) < 4 or "." not in value.strip(".") or not key.endswith(value):
        return False
    prefix = key[: len(key) - len(value)]
    return "." not in prefix[:-1]


def _candidates(values: tuple[str, ...], needles: tuple[str, ...], key: str) -> set[str]:
    """The values that may have chosen ``key``, found in C before any is folded in Python.

    A value names the host when a needle occurs in it lower-cased, or ends the host (a suffix);
    a value that is not ASCII may fold into either (NFKC, ideographic dots) and is always kept.
    This runs on every internal destination with every input: the loop below once cost ~200 µs
    here for a 95-input request.
    """
    lowered = list(map(str.lower, values))
    found: set[str] = set(filterfalse(str.isascii, values))
    for needle in needles:
        found.update(compress(values, map(contains, lowered, repeat(needle))))
    found.update(compress(values, map(key.endswith, map(str.rstrip, lowered, repeat(".")))))
    return found


def source_of(host: str, port: int | None, inputs: Inputs) -> Input | None:
    """The input that chose ``host``, or None; the most specific one when several did.

    An input that names the host chose it whatever port the code then connects to (its own port,
    its own scheme, a zero-padded one): ``port`` narrows the match only for hosts in the sandbox
    (see ``_names_at``).
    """
    needles = _needles(host)
    if not needles:
        return None
    if port is not None and not _in_sandbox(host):
        port = None
    key = host_key(host)
    shortest = len(needles[-1])
    candidates = _candidates(inputs.values, needles, key)
    if not candidates:
        return None
    best: Input | None = None
    for item in inputs.forms:
        if item.value not in candidates:
            continue
        if best is not None and len(item.value) >= len(best.value):
            continue  # a JSON body names the host too, but its field says where it came from
        text = fold(item.value)
        if (len(text) >= shortest and any(_names_host(text, n, port) for n in needles if n in text)) or (
                len(text) < len(key) and _is_suffix_source(text, key)):
            best = item
    return best


@cache
def _address_like() -> re.Pattern[str]:
    return re.compile(r"\s*\[?[0-9a-fA-FxX:.,_ -]{1,45}\]?\s*\Z")


def _address_source(effective: set[str], inputs: Inputs) -> Input | None:
    """The input that is an internal destination's address in a notation the code converted before it
    connected: ``2130706433`` through ``inet_ntoa(pack("!I", int(v)))`` or ``ip_address(int(v))``,
    ``7f000001`` through ``bytes.fromhex``, ``127,0,0,1`` joined with dots, ``::ffff:7f00:1`` through
    ``.ipv4_mapped``. Only inputs made of address characters alone are read (a regular expression over
    the values, in C); a small number such as a page size stands for an address in 0.0.0.0/8, which
    no benign code connects to.
    """
    if not effective:
        return None
    found = set(filter(_address_like().match, inputs.values))
    if not found:
        return None
    for item in inputs.forms:
        if item.value not in found:
            continue
        text = item.value.strip().strip("[]").lower()
        forms = {text}
        joined = text.replace(",", ".").replace("-", ".").replace("_", ".").replace(" ", ".")
        if joined.count(".") == 3:  # four octets (10-1, a score, is no address)
            forms.add(joined)
        if len(text) == 8 and all(ch in "0123456789abcdef" for ch in text):
            forms.add("0x" + text)
        for form in forms:
            literal = parse_literal(form)
            if literal is not None and classify(str(literal)).effective in effective:
                return item
    return None


# ---------------------------------------------------------------- the function's own configuration

_HOST_HEADER = "header.host"
_MAX_CONFIGURATION_CHARS = 65536  # Lambda allows 4 KB of environment; more is not configuration
# What Lambda and its runtimes set (the Runtime API, the X-Ray daemon, the task root): never a service
# the function calls by its own configuration.
_PLATFORM_PREFIXES = ("AWS_", "_AWS_", "_X_AMZN_", "LAMBDA_", "_LAMBDA_")


def _configures(at: _Occurrences, start: int, end: int, ipv6: bool, port: int | None) -> bool:
    """Whether the host token at [start, end) of a configuration value is a service at ``port``.

    As a URL's authority whose port, given or the scheme's default, is ``port``
    (``http://alb.internal``, ``https://alb.internal:8443/v1``), or as ``host:port``. A bare host
    (``DB_HOST=10.0.1.5``) says nothing of the port, so it configures no HTTP service.
    """
    if port is None:
        return False
    text = at.text
    close = end + 1 if end < len(text) and text[end] == "]" else end
    if close < len(text) and text[close] == ":" and not (ipv6 and close == end):
        return _port_of(text, close + 1) == port
    scheme = at.scheme(start - 1 if start > 0 and text[start - 1] == "[" else start)
    return bool(scheme) and _DEFAULT_PORTS.get(scheme.lower()) == port  # type: ignore[union-attr]


@lru_cache(maxsize=256)
def _in_sandbox(host: str) -> bool:
    """Loopback and link-local: the function's own sandbox (extensions, the X-Ray daemon), never behind an ALB."""
    key = host_key(host)
    if key == "localhost" or key.endswith(".localhost"):
        return True
    literal = parse_literal(key)
    return literal is not None and classify(str(literal)).category in ("loopback", "link-local", "unspecified")


def _configured(destination: Destination) -> bool:
    """Whether an ALB's Host header may name the destination: the function's own configuration calls it.

    Only for an ALB's event (API Gateway, function URLs and Lattice put their own names in
    ``Host``), never for a host in the sandbox, and only when a variable the function was given
    (not one of the platform's ``AWS_*``, ``_X_AMZN_*``, ``LAMBDA_*``) names the host as a URL or
    ``host:port`` at the destination's port. Containment is tested in C over every value, the
    host-boundary test runs in Python only on the values that contain the host, and a variable's
    name is looked at only then. 42 µs for 97 variables here (39 µs before the platform's were told
    apart; timeit, one variable naming the ALB), nearly all of it reading ``os.environ``, which
    decodes every name and value. It runs only when an ALB's Host header names an internal
    destination, and a harmless verdict is then remembered for the invocation by the sinks.
    """
    if destination.trigger != ALB or destination.port is None or _in_sandbox(destination.host):
        return False
    variables = list(os.environ.items())
    values = list(map(itemgetter(1), variables))
    if sum(map(len, values)) > _MAX_CONFIGURATION_CHARS:
        return False  # not configuration: Lambda allows 4 KB of environment
    lowered = [fold(value) for value in values] if not all(map(str.isascii, values)) else list(map(str.lower, values))
    for needle in _needles(destination.host):
        for index in compress(range(len(lowered)), map(contains, lowered, repeat(needle))):
            if not variables[index][0].startswith(_PLATFORM_PREFIXES) and \
                    _names_host(lowered[index], needle, destination.port, _configures):
                return True
    return False


def _beyond_host_header(destination: Destination, inputs: Inputs) -> Input | None:
    """The input that chose the destination, the Host header aside (it names the configured service)."""
    from ..sources import Inputs as InputSet

    others = InputSet([item for item in inputs.forms if item.location != _HOST_HEADER], max_decode_chars=0)
    return source_of(destination.host, destination.port, others)


# ---------------------------------------------------------------- allow list

@lru_cache(maxsize=16)
def _allow_table(entries: tuple[str, ...]) -> tuple[frozenset, tuple, tuple]:
    names, suffixes, networks = set(), [], []
    for entry in entries:
        text = host_key(entry)
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
            continue
        except ValueError:
            pass
        if text.startswith("*."):
            suffixes.append(text[1:])
        elif text.startswith("."):
            suffixes.append(text)
        else:
            names.add(text)
    return frozenset(names), tuple(suffixes), tuple(networks)


def allowed(destination: Destination, entries: tuple[str, ...]) -> bool:
    if not entries:
        return False
    names, suffixes, networks = _allow_table(tuple(entries))
    key = host_key(destination.host)
    if key in names or any(key.endswith(suffix) for suffix in suffixes):
        return True
    if not networks or not destination.addresses:
        return False
    for address in destination.addresses:
        effective = ipaddress.ip_address(classify(address).effective.partition("%")[0])
        if not any(effective.version == n.version and effective in n for n in networks):
            return False
    return True


# ---------------------------------------------------------------- the verdict

def _target(destination: Destination, address: str) -> str:
    where = destination.host if destination.port is None else f"{destination.host}:{destination.port}"
    return where if host_key(destination.host) == address else f"{where} ({address})"


def worth_judging(destination: Destination) -> bool:
    """False for a destination that can never be an SSRF: every address public, not the Runtime API."""
    return any(classify(address).category or classify(address).endpoint for address in destination.addresses) \
        or is_runtime_api(destination)


def is_special(destination: Destination) -> bool:
    """The Runtime API or a metadata/credentials endpoint: whether reaching it is harmless depends on
    who calls, so a harmless verdict about it must not be remembered."""
    return any(classify(address).endpoint for address in destination.addresses) or is_runtime_api(destination)


class LocalURL(namedtuple("LocalURL", "url")):
    """A URL a fetcher is about to open without the network (``file:`` through urllib)."""

    __slots__ = ()


def _has_colon(value: str) -> bool:
    return ":" in value


def _local_url_source(url: str, inputs: Inputs) -> Input | None:
    """The input that chose a local URL's scheme: the URL starts with it, or lies inside it.

    A fetcher that opens ``file:`` turns "fetch this URL" into "read this file", so an input that
    supplies the scheme has chosen a file read (``/proc/self/environ`` holds the credentials). An
    input that only fills the path of a ``file:`` URL the code wrote is the file checks' business.
    """
    target = fold(url.strip())
    scheme_end = target.find(":") + 1
    if scheme_end <= 1:
        return None
    for item in inputs.view(_has_colon):
        value = fold(item.value.strip())
        if len(value) >= scheme_end and (target.startswith(value) or target in value):
            return item
    return None


def _detect_local(subject: LocalURL, inputs: Inputs) -> Finding | None:
    source = _local_url_source(subject.url, inputs)
    if source is None:
        return None
    scheme = subject.url.strip().partition(":")[0].lower()
    return Finding(AttackKind.SSRF, "ssrf.scheme",
                   f"input from {source.describe()} makes a URL fetcher read a {scheme}: URL, not the network",
                   source)


def detect(destination: Destination | LocalURL, inputs: Inputs, options: Mapping[str, Any]) -> Finding | None:
    if isinstance(destination, LocalURL):
        return _detect_local(destination, inputs)
    classes = [classify(address) for address in destination.addresses]
    runtime = is_runtime_api(destination)
    special = "runtime-api" if runtime else next((c.endpoint for c in classes if c.endpoint), None)
    internal = next((c for c in classes if c.category), None)
    if special is None and internal is None:
        return None  # public: the fast path
    address = next((c.effective for c in classes if c.endpoint or c.category), destination.host)
    source = destination.carried or source_of(destination.host, destination.port, inputs)
    if source is None:  # an input the code unescaped or split before it connected
        source = source_of(destination.host, destination.port,
                           transformed_inputs(inputs, host_key(destination.host)))  # type: ignore[arg-type]
    if source is None:  # an address the code converted from another notation (int -> dotted)
        source = _address_source({c.effective for c in classes if c.endpoint or c.category}, inputs)
    if source is not None and source.location == _HOST_HEADER and special is None and destination.carried is None \
            and _configured(destination):
        source = _beyond_host_header(destination, inputs)
    target = _target(destination, address)
    if source is None:
        if special is None or destination.trusted_caller():
            return None
        return Finding(AttackKind.SSRF, "ssrf.stored",
                       f"a connection to the {_ENDPOINT_NAMES[special]} at {target} that no input chose "
                       f"(stored or hard-wired SSRF)")
    via = " through a redirect" if destination.carried is not None else ""
    if special is not None:
        return Finding(AttackKind.SSRF, f"ssrf.{special}",
                       f"input from {source.describe()} reaches the {_ENDPOINT_NAMES[special]} at {target}{via}",
                       source)
    if allowed(destination, tuple(options.get("allow_hosts") or ())):
        return None
    rule = "ssrf.redirect" if destination.carried is not None else "ssrf.internal"
    category = internal.category if internal is not None else "internal"  # not special, so internal
    return Finding(AttackKind.SSRF, rule,
                   f"input from {source.describe()} reaches {target}, a {category} address{via}",
                   source)


_ENDPOINT_NAMES = {
    "runtime-api": "Lambda Runtime API",
    "metadata": "instance metadata service",
    "credentials": "container credentials endpoint",
}


def port_number(port: Any) -> int | None:
    """A getaddrinfo/connect port as a number (service names http/https too), else None."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, bytes):
        port = port.decode("ascii", "replace")
    if isinstance(port, str):
        port = port.strip()
        if port.isdigit():
            return int(port)
        return _SERVICE_PORTS.get(port.lower())
    return None
