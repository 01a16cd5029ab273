"""HTTP tools' origins, URL templates, path arguments, address checks and redaction: the pure logic."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
import redis

from app.config import SettingsError, load_settings
from app.http_tool_origins import Origin, parse_origin
from app.integrations.http_tool_addresses import address_allowed, check_addresses
from app.integrations.http_tool_client import HttpToolAnswer, HttpToolClient, redact
from app.integrations.http_tool_errors import (
    AddressNotAllowed,
    BadTemplate,
    CredentialsInTemplate,
    OriginNotAllowed,
    UnsafeArgument,
)
from app.integrations.http_tool_urls import check_template, fill, mask_credentials, path_value, verify
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker
from app.integrations.shared_throttle import SharedThrottle

LEGACY = parse_origin("https://legacy.internal:8443/api")
LOCAL = parse_origin("http://127.0.0.1:8001")


def test_origins_are_parsed_with_scheme_port_and_prefix() -> None:
    assert LEGACY == Origin("https", "legacy.internal", 8443, "/api")
    assert parse_origin("http://Example.COM/") == Origin("http", "example.com", 80, "")
    assert parse_origin("http://[::1]:8001") == Origin("http", "::1", 8001, "")
    assert str(parse_origin("http://[::1]:8001/v1/")) == "http://[::1]:8001/v1"
    # The older form: a bare host is https on 443 and nothing else.
    assert parse_origin("legacy.internal") == Origin("https", "legacy.internal", 443, "", bare_host=True)
    for bad in ["ftp://x", "http://u:p@x", "http://x:99999", "http://x:port", "http://x/a/../b", "x:80",
                "http://x/%2e", "http://x?q=1", "http://x#f", "http:///x", "legacy.internal/api"]:
        with pytest.raises(ValueError):
            parse_origin(bad)


def test_settings_refuse_a_malformed_allow_list_at_start() -> None:
    settings = load_settings({}, acme_http_tool_hosts="https://legacy.internal:8443/api, http://127.0.0.1:8001",
                             acme_http_tool_secret_origins="TOOL_LEGACY=https://legacy.internal:8443")
    assert settings.http_tool_allow_list.origins == (LEGACY, LOCAL)
    assert settings.http_tool_allow_list.secret_origins == {"TOOL_LEGACY": Origin("https", "legacy.internal", 8443)}
    with pytest.raises(SettingsError, match="ACME_HTTP_TOOL_HOSTS"):
        load_settings({}, acme_http_tool_hosts="ftp://legacy")
    with pytest.raises(SettingsError, match="TOOL_NAME="):
        load_settings({}, acme_http_tool_secret_origins="SLACK_BOT_TOKEN=https://x")


def test_a_template_must_sit_inside_an_origin_port_and_prefix_included() -> None:
    origins = [LEGACY, LOCAL]
    assert check_template("https://legacy.internal:8443/api/customers/{id}", origins) == LEGACY
    assert check_template("https://LEGACY.internal:8443/api", origins) == LEGACY
    assert check_template("http://127.0.0.1:8001/customers?q={q}", origins) == LOCAL
    for outside in ["https://legacy.internal/api/x", "http://legacy.internal:8443/api/x",
                    "https://legacy.internal:8443/apix", "https://legacy.internal:8443/admin",
                    "http://127.0.0.1:6379/", "http://127.0.0.1/customers", "http://{host}:8001/x",
                    "http://127.0.0.1:{port}/x"]:
        with pytest.raises(OriginNotAllowed):
            check_template(outside, origins)
    for bad in ["https://legacy.internal:8443/api/../admin", "https://legacy.internal:8443/api/%2e%2e/admin",
                "https://legacy.internal:8443/api/a%2fb", "https://legacy.internal:8443/api/a\\b",
                "https://legacy.internal:8443/api/%252f", "https://legacy.internal:8443/api/x#frag", "/api/x",
                "https://legacy.internal:port/api"]:
        with pytest.raises(BadTemplate):
            check_template(bad, origins)


def test_credentials_in_a_template_are_refused_and_masked() -> None:
    for template in ["https://user:pass@legacy.internal:8443/api", "https://user@legacy.internal:8443/api",
                     "https://legacy.internal:8443/api?token=abc", "https://legacy.internal:8443/api?api_key=abc",
                     "https://legacy.internal:8443/api?x=1&Client-Secret=abc", "https://legacy.internal:8443/api?sig=a"]:
        with pytest.raises(CredentialsInTemplate):
            check_template(template, [LEGACY])
    assert check_template("https://legacy.internal:8443/api?token={token}&page=2&author=ann", [LEGACY]) == LEGACY
    assert (mask_credentials("https://u:hunter2@legacy.internal:8443/api?api_key=sk-1&q={q}&token={t}")
            == "https://[redacted]@legacy.internal:8443/api?api_key=[redacted]&q={q}&token={t}")


@pytest.mark.parametrize("value", ["..", ".", "", "/", "a/b", "a\\b", "../x", "%2f", "%2F", "%2e%2e", "%2e",
                                   "%252f", "%5c", "..%2f", "a..b", "\uff0e\uff0e", "a\uff0fb", "%41"])
def test_a_path_argument_cannot_add_segments(value: str) -> None:
    with pytest.raises(UnsafeArgument):
        path_value("id", value)


def test_arguments_are_quoted_and_the_rest_go_in_the_query_or_body() -> None:
    assert path_value("id", "a b?c#d;e&f=g") == "a%20b%3Fc%23d%3Be%26f%3Dg"
    assert path_value("id", "john.doe@example.com") == "john.doe%40example.com"
    assert path_value("id", 42) == "42"
    url, rest = fill("http://127.0.0.1:8001/customers/{id}?fields={f}", {"id": "cus 1", "f": "a&b", "q": "x&admin=1",
                                                                        "tags": ["a", "b/c"]}, rest_in_query=True)
    assert url == "http://127.0.0.1:8001/customers/cus%201?fields=a%26b&q=x%26admin%3D1&tags=a&tags=b%2Fc"
    assert rest == {}
    url, rest = fill("http://127.0.0.1:8001/tickets/{id}", {"id": "t1", "subject": "../x"}, rest_in_query=False)
    assert (url, rest) == ("http://127.0.0.1:8001/tickets/t1", {"subject": "../x"})
    with pytest.raises(UnsafeArgument):
        fill("http://127.0.0.1:8001/x", {"q": {"nested": 1}}, rest_in_query=True)


def test_the_filled_url_is_checked_again() -> None:
    verify("https://legacy.internal:8443/api/customers/x%20y", [LEGACY])
    for url in ["https://legacy.internal:8443/api/../admin", "https://legacy.internal:8443/api/%2E%2E/admin",
                "https://legacy.internal:8443/admin", "https://legacy.internal:8444/api/x",
                "https://u:p@legacy.internal:8443/api/x", "https://legacy.internal:8443/api/a%2Fb"]:
        with pytest.raises(OriginNotAllowed):
            verify(url, [LEGACY])
    with pytest.raises(OriginNotAllowed):  # inside the allow-list, outside the secret's origin
        verify("https://legacy.internal:8443/api/x", [LEGACY, Origin("https", "legacy.internal", 8443, "/other")])


@pytest.mark.parametrize(("host", "address", "allowed"), [
    ("127.0.0.1", "127.0.0.1", True),            # the operator wrote the address
    ("10.0.0.5", "10.0.0.5", True),
    ("10.0.0.5", "10.0.0.6", False),
    ("localhost", "127.0.0.1", True),
    ("crm.localhost", "::1", True),
    ("localhost", "10.0.0.5", False),
    ("api.example.com", "93.184.216.34", True),
    ("api.example.com", "127.0.0.1", False),     # rebinding a public name to this machine
    ("api.example.com", "10.1.2.3", False),
    ("api.example.com", "192.168.1.1", False),
    ("api.example.com", "100.64.0.1", False),
    ("api.example.com", "::ffff:127.0.0.1", False),
    ("api.example.com", "fd00::1", False),
    ("api.example.com", "0.0.0.0", False),
    ("legacy.internal", "10.1.2.3", True),       # a name only internal DNS can serve
    ("legacy", "192.168.1.10", True),
    ("legacy.internal", "127.0.0.1", False),
    ("legacy.internal", "169.254.169.254", False),
    ("metadata.google.internal", "169.254.169.254", False),
    ("169.254.169.254", "169.254.169.254", False),  # the metadata service, even when written
    ("legacy.corp", "fd00:ec2::254", False),
    ("legacy.internal", "not an address", False),
])
def test_an_address_is_checked_against_the_name_it_came_from(host: str, address: str, allowed: bool) -> None:
    assert address_allowed(host, address) is allowed


def test_one_bad_address_refuses_the_whole_answer() -> None:
    assert check_addresses("legacy.internal", ["10.0.0.1", "10.0.0.1", "10.0.0.2"]) == ["10.0.0.1", "10.0.0.2"]
    with pytest.raises(AddressNotAllowed, match="127.0.0.1"):
        check_addresses("legacy.internal", ["10.0.0.1", "127.0.0.1"])
    with pytest.raises(AddressNotAllowed):
        check_addresses("legacy.internal", [])


def test_secrets_are_redacted_as_written_escaped_or_encoded() -> None:
    secret = 'tok"en/\u00e9'
    text = f"{secret} | {json.dumps(secret)} | {quote(secret, safe='')} | {secret}"
    assert redact(text, [secret, ""]) == '[redacted] | "[redacted]" | [redacted] | [redacted]'
    answer = HttpToolAnswer(200, {}, json.dumps({"echo": secret, secret: 1}, ensure_ascii=False), (secret,))
    assert answer.json() == {"echo": "[redacted]", "[redacted]": 1}


def test_a_bare_host_is_read_as_https_on_443_and_the_log_says_so(caplog: pytest.LogCaptureFixture) -> None:
    connection = redis.Redis()  # never reached: nothing is called
    downstream = Downstream("HTTP tools", SharedBreaker("HTTP-tools", connection, 1, 1), RetryPolicy(),
                            SharedThrottle(connection, "HTTP-tools", 0), 1.0)
    allow_list = load_settings({}, acme_http_tool_hosts="legacy.internal").http_tool_allow_list
    with caplog.at_level(logging.WARNING):
        HttpToolClient(downstream=downstream, allowed_hosts=allow_list, secrets={}).close()
    assert "read as https://legacy.internal:443, https on port 443 only" in caplog.text
