"""What the raw-send check adds to a benign ``sendall`` (issue 11): `python -m bench.sends`.

A socket pair (a child process drains the other end, so its work is off our CPU clock), inside one
invocation with the benign API Gateway event, credentials of realistic length in the environment
(a 40-character secret key, a 1,000-character session token): the sink uninstrumented against
instrumented, interleaved. Then outside an invocation (the hook's ContextVar read only), and the
check alone on clean payloads (the substring searches of ``may_hold``): JSON as an API sends it,
and random letters and digits, the worst case for CPython's search (the needles' own alphabet).
"""
from __future__ import annotations

import json
import os
import random
import socket
import string
import subprocess
import sys

from app_protect_lambda.detectors import credential_exfiltration
from app_protect_lambda.sinks import sends

from . import internals, route
from .harness import interleaved, per_call
from .scenarios import _context, benign_event


def _credentials() -> None:
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits + "+/"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "".join(rng.choice(alphabet) for _ in range(40))
    os.environ["AWS_SESSION_TOKEN"] = "IQoJb3JpZ2luX2Vj" + "".join(rng.choice(alphabet) for _ in range(984))


_DRAIN = "import os, sys\nwhile os.read(int(sys.argv[1]), 1 << 20):\n    pass\n"


def _payload(size: int, worst: bool = False) -> bytes:
    """``size`` bytes of JSON an API sends, or (``worst``) of random letters and digits: the needles'
    own alphabet, where CPython's substring search skips least."""
    if worst:
        rng = random.Random(size)
        return "".join(rng.choice(string.ascii_letters + string.digits + ' {}":,') for _ in range(size)).encode()
    items = [{"sku": f"X-{number}", "name": "Leave it by the door, please", "qty": number % 7,
              "id": f"{number * 2654435761 % 2 ** 32:08x}"} for number in range(size // 40)]
    return json.dumps({"items": items}).encode()[:size]


def main() -> None:
    _credentials()
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    drain = subprocess.Popen([sys.executable, "-c", _DRAIN, str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    context = _context(benign_event())
    route.set_instrumented(True)
    print("| benign sendall on a socket pair | unprotected | added (CPU, median ± s.e.) |")
    print("| --- | --- | --- |")
    try:
        for size in (1024, 65536):
            data = _payload(size)
            with internals.active(context):
                baseline, protected = interleaved(
                    lambda data=data: ours.sendall(data), lambda data=data: ours.sendall(data),
                    setup_baseline=lambda: route.set_instrumented(False),
                    setup_protected=lambda: route.set_instrumented(True), number=200, rounds=7, repeat=3)
            print(f"| {size // 1024} KB, inside an invocation | {baseline.median_ns / 1000:.2f} µs | "
                  f"{(protected.median_ns - baseline.median_ns) / 1000:+.2f} ± {protected.error_ns / 1000:.2f} µs |")
        data = _payload(1024)
        baseline, protected = interleaved(
            lambda: ours.sendall(data), lambda: ours.sendall(data),
            setup_baseline=lambda: route.set_instrumented(False),
            setup_protected=lambda: route.set_instrumented(True), number=500, rounds=7, repeat=3)
        print(f"| 1 KB, outside an invocation | {baseline.median_ns / 1000:.2f} µs | "
              f"{(protected.median_ns - baseline.median_ns) / 1000:+.2f} ± {protected.error_ns / 1000:.2f} µs |")
    finally:
        route.set_instrumented(True)
        ours.close()
        drain.wait(5)
    print()
    print("| the check alone, clean payload | CPU per call |")
    print("| --- | --- |")
    for worst in (False, True):
        for size in (1024, 65536):
            data = _payload(size, worst)
            timing = per_call(lambda data=data: credential_exfiltration.may_hold(data), number=200)
            print(f"| may_hold, {size // 1024} KB {'random letters' if worst else 'JSON'} | "
                  f"{timing.median_ns / 1000:.2f} µs |")
    sock = socket.socket()
    with internals.active(context):
        for size in (1024, 65536):
            data = _payload(size)
            timing = per_call(lambda data=data: sends._check_send(context, "bench", sock, data, None, None),
                              number=200)
            print(f"| _check_send (tail kept), {size // 1024} KB | {timing.median_ns / 1000:.2f} µs |")
    sock.close()


if __name__ == "__main__":
    main()
