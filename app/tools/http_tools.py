"""HTTP tools for legacy systems, registered at run time, callable only inside origins the operator allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema

from app.integrations.http_tool_errors import HttpToolRefused, UnsafeArgument
from app.integrations.http_tool_urls import fill, mask_credentials
from app.tools.context import ToolContext
from app.tools.registry import ToolArgumentsInvalid, ToolError

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
        # A row registered before templates with credentials were refused still never shows them.
        return {"name": self.name, "description": self.description, "parameters": self.parameters,
                "kind": "http", "method": self.method, "url_template": mask_credentials(self.url_template)}

    def _check_schema(self, args: dict[str, Any]) -> None:
        errors = [{"path": list(e.absolute_path), "message": e.message}
                  for e in jsonschema.Draft202012Validator(self.parameters).iter_errors(args)]
        if errors:
            raise ToolArgumentsInvalid(self.name, errors)

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """The schema, then the URL: an argument that would add path segments is refused before a run starts."""
        self._check_schema(args)
        try:
            fill(self.url_template, args, rest_in_query=self.method in ("GET", "DELETE"))
        except UnsafeArgument as exc:
            raise ToolArgumentsInvalid(self.name, [{"path": [exc.argument], "message": str(exc)}]) from None
        return args

    def run(self, context: ToolContext, args: dict[str, Any]) -> Any:
        self._check_schema(args)
        try:
            answer = context.http.call(self.method, self.url_template, args, secret_headers=self.secret_headers)
        except HttpToolRefused as exc:
            raise ToolError(f"{self.name}: {exc}") from None
        if answer.status_code >= 400:
            raise ToolError(f"{self.name}: HTTP {answer.status_code}")
        try:
            return answer.json()
        except ValueError:
            return {"status": answer.status_code, "text": answer.text[:2000]}
