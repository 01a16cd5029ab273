"""Watching each HTTP request: request ids, metrics by route, and the access log."""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.gateway import header, is_api_path

access_log = logging.getLogger("app.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Logged like API calls (method, path, status, time; never a body): an operator looks for them first.
LOGGED_WEBHOOKS = frozenset({"/slack/events", "/webhooks/crm"})


def _route_template(scope: Scope) -> str:
    """The route's path template (`/v1/runs/{run_id}`), so that ids do not each make a new series.

    The API's routers are mounted twice, at /v1 and unversioned, and scope["route"] holds the
    router's own path; the /v1 is put back from the request's path.
    """
    template = getattr(scope.get("route"), "path", None)
    if not template:
        # Plain Starlette routes (Slack's, health) leave no route in the scope; they come first, so
        # matching them is quick.
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", []):
            if isinstance(candidate, Route) and candidate.matches(scope)[0] == Match.FULL:
                return candidate.path
        return "unmatched"
    if scope["path"].startswith("/v1/") and not template.startswith("/v1/"):
        return "/v1" + str(template)
    return str(template)


class ObservedRequests:
    """Every HTTP request, watched once: an X-Request-ID on its response (the caller's, if sane),
    its count and latency by route in the metrics, and an access-log line for API calls and webhooks.

    Pure ASGI middleware: BaseHTTPMiddleware would add a task per request on the ack path.
    """

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("acme_http_requests_total", "HTTP requests answered", ["path", "status"],
                                registry=registry)
        self.latency = Histogram("acme_http_request_seconds", "Time to answer", ["path"], registry=registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            took = time.perf_counter() - started
            path = _route_template(scope)
            self.requests.labels(path, str(status)).inc()
            self.latency.labels(path).observe(took)
            if is_api_path(scope["path"]) or scope["path"] in LOGGED_WEBHOOKS:
                access_log.info("%s %s %d %.1fms request_id=%s", scope["method"], scope["path"], status,
                                took * 1000, request_id)
