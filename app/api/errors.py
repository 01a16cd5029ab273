"""Every API error as `{"error": {"code", "message", "details"}}`, with the right status."""

from __future__ import annotations

import logging
import sys
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: Any = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


def error_response(status: int, message: str, details: Any = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code or CODES.get(status, "error"), "message": message,
                                   "details": details}}, status_code=status, headers=headers)


# What FastAPI answers when reading the body as JSON raised something other than a syntax error (the error it
# raised is the answer's cause).
FASTAPI_UNPARSED_BODY = "There was an error parsing the body"


def _unreadable(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8 (JSON is sent as UTF-8, whatever the charset given)"
    if isinstance(cause, RecursionError):
        return "it nests too deeply"
    if isinstance(cause, ValueError):
        said = " ".join(str(cause).split())
        if "integer string conversion" in said:  # Python's words name its own setting: ours are the caller's
            return f"a number has more than {sys.get_int_max_str_digits()} digits"
        return said[:200]
    return type(cause).__name__


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.details, exc.code, headers=exc.headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        unreadable = [e for e in errors if e.get("type") == "json_invalid"]
        if unreadable:
            # Not JSON at all: a bad request, where 422 means JSON that breaks the schema.
            reason = str((unreadable[0].get("ctx") or {}).get("error") or unreadable[0].get("msg", ""))
            return error_response(400, f"the body is not valid JSON: {reason}", code="invalid_json")
        details = [{"path": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")} for e in errors]
        return error_response(422, "the request does not match the schema", details)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.__cause__ is not None and exc.detail == FASTAPI_UNPARSED_BODY:
            return error_response(400, f"the body is not valid JSON: {_unreadable(exc.__cause__)}",
                                  code="invalid_json")
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is gone, locked past its wait, or unreachable: nothing was written, and saying
        # 201 would promise what a restart loses. The caller may try again.
        logging.getLogger(__name__).warning("%s %s: the database is unavailable: %s", request.method,
                                            request.url.path, getattr(exc, "orig", None) or exc)
        return error_response(503, "the database is unavailable; try again later", headers={"Retry-After": "5"})

    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Redis went away between the gateway and the route (cancelling asks it where the run's job is).
        logging.getLogger(__name__).warning("%s %s: Redis is unavailable: %s", request.method, request.url.path, exc)
        return error_response(503, "Redis (the job queue) is unavailable; try again later",
                              headers={"Retry-After": "5"})

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log (Starlette raises the error again once this is sent); the caller
        # gets the error's envelope and the request id to quote, never the traceback.
        request_id = str(getattr(request.state, "request_id", ""))
        logging.getLogger(__name__).error("%s %s failed with %s (request_id=%s)", request.method, request.url.path,
                                          type(exc).__name__, request_id)
        return error_response(500, "internal error: quote the request id to whoever runs this service",
                              {"request_id": request_id}, code="internal",
                              headers={"X-Request-ID": request_id} if request_id else None)

    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(redis.RedisError, redis_unavailable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
