"""Remote address lists (``ip_filter.lists``, ``allow_lists``): read like the policy, cached for its TTL.

A list is ``file:/path`` (or a bare path), ``ssm:/parameter``, ``appconfig:app/env/profile`` or
``s3://bucket/key``: one address or CIDR a line, ``#`` comments. It is read at init (``checkpoints.warm``,
when ``@protect`` is applied) or else by the first request that needs it, then again once
``APP_PROTECT_POLICY_TTL`` has passed; a read answers or fails within 3 s
(``aws``), like the policy's. A reload that fails keeps the last good copy (recorded as an internal
error); an unchanged text keeps its parsed copy, so a 100,000-line list is not rebuilt every minute.
A list never read successfully is unavailable: the check then fails open or closed as the policy
says, and the read is tried again after ``RETRY_UNREAD`` seconds rather than on every request (an
S3 outage would otherwise add up to 3 s to each one).

A bad line is skipped, and said once per version of the list (an ``ip_filter_list_lines_skipped``
notice naming the first lines): refusing a 100,000-line feed for one typo would drop every other
entry, and with no copy kept yet (a cold start) leave the function unfiltered. Skipping errs on the
safe side for both kinds: a skipped deny line denies nothing more, a skipped allow line admits nobody
more. A text with no good line but bad ones is not a list (a wrong object, an HTML error page) and is
refused whole, as a read that failed.
"""
from __future__ import annotations

import threading
import time
from functools import cache

from .. import aws, config
from .ip_ranges import Parsed, parse_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FETCH_BUDGET = 3.0  # seconds for one read, as for the policy
MAX_LIST_BYTES = 32 * 1024 * 1024  # ~1.5 million lines of CIDRs; a larger text is refused
RETRY_UNREAD = 5.0  # seconds between reads of a list never read successfully


class ListError(Exception):
    """A list could not be read, or its text is not a list."""


class ListCopy:
    """One version of a list: its digest and its entries."""

    __slots__ = ("digest", "parsed", "source")

    def __init__(self, source: str, digest: bytes, parsed: Parsed) -> None:
        self.source = source
        self.digest = digest
        self.parsed = parsed


class _State:
    __slots__ = ("checked_at", "copy", "error")

    def __init__(self) -> None:
        self.copy: ListCopy | None = None
        self.checked_at = 0.0
        self.error: ListError | None = None


_states: dict[str, _State] = {}
_lock = threading.Lock()


def current(source: str) -> ListCopy:
    """The list in force for ``source``; raises ListError when it was never read successfully."""
    state = _states.get(source)
    now = time.monotonic()
    if state is not None and now - state.checked_at < (_ttl() if state.copy is not None else _retry()):
        if state.copy is None:
            raise state.error or ListError(f"{source}: not read yet")
        return state.copy
    with _lock:
        state = _states.setdefault(source, _State())
        if state.checked_at and time.monotonic() - state.checked_at < (
                _ttl() if state.copy is not None else _retry()):  # another thread read it meanwhile
            if state.copy is None:
                raise state.error or ListError(f"{source}: not read yet")
            return state.copy
        state.checked_at = time.monotonic()
        try:
            state.copy = _load(source, state.copy)
            state.error = None
        except Exception as error:
            failure = error if isinstance(error, ListError) else ListError(f"{source}: {type(error).__name__}: {error}")
            if state.copy is None:
                state.error = failure
                raise failure from None
            from ..reporting import internal_error

            internal_error("ip_filter.list_reload", failure)  # the last good copy stays in force
        return state.copy


def _ttl() -> float:
    return float(config.get("APP_PROTECT_POLICY_TTL"))


def _retry() -> float:
    return min(RETRY_UNREAD, _ttl())


def forget() -> None:
    """Drop every copy (tests; a new policy does not need it: lists are keyed by source)."""
    with _lock:
        _states.clear()


def _load(source: str, previous: ListCopy | None) -> ListCopy:
    import hashlib

    text = read(source)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    if previous is not None and previous.digest == digest:
        return previous
    parsed = parse_text(text)
    if parsed.bad_count:
        lines = "; ".join(f"line {number}: {line!r}" for number, line in parsed.bad)
        if not parsed.count:
            raise ListError(f"{source}: no line is an address or CIDR block ({lines})")
        from ..reporting import notice

        notice(None, "ip_filter_list_lines_skipped",
               f"{source}: {parsed.bad_count} line(s) that are not an address or CIDR block skipped ({lines})")
    return ListCopy(source, digest, parsed)


def read(source: str) -> str:
    """The text of a list source; raises ListError."""
    from ..context import suppressed

    with suppressed():  # our own read: no sink judges it
        if source.startswith("s3://"):
            return _read_s3(source)
        from ..errors import PolicyError
        from ..policy_store import READERS, split_source

        scheme, location = split_source(source)
        if scheme == "file":
            return _read_file(location)
        try:
            return READERS[scheme](location)
        except PolicyError as error:  # "policy ssm:/x: cannot read ...": the same words, said of a list
            message = str(error)
            prefix = f"policy {error.source}: "
            raise ListError(f"{source}: {message[len(prefix):] if message.startswith(prefix) else message}") from None


def _read_file(path: str) -> str:
    try:
        with open(path, "rb") as list_file:
            data = list_file.read(MAX_LIST_BYTES + 1)
    except OSError as error:
        raise ListError(f"file:{path}: cannot read the list: {error.strerror or error}") from None
    return _text(f"file:{path}", data)


@cache
def _s3_client() -> Any:
    return aws.client("s3")


def _read_s3(source: str) -> str:
    bucket, _, key = source[len("s3://"):].partition("/")
    deadline = aws.Deadline(FETCH_BUDGET)
    try:
        response = aws.call(deadline, lambda: _s3_client().get_object(Bucket=bucket, Key=key))
        length = response.get("ContentLength") or 0
        if length > MAX_LIST_BYTES:
            raise ListError(f"{source}: {length} bytes, more than the {MAX_LIST_BYTES} a list may hold")
        data = response["Body"].read(MAX_LIST_BYTES + 1)
    except ListError:
        raise
    except Exception as error:
        raise ListError(f"{source}: cannot read the list: {error}") from None
    return _text(source, data)


def _text(source: str, data: bytes) -> str:
    if len(data) > MAX_LIST_BYTES:
        raise ListError(f"{source}: more than the {MAX_LIST_BYTES} bytes a list may hold")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ListError(f"{source}: not UTF-8 text ({error.reason} at byte {error.start})") from None
