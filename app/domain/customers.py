"""Customers and tickets as the CRM describes them, and matching what a user typed to one customer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_CHOICES = 5
# The longest text taken as a customer's id, name or email: longer is a paste gone wrong, and the CRM refuses
# the URL it would make.
MAX_CUSTOMER_CHARS = 200


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    company: str
    plan: str
    status: str
    owner: str
    created_at: str

    @classmethod
    def from_crm(cls, record: Mapping[str, Any]) -> Customer:
        return cls(
            id=str(record["id"]),
            name=str(record.get("name") or ""),
            email=str(record.get("email") or ""),
            company=str(record.get("company") or ""),
            plan=str(record.get("plan") or "unknown"),
            status=str(record.get("status") or "unknown"),
            owner=str(record.get("owner") or "unassigned"),
            created_at=str(record.get("created_at") or ""),
        )


PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
OPEN_STATUSES = frozenset({"open", "pending", "new"})


@dataclass(frozen=True)
class Ticket:
    id: str
    subject: str
    priority: str
    status: str
    created_at: str

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def from_crm(cls, record: Mapping[str, Any]) -> Ticket:
        return cls(
            id=str(record["id"]),
            subject=str(record.get("subject") or "(no subject)"),
            priority=str(record.get("priority") or "normal"),
            status=str(record.get("status") or "open"),
            created_at=str(record.get("created_at") or ""),
        )


@dataclass(frozen=True)
class Matched:
    customer: Customer


@dataclass(frozen=True)
class Ambiguous:
    query: str
    choices: tuple[Customer, ...]


@dataclass(frozen=True)
class NoMatch:
    query: str


Resolution = Matched | Ambiguous | NoMatch


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def resolve_customer(query: str, candidates: Sequence[Customer]) -> Resolution:
    """Pick the customer `query` means among the CRM's search results.

    An exact id, email or name wins over partial matches, so "Initech" finds
    Initech even when "Initech Labs" also matches.
    """
    if not candidates:
        return NoMatch(query)
    wanted = _fold(query)
    for field in ("id", "email", "name"):
        exact = [c for c in candidates if _fold(getattr(c, field)) == wanted]
        if len(exact) == 1:
            return Matched(exact[0])
    if len(candidates) == 1:
        return Matched(candidates[0])
    return Ambiguous(query, tuple(candidates[:MAX_CHOICES]))
