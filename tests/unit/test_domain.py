from app.domain.customers import Ambiguous, Customer, Matched, NoMatch, Ticket, resolve_customer
from app.domain.summary import summarize


def customer(cid: str, name: str, email: str = "", status: str = "active") -> Customer:
    return Customer(cid, name, email or f"ops@{cid}.example", "Co", "pro", status, "Dana", "2026-01-01")


def ticket(tid: str, priority: str, status: str = "open", subject: str = "s", created: str = "2026-01-01") -> Ticket:
    return Ticket(tid, subject, priority, status, created)


INITECH = customer("cus_003", "Initech")
INITECH_LABS = customer("cus_004", "Initech Labs")


def test_an_exact_name_wins_over_partial_matches() -> None:
    assert resolve_customer("initech", [INITECH_LABS, INITECH]) == Matched(INITECH)


def test_exact_id_and_email_win() -> None:
    assert resolve_customer("cus_004", [INITECH, INITECH_LABS]) == Matched(INITECH_LABS)
    assert resolve_customer("OPS@cus_003.example", [INITECH, INITECH_LABS]) == Matched(INITECH)


def test_a_single_partial_match_is_the_customer() -> None:
    assert resolve_customer("Labs", [INITECH_LABS]) == Matched(INITECH_LABS)


def test_several_partial_matches_are_ambiguous_and_capped_at_five() -> None:
    many = [customer(f"cus_{i}", f"Acme {i}") for i in range(7)]
    result = resolve_customer("Acme", many)
    assert isinstance(result, Ambiguous)
    assert len(result.choices) == 5


def test_no_candidates_is_no_match() -> None:
    assert resolve_customer("Nobody", []) == NoMatch("Nobody")


def test_summary_orders_open_tickets_by_priority_and_flags_urgent_first() -> None:
    tickets = [ticket("t1", "low"), ticket("t2", "urgent", subject="Outage"), ticket("t3", "high"),
               ticket("t4", "urgent", status="closed")]
    summary = summarize(INITECH, tickets)
    assert [t.id for t in summary.open_tickets] == ["t2", "t3", "t1"]
    assert summary.tickets_by_priority == {"urgent": 1, "high": 1, "low": 1}
    assert summary.attention == "1 urgent ticket open; start with \u201cOutage\u201d."


def test_attention_for_an_at_risk_account_then_high_then_routine_then_none() -> None:
    assert "past due" in summarize(customer("c", "X", status="past_due"), [ticket("t", "high")]).attention
    assert summarize(INITECH, [ticket("t", "high", subject="Slow")]).attention.startswith("1 high-priority ticket")
    assert "routine" in summarize(INITECH, [ticket("t", "normal")]).attention
    assert summarize(INITECH, []).attention == "nothing right now; no open tickets."
