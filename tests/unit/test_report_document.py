from datetime import UTC, date, datetime

from app.domain.customers import Customer, Ticket
from app.reports.document import AccountReport, TicketHistory, markdown, narrative, tickets_per_week

CUSTOMER = Customer("cus_1", "Globex", "ops@globex.example", "Globex Corp", "pro", "active", "Dana", "2025-01-01")


def ticket(tid: str, created: str, priority: str = "normal", status: str = "open", subject: str = "s") -> Ticket:
    return Ticket(tid, subject, priority, status, created)


def test_tickets_per_week_counts_by_priority_and_fills_empty_weeks() -> None:
    weeks = tickets_per_week([ticket("a", "2026-03-04T10:00:00+00:00", "urgent"),
                              ticket("b", "2026-03-02T09:00:00+00:00", "low"),
                              ticket("c", "2026-03-18T09:00:00Z", "urgent")])
    assert list(weeks) == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert weeks[date(2026, 3, 2)] == {"urgent": 1, "low": 1}
    assert sum(weeks[date(2026, 3, 9)].values()) == 0


def test_narrative_and_markdown() -> None:
    closed = TicketHistory(ticket("t1", "2026-03-02T00:00:00+00:00", "high", "closed", "Export | broken"),
                           ({"at": "2026-03-04T12:00:00+00:00", "event": "status:closed", "by": "Ana", "note": ""},))
    urgent = TicketHistory(ticket("t2", "2026-03-03T00:00:00+00:00", "urgent", "open", "Outage"),
                           ({"at": "2026-03-03T00:00:00+00:00", "event": "created", "by": "customer", "note": "x"},))
    report = AccountReport(CUSTOMER, (closed, urgent), datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    text = narrative(report)
    assert "2 ticket(s); 1 are open (1 urgent)" in text
    assert "median of 2.5 days" in text
    assert "week of 2026-03-02, with 2 new ticket(s)" in text
    assert text.endswith("start with \u201cOutage\u201d.")
    document = markdown(report, "chart.png")
    assert document.index("### t2: Outage") < document.index("### t1: Export   broken")
    assert "![Tickets per week by priority](chart.png)" in document
