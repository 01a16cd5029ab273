"""The tools the product ships: every one goes through the integration layer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from pydantic import Field

from app.domain.customers import Ambiguous, Customer, Matched, NoMatch, resolve_customer
from app.domain.outcome import Failed
from app.domain.summary import summarize
from app.messages.customers import customer_summary
from app.messages.message import Message
from app.messages.mrkdwn import escape
from app.tools.registry import ToolContext, ToolError, ToolRegistry

builtin_tools = ToolRegistry()

CustomerRef = Annotated[str, Field(min_length=1, max_length=200, description="an id, a name or an email")]
ChannelId = Annotated[str, Field(pattern=r"^[CDG][A-Z0-9]{2,}$", description="a Slack channel id")]


def _customer(context: ToolContext, customer: str) -> Customer:
    resolution = resolve_customer(customer, context.services.crm.search_customers(customer))
    match resolution:
        case Matched(found):
            return found
        case Ambiguous(_, choices):
            names = ", ".join(f"{c.name} ({c.id})" for c in choices)
            raise ToolError(f"several customers match {customer!r}: {names}")
        case NoMatch():
            raise ToolError(f"no customer matches {customer!r}")
    raise AssertionError(resolution)


@builtin_tools.tool("crm.search_customers")
def search_customers(context: ToolContext, query: Annotated[str, Field(min_length=1, max_length=200)],
                     limit: Annotated[int, Field(ge=1, le=100)] = 10) -> list[dict[str, Any]]:
    """Customers whose id, name or email contains `query`."""
    return [asdict(c) for c in context.services.crm.search_customers(query, limit)]


@builtin_tools.tool("crm.get_customer")
def get_customer(context: ToolContext, customer: CustomerRef) -> dict[str, Any]:
    """One customer, found by id, name or email."""
    return asdict(_customer(context, customer))


@builtin_tools.tool("crm.list_tickets")
def list_tickets(context: ToolContext, customer: CustomerRef) -> list[dict[str, Any]]:
    """A customer's tickets."""
    found = _customer(context, customer)
    return [asdict(t) for t in context.services.crm.list_tickets(found.id)]


@builtin_tools.tool("summarize_customer")
def summarize_customer(context: ToolContext, customer: CustomerRef) -> dict[str, Any]:
    """A customer's summary: open tickets by priority and what needs attention."""
    found = _customer(context, customer)
    summary = summarize(found, context.services.crm.list_tickets(found.id))
    return {"customer": asdict(found), "open_tickets": [asdict(t) for t in summary.open_tickets],
            "attention": summary.attention, "text": customer_summary(summary).text}


@builtin_tools.tool("slack.post_message")
def post_message(context: ToolContext, channel: ChannelId, text: Annotated[str, Field(min_length=1, max_length=3000)],
                 thread_ts: str | None = None) -> dict[str, Any]:
    """Post text (shown as written: nobody is pinged) to a Slack channel."""
    ts = context.services.slack.post_message(channel, Message(text=escape(text)), thread_ts=thread_ts)
    return {"channel": channel, "ts": ts}


@builtin_tools.tool("summarize_and_post_customer_update")
def summarize_and_post(context: ToolContext, customer: CustomerRef, channel: ChannelId) -> dict[str, Any]:
    """Summarize a customer and post the summary to a Slack channel."""
    found = _customer(context, customer)
    message = customer_summary(summarize(found, context.services.crm.list_tickets(found.id)))
    ts = context.services.slack.post_message(channel, message)
    return {"customer_id": found.id, "channel": channel, "ts": ts, "text": message.text}


@builtin_tools.tool("report.build")
def build_report(context: ToolContext, customer: CustomerRef, channel: ChannelId) -> dict[str, Any]:
    """Build a customer's account report and upload it to a Slack channel, with progress in the channel."""
    from app.jobs.reports import report_for  # noqa: PLC0415 - matplotlib only when asked
    from app.jobs.requests import SlackRequest  # noqa: PLC0415

    request = SlackRequest(request_id=context.run_id or "api", origin="api", team_id="", channel_id=channel,
                           user_id="", customer=customer)
    result = report_for(request.to_job_args())
    if isinstance(result, Failed):
        raise ToolError(str(result))
    return {"result": result}
