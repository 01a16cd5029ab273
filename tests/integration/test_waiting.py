"""Jobs that must wait for Slack give their worker back and run again later, through RQ's scheduler.

A message whose turn in its channel is not yet, a 429 with Retry-After, or Slack failing past the quick
retries: the job is queued to run again and the worker goes on with other jobs at once. Every message goes
out once, in its turn; the run waits meanwhile and ends once.
"""

from __future__ import annotations

import re
import time

import httpx

from tests.conftest import CHANNEL, USER, Stack
from tests.integration.test_notifications import NOTIFY, SECRET, click, deliver, posted_notification, ticket_event

QUIET, QUIET_TOO = "C0QUIET", "C0QUIETTOO"
SUMMARY_FLOW = "wf_builtin_slack_summary"
API = {"acme_api_rate": "1000/s"}  # the tests read the runs through the REST API, often


def slash(stack: Stack, text: str, channel: str = CHANNEL, user: str = USER) -> httpx.Response:
    body, headers = stack.signer.slash_command(text, channel=channel, user=user)
    response = stack.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200
    return response


def posts(stack: Stack, channel: str | None = None) -> list:
    return [c for c in stack.slack.calls if c.method == "chat.postMessage"
            and (channel is None or c.payload["channel"] == channel)]


def summary_of(call: object) -> str:
    """The customer id a posted summary is about ("" for any other message)."""
    found = re.search(r"\*Id:\* (cus_\w+)", call.visible_text)  # type: ignore[attr-defined]
    return found.group(1) if found else ""


def summary_runs(stack: Stack, count: int) -> list[dict]:
    """The summary runs, once `count` of them have ended, with their events."""
    deadline = time.monotonic() + 20
    while True:
        items = stack.http.get(f"/v1/workflows/{SUMMARY_FLOW}/runs", params={"limit": 50}).json()["items"]
        runs = [stack.http.get(f"/v1/runs/{item['id']}").json() for item in items]
        if sum(run["status"] in ("succeeded", "failed") for run in runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.05)


def statuses(run: dict) -> list[str]:
    return [event["status"] for event in run["events"] if event["type"] == "run.status"]


def test_a_burst_to_one_channel_waits_its_turns_while_other_channels_are_answered_at_once(stack_factory) -> None:
    stack: Stack = stack_factory(worker=False, slack_channel_interval_s=0.5, slack_channel_burst=1, **API)
    busy = ["cus_001", "cus_002", "cus_003", "cus_004"]
    for customer in busy:
        slash(stack, f"summary {customer}")
    slash(stack, "summary cus_005", channel=QUIET)
    slash(stack, "summary cus_006", channel=QUIET_TOO)
    stack.start_worker()

    stack.slack.wait_for(lambda calls: len(posts(stack)) >= 6, timeout_s=20)
    time.sleep(0.3)  # room for a message posted twice, were one coming
    in_order = [summary_of(c) for c in posts(stack)]
    # Each once, in the order asked; the quiet channel did not wait behind the busy one's turns.
    assert [c for c in in_order if c in busy] == busy
    assert sorted(in_order) == sorted([*busy, "cus_005", "cus_006"])
    assert in_order.index("cus_005") < in_order.index("cus_002")
    assert in_order.index("cus_006") < in_order.index("cus_002")
    assert stack.sleeps == []

    # One run per summary; those that waited for their turn say so, and none failed.
    runs = summary_runs(stack, 6)
    assert len(runs) == 6 and all(run["status"] == "succeeded" for run in runs)
    waited = {run["output"].removeprefix("summary of ") for run in runs if "waiting" in statuses(run)}
    assert {"cus_002", "cus_003", "cus_004"} <= waited and "cus_005" not in waited
    a_wait = next(run for run in runs if run["output"] == "summary of cus_002")
    assert statuses(a_wait)[:3] == ["queued", "running", "waiting"] and statuses(a_wait)[-1] == "succeeded"


