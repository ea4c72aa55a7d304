"""Open redirect against the issue-11 red team: the bypasses found by reading the source, through
``@protect`` and real API Gateway, ALB and Lambda@Edge events.

A "cleanup" that turns the input's backslashes into slashes, a meta refresh in a body sent without
a Content-Type (browsers sniff it as HTML), an ``http-equiv`` spelled with character references, a
Refresh value whose delay ends at a blank. Blocked, the off-site URL never leaves; benign
neighbours pass unchanged.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import unquote

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import LambdaContext, alb_event, apigw_v1_event, apigw_v2_event, edge_event

HOST = "app.example.com"


def cleaning():
    """Turns backslashes into slashes "so that /\\evil tricks cannot work", then redirects."""
    @protect(mode="block")
    def handler(event, context):
        target = event["queryStringParameters"]["next"].replace("\\", "/")
        return {"statusCode": 302, "headers": {"Location": target}, "body": ""}
    return handler


@pytest.mark.parametrize("target", ["\\\\evil.example", "\\\\evil.example\\login", "https:\\\\evil.example\\"])
def test_backslashes_the_code_turned_into_slashes_are_blocked(target: str, records) -> None:
    reply = cleaning()(apigw_v2_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403 and "evil.example" not in json.dumps(reply)
    [record] = records.detections()
    assert record["input"]["location"] == "query.next"


@pytest.mark.parametrize("target", ["\\account\\settings", "/files\\2024\\report.pdf", "\\"])
def test_backslashed_paths_of_the_site_pass(target: str, records) -> None:
    reply = cleaning()(apigw_v2_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == target.replace("\\", "/")
    assert records.detections() == []


PAGE = '<!doctype html>\n<html><head>{meta}</head><body>Redirecting...</body></html>'


def untyped(shape: str, meta: str):
    """An HTML page answered without any Content-Type: ALB and Lambda@Edge send it so, browsers sniff it."""
    @protect(mode="block")
    def handler(event, context):
        if shape == "edge":
            target = unquote(event["Records"][0]["cf"]["request"]["querystring"].split("=", 1)[1])
        else:
            target = unquote(event["queryStringParameters"]["next"])  # an ALB passes the query undecoded
        body = PAGE.format(meta=meta.format(target=target))
        if shape == "edge":
            return {"status": "200", "headers": {"cache-control": [{"key": "Cache-Control", "value": "no-store"}]},
                    "body": body}
        if shape == "base64":
            return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(body.encode()).decode()}
        return {"statusCode": 200, "statusDescription": "200 OK", "body": body}
    return handler


META = '<meta http-equiv="refresh" content="0;url={target}">'


@pytest.mark.parametrize("shape", ["alb", "edge", "base64"])
def test_a_meta_refresh_in_an_untyped_html_body_is_blocked(shape: str, records) -> None:
    make = edge_event if shape == "edge" else alb_event
    reply = untyped(shape, META)(make(query={"next": "//evil.example"}, headers={"host": HOST}), LambdaContext())
    assert reply.get("statusCode", reply.get("status")) in (403, "403")
    assert "evil.example" not in json.dumps(reply)
    [record] = records.detections()
    assert record["sink"]["name"] == "response.body (meta refresh)"


@pytest.mark.parametrize("target", ["/home", f"https://www.{HOST}/"])
def test_an_untyped_page_refreshing_within_the_site_passes(target: str, records) -> None:
    reply = untyped("alb", META)(alb_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 200 and target in reply["body"]
    assert records.detections() == []


def test_an_untyped_json_body_is_not_read_as_html(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        meta = f'<meta http-equiv="refresh" content="0;url={event["queryStringParameters"]["next"]}">'
        return {"statusCode": 200, "body": json.dumps({"snippet": meta})}

    reply = handler(apigw_v1_event(query={"next": "//evil.example"}), LambdaContext())
    assert reply["statusCode"] == 200 and "evil.example" in reply["body"]
    assert records.detections() == []


@pytest.mark.parametrize("equiv", ["&#114;efresh", "re&#x66;resh", "REFRES&#x48;"])
def test_an_http_equiv_spelled_with_character_references_is_blocked(equiv: str, records) -> None:
    meta = f'<meta http-equiv="{equiv}" content="0;url={{target}}">'

    @protect(mode="block")
    def handler(event, context):
        body = PAGE.format(meta=meta.format(target=event["queryStringParameters"]["next"]))
        return {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": body}

    reply = handler(apigw_v1_event(query={"next": "https://evil.example/"}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403 and "evil.example" not in json.dumps(reply)
    assert len(records.detections()) == 1


@pytest.mark.parametrize("value", ["0 {target}", " 0  url={target}", "1.5\turl='{target}'"])
def test_a_refresh_delay_ended_by_a_blank_is_blocked(value: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        refresh = value.format(target=event["queryStringParameters"]["next"])
        return {"statusCode": 200, "headers": {"Refresh": refresh}, "body": "Signed out."}

    reply = handler(apigw_v2_event(query={"next": "//evil.example"}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403 and "evil.example" not in json.dumps(reply)
    safe = handler(apigw_v2_event(query={"next": "/signed-out"}, headers={"host": HOST}), LambdaContext())
    assert safe["statusCode"] == 200 and safe["headers"]["Refresh"] == value.format(target="/signed-out")
    assert len(records.detections()) == 1


def sign_in_with():
    """Sends the browser to the identity provider the query names, under a TLD the code wrote."""
    @protect(mode="block")
    def handler(event, context):
        provider = event["queryStringParameters"]["provider"]
        return {"statusCode": 302, "headers": {"Location": f"https://{provider}.com/oauth/authorize?client_id=42"}}
    return handler


def test_an_input_naming_the_domain_under_a_code_written_tld_is_blocked(records) -> None:
    reply = sign_in_with()(apigw_v1_event(query={"provider": "evil"}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403 and "evil.com" not in json.dumps(reply)
    [record] = records.detections()
    assert record["input"]["location"] == "query.provider"


def test_a_label_under_the_codes_own_domain_still_passes(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 302, "headers": {"Location": f"https://{event['queryStringParameters']['t']}.example.com/"}}

    reply = handler(apigw_v1_event(query={"t": "tenant1"}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == "https://tenant1.example.com/"
    assert records.detections() == []


def canonical_host(header: str):
    """Redirects to the login page on the host a proxy header names, parsed as proxies list them."""
    @protect(mode="block")
    def handler(event, context):
        value = event["headers"][header]
        if header == "forwarded":
            host = next(part.split("=", 1)[1] for part in value.split(";") if part.startswith("host="))
        else:
            host = value.split(",")[0].strip()
        return {"statusCode": 302, "headers": {"Location": f"https://{host}/login"}}
    return handler


@pytest.mark.parametrize(("header", "value"), [
    ("x-forwarded-host", "evil.example, app.example.com"), ("forwarded", "for=192.0.2.1;host=evil.example;proto=https"),
])
def test_a_host_taken_out_of_a_proxy_header_list_is_blocked(header: str, value: str, records) -> None:
    reply = canonical_host(header)(apigw_v2_event(headers={"host": HOST, header: value}), LambdaContext())
    assert reply["statusCode"] == 403 and "evil.example/login" not in json.dumps(reply)
    [record] = records.detections()
    assert record["input"]["location"] == f"header.{header}"


def test_the_sites_own_host_out_of_a_proxy_header_list_passes(records) -> None:
    event = apigw_v2_event(headers={"host": HOST, "x-forwarded-host": f"{HOST}, internal.lb"})
    reply = canonical_host("x-forwarded-host")(event, LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == f"https://{HOST}/login"
    assert records.detections() == []


def test_a_user_back_from_the_identity_provider_is_sent_to_it_again(records) -> None:
    """The Referer (a cross-site origin) is the start of the code's own redirect: not the cause."""
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 302, "headers": {
            "Location": "https://accounts.partner.example/o/oauth2/auth?client_id=42&state=" +
                        event["queryStringParameters"]["state"]}}

    event = apigw_v1_event(query={"state": "s-123"}, headers={"host": HOST, "referer": "https://accounts.partner.example/"})
    reply = handler(event, LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"].startswith("https://accounts.partner.example/")
    assert records.detections() == []
    back = {"statusCode": 302, "headers": {"Location": "https://evil.example/"}}

    @protect(mode="block")
    def go_back(event, context):
        return {**back, "headers": {"Location": event["headers"]["referer"]}}

    blocked = go_back(apigw_v1_event(headers={"host": HOST, "referer": "https://evil.example/"}), LambdaContext())
    assert blocked["statusCode"] == 403
