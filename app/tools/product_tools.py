"""The tools the product ships: each uses only its tool context, and says what went wrong with a ToolError."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import redis
from pydantic import Field

from app.domain.customers import MAX_CUSTOMER_CHARS, Ambiguous, Customer, Matched, NoMatch, resolve_customer
from app.domain.outcome import Failed
from app.domain.summary import summarize
from app.jobs.reports import Built, JustBuilt, NotAMember, ReportPlace, UnderWay
from app.messages.customers import customer_summary
from app.messages.message import Message
from app.messages.mrkdwn import escape
from app.tools.context import ToolContext
from app.tools.registry import ToolError, ToolRegistry, tool_from_function

CustomerRef = Annotated[str, Field(min_length=1, max_length=MAX_CUSTOMER_CHARS,
                                   description="an id, a name or an email")]
ChannelId = Annotated[str, Field(pattern=r"^[CDG][A-Z0-9]{2,}$", description="a Slack channel id")]


def _customer(context: ToolContext, customer: str) -> Customer:
    resolution = resolve_customer(customer, context.crm.search_customers(customer))
    match resolution:
        case Matched(found):
            return found
        case Ambiguous(_, choices):
            names = ", ".join(f"{c.name} ({c.id})" for c in choices)
            raise ToolError(f"several customers match {customer!r}: {names}")
        case NoMatch():
            raise ToolError(f"no customer matches {customer!r}")
    raise AssertionError(resolution)


def search_customers(context: ToolContext, query: Annotated[str, Field(min_length=1, max_length=MAX_CUSTOMER_CHARS)],
                     limit: Annotated[int, Field(ge=1, le=100)] = 10) -> list[dict[str, Any]]:
    """Customers whose id, name or email contains `query`."""
    return [asdict(c) for c in context.crm.search_customers(query, limit)]


def get_customer(context: ToolContext, customer: CustomerRef) -> dict[str, Any]:
    """One customer, found by id, name or email."""
    return asdict(_customer(context, customer))


def list_tickets(context: ToolContext, customer: CustomerRef) -> list[dict[str, Any]]:
    """A customer's tickets."""
    found = _customer(context, customer)
    return [asdict(t) for t in context.crm.list_tickets(found.id)]


def summarize_customer(context: ToolContext, customer: CustomerRef) -> dict[str, Any]:
    """A customer's summary: open tickets by priority and what needs attention."""
    found = _customer(context, customer)
    summary = summarize(found, context.crm.list_tickets(found.id))
    return {"customer": asdict(found), "open_tickets": [asdict(t) for t in summary.open_tickets],
            "attention": summary.attention, "text": customer_summary(summary).text}


def post_message(context: ToolContext, channel: ChannelId, text: Annotated[str, Field(min_length=1, max_length=3000)],
                 thread_ts: str | None = None) -> dict[str, Any]:
    """Post text (shown as written: nobody is pinged) to a Slack channel."""
    ts = context.slack.post_message(channel, Message(text=escape(text)), thread_ts=thread_ts)
    return {"channel": channel, "ts": ts}


def summarize_and_post(context: ToolContext, customer: CustomerRef, channel: ChannelId) -> dict[str, Any]:
    """Summarize a customer and post the summary to a Slack channel."""
    found = _customer(context, customer)
    message = customer_summary(summarize(found, context.crm.list_tickets(found.id)))
    ts = context.slack.post_message(channel, message)
    return {"customer_id": found.id, "channel": channel, "ts": ts, "text": message.text}


def system_status(context: ToolContext) -> dict[str, Any]:
    """Whether the CRM, Slack and HTTP tools answer (their circuit breakers) and how many jobs wait in each queue.
    Read-only."""
    try:
        status = context.read_status()
    except redis.RedisError as exc:
        raise ToolError(f"the status is unknown: Redis does not answer ({type(exc).__name__})") from None
    return {"circuit_breakers": {b.name: b.state for b in status.breakers},
            "retry_in_s": {b.name: b.retry_in_s for b in status.breakers if b.retry_in_s},
            "queues": {q.name: q.depth for q in status.queues},
            "oldest_waiting_job_s": {q.name: q.oldest_wait_s for q in status.queues if q.oldest_wait_s is not None}}


def build_report(context: ToolContext, customer: CustomerRef, channel: ChannelId) -> dict[str, Any]:
    """Build a customer's account report and upload it to a Slack channel, with progress in the channel."""
    found = _customer(context, customer)
    outcome = context.reports.build(found, ReportPlace(channel), holder=context.run_id or "api", asker=context.asker)
    match outcome:
        case Built(permalink, tickets):
            return {"result": f"The account report on {found.name} is ready ({tickets} tickets)",
                    "permalink": permalink}
        case JustBuilt(permalink):
            return {"result": f"The account report on {found.name} was built a moment ago", "permalink": permalink}
        case UnderWay():
            return {"result": f"The account report on {found.name} is already being built"
                              + ("; you will be mentioned when it is ready" if context.asker else "")}
        case NotAMember():
            raise ToolError(f"the bot is not a member of {channel}; invite it to upload a report there")
        case Failed():
            raise ToolError(str(outcome))
    raise AssertionError(outcome)


PRODUCT_TOOLS = ToolRegistry([
    tool_from_function("crm.search_customers", search_customers),
    tool_from_function("crm.get_customer", get_customer),
    tool_from_function("crm.list_tickets", list_tickets),
    tool_from_function("summarize_customer", summarize_customer),
    tool_from_function("slack.post_message", post_message),
    tool_from_function("summarize_and_post_customer_update", summarize_and_post),
    tool_from_function("report.build", build_report),
    tool_from_function("system.status", system_status),
])
