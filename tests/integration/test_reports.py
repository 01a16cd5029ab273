"""`/acme report` and `/acme status` end to end."""

from __future__ import annotations

import re
import time

import redis

from app.worker.runner import WorkerThread
from tests.conftest import CHANNEL, MockCrm, Stack


def _uploads(stack: Stack) -> list:
    return [c for c in stack.slack.calls if c.method == "files.completeUploadExternal"]


def _edits(stack: Stack) -> list[str]:
    return [c.text for c in stack.slack.calls if c.method == "chat.update"]


def add_tickets(crm: MockCrm, customer_id: str, count: int) -> None:
    priorities = ["low", "normal", "high", "urgent"]
    for n in range(count):
        crm.state.tickets.append({
            "id": f"tkt_x{n:04d}", "customer_id": customer_id, "subject": f"Issue number {n}",
            "priority": priorities[n % 4], "status": ["open", "closed", "pending"][n % 3],
            "created_at": f"2026-{1 + n % 9:02d}-{1 + n % 27:02d}T10:00:00+00:00",
        })


def test_report_edits_its_progress_then_uploads_the_report_and_chart(stack: Stack, mock_crm: MockCrm) -> None:
    add_tickets(mock_crm, "cus_011", 120)  # Wayne Enterprises: three pages of 50

    assert stack.slash("report Wayne Enterprises").text == "Working on it..."
    stack.slack.wait_for(lambda calls: _uploads(stack) and any("is ready" in t for t in _edits(stack)),
                         timeout_s=60)
    first_post = next(c for c in stack.slack.calls if c.method == "chat.postMessage")
    assert first_post.text == "Working on it..."
    edits = _edits(stack)
    assert edits[0].startswith("Account report for *Wayne Enterprises*: Fetching tickets (2/4)")
    assert any("Fetching ticket history (3/4)" in t for t in edits)
    assert any("Drawing the chart and writing the report (4/4)" in t for t in edits)
    assert "is ready: <https://" in edits[-1] and "(120 tickets)" in edits[-1]
    assert all(c.payload["ts"] == first_post.payload["ts"] for c in stack.slack.calls if c.method == "chat.update")

    [upload] = _uploads(stack)
    assert upload.payload["channel_id"] == CHANNEL
    assert upload.payload["thread_ts"] == first_post.payload["ts"]
    assert "<@U0TESTER>" in upload.payload["initial_comment"]
    files = {f["title"]: stack.slack.uploaded[f["id"]] for f in upload.payload["files"]}
    document = files["Account report: Wayne Enterprises"].decode()
    assert document.startswith("# Account report: Wayne Enterprises")
    assert document.count("### tkt_x") == 120
    assert "## What needs attention" in document and "median of" in document
    assert files["Tickets per week: Wayne Enterprises"].startswith(b"\x89PNG\r\n")


def test_a_failing_report_says_so_in_its_progress_message(stack: Stack) -> None:
    stack.slack.fail_next("files.completeUploadExternal", 200, error="invalid_channel")
    stack.slash("report Globex")
    stack.slack.wait_for(lambda calls: any("failed" in t for t in _edits(stack)), timeout_s=30)
    assert _edits(stack)[-1].startswith(":warning: Account report for *Globex* failed: The Slack refused")


def test_an_unknown_customer_is_told_to_the_asker(stack: Stack) -> None:
    stack.slash("report Nobody Such")
    calls = stack.slack.wait_for(lambda calls: any(c.method == "response_url" for c in calls))
    assert calls[-1].text == "No customer matches \u201cNobody Such\u201d."


def test_the_same_report_asked_twice_within_a_minute_runs_once_and_both_askers_hear(
        stack_factory, redis_conn: redis.Redis) -> None:
    stack = stack_factory(worker=False)
    body, headers = stack.signer.slash_command("report Globex", channel=CHANNEL, user="U0FIRST")
    stack.http.post("/slack/events", content=body, headers=headers)
    body, headers = stack.signer.slash_command("report globex", channel=CHANNEL, user="U0SECOND")
    stack.http.post("/slack/events", content=body, headers=headers)
    stack.start_worker()

    stack.slack.wait_for(lambda calls: any(c.method == "response_url" for c in calls), timeout_s=30)
    time.sleep(0.5)
    assert len(_uploads(stack)) == 1
    assert "<@U0FIRST>" in _uploads(stack)[0].payload["initial_comment"]
    second = next(c for c in stack.slack.calls if c.method == "response_url")
    assert second.payload["response_type"] == "ephemeral"
    assert "was built a moment ago: <https://" in second.text
    # Given the link, the second asker is not kept for a mention in whichever report comes next.
    assert redis_conn.lrange(f"acme:report:{CHANNEL}:cus_001:askers", 0, -1) == [b"U0FIRST"]


def test_two_workers_build_one_report_and_mention_both_askers(stack: Stack) -> None:
    second_worker = WorkerThread(stack.collaborators).start()
    try:
        for user in ("U0FIRST", "U0SECOND"):
            body, headers = stack.signer.slash_command("report Globex", channel=CHANNEL, user=user)
            stack.http.post("/slack/events", content=body, headers=headers)
        stack.slack.wait_for(lambda calls: any("is ready" in t for t in _edits(stack)), timeout_s=30)
        time.sleep(0.5)
    finally:
        second_worker.stop()
    assert len(_uploads(stack)) == 1
    told = " ".join(c.text + str(c.payload.get("initial_comment", "")) for c in stack.slack.calls)
    assert "<@U0FIRST>" in told and ("<@U0SECOND>" in told or "already being built" in told)


def test_status_shows_breakers_queues_and_the_oldest_waiting_job(stack_factory, redis_conn: redis.Redis,
                                                                 mock_crm: MockCrm) -> None:
    stack = stack_factory(worker=False, crm_breaker_fail_max=1)
    stack.slash("summary Globex")
    time.sleep(1.1)
    mock_crm.faults("down")
    try:
        stack.collaborators.crm.search_customers("Globex")
    except Exception:  # noqa: BLE001 - tripping the breaker is the point
        pass
    status = stack.slash("status").json()["text"]
    assert "*CRM*: open (next trial in" in status
    assert "*Slack*: closed" in status
    assert re.search(r"`acme-summaries`: 1 waiting, oldest for [1-9]\d* s", status)
    assert "`acme-reports`: 0 waiting" in status
