"""The mock CRM: a real HTTP API over seeded data, with faults an operator can switch on."""

from __future__ import annotations

import asyncio
import hmac
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_crm.data import seed_customers, seed_tickets, ticket_events
from mock_crm.webhooks import WebhookSender

FAULT_MODES = ("ok", "down", "slow", "flaky")
PLANS = ("free", "starter", "pro", "enterprise")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
MAX_LIMIT = 100


@dataclass
class Faults:
    mode: str = "ok"
    delay_s: float = 0.0
    error_rate: float = 0.0


@dataclass
class CrmState:
    customers: list[dict[str, Any]] = field(default_factory=seed_customers)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    # Requests that reached the API (admin calls aside): tests use it to prove a call was never made.
    api_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.tickets:
            self.tickets = seed_tickets(self.customers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _FaultsAndAuth:
    def __init__(self, app: ASGIApp, state: CrmState, token: str | None, seed: int = 7) -> None:
        self.app = app
        self.state = state
        self.token = token
        self.rng = random.Random(seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token:
            given = dict(scope["headers"]).get(b"authorization", b"").decode()
            if not hmac.compare_digest(given, f"Bearer {self.token}"):
                await _error(401, "missing or wrong bearer token")(scope, receive, send)
                return
        if not scope["path"].startswith("/admin"):
            faults = self.state.faults
            with self.state.lock:
                self.state.api_requests += 1
            if faults.mode == "down":
                await _error(503, "the CRM is down (fault injection)")(scope, receive, send)
                return
            if faults.mode == "slow" and faults.delay_s > 0:
                await asyncio.sleep(faults.delay_s)
            if faults.mode == "flaky" and self.rng.random() < faults.error_rate:
                await _error(500, "flaky failure (fault injection)")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_crm_app(state: CrmState | None = None, token: str | None = None,
                   webhooks: WebhookSender | None = None) -> ASGIApp:
    crm = state or CrmState()

    def find_customer(customer_id: str) -> dict[str, Any] | None:
        return next((c for c in crm.customers if c["id"] == customer_id), None)

    async def search_customers(request: Request) -> Response:
        query = request.query_params.get("q", "").strip().casefold()
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query_params.get("limit", "20"))))
        except ValueError:
            return _error(400, "limit must be a whole number")
        found = [c for c in crm.customers
                 if not query or any(query in str(c[k]).casefold() for k in ("id", "name", "email"))]
        return JSONResponse({"customers": found[:limit]})

    async def get_customer(request: Request) -> Response:
        customer = find_customer(request.path_params["customer_id"])
        return JSONResponse(customer) if customer else _error(404, "no such customer")

    async def customer_tickets(request: Request) -> Response:
        """All tickets at once, or a page of them with `limit` and `cursor` (answers `next_cursor`)."""
        customer_id = request.path_params["customer_id"]
        if find_customer(customer_id) is None:
            return _error(404, "no such customer")
        tickets = [t for t in crm.tickets if t["customer_id"] == customer_id]
        if "limit" not in request.query_params:
            return JSONResponse({"tickets": tickets, "next_cursor": None})
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query_params["limit"])))
            start = int(request.query_params.get("cursor") or 0)
        except ValueError:
            return _error(400, "limit and cursor must be whole numbers")
        page = tickets[start:start + limit]
        more = start + limit < len(tickets)
        return JSONResponse({"tickets": page, "next_cursor": str(start + limit) if more else None})

    async def get_ticket(request: Request) -> Response:
        ticket = next((t for t in crm.tickets if t["id"] == request.path_params["ticket_id"]), None)
        return JSONResponse(ticket) if ticket else _error(404, "no such ticket")

    async def ticket_history(request: Request) -> Response:
        ticket = next((t for t in crm.tickets if t["id"] == request.path_params["ticket_id"]), None)
        if ticket is None:
            return _error(404, "no such ticket")
        return JSONResponse({"history": ticket_events(ticket)})

    async def json_body(request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def create_customer(request: Request) -> Response:
        body = await json_body(request)
        if body is None or not str(body.get("name", "")).strip():
            return _error(400, "a JSON object with a non-empty name is required")
        if body.get("plan", "free") not in PLANS:
            return _error(400, f"plan must be one of {', '.join(PLANS)}")
        with crm.lock:
            customer = {
                "id": f"cus_{len(crm.customers) + 1:03d}",
                "name": str(body["name"]).strip(),
                "email": str(body.get("email") or ""),
                "company": str(body.get("company") or body["name"]),
                "plan": body.get("plan", "free"),
                "status": str(body.get("status") or "active"),
                "owner": str(body.get("owner") or "unassigned"),
                "created_at": datetime.now(UTC).isoformat(),
            }
            crm.customers.append(customer)
        if webhooks:
            webhooks.send("customer.created", customer)
        return JSONResponse(customer, status_code=201)

    async def create_ticket(request: Request) -> Response:
        body = await json_body(request)
        if body is None or not body.get("customer_id") or not str(body.get("subject", "")).strip():
            return _error(400, "customer_id and subject are required")
        if find_customer(str(body["customer_id"])) is None:
            return _error(404, "no such customer")
        if body.get("priority", "normal") not in TICKET_PRIORITIES:
            return _error(400, f"priority must be one of {', '.join(TICKET_PRIORITIES)}")
        with crm.lock:
            ticket = {
                "id": f"tkt_{len(crm.tickets) + 1:04d}",
                "customer_id": str(body["customer_id"]),
                "subject": str(body["subject"]).strip(),
                "priority": body.get("priority", "normal"),
                "status": "open",
                "created_at": datetime.now(UTC).isoformat(),
            }
            crm.tickets.append(ticket)
        if webhooks:
            webhooks.send("ticket.created", ticket)
        return JSONResponse(ticket, status_code=201)

    async def set_faults(request: Request) -> Response:
        body = await json_body(request)
        if body is None or body.get("mode") not in FAULT_MODES:
            return _error(400, f"mode must be one of {', '.join(FAULT_MODES)}")
        try:
            crm.faults = Faults(body["mode"], float(body.get("delay_s", 0.0)), float(body.get("error_rate", 0.0)))
        except (TypeError, ValueError):
            return _error(400, "delay_s and error_rate must be numbers")
        return JSONResponse(vars(crm.faults))

    async def stats(request: Request) -> Response:
        return JSONResponse({"api_requests": crm.api_requests, "faults": vars(crm.faults)})

    app = Starlette(routes=[
        Route("/customers", search_customers, methods=["GET"]),
        Route("/customers", create_customer, methods=["POST"]),
        Route("/customers/{customer_id}", get_customer, methods=["GET"]),
        Route("/customers/{customer_id}/tickets", customer_tickets, methods=["GET"]),
        Route("/tickets", create_ticket, methods=["POST"]),
        Route("/tickets/{ticket_id}", get_ticket, methods=["GET"]),
        Route("/tickets/{ticket_id}/history", ticket_history, methods=["GET"]),
        Route("/admin/faults", set_faults, methods=["POST"]),
        Route("/admin/stats", stats, methods=["GET"]),
    ])
    return _FaultsAndAuth(app, crm, token)
