"""The CRM's HTTP API, called only through the CRM downstream (retry, breaker, throttle)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from app.domain.customers import Customer, Ticket
from app.integrations.errors import DownstreamFailed, DownstreamRejected
from app.integrations.pooled_http import PooledHttp
from app.integrations.resilience import Downstream


class CrmClient:
    def __init__(
        self,
        *,
        base_url: str,
        downstream: Downstream,
        token: str | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "acme-assistant"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._downstream = downstream
        # One pool of kept-alive connections for the process: a new connection per call costs more than the call.
        self._http = PooledHttp(base_url, headers, downstream.timeout_s)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """GET a JSON document; None when the CRM says 404."""
        response = self._downstream.call(lambda: self._http.get(path, params))
        if response.status == 404:
            return None
        if response.status >= 400:
            raise DownstreamRejected(self._downstream.name, f"HTTP {response.status}", response.status)
        try:
            return json.loads(response.body)
        except ValueError:
            raise DownstreamFailed(self._downstream.name, "the answer was not JSON") from None

    def search_customers(self, query: str, limit: int = 6) -> list[Customer]:
        found = self._get("/customers", {"q": query, "limit": limit}) or {}
        return [Customer.from_crm(record) for record in _list(found, "customers", self._downstream.name)]

    def get_customer(self, customer_id: str) -> Customer | None:
        record = self._get(f"/customers/{quote(customer_id, safe='')}")
        return Customer.from_crm(record) if record else None

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        record = self._get(f"/tickets/{quote(ticket_id, safe='')}")
        return Ticket.from_crm(record) if record else None

    def ticket_history(self, ticket_id: str) -> list[dict[str, Any]]:
        found = self._get(f"/tickets/{quote(ticket_id, safe='')}/history") or {}
        history = found.get("history") if isinstance(found, dict) else None
        if not isinstance(history, list):
            raise DownstreamFailed(self._downstream.name, "the answer had no valid 'history' list")
        return [event for event in history if isinstance(event, dict)]

    def ticket_pages(self, customer_id: str, page_size: int = 50) -> Iterator[list[Ticket]]:
        """A customer's tickets a page at a time, following the CRM's cursor."""
        cursor: str | None = ""
        while cursor is not None:
            found = self._get(f"/customers/{quote(customer_id, safe='')}/tickets",
                              {"limit": page_size, "cursor": cursor}) or {}
            yield [Ticket.from_crm(record) for record in _list(found, "tickets", self._downstream.name)]
            next_cursor = found.get("next_cursor")
            cursor = str(next_cursor) if next_cursor else None

    def list_tickets(self, customer_id: str) -> list[Ticket]:
        found = self._get(f"/customers/{quote(customer_id, safe='')}/tickets") or {}
        return [Ticket.from_crm(record) for record in _list(found, "tickets", self._downstream.name)]


def _list(document: Any, key: str, downstream: str) -> list[dict[str, Any]]:
    items = document.get(key) if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) and "id" in item for item in items):
        raise DownstreamFailed(downstream, f"the answer had no valid {key!r} list")
    return items
