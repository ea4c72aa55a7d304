"""Response checks, run on what the handler returns: credential exfiltration, then open redirect.

In block mode a finding raises AttackBlocked, which the decorator turns into the
403 (or RequestBlocked for non-HTTP events); in report mode the response leaves
unchanged. The credential check needs no input, so it asks the guard with
``uses_inputs=False``: otherwise every invocation would flatten its event just
to be told that. The open-redirect check judges the Location of a 3xx, and on any status a
``Refresh`` header and the meta refresh of an HTML body (``detectors.refresh``).

``check_exception`` judges the handler's own exception on its way out: the Lambda runtime answers a
synchronous caller (a direct ``Invoke``) with its type name and message (awslambdaric's
``build_fault_result``: errorType, errorMessage, and the raising lines' file, line and source), so
the function's credentials in them leave. Its ``args`` are judged too (a custom ``__str__`` may
print them later, in another layer), unless they are all strings the message already shows (the common
``ValueError("...")``: judged once). Chained and grouped exceptions are not sent and not judged. Only
an exception pays: a 250-character benign ``ValueError`` escaping ``@protect`` took 3.1 µs before and
10.3 µs with this check (best of 5 x 20,000, three alternating rounds, 2 shared cores, Python 3.11);
a handler that returns runs no new code.
"""
from __future__ import annotations

from functools import cache

from ..findings import AttackKind
from ..guard import active, decide, inspect
from ..sources.kinds import ALB, FUNCTION_URL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..context import RequestContext

MAX_NODES = 4_000_000  # values read from a returned object (6 MB of JSON holds fewer)
MAX_ARG_NODES = 10_000  # values read from an exception's args (a cycle among them costs no more)
_CLAIMED_HOST_KINDS = frozenset({ALB, FUNCTION_URL})

@cache
def _payload() -> type:
    """The credential detector's Payload, imported on the first response with something to check."""
    from ..detectors.credential_exfiltration import Payload

    return Payload


@cache
def _credential_detector() -> Any:
    """The credential detector, imported on the first exception with something to check."""
    from ..detectors.credential_exfiltration import detect

    return detect


@cache
def _redirect() -> type:
    """The open-redirect detector's Redirect, imported on the first redirect response."""
    from ..detectors.open_redirect import Redirect

    return Redirect


def check_credentials(context: RequestContext, where: str, response: Any) -> None:
    """The function's own credentials never leave in what it answers."""
    if active(context, AttackKind.CREDENTIAL_EXFILTRATION):
        parts = response_parts(response)
        if parts:
            inspect(AttackKind.CREDENTIAL_EXFILTRATION, "response", _payload()(parts),
                    describe=lambda: _describe(response, parts), uses_inputs=False, context=context)


def check_exception(context: RequestContext, where: str, error: BaseException) -> None:
    """The function's own credentials never leave in the error a synchronous caller is sent.

    The response detector judges it; its finding is renamed (``credential_exfiltration.exception``)
    before the guard decides, so a record says which way the credentials were leaving.
    """
    if not active(context, AttackKind.CREDENTIAL_EXFILTRATION):
        return
    parts = exception_parts(error)
    detect = _credential_detector()
    finding = detect(_payload()(parts), None, context.policy.options(AttackKind.CREDENTIAL_EXFILTRATION))
    if finding is not None:
        finding = finding._replace(
            rule="credential_exfiltration.exception",
            message=finding.message.replace("in the response", "in the exception the caller is sent"))
        decide(context, finding, "handler exception", None, describe=lambda: describe_exception(error))


def exception_parts(error: BaseException) -> tuple[tuple[str, str], ...]:
    """What of an exception reaches the caller (its type name and message), and its ``args``."""
    try:
        message = str(error)
    except Exception:  # the runtime cannot send a message it cannot make either
        message = ""
    sent = ("exception message", f"{type(error).__name__}: {message}")
    if all(isinstance(arg, str) and arg in message for arg in error.args):
        return (sent,)  # the common ValueError("..."): its args are its message, judged once
    found: list[str] = []
    _strings(error.args, found, limit=MAX_ARG_NODES)
    return sent, ("exception args", "\n".join(found))


def describe_exception(error: BaseException) -> str:
    """The exception as recorded: its type and where it was raised; never its message."""
    traceback, place = error.__traceback__, ""
    while traceback is not None:
        code = traceback.tb_frame.f_code
        place = f" at {code.co_filename.rsplit('/', 1)[-1]}:{traceback.tb_lineno} in {code.co_name}"
        traceback = traceback.tb_next
    return f"{type(error).__qualname__} raised by the handler{place} (message withheld)"


