"""Finding the one customer a Slack request names, or telling the asker why not."""

from __future__ import annotations

import logging

from app.domain.customers import MAX_CUSTOMER_CHARS, Ambiguous, Customer, Matched, NoMatch, resolve_customer
from app.domain.outcome import Failed
from app.integrations.crm import CrmClient
from app.integrations.errors import IntegrationError
from app.jobs.replies import Replies
from app.messages.customers import ambiguous_customer, no_customer
from app.messages.long_text import shortened
from app.messages.message import Message

log = logging.getLogger(__name__)


def customer_or_reason(crm: CrmClient, replies: Replies, query: str) -> Customer | Failed:
    """The customer `query` means; otherwise the asker has been told why, and the answer says so too."""
    try:
        resolution = resolve_customer(query, crm.search_customers(query))
    except IntegrationError as exc:
        log.warning("could not look up %r in the CRM: %s", shortened(query, MAX_CUSTOMER_CHARS), exc)
        replies.to_asker(Message(text=exc.user_message))
        return Failed(exc.user_message)
    match resolution:
        case Matched(customer):
            return customer
        case Ambiguous():
            replies.to_asker(ambiguous_customer(resolution))
            return Failed(f"{len(resolution.choices)} customers match {query!r}")
        case NoMatch():
            replies.to_asker(no_customer(resolution))
            return Failed(f"no customer matches {query!r}")
    raise AssertionError(f"unhandled resolution {resolution!r}")
