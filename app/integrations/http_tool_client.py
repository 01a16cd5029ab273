"""Outbound calls of registered HTTP tools: only inside allowed origins, with each TOOL_* secret only
sent to its own origin, to a checked address, and never given back in what the call returns.

The allow-list (ACME_HTTP_TOOL_HOSTS) names origins; each secret is bound to one origin
(ACME_HTTP_TOOL_SECRET_ORIGINS). A call is checked when the tool is registered and again on every call
(settings change; rows outlive them): the template (http_tool_urls), the secrets' origins, the filled
URL, then the addresses the host resolves to (http_tool_addresses), which the connection is pinned to.
Redirects are not followed: a 3xx is refused, so no hop can leave the origin. Whatever comes back has
every TOOL_* value replaced by `[redacted]` before anyone sees it: an endpoint that echoes headers
would otherwise hand a secret to whoever can read the run.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from app.http_tool_origins import TOOL_SETTING, HttpToolAllowList, Origin
from app.integrations.http_calls import call_http
from app.integrations.http_tool_addresses import NameNotResolvedNow, check_addresses, resolve
from app.integrations.http_tool_errors import (
    HostNotAllowed,
    HttpToolRefused,
    RedirectNotFollowed,
    SecretNotAllowed,
    SecretNotSet,
)
from app.integrations.http_tool_urls import REDACTED, check_template, fill, inside, verify
from app.integrations.resilience import Downstream

__all__ = ["HostNotAllowed", "HttpToolAnswer", "HttpToolClient", "HttpToolRefused", "SecretNotAllowed",
           "SecretNotSet", "check_tool", "redact"]

log = logging.getLogger(__name__)
# Headers the client sets itself: a tool's secret may not replace them.
_OWN_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection"})


def check_tool(allow_list: HttpToolAllowList, url_template: str, secret_headers: Mapping[str, str]) -> Origin:
    """The origin a tool may call; raises HttpToolRefused when the template or a secret may not go there."""
    origin = check_template(url_template, allow_list.origins)
    for header, setting in secret_headers.items():
        if not TOOL_SETTING.fullmatch(setting):
            raise SecretNotAllowed(f"{setting!r} is not a TOOL_* setting")
        if header.lower() in _OWN_HEADERS:
            raise SecretNotAllowed(f"the header {header} is the client's own")
        bound = allow_list.secret_origins.get(setting)
        if bound is None:
            raise SecretNotAllowed(f"{setting} is bound to no origin: name its origin in "
                                   f"ACME_HTTP_TOOL_SECRET_ORIGINS ({setting}=scheme://host:port)")
        if not inside(bound, url_template):
            raise SecretNotAllowed(f"{setting} may only be sent to {bound}, not to {origin}")
    return origin


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret, as written, JSON-escaped or percent-encoded, replaced by [redacted]."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        for form in {secret, jsonlib.dumps(secret)[1:-1], quote(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return text


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), secrets): _redact_value(v, secrets) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class HttpToolAnswer:
    """What came back, with every TOOL_* value already redacted."""

    status_code: int
    headers: dict[str, str]
    text: str
    _secrets: tuple[str, ...] = ()

    def json(self) -> Any:
        """The body parsed; raises ValueError when it is not JSON. Redacted again once parsed (\\u escapes)."""
        return _redact_value(jsonlib.loads(self.text), list(self._secrets))


def _host_header(origin: Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    default = 443 if origin.scheme == "https" else 80
    return host if origin.port == default else f"{host}:{origin.port}"


class HttpToolClient:
    def __init__(self, *, downstream: Downstream, allowed_hosts: HttpToolAllowList, secrets: Mapping[str, str],
                 transport: httpx.BaseTransport | None = None,
                 resolver: Callable[[str, int], list[str]] = resolve) -> None:
        self.allow_list = allowed_hosts
        self._downstream = downstream
        self._secrets = dict(secrets)
        self._resolve = resolver
        for origin in allowed_hosts.origins:
            if origin.bare_host:
                log.warning("ACME_HTTP_TOOL_HOSTS names %s as a bare host: read as %s, https on port 443 only; "
                            "write scheme://host:port to allow another", origin.host, origin)
        self._transport = transport
        # Certificates as httpx finds them (SSL_CERT_FILE, SSL_CERT_DIR), proxies not: see _client.
        self._tls = httpx.create_ssl_context(trust_env=True)
        self._clients: dict[Origin, httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, origin: Origin) -> httpx.Client:
        """One client per origin: its pool is keyed by address, so two names on one address would otherwise
        share a TLS connection verified for only one of them. No redirects (each hop would need the checks
        again) and no proxies from the environment (the connection would go elsewhere than the checked address).
        """
        with self._lock:
            if origin not in self._clients:
                self._clients[origin] = httpx.Client(timeout=self._downstream.timeout_s, follow_redirects=False,
                                                     trust_env=False, verify=self._tls, transport=self._transport)
            return self._clients[origin]

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def secret_headers(self, setting_by_header: Mapping[str, str]) -> dict[str, str]:
        """Each header's value, from the TOOL_* setting it names."""
        headers = {}
        for header, setting in setting_by_header.items():
            if not TOOL_SETTING.fullmatch(setting):
                raise SecretNotAllowed(f"{setting!r} is not a TOOL_* setting")
            if setting not in self._secrets:
                raise SecretNotSet(f"the setting {setting} is not set")
            headers[header] = self._secrets[setting]
        return headers

    def call(self, method: str, url_template: str, args: Mapping[str, Any], *,
             secret_headers: Mapping[str, str]) -> HttpToolAnswer:
        """One call through the HTTP tools' downstream; any answer but 3xx, 429 and 5xx comes back, redacted.

        Arguments that no placeholder takes go in the query for GET and DELETE, else in a JSON body.
        """
        origin = check_tool(self.allow_list, url_template, secret_headers)
        in_query = method in ("GET", "DELETE")
        url, body = fill(url_template, args, rest_in_query=in_query)
        verify(url, [origin, *(self.allow_list.secret_origins[s] for s in secret_headers.values())])
        headers = self.secret_headers(secret_headers)
        secrets = [value for value in self._secrets.values() if value]

        def attempt() -> httpx.Response:
            try:
                addresses = check_addresses(origin.host, self._resolve(origin.host, origin.port))
            except NameNotResolvedNow as exc:
                raise httpx.ConnectError(str(exc)) from None
            return self._send(method, url, origin, addresses, headers, None if in_query else body)

        try:
            response = call_http(self._downstream, attempt)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise HttpToolRefused(f"the call failed: {redact(str(exc), secrets)}") from None
        answer = HttpToolAnswer(response.status_code,
                                {k: redact(v, secrets) for k, v in response.headers.items()},
                                redact(response.text, secrets), tuple(secrets))
        if 300 <= answer.status_code < 400:
            where = answer.headers.get("location", "elsewhere")
            raise RedirectNotFollowed(f"HTTP {answer.status_code} redirects to {where}; redirects are not followed")
        return answer

    def _send(self, method: str, url: str, origin: Origin, addresses: list[str], headers: dict[str, str],
              body: dict[str, Any] | None) -> httpx.Response:
        """The request, connected to a checked address: the name travels in Host and in TLS SNI."""
        parts = urlsplit(url)
        extensions = {"sni_hostname": origin.host} if origin.scheme == "https" else {}
        for attempt, address in enumerate(addresses, start=1):
            netloc = f"[{address}]:{origin.port}" if ":" in address else f"{address}:{origin.port}"
            try:
                return self._client(origin).request(
                    method, parts._replace(netloc=netloc).geturl(), headers={**headers, "Host": _host_header(origin)},
                    json=body, extensions=extensions)
            except httpx.ConnectError:
                if attempt == len(addresses):
                    raise
        raise AssertionError("check_addresses gives at least one address")
