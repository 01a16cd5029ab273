import json
import time

import pytest

from app.domain.crm_events import MalformedEvent, NewCustomer, UrgentTicket, notification_for, parse_event
from app.webhook_signature import crm_signature, crm_signature_is_valid

PRIORITIES = frozenset({"high", "urgent"})


def body(**overrides: object) -> bytes:
    event = {"id": "evt_1", "type": "ticket.created", "created_at": "2026-11-21T10:00:00Z",
             "data": {"id": "tkt_1", "customer_id": "cus_001", "subject": "Down", "priority": "urgent"}}
    event.update(overrides)
    return json.dumps(event).encode()


def test_an_urgent_or_high_ticket_notifies_and_a_low_one_does_not() -> None:
    assert isinstance(notification_for(parse_event(body()), PRIORITIES), UrgentTicket)
    high = body(data={"id": "t", "customer_id": "c", "subject": "s", "priority": "high"})
    assert isinstance(notification_for(parse_event(high), PRIORITIES), UrgentTicket)
    low = body(data={"id": "t", "customer_id": "c", "subject": "s", "priority": "low"})
    assert notification_for(parse_event(low), PRIORITIES) == "priority low is not one of high, urgent"


def test_new_customers_always_notify_and_unknown_types_never() -> None:
    created = parse_event(body(type="customer.created", data={"id": "cus_9", "name": "Newco", "plan": "pro"}))
    assert isinstance(notification_for(created, PRIORITIES), NewCustomer)
    other = parse_event(body(type="invoice.paid", data={"id": "inv_1"}))
    assert notification_for(other, PRIORITIES) == "event type invoice.paid is not one we act on"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{oops", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (body(id=""), "'id' is missing"),
    (body(data="x"), "'data' is missing or not a dict"),
    (body(data={"id": "t", "customer_id": "c", "priority": "urgent"}), "lacks subject"),
    (body(type="customer.created", data={"id": "c"}), "lacks name"),
])
def test_malformed_events_say_what_is_wrong(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(raw)


def test_signature_checks_the_secret_the_body_and_the_clock() -> None:
    now = time.time()
    stamp = str(int(now))
    good = crm_signature("s3cret", stamp, b"{}")
    assert crm_signature_is_valid("s3cret", stamp, good, b"{}", now=now)
    assert not crm_signature_is_valid("other", stamp, good, b"{}", now=now)
    assert not crm_signature_is_valid("s3cret", stamp, good, b"{ }", now=now)
    assert not crm_signature_is_valid("s3cret", stamp, good, b"{}", now=now + 301)
    assert not crm_signature_is_valid("s3cret", None, good, b"{}", now=now)
    assert not crm_signature_is_valid("s3cret", "soon", good, b"{}", now=now)
