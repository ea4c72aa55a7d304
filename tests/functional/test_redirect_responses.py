"""Open redirect, judged on the handler's response through @protect, for every HTTP event shape."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, quote, unquote

import pytest

from app_protect_lambda import protect
from app_protect_lambda.testing import (
    LambdaContext,
    alb_event,
    apigw_v1_event,
    apigw_v2_event,
    edge_event,
    function_url_event,
)

HOST = "app.example.com"

TRICKS = [
    "https://evil.example/phish", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "https:evil.example", "https:/\\evil.example", f"https://{HOST}@evil.example", f"https://{HOST}.evil.example/",
    "https://evil.example#@app.example.com", " //evil.example", "\t//evil.example", "\x00//evil.example",
    "/\t/evil.example", "https://%65vil.example", "//evil%2Eexample", "https://ｅｖｉｌ.example", "https://evil。example",
    "javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "https://2130706433/",
]

SAME_SITE = [
    "/", "/account/settings", "/search?q=https%3A%2F%2Fevil.example&page=2", "/search?q=//evil.example",
    "?page=2&sort=desc", "#section-2", "orders/42?view=full", "../up/one", "/日本語/ページ?q=テスト",
    "/files/report.v2.final.pdf", f"https://{HOST}/welcome?next=/home", f"//{HOST}/x", f"https://{HOST}./x",
    "https://docs.example.org/guide", "https://login.example.org/cb?state=1",
]


def redirector(mode: str = "block", **options):
    """A login-style handler: redirect to ``next`` from the query string."""
    protections = {"open_redirect": {"mode": mode, **options}}

    @protect(policy={"mode": mode, "protections": protections})
    def handler(event, context):
        target = (event.get("queryStringParameters") or {}).get("next") or "/"
        return {"statusCode": 302, "headers": {"Location": target, "Cache-Control": "no-store"}, "body": ""}
    return handler


@pytest.mark.parametrize("target", TRICKS)
def test_tricks_are_blocked(target: str, records) -> None:
    reply = redirector()(apigw_v1_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403
    assert "Location" not in reply.get("headers", {})
    [record] = records.detections(without="malicious_payload")
    assert record["protection"] == "open_redirect" and record["input"]["location"] == "query.next"


@pytest.mark.parametrize("target", SAME_SITE)
def test_same_site_and_allowed_pass_unchanged(target: str, records) -> None:
    handler = redirector(allow_domains=["example.org"])
    reply = handler(apigw_v1_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply == {"statusCode": 302, "headers": {"Location": target, "Cache-Control": "no-store"}, "body": ""}
    assert records.detections() == []


def test_every_event_shape_and_header_spelling(records) -> None:
    target = "//evil.example/login"

    @protect(mode="block")
    def v2_handler(event, context):
        return {"statusCode": 301, "headers": {"location": parse_qs(event["rawQueryString"])["next"][0]}}

    @protect(mode="block")
    def alb_handler(event, context):
        chosen = unquote(event["multiValueQueryStringParameters"]["next"][0])
        return {"statusCode": "307", "statusDescription": "307 Temporary Redirect",
                "multiValueHeaders": {"LOCATION": [chosen]}}

    assert v2_handler(apigw_v2_event(query={"next": target}), LambdaContext())["statusCode"] == 403
    assert v2_handler(function_url_event(query={"next": target}), LambdaContext())["statusCode"] == 403
    blocked = alb_handler(alb_event(query={"next": target}, multi_value=True), LambdaContext())
    assert blocked["statusCode"] == 403 and blocked["multiValueHeaders"] == {"Content-Type": ["application/json"]}
    assert len(records.detections()) == 4 - 1


def test_second_location_in_multi_value_headers(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 308, "multiValueHeaders": {"Location": ["/safe", event["queryStringParameters"]["n"]]}}

    assert handler(apigw_v1_event(query={"n": "https://evil.example"}), LambdaContext())["statusCode"] == 403


@pytest.mark.parametrize(("event", "pick"), [
    (apigw_v2_event(cookies=["return_to=//evil.example"]), lambda e: e["cookies"][0].split("=", 1)[1]),
    (apigw_v1_event("POST", body={"redirect": {"to": "https://evil.example"}}),
     lambda e: json.loads(e["body"])["redirect"]["to"]),
    (apigw_v1_event("POST", body="next=%2F%2Fevil.example",
                    headers={"content-type": "application/x-www-form-urlencoded"}),
     lambda e: parse_qs(e["body"])["next"][0]),
    (apigw_v1_event(query={"next": quote("//evil.example", safe="")}),
     lambda e: unquote(e["queryStringParameters"]["next"])),
    (apigw_v1_event(query={"next": quote(quote("/\\evil.example", safe=""), safe="")}),
     lambda e: unquote(unquote(e["queryStringParameters"]["next"]))),
    (apigw_v1_event(query={"state": base64.urlsafe_b64encode(b'{"next": "https://evil.example/x"}').decode()}),
     lambda e: json.loads(base64.urlsafe_b64decode(e["queryStringParameters"]["state"]))["next"]),
    (apigw_v1_event(headers={"referer": "https://evil.example/from"}), lambda e: e["headers"]["referer"]),
])
def test_input_locations_and_encodings(event: dict, pick, records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 302, "headers": {"Location": pick(event)}}

    assert handler(event, LambdaContext())["statusCode"] == 403
    assert len(records.detections(without="malicious_payload")) == 1


def test_code_built_locations(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        query = event["queryStringParameters"]
        return {"statusCode": 302, "headers": {"Location": f"https://{HOST}{query['path']}"}}

    for path, status in (("@evil.example", 403), (".evil.example/", 403), ("/account?tab=2", 302),
                         ("/\\evil.example", 302)):  # the backslash starts the path: still our host
        reply = handler(apigw_v1_event(query={"path": path}, headers={"host": HOST}), LambdaContext())
        assert reply["statusCode"] == status, path


def test_oauth_redirect_to_a_fixed_provider_with_input_state_passes(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        state = event["queryStringParameters"]["state"]
        return {"statusCode": 302, "headers": {
            "Location": f"https://accounts.idp.example/authorize?client_id=1&state={state}"
                        f"&redirect_uri=https://{HOST}/callback"}}

    event = apigw_v1_event(query={"state": "xyz-東京-123", "provider": "idp"}, headers={"host": HOST,
                                                                                      "x-forwarded-proto": "https"})
    assert handler(event, LambdaContext())["statusCode"] == 302
    assert records.detections() == []


def test_not_a_redirect_or_no_input(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        kind = event["queryStringParameters"]["kind"]
        if kind == "created":
            return {"statusCode": 201, "headers": {"Location": event["queryStringParameters"]["next"]}}
        if kind == "fixed":
            return {"statusCode": 302, "headers": {"Location": "https://status.example.net/"}}
        return ["not", "a", "dict"]

    for kind in ("created", "fixed", "list"):
        reply = handler(apigw_v1_event(query={"kind": kind, "next": "//evil.example"}), LambdaContext())
        assert reply != {"statusCode": 403} and (not isinstance(reply, dict) or reply["statusCode"] != 403)
    assert records.detections() == []


def test_report_mode_leaves_the_response_and_records_once(records) -> None:
    reply = redirector("report")(apigw_v1_event(query={"next": "//evil.example"}), LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == "//evil.example"
    [record] = records.detections()
    assert record["action"] == "reported" and record["sink"]["name"] == "response.headers.Location"
    assert record["rule"] == "open_redirect.offsite"


def test_off_mode_records_nothing(records) -> None:
    reply = redirector("off")(apigw_v1_event(query={"next": "//evil.example"}), LambdaContext())
    assert reply["statusCode"] == 302
    assert records.detections() == []


def edge_redirector():
    """A Lambda@Edge viewer-request function that answers a login redirect in CloudFront's shape."""
    @protect(policy={"mode": "block"})
    def handler(event, context):
        query = parse_qs(event["Records"][0]["cf"]["request"]["querystring"])
        target = query.get("next", ["/"])[0]
        return {"status": "302", "statusDescription": "Found",
                "headers": {"location": [{"key": "Location", "value": target}]}}
    return handler