def test_a_429_waits_out_retry_after_without_holding_the_worker(stack_factory) -> None:
    stack: Stack = stack_factory(**API)
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"})
    asked_at = time.time()
    slash(stack, "summary cus_001")
    slash(stack, "summary cus_005", channel=QUIET)

    stack.slack.wait_for(lambda calls: len(posts(stack)) >= 2, timeout_s=15)
    time.sleep(0.3)
    busy, quiet = posts(stack, CHANNEL), posts(stack, QUIET)
    assert [summary_of(c) for c in busy] == ["cus_001"] and [summary_of(c) for c in quiet] == ["cus_005"]
    assert quiet[0].at < busy[0].at  # the other channel did not wait behind the 429
    assert busy[0].received_at - asked_at >= 2.0  # Slack's Retry-After was honoured
    assert stack.sleeps == []
    [run] = [r for r in summary_runs(stack, 2) if r["output"] == "summary of cus_001"]
    waiting = next(e for e in run["events"] if e["type"] == "run.status" and e["status"] == "waiting")
    assert "HTTP 429" in waiting["detail"]["reason"] and waiting["detail"]["retry_in_s"] == 2


def test_slack_down_past_the_quick_retries_gets_the_answer_out_once_it_is_back(stack_factory) -> None:
    stack: Stack = stack_factory(slack_retry_later_s=1, **API)
    stack.slack.fail_next("chat.postMessage", 503, times=4)  # every quick retry of the first run
    slash(stack, "summary cus_001")

    stack.slack.wait_for(lambda calls: posts(stack), timeout_s=15)
    time.sleep(0.3)
    assert [summary_of(c) for c in posts(stack)] == ["cus_001"]
    assert stack.sleeps == [1, 2, 4]  # the quick retries, then the job gave its worker back
    assert not [c for c in stack.slack.calls if c.method == "response_url"]  # nobody was told of a failure
    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded" and statuses(run)[2] == "waiting"


def test_slack_failing_past_the_give_up_time_fails_the_job_and_tells_the_asker(stack_factory) -> None:
    stack: Stack = stack_factory(slack_retry_later_s=1, slack_give_up_after_s=1.5, slack_breaker_fail_max=100,
                                 **API)
    stack.slack.fail_next("chat.postMessage", 503, times=1000)
    slash(stack, "summary cus_001")

    calls = stack.slack.wait_for(lambda calls: any(c.method == "response_url" for c in calls), timeout_s=20)
    told = next(c for c in calls if c.method == "response_url")
    assert told.text.startswith(":warning: Something went wrong")
    assert posts(stack) == []
    [run] = summary_runs(stack, 1)
    assert run["status"] == "failed" and statuses(run).count("waiting") >= 1
    assert stack.sleeps.count(4) == statuses(run).count("waiting") + 1  # each run had its quick retries


def test_a_message_posted_before_a_wait_is_not_posted_again(stack_factory) -> None:
    stack: Stack = stack_factory(slack_notify_channel=NOTIFY, crm_webhook_secret=SECRET,
                                 slack_channel_interval_s=0.5, slack_channel_burst=1, **API)
    deliver(stack, {"id": "evt_c", "type": "customer.created", "created_at": "2026-11-21T10:00:00Z",
                    "data": {"id": "cus_003", "name": "Initech", "plan": "pro"}})
    ts = posted_notification(stack)
    # "Working on it..." then the summary, in the notification's thread: two turns of the channel, so the
    # job waits for at least the second after posting the first.
    assert click(stack, "summarize_new_customer", stack.slack.messages[ts]).status_code == 200

    stack.slack.wait_for(lambda calls: any(summary_of(c) == "cus_003" for c in calls), timeout_s=15)
    time.sleep(0.3)
    in_thread = [c for c in posts(stack, NOTIFY) if c.payload.get("thread_ts") == ts]
    assert [c.text for c in in_thread][0] == "Working on it..."
    assert len(in_thread) == 2 and summary_of(in_thread[1]) == "cus_003"
    [run] = [r for r in summary_runs(stack, 1) if r["status"] == "succeeded"]
    assert "waiting" in statuses(run)


