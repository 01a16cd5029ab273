"""Tools: the product's own and registered HTTP tools; listing, invoking, registering."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from app.api import crud
from app.api.backend import ApiBackend, Backend, RequestKey
from app.api.errors import ApiError
from app.api.pagination import page
from app.api.schemas import HttpToolIn, RunStarted
from app.integrations.http_tool_client import check_tool
from app.integrations.http_tool_errors import BadTemplate, CredentialsInTemplate, HttpToolRefused, OriginNotAllowed
from app.store.json_values import what_cannot_be_stored
from app.store.models import HttpToolRegistration
from app.tools.registry import RunnableTool, ToolArgumentsInvalid

router = APIRouter()
# Most specific first: what a refused registration answers.
_REFUSALS: tuple[tuple[type[HttpToolRefused], int, str], ...] = (
    (OriginNotAllowed, 403, "host_not_allowed"),
    (CredentialsInTemplate, 422, "credentials_in_template"),
    (BadTemplate, 422, "bad_url_template"),
    (HttpToolRefused, 403, "secret_not_allowed"),
)


def require_known_tools(backend: ApiBackend, names: list[str]) -> None:
    unknown = [n for n in names if backend.tools.get(n) is None]
    if unknown:
        raise ApiError(422, f"there is no tool {unknown[0]!r}", {"unknown": unknown}, code="unknown_tool")


def _tool(backend: ApiBackend, name: str) -> RunnableTool:
    tool = backend.tools.get(name)
    if tool is None:
        raise ApiError(404, f"there is no tool {name!r}")
    return tool


@router.get("/tools", tags=["tools"])
def list_tools(backend: Backend) -> dict[str, Any]:
    return page([t.describe() for t in backend.tools.all()], None)


@router.get("/tools/{name}", tags=["tools"])
def get_tool(name: str, backend: Backend) -> dict[str, Any]:
    return _tool(backend, name).describe()


@router.post("/tools/{name}/invoke", status_code=202, response_model=RunStarted, tags=["tools"])
def invoke_tool(name: str, backend: Backend, key: RequestKey,
                args: Annotated[dict[str, Any] | None, Body()] = None) -> RunStarted:
    tool = _tool(backend, name)
    problem = what_cannot_be_stored(args)
    if problem:
        raise ApiError(422, problem)
    try:
        valid = tool.validate(args or {})
    except ToolArgumentsInvalid as exc:
        raise ApiError(422, str(exc), exc.errors) from None
    # The arguments are data here, not templates: a literal step runs them as given.
    return backend.start_run([{"id": "invoke", "tool": name, "args": valid, "literal": True}], {}, request_key=key)


@router.post("/tools", status_code=201, tags=["tools"])
def register_http_tool(body: HttpToolIn, backend: Backend) -> dict[str, Any]:
    if backend.tools.is_product_tool(body.name):
        raise ApiError(409, f"{body.name!r} is a built-in tool")
    try:
        check_tool(backend.http_tool_hosts, body.url_template, body.secret_headers)
    except HttpToolRefused as exc:
        status, code = next((s, c) for kind, s, c in _REFUSALS if isinstance(exc, kind))
        raise ApiError(status, str(exc), code=code) from None
    if body.parameters.get("type") != "object":
        raise ApiError(422, "parameters must be a JSON Schema of type object")
    with backend.db.session() as session:
        if session.get(HttpToolRegistration, body.name) is not None:
            raise ApiError(409, f"a tool named {body.name!r} exists")
        session.add(HttpToolRegistration(**body.model_dump()))
    return _tool(backend, body.name).describe()


@router.delete("/tools/{name}", status_code=204, tags=["tools"])
def delete_http_tool(name: str, backend: Backend) -> Response:
    return crud.delete(backend.db, HttpToolRegistration, name, "registered HTTP tool")
