"""CRM webhook events: checking their shape, and deciding which ones deserve a notification. Pure."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.customers import Customer, Ticket

REQUIRED_FIELDS = {
    "ticket.created": ("id", "customer_id", "subject", "priority"),
    "customer.created": ("id", "name"),
}


# An event id is the CRM's to choose, within reason: it names the event in Redis and in the logs.
MAX_EVENT_ID_CHARS = 200
# What a job id may hold (RQ refuses anything else).
_JOB_ID_SAFE = re.compile(r"[A-Za-z0-9_-]+")


class MalformedEvent(ValueError):
    """The body is not an event we can read; the message says what is wrong."""


@dataclass(frozen=True)
class CrmEvent:
    id: str
    type: str
    created_at: str
    data: dict[str, Any]

    @property
    def job_id(self) -> str:
        """The notification job's id: the same for every delivery of the event, whatever characters its id has."""
        if _JOB_ID_SAFE.fullmatch(self.id):
            return f"crm-{self.id}"
        return f"crm-{hashlib.sha256(self.id.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class UrgentTicket:
    ticket: Ticket
    customer_id: str


@dataclass(frozen=True)
class NewCustomer:
    customer: Customer


Notification = UrgentTicket | NewCustomer


def parse_event(body: bytes) -> CrmEvent:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedEvent("the body is not a JSON object")
    for field, kind in (("id", str), ("type", str), ("data", dict)):
        if not isinstance(document.get(field), kind) or not document.get(field):
            raise MalformedEvent(f"'{field}' is missing or not a {kind.__name__}")
    if len(document["id"]) > MAX_EVENT_ID_CHARS:
        raise MalformedEvent(f"'id' is longer than {MAX_EVENT_ID_CHARS} characters")
    if not document["id"].isprintable():  # a newline, a NUL, half of a surrogate pair
        raise MalformedEvent("'id' holds a character that is not printable")
    needed = REQUIRED_FIELDS.get(document["type"], ())
    missing = [f for f in needed if document["data"].get(f) in (None, "")]
    if missing:
        raise MalformedEvent(f"{document['type']} data lacks {', '.join(missing)}")
    # Shown to people as words: an object or a list would be shown as Python writes it ("{'a': 1}").
    not_text = [f for f in needed if type(document["data"][f]) not in (str, int)]  # a bool is no text either
    if not_text:
        raise MalformedEvent(f"{document['type']} data: {', '.join(not_text)} must be text")
    return CrmEvent(document["id"], document["type"], str(document.get("created_at", "")), document["data"])


def notification_for(event: CrmEvent, priorities: frozenset[str]) -> Notification | str:
    """The notification an event calls for, or the reason it calls for none."""
    if event.type == "ticket.created":
        ticket = Ticket.from_crm(event.data)
        if ticket.priority not in priorities:
            return f"priority {ticket.priority} is not one of {', '.join(sorted(priorities))}"
        return UrgentTicket(ticket, str(event.data["customer_id"]))
    if event.type == "customer.created":
        return NewCustomer(Customer.from_crm(event.data))
    return f"event type {event.type} is not one we act on"


def event_to_job_args(event: CrmEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": event.created_at, "data": event.data}


def event_from_job_args(args: Mapping[str, Any]) -> CrmEvent:
    return CrmEvent(str(args["id"]), str(args["type"]), str(args["created_at"]), dict(args["data"]))


def draft_reply(customer: Customer, ticket: Ticket) -> str:
    """A first draft for a person to edit, from what the CRM says. Plain text, not yet escaped."""
    first_line = {
        "urgent": "We know this is urgent and it has our full attention right now.",
        "high": "Thanks for flagging this; it is high on our list.",
    }.get(ticket.priority, "Thanks for getting in touch.")
    return (
        f"Hi {customer.name} team,\n\n"
        f"Thank you for reporting \u201c{ticket.subject}\u201d ({ticket.id}). {first_line} "
        f"{customer.owner}, your account manager, is following it with our support engineers, "
        f"and we will update you within the hour with what we find and the next steps.\n\n"
        f"Best regards,\nACME Support"
    )
