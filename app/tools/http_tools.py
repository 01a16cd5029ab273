"""HTTP tools for legacy systems, registered at run time, callable only on hosts the operator allows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jsonschema

from app.integrations.resilience import Downstream, RetryableFailure
from app.tools.registry import ToolArgumentsInvalid, ToolContext, ToolError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class HostNotAllowed(ToolError):
    pass


def check_host(url_template: str, allowed_hosts: frozenset[str]) -> str:
    """The template's host, if ACME_HTTP_TOOL_HOSTS lists it; placeholders may not touch the host."""
    parts = urlsplit(url_template)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostNotAllowed("url_template must be an absolute http(s) URL")
    if "{" in parts.netloc:
        raise HostNotAllowed("placeholders may appear in the path and query only, never in the host")
    if parts.hostname.lower() not in allowed_hosts:
        raise HostNotAllowed(f"host {parts.hostname} is not in ACME_HTTP_TOOL_HOSTS")
    return parts.hostname.lower()


@dataclass
class HttpTool:
    name: str
    description: str
    method: str
    url_template: str
    secret_headers: dict[str, str]
    parameters: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters,
                "kind": "http", "method": self.method, "url_template": self.url_template}

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        errors = [{"path": list(e.absolute_path), "message": e.message}
                  for e in jsonschema.Draft202012Validator(self.parameters).iter_errors(args)]
        if errors:
            raise ToolArgumentsInvalid(self.name, errors)
        return args

    def run(self, context: ToolContext, args: dict[str, Any]) -> Any:
        services = context.services
        args = self.validate(args)
        check_host(self.url_template, services.settings.http_tool_host_set)
        used = set(_PLACEHOLDER.findall(self.url_template))
        url = _PLACEHOLDER.sub(lambda m: quote(str(args.get(m.group(1), "")), safe=""), self.url_template)
        body = {k: v for k, v in args.items() if k not in used}
        headers = {header: services.settings.secret_named(setting) for header, setting in self.secret_headers.items()}
        downstream: Downstream = services.http_tool_downstream

        def attempt() -> httpx.Response:
            try:
                response = services.http_tool_client.request(
                    self.method, url, headers=headers,
                    params=body if self.method in ("GET", "DELETE") else None,
                    json=body if self.method not in ("GET", "DELETE") else None)
            except httpx.TimeoutException:
                raise RetryableFailure("timed out") from None
            except httpx.TransportError as exc:
                raise RetryableFailure(f"connection failed: {type(exc).__name__}") from None
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableFailure(f"HTTP {response.status_code}")
            return response

        response = downstream.call(attempt)
        if response.status_code >= 400:
            raise ToolError(f"{self.name}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            return {"status": response.status_code, "text": response.text[:2000]}
