import json
import re
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
    (body(id="e" * 201), "'id' is longer than 200 characters"),
    (body(id="evt\n1"), "'id' holds a character that is not printable"),
    (body(data={"id": "t", "customer_id": "c", "subject": {"a": 1}, "priority": "urgent"}), "subject must be text"),
    (body(type="customer.created", data={"id": "c", "name": ["Newco"]}), "name must be text"),
    (body(data={"id": "t", "customer_id": True, "subject": "s", "priority": "urgent"}), "customer_id must be text"),
    (b'{"id": "evt\\ud800", "type": "x", "data": {"a": 1}}', "'id' holds a character that is not printable"),
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


def test_every_delivery_of_an_event_has_one_job_id_that_rq_takes_whatever_its_id_holds() -> None:
    ids = ["evt_1", "evt.1", "evt:1", "evt/1", " ", "\u00e9v\u00e9nement \U0001f600", "e" * 200]
    job_ids = [parse_event(body(id=event_id)).job_id for event_id in ids]
    assert job_ids[0] == "crm-evt_1"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", job_id) for job_id in job_ids)
    assert len(set(job_ids)) == len(ids)
    assert [parse_event(body(id=event_id)).job_id for event_id in ids] == job_ids