def check_redirect(context: RequestContext, where: str, response: Any) -> None:
    """A redirect (a 3xx Location, a Refresh header, an HTML meta refresh) goes only where the site
    itself, or the policy, allows."""
    if isinstance(response, dict) and active(context, AttackKind.OPEN_REDIRECT):
        targets = [("response.headers.Location", location) for location in redirect_locations(response)]
        targets += refresh_targets(response)
        if targets:
            sites, claimed = _site_hosts(context)
            for sink, location in targets:
                inspect(AttackKind.OPEN_REDIRECT, sink, _redirect()(location, sites, claimed),
                        argument=location, context=context)


def _strings(value: Any, found: list[str], depth: int = 0, limit: int = MAX_NODES) -> None:
    """Every string (and the text of every other scalar) in a JSON-like value, keys included.

    Iterative, at any depth (a credential nested 20 levels down still leaves): a Lambda response
    is at most 6 MB, so it holds fewer than ``MAX_NODES`` values; a Python object past that is read
    that far. A container is read once: one that contains itself cost 2.9 s of CPU reading its
    4M-value cap (the runtime's serializer then refuses it anyway). ``depth`` is unused and kept for
    callers.
    """
    stack = [value]
    visited = 0
    seen: set[int] = set()
    while stack and visited < limit:
        value = stack.pop()
        visited += 1
        if isinstance(value, (dict, list, tuple)):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            pending = []
            for key, item in value.items():
                if isinstance(item, str):
                    # one line per field, as its JSON would put them: the token of a presigned POST's
                    # fields stays right after its x-amz-security-token name, SigV4's own place
                    found.append(f"{key}: {item}")
                else:
                    found.append(str(key))
                    if item is not None and not isinstance(item, (bool, int, float)):
                        pending.append(item)
            stack.extend(reversed(pending))
        elif isinstance(value, (list, tuple)):
            pending = []
            for item in value:
                if isinstance(item, str):
                    found.append(item)
                elif item is not None and not isinstance(item, (bool, int, float)):
                    pending.append(item)
            if pending:
                stack.extend(reversed(pending))
        elif isinstance(value, str):
            found.append(value)
        elif isinstance(value, (bytes, bytearray)):
            found.append(bytes(value).decode("latin-1"))
        elif value is not None and not isinstance(value, (bool, int, float)):
            found.append(str(value))


def _flatten(value: Any) -> str:
    found: list[str] = []
    _strings(value, found)
    return "\n".join(found)


def response_parts(response: Any) -> tuple[tuple, ...]:
    """What of the response leaves the function: the body (decoded too) and everything else."""
    if response is None:
        return ()
    if isinstance(response, str):
        return (("response", response),)
    if isinstance(response, (bytes, bytearray)):
        return (("response", bytes(response)),)
    if not isinstance(response, dict) or "statusCode" not in response:
        return (("response", _flatten(response)),)
    parts: list[tuple] = []
    body = response.get("body")
    if isinstance(body, str):
        # a base64 body leaves decoded: it is judged on what it decodes to
        parts.append(("body (base64-decoded)", body, "base64") if response.get("isBase64Encoded") else ("body", body))
    elif body is not None:
        parts.append(("body", _flatten(body)))
    found: list[str] = []
    for key, value in response.items():
        if key == "body" or value is None or isinstance(value, int):
            continue
        if isinstance(value, dict):  # headers: the common case, without the recursion
            for name, item in value.items():
                found.append(str(name))
                if isinstance(item, str):
                    found.append(item)
                else:
                    _strings(item, found, 1)
        else:
            _strings(value, found)
    if found:
        parts.append(("headers", "\n".join(found)))
    return tuple(parts)


def _describe(response: Any, parts: tuple[tuple, ...]) -> str:
    size = sum(len(part[1]) for part in parts)
    status = response.get("statusCode") if isinstance(response, dict) else None
    return f"handler response (status {status}, {size} characters)" if status is not None \
        else f"handler response ({size} characters)"


def _is_redirect(status: Any) -> bool:
    try:
        return 300 <= int(status) < 400
    except (TypeError, ValueError):
        return False


