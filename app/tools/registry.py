"""Named, typed actions: each tool's JSON Schema is generated from its signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from app.tools.context import ToolContext


class ToolError(Exception):
    """A tool could not do what was asked; the message is for the caller."""


class ToolArgumentsInvalid(ToolError):
    def __init__(self, tool: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"arguments for {tool} do not match its schema")
        self.errors = errors


class RunnableTool(Protocol):
    """What the runs and the API need of any tool, built in or registered over HTTP."""

    @property
    def name(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """The arguments as the tool will use them; raises ToolArgumentsInvalid."""
        ...

    def run(self, context: ToolContext, args: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    arguments: type[BaseModel]
    function: Callable[..., Any]

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.arguments.model_validate(args).model_dump()
        except ValidationError as exc:
            errors = [{"path": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
            raise ToolArgumentsInvalid(self.name, errors) from None

    def run(self, context: ToolContext, args: dict[str, Any]) -> Any:
        return self.function(context, **self.validate(args))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def tool_from_function(name: str, function: Callable[..., Any]) -> Tool:
    """A tool from `function(context, **params)`: typed parameters become the schema, the docstring its text."""
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    model = create_model(f"{name.replace('.', '_')}_arguments", __base__=_Strict, **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    description = inspect.getdoc(function) or name
    return Tool(name, description.split("\n\n")[0].replace("\n", " "), schema, model, function)


class ToolRegistry:
    """A fixed set of tools, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} is registered twice")
            self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)