def test_a_report_waiting_for_its_turn_keeps_its_claim_and_its_askers(stack_factory) -> None:
    stack: Stack = stack_factory(slack_channel_interval_s=0.5, slack_channel_burst=1)
    slash(stack, "summary cus_005")  # takes the channel's turn: the report's first message must wait
    slash(stack, "report Globex")
    slash(stack, "report Globex", user="U0SECOND")

    calls = stack.slack.wait_for(lambda calls: any(c.method == "files.completeUploadExternal" for c in calls)
                                 and any("is ready" in c.text for c in calls if c.method == "chat.update"),
                                 timeout_s=30)
    told = [c.text for c in calls if c.method == "response_url"]
    assert any("already being built here; I will mention you" in text for text in told)
    [upload] = [c for c in calls if c.method == "files.completeUploadExternal"]
    assert "<@U0TESTER>" in upload.payload["initial_comment"] and "<@U0SECOND>" in upload.payload["initial_comment"]
    assert [c.text for c in posts(stack, CHANNEL) if c.text == "Working on it..."] == ["Working on it..."]


def test_a_message_waiting_for_slack_to_come_back_is_not_overtaken_in_its_channel(stack_factory) -> None:
    stack: Stack = stack_factory(slack_notify_channel=NOTIFY, crm_webhook_secret=SECRET, slack_retry_later_s=1, **API)
    stack.slack.fail_next("chat.postMessage", 503, times=4)  # the notification's first run, every quick retry
    deliver(stack, ticket_event("evt_first", subject="First"))
    deadline = time.monotonic() + 10
    while stack.sleeps != [1, 2, 4] and time.monotonic() < deadline:
        time.sleep(0.01)
    # Slack answers again; a summary asked in the same channel now has a free slot, but comes after it.
    slash(stack, "summary cus_005", channel=NOTIFY)

    stack.slack.wait_for(lambda calls: len(posts(stack, NOTIFY)) >= 2, timeout_s=15)
    time.sleep(0.3)
    in_channel = posts(stack, NOTIFY)
    assert len(in_channel) == 2
    assert "First" in in_channel[0].text and summary_of(in_channel[1]) == "cus_005"


def test_an_api_run_that_must_wait_for_slack_gives_its_worker_back_and_goes_on_from_that_step(stack_factory) -> None:
    stack: Stack = stack_factory(**API)
    workflow = stack.http.post("/v1/workflows", json={"name": "Tell sales", "steps": [
        {"id": "who", "tool": "crm.get_customer", "args": {"customer": "cus_001"}},
        {"id": "post", "tool": "slack.post_message",
         "args": {"channel": CHANNEL, "text": "{{ steps.who.output.name }} renewed"}}]}).json()
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"})
    asked_at = time.time()
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {}}).json()["run_id"]
    time.sleep(0.5)
    slash(stack, "summary cus_005", channel=QUIET)  # while the run waits

    stack.slack.wait_for(lambda calls: len(posts(stack)) >= 2, timeout_s=15)
    run = _ended(stack, run_id)
    assert run["status"] == "succeeded", run
    [posted] = posts(stack, CHANNEL)
    assert posted.text == "Globex renewed" and posted.received_at - asked_at >= 2.0
    assert posts(stack, QUIET)[0].at < posted.at  # the worker was not held by the wait
    assert stack.sleeps == []
    # The step before the wait ran once; the waiting one ran again in the later job.
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [
        ("who", "succeeded"), ("post", "retried"), ("post", "succeeded")]
    assert statuses(run) == ["queued", "running", "waiting", "running", "succeeded"]
    # Said as a Slack job's wait is: why, and for how long.
    waiting = next(e for e in run["events"] if e["type"] == "run.status" and e["status"] == "waiting")
    assert "HTTP 429" in waiting["detail"]["reason"] and waiting["detail"]["retry_in_s"] == 2
    step_waiting = next(e for e in run["events"] if e["type"] == "step.status" and e["status"] == "waiting")
    assert "HTTP 429" in step_waiting["detail"]["reason"] and "error" not in step_waiting["detail"]