def redirect_locations(response: dict) -> list[str]:
    """Every Location header of a 3xx response, from headers and multiValueHeaders, any case.

    Lambda@Edge answers in CloudFront's shape: ``status`` (a string) and headers as
    ``{"location": [{"key": "Location", "value": ...}]}``.
    """
    if not _is_redirect(response.get("statusCode", response.get("status"))):
        return []
    locations: list[str] = []
    for field in ("headers", "multiValueHeaders"):
        headers = response.get(field)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if not isinstance(name, str) or name.lower() != "location":
                continue
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, dict):  # CloudFront's {"key": ..., "value": ...}
                    item = item.get("value")
                if isinstance(item, str) and item not in locations:
                    locations.append(item)
    return locations


_REFRESH_HEADERS = {"refresh": "refresh", "content-type": "content-type"}


def _header_values(response: dict) -> tuple[list[str], bool | None]:
    """(Refresh header values, whether a Content-Type says HTML: None when there is none), from headers
    and multiValueHeaders, any case, CloudFront's ``[{"key": ..., "value": ...}]`` included. Most
    responses carry a few headers and neither of these two: a name is lower-cased only when its length
    matches."""
    refreshes: list[str] = []
    html: bool | None = None
    for field in ("headers", "multiValueHeaders"):
        headers = response.get(field)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if not isinstance(name, str) or len(name) not in (7, 12):
                continue
            wanted = _REFRESH_HEADERS.get(name.lower())
            if wanted is None:
                continue
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, dict):
                    item = item.get("value")
                if not isinstance(item, str):
                    continue
                if wanted == "refresh":
                    refreshes.append(item)
                else:
                    html = html or "html" in item.lower()
    return refreshes, html


def refresh_targets(response: dict) -> list[tuple[str, str]]:
    """(sink, URL) of every declarative refresh: a Refresh header on any status, a meta refresh in an
    HTML body (see ``detectors.refresh``). A body sent without any Content-Type is read as HTML when it
    starts with a tag, as a browser sniffing its type reads it; that costs an untyped JSON body one
    character test."""
    refreshes, html_type = _header_values(response)
    body = response.get("body")
    html = body if html_type is not False and isinstance(body, str) and body else None
    if html is not None and html_type is None and not _tagged(html, response.get("isBase64Encoded")):
        html = None
    if not refreshes and html is None:
        return []
    from ..detectors.refresh import meta_refresh_urls, refresh_url

    targets = []
    for value in refreshes:
        url = refresh_url(value)
        if url:
            targets.append(("response.headers.Refresh", url))
    if html:
        if response.get("isBase64Encoded"):
            html = _base64_text(html)
        targets += [("response.body (meta refresh)", url) for url in meta_refresh_urls(html)]
    return targets


_HTML_BLANKS = " \t\n\r\f"


def _tagged(body: str, base64: Any) -> bool:
    """Whether an untyped body starts, past its blanks, with a tag (what MIME sniffing reads as HTML)."""
    head = _base64_text(body[:64]) if base64 else body
    if head[:1] == "<" or head[:1] not in _HTML_BLANKS:  # one character tells, but after blank lines
        return head[:1] == "<"
    return head[:1024].lstrip(_HTML_BLANKS)[:1] == "<"


def _base64_text(body: str) -> str:
    import binascii

    try:
        return binascii.a2b_base64(body).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _site_hosts(context: RequestContext) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The request's own hosts, and those only its client claims (see ``detectors.open_redirect``).

    ``requestContext.domainName`` is where API Gateway and Function URLs received the request. The
    Host header is the site's own where the trigger routes on it; an ALB forwards any Host to its
    default rule, and a Function URL reports its domain itself, so there the Host is a claim.
    """
    request = context.request
    host = request.header("host") or ""
    event = request.event if isinstance(request.event, dict) else {}
    request_context = event.get("requestContext")
    domain = request_context.get("domainName") if isinstance(request_context, dict) else None
    sites = (domain,) if isinstance(domain, str) and domain else ()
    if request.kind in _CLAIMED_HOST_KINDS:
        return sites, (host,) if host else ()
    return ((*sites, host) if host else sites), _forwarded_hosts(request, sites)


def _forwarded_hosts(request: Any, sites: tuple[str, ...]) -> tuple[str, ...]:
    """The site's public name behind CloudFront, when API Gateway only knows its execute-api name.

    CloudFront sends the origin's name as Host; a distribution (an origin request policy or a
    CloudFront Function) can pass the viewer's as ``X-Forwarded-Host``. A client can send that
    header too, so it is a claim, never the site: a Location to it is same-site unless the header
    itself chose the host. Origin and Referer are not used: a page that links here sets them.
    """
    if not any(".execute-api." in site for site in sites):
        return ()
    forwarded = request.header("x-forwarded-host") or ""
    return tuple(part.strip() for part in forwarded.split(",")[:4] if part.strip())
