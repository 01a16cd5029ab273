"""Outbound calls of registered HTTP tools: only to allowed hosts, with secrets only from TOOL_* settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.config import TOOL_SETTING
from app.integrations.http_calls import call_http
from app.integrations.resilience import Downstream


class HttpToolRefused(Exception):
    """A call this client will not make; the message says why, for whoever asked for it."""


class HostNotAllowed(HttpToolRefused):
    pass


class SecretNotAllowed(HttpToolRefused):
    pass


class SecretNotSet(HttpToolRefused):
    pass


def check_host(url: str, allowed_hosts: frozenset[str]) -> str:
    """The URL's host, if ACME_HTTP_TOOL_HOSTS lists it; placeholders may not touch the host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostNotAllowed("url_template must be an absolute http(s) URL")
    if "{" in parts.netloc:
        raise HostNotAllowed("placeholders may appear in the path and query only, never in the host")
    if parts.hostname.lower() not in allowed_hosts:
        raise HostNotAllowed(f"host {parts.hostname} is not in ACME_HTTP_TOOL_HOSTS")
    return parts.hostname.lower()


class HttpToolClient:
    def __init__(self, *, downstream: Downstream, allowed_hosts: frozenset[str], secrets: Mapping[str, str],
                 transport: httpx.BaseTransport | None = None) -> None:
        self.allowed_hosts = allowed_hosts
        self._downstream = downstream
        self._secrets = dict(secrets)
        # Redirects are not followed: a registered tool may only reach the host it was allowed.
        self._http = httpx.Client(timeout=downstream.timeout_s, follow_redirects=False, transport=transport)

    def close(self) -> None:
        self._http.close()

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

    def request(self, method: str, url: str, *, secret_headers: Mapping[str, str],
                params: dict[str, Any] | None = None, json: Any = None) -> httpx.Response:
        """One call through the HTTP tools' downstream; any answer but 429 and 5xx comes back as it is."""
        check_host(url, self.allowed_hosts)
        headers = self.secret_headers(secret_headers)
        return call_http(self._downstream,
                         lambda: self._http.request(method, url, headers=headers, params=params, json=json))
