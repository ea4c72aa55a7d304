"""Our own AWS calls from inside the function (EventBridge, SSM, AppConfig): each one bounded.

With the SDK's defaults (60 s connect and read timeouts, several attempts), a non-answering
EventBridge added 180 s to an attacked invocation and a non-answering SSM took 180 s at init,
far past Lambda's 10 s init limit. Here an attempt answers or fails within
``ATTEMPT_BOUND`` (connect 0.5 s + read 1 s); the SDK itself never retries; a caller retries
once, and only while its own budget still holds a whole attempt, so its budget is a bound on
its time (a server that trickles a byte a second could still hold one read: the SDK has no
wall-clock timeout, and a worker thread left running into the next invocation is worse).
PutEvents and GetParameter answer in tens of milliseconds in region; the bounds leave room.
"""
from __future__ import annotations

import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
ATTEMPT_BOUND = CONNECT_TIMEOUT + READ_TIMEOUT

# boto3's default session is not safe to build clients from on several threads at once.
_creating = threading.Lock()

# Error codes worth a second attempt: the service was busy or failed on its side.
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure", "InternalServerError",
    "InternalServerException", "RequestTimeout", "RequestTimeoutException",
})


def client(service: str) -> Any:
    """A boto3 client with short timeouts and no retries of its own."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                    retries={"total_max_attempts": 1, "mode": "standard"})
    with _creating:
        return boto3.client(service, config=config)


class Deadline:
    """A budget of seconds from now."""

    __slots__ = ("_end",)

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def holds_an_attempt(self) -> bool:
        return self.remaining() >= ATTEMPT_BOUND


def is_transient(error: BaseException) -> bool:
    """Whether another attempt could succeed: a timeout, a lost connection, throttling, a 5xx."""
    from botocore import exceptions as sdk

    if isinstance(error, (sdk.ConnectionError, sdk.HTTPClientError)):
        return True
    if isinstance(error, sdk.ClientError):
        response = error.response or {}
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return False


def call(deadline: Deadline, attempt: Callable[[], T]) -> T:
    """``attempt()``, tried a second time after a transient error when ``deadline`` still holds one."""
    try:
        return attempt()
    except Exception as error:
        if not is_transient(error) or not deadline.holds_an_attempt():
            raise
    return attempt()
