"""Address lists as sorted integer ranges: built once per list version, one bisect per request.

A CIDR block is the range [start, start + 2**(bits - prefix) - 1]; two blocks are either nested or
disjoint. Sorted by start, the wider first, the blocks that no earlier block holds are disjoint
ranges in order, and the union of the list: holding an address is one ``bisect`` of their starts
and one comparison. 100,000 blocks make ~17 steps where 10 make 4, so a list of 100,000 costs a
request about what a list of 10 does (``python -m bench.ip_filter``, a shared 2-core machine: the
perimeter added 4.8 µs with 10 CIDRs and 4.9 µs with 100,000, IPv4 and IPv6 mixed). Building the
100,000 is paid once per list version: ~0.1 s to parse the text, ~0.16 s to sort and keep the ranges
(sorting one integer a block, start and prefix, was 3x faster than sorting tuples). The integers of
IPv4 and IPv6 are kept apart; an IPv4-mapped IPv6 block (``::ffff:203.0.113.0/120``) is the IPv4
block it maps, as a client's mapped address is judged as IPv4.

Each kept range remembers the entry it came from (the list, its line or index, its prefix), so a
record names the entry that matched; a nested entry is held by the wider one, which is named.
Lines are read strictly with ``inet_pton`` (no ``127.1`` or octal forms); a bad line is returned to
the caller, which decides (the policy's own lists refuse it; a remote list skips it and says so).
"""
from __future__ import annotations

import socket
from array import array
from bisect import bisect_right

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Iterable

    Entry = tuple[int, int, int]  # start, prefix, line (or index in the policy's list)

