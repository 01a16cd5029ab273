"""Named, typed actions: each tool's JSON Schema is generated from its signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model


class ToolError(Exception):
    """A tool could not do what was asked; the message is for the caller."""


class ToolArgumentsInvalid(ToolError):
    def __init__(self, tool: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"arguments for {tool} do not match its schema")
        self.errors = errors


@dataclass
class ToolContext:
    """What a running tool may use: the process's services and the run's context values."""

    services: Any
    run_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


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
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def tool(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._tools:
                raise ValueError(f"tool {name!r} is registered twice")
            self._tools[name] = tool_from_function(name, function)
            return function

        return register

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)
