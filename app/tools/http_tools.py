"""HTTP tools for legacy systems, registered at run time, callable only on hosts the operator allows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jsonschema

from app.integrations.http_tool_client import HttpToolRefused
from app.tools.context import ToolContext
from app.tools.registry import ToolArgumentsInvalid, ToolError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


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
        args = self.validate(args)
        used = set(_PLACEHOLDER.findall(self.url_template))
        url = _PLACEHOLDER.sub(lambda m: quote(str(args.get(m.group(1), "")), safe=""), self.url_template)
        rest = {k: v for k, v in args.items() if k not in used}
        in_query = self.method in ("GET", "DELETE")
        try:
            response = context.http.request(
                self.method, url, secret_headers=self.secret_headers,
                params=rest if in_query else None, json=None if in_query else rest)
        except HttpToolRefused as exc:
            raise ToolError(str(exc)) from None
        if response.status_code >= 400:
            raise ToolError(f"{self.name}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            return {"status": response.status_code, "text": response.text[:2000]}
