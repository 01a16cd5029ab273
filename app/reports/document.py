"""An account report: the numbers, a short narrative, and the Markdown document. Pure."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.domain.customers import PRIORITY_ORDER, Customer, Ticket
from app.domain.summary import summarize

PRIORITIES = sorted(PRIORITY_ORDER, key=PRIORITY_ORDER.__getitem__)


@dataclass(frozen=True)
class TicketHistory:
    ticket: Ticket
    events: tuple[dict[str, Any], ...]

    def days_to_close(self) -> float | None:
        opened = _parse(self.ticket.created_at)
        closed = next((_parse(e.get("at", "")) for e in self.events if e.get("event") == "status:closed"), None)
        if opened is None or closed is None:
            return None
        return max(0.0, (closed - opened).total_seconds() / 86400)


@dataclass(frozen=True)
class AccountReport:
    customer: Customer
    tickets: tuple[TicketHistory, ...]
    generated_at: datetime


def _parse(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def week_of(ticket: Ticket) -> date | None:
    created = _parse(ticket.created_at)
    if created is None:
        return None
    day = created.date()
    return day - timedelta(days=day.weekday())


def tickets_per_week(tickets: Sequence[Ticket]) -> dict[date, Counter[str]]:
    """Monday of each week → tickets opened that week, by priority; weeks without tickets included."""
    weeks: dict[date, Counter[str]] = {}
    for ticket in tickets:
        monday = week_of(ticket)
        if monday is not None:
            weeks.setdefault(monday, Counter())[ticket.priority] += 1
    if weeks:
        monday, last = min(weeks), max(weeks)
        while monday <= last:
            weeks.setdefault(monday, Counter())
            monday += timedelta(days=7)
    return dict(sorted(weeks.items()))


def narrative(report: AccountReport) -> str:
    c = report.customer
    tickets = [t.ticket for t in report.tickets]
    summary = summarize(c, tickets)
    open_counts = ", ".join(f"{n} {p}" for p, n in summary.tickets_by_priority.items()) or "none"
    lines = [f"{c.name} ({c.company}) is on the {c.plan} plan, {c.status.replace('_', ' ')}, "
             f"looked after by {c.owner}. The CRM holds {len(tickets)} ticket(s); "
             f"{len(summary.open_tickets)} are open ({open_counts})."]
    closing = [d for t in report.tickets if (d := t.days_to_close()) is not None]
    if closing:
        lines.append(f"Closed tickets took a median of {statistics.median(closing):.1f} days "
                     f"({len(closing)} closed).")
    weeks = tickets_per_week(tickets)
    if weeks:
        busiest, counts = max(weeks.items(), key=lambda item: (sum(item[1].values()), item[0]))
        lines.append(f"The busiest week was the week of {busiest.isoformat()}, with {sum(counts.values())} "
                     f"new ticket(s).")
    lines.append(f"Needs attention: {summary.attention}")
    return " ".join(lines)


def _cell(text: str) -> str:
    return re.sub(r"[|\r\n]+", " ", text)


def markdown(report: AccountReport, chart_filename: str) -> str:
    c = report.customer
    out = [
        f"# Account report: {c.name}",
        "",
        f"Generated {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')} by ACME Assistant.",
        "",
        "| | |", "|---|---|",
        f"| Customer | {_cell(c.name)} (`{_cell(c.id)}`) |", f"| Company | {_cell(c.company)} |",
        f"| Plan | {_cell(c.plan)} |", f"| Status | {_cell(c.status)} |", f"| Owner | {_cell(c.owner)} |",
        f"| Email | {_cell(c.email)} |",
        "", "## What needs attention", "", narrative(report), "",
        "## Tickets per week", "", f"![Tickets per week by priority]({chart_filename})", "",
        "## Tickets", "",
    ]
    ordered = sorted(report.tickets, key=lambda t: (PRIORITY_ORDER.get(t.ticket.priority, 9), t.ticket.created_at))
    for item in ordered:
        t = item.ticket
        out.append(f"### {_cell(t.id)}: {_cell(t.subject)}")
        out.append(f"Priority **{t.priority}**, status **{t.status}**, opened {t.created_at[:10]}.")
        out.append("")
        for event in item.events:
            note = f": {_cell(str(event.get('note')))}" if event.get("note") else ""
            out.append(f"- {str(event.get('at', ''))[:16]} {event.get('event')} by {event.get('by')}{note}")
        out.append("")
    return "\n".join(out)