@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example", "/\\evil.example"])
def test_lambda_edge_redirect_off_site_is_blocked(target: str, records) -> None:
    reply = edge_redirector()(edge_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["status"] == "403"
    assert "location" not in reply.get("headers", {})
    [record] = records.detections()
    assert record["protection"] == "open_redirect"


@pytest.mark.parametrize("target", ["/account/settings", f"https://{HOST}/welcome", "?page=2"])
def test_lambda_edge_same_site_redirect_passes_unchanged(target: str, records) -> None:
    reply = edge_redirector()(edge_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply == {"status": "302", "statusDescription": "Found",
                     "headers": {"location": [{"key": "Location", "value": target}]}}
    assert records.detections() == []


# ---------------------------------------------------------------- the site's subdomains, the Host header's claim

def host_redirector(**options):
    """A handler that builds an absolute redirect from the Host header, as many frameworks do."""
    @protect(policy={"mode": "block", "protections": {"open_redirect": {"mode": "block", **options}}})
    def handler(event, context):
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        return {"statusCode": 302, "headers": {"Location": f"https://{headers['host']}/login"}}
    return handler


@pytest.mark.parametrize("make", [alb_event, function_url_event])
def test_a_redirect_built_from_a_spoofed_host_header_is_blocked(make, records) -> None:
    reply = host_redirector()(make(headers={"host": "evil.example"}), LambdaContext())
    assert reply["statusCode"] == 403 and "Location" not in reply.get("headers", {})
    [record] = records.detections()
    assert record["input"]["location"] == "header.host"


def test_a_host_header_redirect_passes_where_the_site_is_known(records) -> None:
    event = alb_event(headers={"host": HOST})
    reply = host_redirector(allow_domains=["example.com"])(event, LambdaContext())
    assert reply == {"statusCode": 302, "headers": {"Location": f"https://{HOST}/login"}}
    url_event = function_url_event()
    url_event["headers"]["host"] = url_event["requestContext"]["domainName"]  # what a Function URL receives
    assert host_redirector()(url_event, LambdaContext())["statusCode"] == 302
    assert host_redirector()(apigw_v1_event(headers={"host": HOST}), LambdaContext())["statusCode"] == 302
    assert records.detections() == []


@pytest.mark.parametrize("target", [f"https://{HOST}/welcome", f"https://www.{HOST}/x", "/account"])
def test_behind_an_alb_other_inputs_may_still_name_the_claimed_host(target: str, records) -> None:
    @protect(mode="block")
    def handler(event, context):  # an ALB passes the query string as sent, percent-encoded
        return {"statusCode": 302, "headers": {"Location": unquote(event["queryStringParameters"]["next"])}}

    reply = handler(alb_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == target
    assert records.detections() == []
    spoofed = handler(alb_event(query={"next": "https://evil.example/"}, headers={"host": HOST}), LambdaContext())
    assert spoofed["statusCode"] == 403


@pytest.mark.parametrize("target", ["https://www.app.example.com/home", "//eu.app.example.com/x"])
def test_subdomains_of_the_request_host_pass(target: str, records) -> None:
    reply = redirector()(apigw_v1_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == target
    assert records.detections() == []


@pytest.mark.parametrize("target", ["https://example.com/", "https://evilapp.example.com/",
                                    "https://other.example.com/"])
def test_parents_and_siblings_of_the_request_host_are_blocked(target: str, records) -> None:
    reply = redirector()(apigw_v1_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 403
    assert len(records.detections()) == 1


# ---------------------------------------------------------------- Refresh headers and meta refresh

def refresher(how: str):
    """A page that sends the browser on to ``next`` after a moment, by a header or by a meta tag."""
    @protect(mode="block")
    def handler(event, context):
        if "Records" in event:
            target = parse_qs(event["Records"][0]["cf"]["request"]["querystring"])["next"][0]
        else:
            target = (event.get("queryStringParameters") or {}).get("next") or "/"
        if how == "header":
            return {"statusCode": 200, "headers": {"Refresh": f"3; url={target}"}, "body": "Signed out."}
        if how == "edge":
            return {"status": "200", "headers": {"refresh": [{"key": "Refresh", "value": f"0;URL='{target}'"}]}}
        from html import escape

        page = (f'<html><head><meta http-equiv="Refresh" content="0; url={escape(target)}"></head>'
                "<body>Redirecting...</body></html>")
        if how == "base64 html":
            return {"statusCode": 200, "headers": {"Content-Type": "text/html; charset=utf-8"},
                    "body": base64.b64encode(page.encode()).decode(), "isBase64Encoded": True}
        return {"statusCode": 200, "headers": {"content-type": "text/html"}, "body": page}
    return handler


HOWS = ["header", "edge", "html", "base64 html"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example", "javascript:alert(1)",
                                    "https://app.example.com@evil.example/"])
def test_a_refresh_to_an_input_chosen_site_is_blocked(how: str, target: str, records) -> None:
    make = edge_event if how == "edge" else apigw_v1_event
    event = make(query={"next": target}, headers={"host": HOST})
    reply = refresher(how)(event, LambdaContext())
    assert reply.get("statusCode", reply.get("status")) in (403, "403")
    assert "evil.example" not in json.dumps(reply) and "javascript" not in json.dumps(reply)
    [record] = records.detections(without="malicious_payload")
    assert record["protection"] == "open_redirect"
    assert record["sink"]["name"] in ("response.headers.Refresh", "response.body (meta refresh)")


@pytest.mark.parametrize("how", ["header", "html", "base64 html"])
@pytest.mark.parametrize("target", ["/account", "/search?q=https://evil.example&x=1", f"https://{HOST}/home",
                                    "https://www.app.example.com/"])
def test_a_refresh_within_the_site_passes_unchanged(how: str, target: str, records) -> None:
    reply = refresher(how)(apigw_v1_event(query={"next": target}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 200
    assert records.detections() == []


def test_pages_that_only_mention_refresh_pass(records) -> None:
    body = ('<html><head><meta http-equiv="refresh" content="30"></head><body><a href="{next}">go</a>'
            "<code>&lt;meta http-equiv=&quot;refresh&quot; content=&quot;0;url=//evil.example&quot;&gt;</code></body>")

    @protect(mode="block")
    def handler(event, context):
        link = event["queryStringParameters"]["next"]
        return {"statusCode": 200, "headers": {"Content-Type": "text/html", "Refresh": "60"},
                "body": body.format(next=link)}

    reply = handler(apigw_v1_event(query={"next": "https://evil.example/"}, headers={"host": HOST}), LambdaContext())
    assert reply["statusCode"] == 200 and records.detections() == []


def test_a_host_assembled_from_two_inputs(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        query = event["queryStringParameters"]
        return {"statusCode": 302, "headers": {"Location": f"https://{query['tenant']}.{query['zone']}/welcome"}}

    blocked = handler(apigw_v1_event(query={"tenant": "login", "zone": "evil.example"}), LambdaContext())
    pieced = handler(apigw_v1_event(query={"tenant": "evil", "zone": "example"}), LambdaContext())
    assert blocked["statusCode"] == pieced["statusCode"] == 403
    assert "evil" not in json.dumps(blocked) + json.dumps(pieced)
    assert [r["input"]["location"] for r in records.detections()] == ["query.zone", "query.zone"]
    allowed = handler(apigw_v1_event(query={"tenant": "eu", "zone": "app.example.com"}, headers={"host": HOST}),
                      LambdaContext())
    assert allowed["statusCode"] == 302 and allowed["headers"]["Location"] == f"https://eu.{HOST}/welcome"


# ---------------------------------------------------------------- behind CloudFront on an execute-api domain

def behind_cloudfront(**kwargs) -> dict:
    """An API Gateway REST event as CloudFront forwards it: Host is the execute-api name."""
    event = apigw_v1_event(**kwargs)
    event["requestContext"]["domainName"] = "abc123.execute-api.us-east-1.amazonaws.com"
    event["headers"]["host"] = "abc123.execute-api.us-east-1.amazonaws.com"
    return event


def test_the_forwarded_site_behind_cloudfront_is_same_site_for_other_inputs(records) -> None:
    """The distribution forwards the viewer's name as X-Forwarded-Host."""
    event = behind_cloudfront(query={"next": "https://shop.example.com/cart"},
                              headers={"x-forwarded-host": "shop.example.com", "via": "2.0 abc.cloudfront.net"})
    reply = redirector()(event, LambdaContext())
    assert reply["statusCode"] == 302 and reply["headers"]["Location"] == "https://shop.example.com/cart"
    www = redirector()(behind_cloudfront(query={"next": "https://www.shop.example.com/"},
                                         headers={"x-forwarded-host": "shop.example.com"}), LambdaContext())
    assert www["statusCode"] == 302 and records.detections() == []


def test_x_forwarded_host_counts_only_for_an_execute_api_domain(records) -> None:
    event = apigw_v1_event(query={"next": "https://shop.example.com/cart"},
                           headers={"host": HOST, "x-forwarded-host": "shop.example.com"})
    assert redirector()(event, LambdaContext())["statusCode"] == 403


def test_a_redirect_built_from_x_forwarded_host_alone_is_blocked(records) -> None:
    @protect(mode="block")
    def handler(event, context):
        return {"statusCode": 302, "headers": {"Location": f"https://{event['headers']['x-forwarded-host']}/login"}}

    reply = handler(behind_cloudfront(headers={"x-forwarded-host": "evil.example"}), LambdaContext())
    assert reply["statusCode"] == 403
    assert [r["input"]["location"] for r in records.detections()] == ["header.x-forwarded-host"]


def test_origin_and_referer_never_make_a_site(records) -> None:
    event = behind_cloudfront(query={"next": "https://evil.example/"},
                              headers={"origin": "https://evil.example", "referer": "https://evil.example/page"})
    assert redirector()(event, LambdaContext())["statusCode"] == 403
