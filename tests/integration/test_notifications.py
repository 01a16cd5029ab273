"""CRM webhooks → notifications with buttons → drafts, dismissals and summaries, at Slack's pace."""

from __future__ import annotations

import json
import logging
import time

import pytest

from app.webhook_signature import crm_signature
from tests.conftest import Stack

NOTIFY = "C0NOTIFY"
SECRET = "whsec-test"


@pytest.fixture()
def notifying(stack_factory) -> Stack:
    return stack_factory(slack_notify_channel=NOTIFY, crm_webhook_secret=SECRET, slack_channel_interval_s=0.05,
                         slack_channel_burst=2)


def deliver(stack: Stack, event: dict | str, *, timestamp: int | None = None, secret: str = SECRET):
    body = event if isinstance(event, str) else json.dumps(event)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-CRM-Timestamp": stamp,
               "X-CRM-Signature": crm_signature(secret, stamp, body.encode())}
    return stack.http.post("/webhooks/crm", content=body, headers=headers)


def ticket_event(event_id: str, priority: str = "urgent", subject: str = "Checkout is down",
                 customer_id: str = "cus_001") -> dict:
    return {"id": event_id, "type": "ticket.created", "created_at": "2026-11-21T10:00:00Z",
            "data": {"id": "tkt_0087", "customer_id": customer_id, "subject": subject, "priority": priority,
                     "status": "open", "created_at": "2026-11-21T10:00:00Z"}}


def notifications(stack: Stack) -> list:
    return [c for c in stack.slack.calls if c.method == "chat.postMessage" and c.payload["channel"] == NOTIFY
            and "thread_ts" not in c.payload]


def posted_notification(stack: Stack) -> str:
    """The ts of the first notification, once the job has recorded it (a person cannot click sooner)."""
    stack.slack.wait_for(lambda calls: notifications(stack))
    ts = notifications(stack)[0].payload["ts"]
    deadline = time.monotonic() + 5
    while stack.collaborators.notifications.get(NOTIFY, ts) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return ts


def click(stack: Stack, action_id: str, message: dict, channel: str = NOTIFY, user: str = "U0CLICKER"):
    body, headers = stack.signer.block_action(action_id, channel=channel, user=user, message=message)
    return stack.http.post("/slack/events", content=body, headers=headers)


