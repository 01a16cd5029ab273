"""The mock CRM's seeded customers and tickets: fixed, varied, and with look-alike names on purpose."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# (name, company, plan, status, owner). Look-alikes: Globex / Globex Europe, Initech / Initech Labs,
# Acme Rockets / Acme Robotics, Stark Industries / Stark Logistics, Umbrella / Umbrella Health.
CUSTOMERS: list[tuple[str, str, str, str, str]] = [
    ("Globex", "Globex Corporation", "enterprise", "active", "Dana Whitfield"),
    ("Globex Europe", "Globex Corporation", "pro", "active", "Dana Whitfield"),
    ("Initech", "Initech LLC", "pro", "past_due", "Marcus Lee"),
    ("Initech Labs", "Initech LLC", "starter", "trial", "Marcus Lee"),
    ("Acme Rockets", "Acme Aerospace", "enterprise", "active", "Priya Raman"),
    ("Acme Robotics", "Acme Robotics GmbH", "pro", "churn_risk", "Priya Raman"),
    ("Stark Industries", "Stark Holdings", "enterprise", "active", "Tom Okafor"),
    ("Stark Logistics", "Stark Holdings", "starter", "active", "Tom Okafor"),
    ("Umbrella", "Umbrella Group", "pro", "suspended", "Elena Varga"),
    ("Umbrella Health", "Umbrella Group", "enterprise", "active", "Elena Varga"),
    ("Wayne Enterprises", "Wayne Enterprises", "enterprise", "active", "Sam Hughes"),
    ("Hooli", "Hooli Inc", "pro", "active", "Sam Hughes"),
    ("Pied Piper", "Pied Piper Inc", "starter", "trial", "Jin Park"),
    ("Soylent", "Soylent Foods", "free", "active", "Jin Park"),
    ("Tyrell", "Tyrell Corporation", "enterprise", "churn_risk", "Amara Diallo"),
    ("Cyberdyne", "Cyberdyne Systems", "pro", "active", "Amara Diallo"),
    ("Vandelay Industries", "Vandelay Import Export", "starter", "past_due", "Lucas Moreau"),
    ("Wonka", "Wonka Confectionery", "pro", "active", "Lucas Moreau"),
    ("Oscorp", "Oscorp Industries", "enterprise", "active", "Grace Kim"),
    ("Massive Dynamic", "Massive Dynamic", "pro", "trial", "Grace Kim"),
    ("Gringotts", "Gringotts Bank", "enterprise", "active", "Nora Lindqvist"),
    ("Dunder Mifflin", "Dunder Mifflin Paper", "starter", "active", "Nora Lindqvist"),
    ("Bluth Company", "Bluth Holdings", "free", "suspended", "Omar Haddad"),
    ("Nakatomi Trading", "Nakatomi Corporation", "pro", "active", "Omar Haddad"),
]

SUBJECTS = [
    "SSO login fails for new users", "Invoice shows wrong VAT rate", "API rate limit too low for nightly sync",
    "Export to CSV times out", "Webhook deliveries delayed", "Request: add audit log retention",
    "Password reset email not arriving", "Dashboard charts blank in Safari", "Data import duplicated records",
    "Question about enterprise pricing", "Mobile app crashes on launch", "Need a copy of the SOC 2 report",
    "Cannot remove a deactivated admin", "Billing contact needs changing", "Search results missing recent items",
]
PRIORITIES = ["low", "normal", "normal", "high", "urgent"]
STATUSES = ["open", "open", "pending", "closed", "closed"]


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch == "-")


def seed_customers() -> list[dict[str, Any]]:
    customers = []
    for index, (name, company, plan, status, owner) in enumerate(CUSTOMERS, start=1):
        domain = _slug(name).replace("-", "") + ".example"
        customers.append({
            "id": f"cus_{index:03d}",
            "name": name,
            "email": f"ops@{domain}",
            "company": company,
            "plan": plan,
            "status": status,
            "owner": owner,
            "created_at": (EPOCH - timedelta(days=40 * index)).isoformat(),
        })
    return customers


def seed_tickets(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every priority and status appears; Globex (cus_001) always has an urgent open ticket."""
    rng = random.Random(20261121)
    tickets: list[dict[str, Any]] = []
    for customer in customers:
        for n in range(rng.randint(0, 7)):
            tickets.append(_ticket(len(tickets) + 1, customer["id"], rng.choice(SUBJECTS), rng.choice(PRIORITIES),
                                   rng.choice(STATUSES), EPOCH + timedelta(days=rng.randint(0, 300), hours=n)))
    tickets.append(_ticket(len(tickets) + 1, "cus_001", "Production outage: checkout returns 502", "urgent", "open",
                           EPOCH + timedelta(days=310)))
    return tickets


def _ticket(number: int, customer_id: str, subject: str, priority: str, status: str,
            created: datetime) -> dict[str, Any]:
    return {
        "id": f"tkt_{number:04d}",
        "customer_id": customer_id,
        "subject": subject,
        "priority": priority,
        "status": status,
        "created_at": created.isoformat(),
    }


AGENTS = ["Ana (support)", "Ben (support)", "Chloe (engineering)", "Dev (billing)"]


def ticket_events(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """A ticket's history, derived from the ticket itself so it is the same on every call."""
    rng = random.Random(ticket["id"])
    opened = datetime.fromisoformat(ticket["created_at"])
    events = [{"at": opened.isoformat(), "event": "created", "by": "customer", "note": ticket["subject"]}]
    at = opened
    for _ in range(rng.randint(0, 3)):
        at += timedelta(hours=rng.randint(1, 48))
        events.append({"at": at.isoformat(), "event": "comment", "by": rng.choice(AGENTS),
                       "note": rng.choice(["Asked for logs", "Reproduced", "Waiting on customer", "Escalated"])})
    if ticket["status"] in ("pending", "closed"):
        at += timedelta(hours=rng.randint(1, 72))
        events.append({"at": at.isoformat(), "event": f"status:{ticket['status']}", "by": rng.choice(AGENTS),
                       "note": ""})
    return events
