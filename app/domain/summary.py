"""What a summary of one customer says: pure, so it is tested without any server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.customers import PRIORITY_ORDER, Customer, Ticket

AT_RISK_STATUSES = frozenset({"past_due", "churn_risk", "suspended"})


@dataclass(frozen=True)
class CustomerSummary:
    customer: Customer
    open_tickets: tuple[Ticket, ...]
    attention: str

    @property
    def tickets_by_priority(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ticket in self.open_tickets:
            counts[ticket.priority] = counts.get(ticket.priority, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: PRIORITY_ORDER.get(item[0], 99)))


def summarize(customer: Customer, tickets: Sequence[Ticket]) -> CustomerSummary:
    """Order the open tickets by urgency and say in one line what needs attention."""
    open_tickets = sorted(
        (t for t in tickets if t.is_open),
        key=lambda t: (PRIORITY_ORDER.get(t.priority, 99), t.created_at),
    )
    return CustomerSummary(customer, tuple(open_tickets), _attention(customer, open_tickets))


def _attention(customer: Customer, open_tickets: Sequence[Ticket]) -> str:
    urgent = [t for t in open_tickets if t.priority == "urgent"]
    high = [t for t in open_tickets if t.priority == "high"]
    if urgent:
        noun = "ticket" if len(urgent) == 1 else "tickets"
        return f"{len(urgent)} urgent {noun} open; start with \u201c{urgent[0].subject}\u201d."
    if customer.status in AT_RISK_STATUSES:
        return f"The account is {customer.status.replace('_', ' ')}; {customer.owner} should reach out."
    if high:
        noun = "ticket needs" if len(high) == 1 else "tickets need"
        return f"{len(high)} high-priority {noun} a reply; oldest: \u201c{high[0].subject}\u201d."
    if open_tickets:
        return f"{len(open_tickets)} routine ticket(s) open; nothing urgent."
    return "nothing right now; no open tickets."