BITS = {4: 32, 6: 128}
# _MASKS[family][prefix]: the network bits of a prefix; _SIZES[family][prefix]: the addresses a block holds.
_MASKS = {family: [((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1) for prefix in range(bits + 1)]
          for family, bits in BITS.items()}
_SIZES = {family: [1 << (bits - prefix) for prefix in range(bits + 1)] for family, bits in BITS.items()}
_MAPPED_PREFIX = 0xFFFF << 32
_inet_pton = socket.inet_pton
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_from_bytes = int.from_bytes


def parse_entry(text: str) -> tuple[int, int, int] | None:
    """(family, start, prefix) of ``address`` or ``address/prefix``; None if it is neither."""
    address, slash, prefix_text = text.partition("/")
    family = 6 if ":" in address else 4
    try:
        number = _from_bytes(_inet_pton(_AF[family], address), "big")
    except (OSError, ValueError):
        return None
    bits = BITS[family]
    if slash:
        if not (prefix_text.isascii() and prefix_text.isdigit() and len(prefix_text) <= 3):
            return None
        prefix = int(prefix_text)
        if prefix > bits:
            return None
    else:
        prefix = bits
    return _normalised(family, number, prefix)


def _normalised(family: int, number: int, prefix: int) -> tuple[int, int, int]:
    """Host bits cleared; an IPv4-mapped IPv6 block as its IPv4 block."""
    number &= _MASKS[family][prefix]
    if family == 6 and prefix >= 96 and number >> 32 == 0xFFFF:
        return 4, number & 0xFFFFFFFF, prefix - 96
    return family, number, prefix


def network_entry(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    """(family, start, prefix) of an ``ipaddress`` network, as the policy's own lists hold them."""
    return _normalised(network.version, int(network.network_address), network.prefixlen)


class Parsed:
    """The entries of one list, per family, and its bad lines: (line number, text), the first few."""

    __slots__ = ("bad", "bad_count", "count", "v4", "v6")
    MAX_BAD_KEPT = 5

    def __init__(self) -> None:
        self.v4: list[Entry] = []
        self.v6: list[Entry] = []
        self.bad: list[tuple[int, str]] = []
        self.bad_count = 0
        self.count = 0

    def add(self, family: int, start: int, prefix: int, line: int) -> None:
        (self.v4 if family == 4 else self.v6).append((start, prefix, line))
        self.count += 1

    def reject(self, line: int, text: str) -> None:
        self.bad_count += 1
        if len(self.bad) < self.MAX_BAD_KEPT:
            self.bad.append((line, text[:80]))


def parse_text(text: str) -> Parsed:
    """One address or CIDR a line; ``#`` starts a comment; blank lines are skipped.

    ``parse_entry`` inlined, with the masks looked up: this loop is most of a large list's build.
    """
    parsed = Parsed()
    add4, add6 = parsed.v4.append, parsed.v6.append
    pton, from_bytes, af4, af6 = _inet_pton, _from_bytes, _AF[4], _AF[6]
    masks4, masks6 = _MASKS[4], _MASKS[6]
    for number, raw in enumerate(text.splitlines(), 1):  # bounded by the text, itself bounded by its reader
        if "#" in raw:
            raw = raw.partition("#")[0]
        line = raw.strip()
        if not line:
            continue
        address, slash, prefix_text = line.partition("/")
        try:
            if ":" in address:
                value, bits, masks = from_bytes(pton(af6, address), "big"), 128, masks6
            else:
                value, bits, masks = from_bytes(pton(af4, address), "big"), 32, masks4
        except (OSError, ValueError):
            parsed.reject(number, line)
            continue
        if slash:
            if not (prefix_text.isascii() and prefix_text.isdigit() and len(prefix_text) <= 3) or \
                    int(prefix_text) > bits:
                parsed.reject(number, line)
                continue
            prefix = int(prefix_text)
            value &= masks[prefix]
        else:
            prefix = bits
        if bits == 32:
            add4((value, prefix, number))
        elif prefix >= 96 and value >> 32 == 0xFFFF:  # IPv4-mapped: the IPv4 block
            add4((value & 0xFFFFFFFF, prefix - 96, number))
        else:
            add6((value, prefix, number))
    parsed.count = len(parsed.v4) + len(parsed.v6)
    return parsed


def parse_networks(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Parsed:
    """The policy's own ``allow``/``deny`` (validated already); the "line" is the index in the list."""
    parsed = Parsed()
    for index, network in enumerate(networks):
        parsed.add(*network_entry(network), index)
    return parsed


class Ranges:
    """The disjoint ranges of one family's entries, in order, with the entry each came from."""

    __slots__ = ("bits", "ends", "lines", "prefixes", "sources", "starts")

    def __init__(self, family: int, entries: list[tuple[int, int, int, int]]) -> None:
        """``entries``: (start, prefix, source, line), source being the list's index in the table's names."""
        self.bits = BITS[family]
        sizes = _SIZES[family]
        # Sorted by start, then the wider first: a range that an earlier one holds is skipped below. Sorting
        # one integer a block (start and prefix) with the entries as a key's index is ~3x faster than tuples.
        keys = [start << 8 | prefix for start, prefix, _, _ in entries]
        starts: list[int] = []
        ends: list[int] = []
        kept: list[int] = []
        add_start, add_end, keep = starts.append, ends.append, kept.append
        last_end = -1
        for index in sorted(range(len(keys)), key=keys.__getitem__):
            start, prefix, _, _ = entries[index]
            if start <= last_end:  # nested in the range kept last (blocks never overlap partly)
                continue
            last_end = start + sizes[prefix] - 1
            add_start(start)
            add_end(last_end)
            keep(index)
        self.starts, self.ends = starts, ends
        self.sources = array("H", [entries[index][2] for index in kept])
        self.lines = array("I", [entries[index][3] for index in kept])
        self.prefixes = bytes([entries[index][1] for index in kept])

    def __len__(self) -> int:
        return len(self.starts)

    def find(self, number: int) -> int:
        """The index of the range holding ``number``, or -1."""
        index = bisect_right(self.starts, number) - 1
        return index if index >= 0 and number <= self.ends[index] else -1

    def entry(self, index: int) -> str:
        """The CIDR text of the kept range ``index``."""
        family = socket.AF_INET if self.bits == 32 else socket.AF_INET6
        address = socket.inet_ntop(family, self.starts[index].to_bytes(self.bits // 8, "big"))
        return f"{address}/{self.prefixes[index]}"


def _tagged(parts: list[tuple[int, Parsed]], family: int) -> list[tuple[int, int, int, int]]:
    return [(start, prefix, source, line) for source, part in parts
            for start, prefix, line in (part.v4 if family == 4 else part.v6)]


class Table:
    """Deny and allow ranges of both families, and the names of the lists they came from.

    A list is named in records as ``deny`` and ``allow`` for the policy's own lists, by its source
    (``s3://bucket/deny.txt``) for a remote one.
    """

    __slots__ = ("allow4", "allow6", "deny4", "deny6", "names")

    def __init__(self, deny: list[tuple[str, Parsed]], allow: list[tuple[str, Parsed]]) -> None:
        self.names = [name for name, _ in deny] + [name for name, _ in allow]
        deny_parts = list(enumerate(part for _, part in deny))
        allow_parts = [(index + len(deny), part) for index, (_, part) in enumerate(allow)]
        self.deny4 = Ranges(4, _tagged(deny_parts, 4))
        self.deny6 = Ranges(6, _tagged(deny_parts, 6))
        self.allow4 = Ranges(4, _tagged(allow_parts, 4))
        self.allow6 = Ranges(6, _tagged(allow_parts, 6))

    @property
    def empty(self) -> bool:
        return not (self.deny4 or self.deny6 or self.allow4 or self.allow6)

    def denied(self, family: int, number: int) -> tuple[str, str] | None:
        """(list, entry) of the deny entry holding the address, or None."""
        ranges = self.deny4 if family == 4 else self.deny6 if family == 6 else None
        return self._match(ranges, number)

    def allowed(self, family: int, number: int) -> tuple[str, str] | None:
        """(list, entry) of the allow entry holding the address, or None (also for no address)."""
        ranges = self.allow4 if family == 4 else self.allow6 if family == 6 else None
        return self._match(ranges, number)

    def _match(self, ranges: Ranges | None, number: int) -> tuple[str, str] | None:
        if ranges is None or not ranges.starts:
            return None
        index = ranges.find(number)
        if index < 0:
            return None
        name = self.names[ranges.sources[index]]
        where = f"{name}[{ranges.lines[index]}]" if name in ("deny", "allow") else f"{name} line {ranges.lines[index]}"
        return where, ranges.entry(index)