def _ended(stack: Stack, run_id: str) -> dict:
    deadline = time.monotonic() + 20
    while (run := stack.http.get(f"/v1/runs/{run_id}").json())["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
    return run


def test_one_workflow_called_from_two_steps_goes_on_after_a_wait_in_the_second_and_posts_both(stack_factory) -> None:
    stack: Stack = stack_factory(**API)
    inner = stack.http.post("/v1/workflows", json={"name": "Say", "steps": [
        {"id": "post", "tool": "slack.post_message", "args": {"channel": "{{ inputs.channel }}",
                                                               "text": "{{ inputs.text }}"}}]}).json()
    outer = stack.http.post("/v1/workflows", json={"name": "Say twice", "steps": [
        {"id": "a", "workflow": inner["id"], "args": {"channel": CHANNEL, "text": "message A"}},
        {"id": "b", "workflow": inner["id"], "args": {"channel": QUIET, "text": "message B"}}]}).json()
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "1"}, channel=QUIET)
    run_id = stack.http.post(f"/v1/workflows/{outer['id']}/run", json={"inputs": {}}).json()["run_id"]

    run = _ended(stack, run_id)
    assert run["status"] == "succeeded", run
    assert [c.text for c in posts(stack, CHANNEL)] == ["message A"]
    assert [c.text for c in posts(stack, QUIET)] == ["message B"]
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [
        ("a", "succeeded"), ("a.post", "succeeded"), ("b", "retried"), ("b.post", "retried"),
        ("b", "succeeded"), ("b.post", "succeeded")]


def test_a_run_cancelled_while_it_waits_for_slack_ends_its_waiting_step_and_never_posts(stack_factory) -> None:
    stack: Stack = stack_factory(**API)
    workflow = stack.http.post("/v1/workflows", json={"name": "Tell sales", "steps": [
        {"id": "who", "tool": "crm.get_customer", "args": {"customer": "cus_001"}},
        {"id": "post", "tool": "slack.post_message", "args": {"channel": CHANNEL, "text": "renewed"}}]}).json()
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"})
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {}}).json()["run_id"]
    deadline = time.monotonic() + 10
    while stack.http.get(f"/v1/runs/{run_id}").json()["status"] != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert stack.http.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelled"
    time.sleep(3)  # past the Retry-After, when its later job would have posted
    run = _ended(stack, run_id)
    assert run["status"] == "cancelled"
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("who", "succeeded"), ("post", "cancelled")]
    assert [e["status"] for e in run["events"] if e["type"] == "step.status" and e["step_id"] == "post"][-1] == \
        "cancelled"
    assert posts(stack, CHANNEL) == []


def test_a_run_cancelled_while_its_step_runs_then_meets_a_wait_is_cancelled_then_not_later(stack_factory) -> None:
    stack: Stack = stack_factory(**API)
    workflow = stack.http.post("/v1/workflows", json={"name": "Tell sales", "steps": [
        {"id": "post", "tool": "slack.post_message", "args": {"channel": CHANNEL, "text": "renewed"}}]}).json()
    # Slack answers the post late, and 429: the cancel comes while the step runs, before it must wait.
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"}, delay_s=1.0)
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {}}).json()["run_id"]
    deadline = time.monotonic() + 10
    while stack.http.get(f"/v1/runs/{run_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert stack.http.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelling"

    run = _ended(stack, run_id)
    assert run["status"] == "cancelled" and run["error"] is None, run
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("post", "cancelled")]
    assert "waiting" not in statuses(run)
    time.sleep(2.5)  # past the Retry-After, when a later job would have posted
    assert posts(stack, CHANNEL) == []
