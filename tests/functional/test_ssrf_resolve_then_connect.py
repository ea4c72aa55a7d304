"""Code that resolves an input's host first and then connects to the address it got (issue 11, item 2).

The address connected to is a literal no input names: the resolution of the input-chosen name
is what is judged, on the addresses it returned, whichever resolver the code used and whichever
client then connects (requests, a raw socket, asyncio). ``test_ssrf_resolvers`` has the
http.client rows; these add the other clients, report mode, and the benign shapes.
"""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator

import pytest
import requests

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {"internal.example": "127.0.0.1", "api.partner.example": "127.0.0.1"})


@pytest.fixture
def internal() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def by_gethostbyname(host: str, port: int) -> bytes:
    address = socket.gethostbyname(host)
    return requests.get(f"http://{address}:{port}/admin", timeout=TIMEOUT).content


def by_getaddrinfo_then_raw_connect(host: str, port: int) -> bytes:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(address)
        sock.sendall(b"GET /admin HTTP/1.0\r\n\r\n")
        return sock.recv(65536)


def by_loop_getaddrinfo_then_open_connection(host: str, port: int) -> bytes:
    async def fetch() -> bytes:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        reader, writer = await asyncio.open_connection(infos[0][4][0], port)
        writer.write(b"GET /admin HTTP/1.0\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data
    return asyncio.run(fetch())


def by_gethostbyname_ex_in_a_thread(host: str, port: int) -> bytes:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        address = pool.submit(socket.gethostbyname_ex, host).result()[2][0]
    return requests.get(f"http://{address}:{port}/admin", timeout=TIMEOUT).content


WAYS: list[Callable[[str, int], bytes]] = [by_gethostbyname, by_getaddrinfo_then_raw_connect,
                                          by_loop_getaddrinfo_then_open_connection, by_gethostbyname_ex_in_a_thread]
# The C resolvers behind gethostbyname do not go through the test resolver: they are given names
# the machine itself resolves (localhost), the others names the test resolver maps to 127.0.0.1.
C_RESOLVED = (by_gethostbyname, by_gethostbyname_ex_in_a_thread)


def name_for(way: Callable[[str, int], bytes], name: str) -> str:
    return {"internal.example": "localhost", "INTERNAL.example.": "LocalHost"}.get(name, name) \
        if way in C_RESOLVED else name


def pinning(way: Callable[[str, int], bytes], mode: str = "block"):
    @protect(mode=mode)
    def handler(event, context):
        query = event["queryStringParameters"]
        return {"statusCode": 200, "body": way(query["host"], int(query["port"])).decode("latin-1")}
    return handler


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("host", ["internal.example", "INTERNAL.example.", "localhost"])
def test_the_resolution_of_an_input_chosen_name_is_refused(way, host: str, internal: LocalServer, records) -> None:
    event = apigw_v1_event(query={"host": name_for(way, host), "port": str(internal.port)})
    assert pinning(way)(event, LambdaContext())["statusCode"] == 403
    assert internal.untouched
    [record] = records.detections()
    assert record["rule"] == "ssrf.internal" and record["sink"]["name"].startswith("socket.get")


@pytest.mark.parametrize("way", WAYS)
def test_report_mode_records_the_resolution_once_and_the_connect_goes_on(way, internal: LocalServer,
                                                                        records) -> None:
    event = apigw_v1_event(query={"host": name_for(way, "internal.example"), "port": str(internal.port)})
    assert pinning(way, mode="report")(event, LambdaContext())["statusCode"] == 200
    assert len(internal.requests) == 1
    assert len(records.detections()) == 1


@pytest.mark.parametrize("way", WAYS)
def test_a_name_the_code_chose_resolved_then_connected_passes(way, internal: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        host = "localhost" if way in C_RESOLVED else "api.partner.example"
        return {"statusCode": 200, "body": way(host, internal.port).decode("latin-1")}

    event = apigw_v1_event(query={"q": "internal.example", "next": "http://127.0.0.1:1/"})
    assert handler(event, LambdaContext())["statusCode"] == 200
    assert len(internal.requests) == 1 and records.detections() == []