def test_an_urgent_ticket_makes_one_notification_with_both_buttons(notifying: Stack) -> None:
    first = deliver(notifying, ticket_event("evt_1"))
    again = deliver(notifying, ticket_event("evt_1"))

    assert (first.status_code, first.json()) == (202, {"status": "queued"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    notifying.slack.wait_for(lambda calls: notifications(notifying))
    time.sleep(0.3)
    [note] = notifications(notifying)
    assert note.text == ("A new urgent ticket just arrived from *Globex*: Checkout is down. "
                         "Would you like me to draft a response?")
    buttons = note.payload["blocks"][1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Draft response", "Dismiss"]


def test_a_low_priority_ticket_makes_none(notifying: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    answer = deliver(notifying, ticket_event("evt_low", priority="low"))
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"
    assert any("evt_low" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)
    time.sleep(0.3)
    assert notifications(notifying) == []


def test_signature_timestamp_and_bad_bodies_are_refused_never_a_500(notifying: Stack) -> None:
    assert deliver(notifying, ticket_event("evt_forged"), secret="not-the-secret").status_code == 401
    assert deliver(notifying, ticket_event("evt_stale"), timestamp=int(time.time()) - 301).status_code == 401
    unsigned = notifying.http.post("/webhooks/crm", json=ticket_event("evt_unsigned"))
    assert unsigned.status_code == 401
    assert deliver(notifying, "{not json").status_code == 400
    missing = ticket_event("evt_missing")
    del missing["data"]["subject"]
    answer = deliver(notifying, missing)
    assert answer.status_code == 400 and "subject" in answer.json()["error"]
    assert deliver(notifying, {"id": "evt_x", "type": "ticket.created", "data": "nope"}).status_code == 400
    unknown = deliver(notifying, {"id": "evt_u", "type": "invoice.paid", "data": {"id": "inv_1"}})
    assert unknown.status_code == 202 and unknown.json()["status"] == "ignored"
    time.sleep(0.3)
    assert notifying.slack.calls == []


def test_an_event_id_of_any_printable_characters_notifies_once_and_an_unreadable_one_is_a_400(
        notifying: Stack) -> None:
    for _ in range(2):
        assert deliver(notifying, ticket_event("evt.42:é/ü 😀")).status_code in (200, 202)
    assert deliver(notifying, ticket_event("evt\u0000nul")).status_code == 400
    assert deliver(notifying, ticket_event("e" * 201)).status_code == 400
    notifying.slack.wait_for(lambda calls: notifications(notifying))
    time.sleep(0.3)  # room for a second notification, were one coming
    assert len(notifications(notifying)) == 1


def test_webhooks_are_off_without_a_secret(stack: Stack) -> None:
    assert deliver(stack, ticket_event("evt_1")).status_code == 503


def test_draft_response_acks_then_drafts_in_the_thread_and_says_who_asked(notifying: Stack) -> None:
    deliver(notifying, ticket_event("evt_2"))
    ts = posted_notification(notifying)

    answer = click(notifying, "draft_response", notifying.slack.messages[ts])
    assert answer.status_code == 200
    calls = notifying.slack.wait_for(lambda calls: any(c.payload.get("thread_ts") == ts for c in calls))
    draft = next(c for c in calls if c.payload.get("thread_ts") == ts)
    assert draft.text.startswith("Here is a draft reply")
    assert "Checkout is down" in draft.text or "Production outage" in draft.text
    edited = notifying.slack.messages[ts]
    assert "Draft requested by <@U0CLICKER>" in str(edited["blocks"])
    assert all(block["type"] != "actions" for block in edited["blocks"])
    # A second click on the same notification does not draft twice.
    click(notifying, "draft_response", notifying.slack.messages[ts])
    time.sleep(0.5)
    assert len([c for c in notifying.slack.calls if c.payload.get("thread_ts") == ts]) == 1


def test_dismiss_removes_the_buttons_and_says_who(notifying: Stack) -> None:
    deliver(notifying, ticket_event("evt_3"))
    ts = posted_notification(notifying)

    as_posted = notifying.slack.messages[ts]
    assert click(notifying, "dismiss_notification", as_posted, user="U0BOSS").status_code == 200
    notifying.slack.wait_for(lambda calls: any(c.method == "chat.update" for c in calls))
    edited = notifying.slack.messages[ts]
    assert "Dismissed by <@U0BOSS>" in str(edited["blocks"])
    assert all(block["type"] != "actions" for block in edited["blocks"])
    # A click on the buttons someone still sees (Slack had not refreshed their view) finds it settled.
    assert click(notifying, "draft_response", as_posted).status_code == 200
    time.sleep(0.5)
    assert not [c for c in notifying.slack.calls if c.payload.get("thread_ts") == ts]
    assert "Dismissed by <@U0BOSS>" in str(notifying.slack.messages[ts]["blocks"])


def test_new_customer_notification_and_its_summarize_button(notifying: Stack) -> None:
    deliver(notifying, {"id": "evt_c", "type": "customer.created", "created_at": "2026-11-21T10:00:00Z",
                        "data": {"id": "cus_003", "name": "Initech <!here>", "plan": "pro"}})
    ts = posted_notification(notifying)
    assert notifying.slack.messages[ts]["text"] == "New customer signed up: *Initech &lt;!here&gt;* (pro)"

    assert click(notifying, "summarize_new_customer", notifying.slack.messages[ts]).status_code == 200
    calls = notifying.slack.wait_for(lambda calls: any("Summary of Initech" in c.text for c in calls))
    summary = next(c for c in calls if "Summary of Initech" in c.text)
    assert summary.payload["thread_ts"] == ts


def test_forged_or_foreign_button_payloads_are_refused(notifying: Stack) -> None:
    deliver(notifying, ticket_event("evt_4"))
    ts = posted_notification(notifying)
    message = notifying.slack.messages[ts]

    # The same message, clicked "from" another channel: not a notification we posted there.
    assert click(notifying, "draft_response", message, channel="C0ELSEWHERE").status_code == 403
    # A message we never posted.
    assert click(notifying, "dismiss_notification", {**message, "ts": "1.000001"}).status_code == 403
    # A button that does not belong on this notification.
    assert click(notifying, "summarize_new_customer", message).status_code == 403
    # A forged signature.
    body, headers = notifying.signer.block_action("draft_response", channel=NOTIFY, user="U0X", message=message)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    assert notifying.http.post("/slack/events", content=body, headers=headers).status_code == 401
    time.sleep(0.3)
    assert not [c for c in notifying.slack.calls if c.method == "chat.update"]


def test_a_429_on_a_notification_is_posted_after_retry_after_by_a_later_run(notifying: Stack) -> None:
    notifying.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"})
    deliver(notifying, ticket_event("evt_429"))
    ts = posted_notification(notifying)
    time.sleep(0.3)
    assert len(notifications(notifying)) == 1
    assert notifying.collaborators.notifications.get(NOTIFY, ts) is not None  # its buttons will work
    assert notifying.sleeps == []  # no worker waited for it


def test_a_burst_of_20_webhooks_makes_20_notifications_in_order_none_twice_at_the_pace(notifying: Stack) -> None:
    for n in range(20):
        assert deliver(notifying, ticket_event(f"evt_burst_{n}", subject=f"Burst {n}")).status_code == 202
    for n in range(5):  # the CRM redelivering some of them
        assert deliver(notifying, ticket_event(f"evt_burst_{n}", subject=f"Burst {n}")).status_code == 200
    notifying.slack.wait_for(lambda calls: len(notifications(notifying)) >= 20, timeout_s=30)
    time.sleep(0.3)
    posted = notifications(notifying)
    subjects = [int(c.text.split("Burst ")[1].split(".")[0]) for c in posted]
    assert subjects == list(range(20))  # each once, in the order the CRM sent them
    # Pace: this test runs the channel at 20/s with bursts of 2; any window of k messages spans
    # at least (k - 2) intervals. Slack's real pace (1/s, bursts of 3) is the default setting.
    times = [c.at for c in posted]
    interval = 0.05
    assert times[-1] - times[0] >= (len(times) - 2) * interval * 0.9
