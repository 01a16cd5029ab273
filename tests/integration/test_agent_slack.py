"""The agent in Slack with the rules planner: mentions, direct messages, threads, approvals, streams, feedback."""

from __future__ import annotations

import time

import httpx
import pytest

from app.messages.agent import AGENT_APPROVE, AGENT_CANCEL, AGENT_FEEDBACK
from app.worker.runner import WorkerThread
from tests.conftest import CHANNEL, DM, USER, Stack

SALES = "C0SALES"
ANSWERS = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update")


def _said(stack: Stack, words: str, method: tuple[str, ...] = ANSWERS) -> list:
    return [c for c in stack.slack.calls if c.method in method and words in c.text]


def _wait_said(stack: Stack, words: str, timeout_s: float = 15) -> list:
    stack.slack.wait_for(lambda calls: any(c.method in ANSWERS and words in c.text for c in calls), timeout_s)
    return _said(stack, words)


def _status_cleared(stack: Stack) -> None:
    stack.slack.wait_for(lambda calls: [c.payload["status"] for c in calls
                                        if c.method == "assistant.threads.setStatus"][-1:] == [""])


def _approval(stack: Stack) -> tuple[dict, str]:
    stack.slack.wait_for(lambda calls: any("before I do it" in c.text for c in calls))
    message = next(m for m in stack.slack.messages.values() if "before I do it" in str(m.get("text")))
    value = message["blocks"][1]["elements"][0]["value"]
    return message, value


def _run(stack: Stack, run_id: str, statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled", "waiting"),
         timeout_s: float = 15) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = stack.http.get(f"/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.05)
    raise TimeoutError(run_id)


def _turns(stack: Stack) -> list[dict]:
    return stack.http.get("/v1/workflows/wf_builtin_agent_turn/runs").json()["items"]


def test_a_mention_is_answered_in_its_thread_streamed_with_status_cleared(stack: Stack) -> None:
    body, headers = stack.signer.app_mention("can you give me the lowdown on Globex?", channel=CHANNEL, user=USER)
    assert stack.http.post("/slack/events", content=body, headers=headers).status_code == 200
    event_ts = httpx.Response(200, content=body).json()["event"]["ts"]
    stack.slack.wait_for(lambda calls: any(c.method == "chat.stopStream" for c in calls))
    _status_cleared(stack)
    calls = stack.slack.calls
    assert calls[0].method == "chat.postMessage" and calls[0].text == "Working on it..."
    statuses = [c.payload["status"] for c in calls if c.method == "assistant.threads.setStatus"]
    assert statuses[0] == "Thinking..." and "Looking up Globex in the CRM..." in statuses and statuses[-1] == ""
    start = next(c for c in calls if c.method == "chat.startStream")
    assert start.payload["thread_ts"] == event_ts and start.payload["recipient_user_id"] == USER
    stop = next(c for c in calls if c.method == "chat.stopStream")
    assert "Summary of Globex" in stop.text
    assert stop.payload["blocks"][0]["elements"][0]["type"] == "feedback_buttons"
    [turn] = _turns(stack)
    run = _run(stack, turn["id"])
    assert run["status"] == "succeeded" and run["output"]["planner"] == "rules"
    assert [s["tool"] for s in run["steps"]] == ["summarize_customer"]
    assert run["steps"][0]["args"] == {"customer": "Globex"} and run["steps"][0]["status"] == "succeeded"


def test_where_slack_refuses_streams_the_answer_is_posted(stack: Stack) -> None:
    stack.slack.streaming = False
    stack.mention("open tickets for Initech")
    posted = _wait_said(stack, "open ticket(s)")
    assert posted[0].method == "chat.postMessage" and posted[0].payload["blocks"][-1]["type"] == "context_actions"


def test_a_stream_that_expired_is_finished_by_an_edit(stack: Stack) -> None:
    stack.slack.stream_ttl_s = 0
    stack.mention("summarize Hooli")
    edited = _wait_said(stack, "Summary of Hooli")
    assert any(c.method == "chat.update" for c in edited)
    _status_cleared(stack)


def test_direct_messages_are_answered_and_bots_edits_and_deletions_are_not(stack: Stack) -> None:
    assert stack.dm("is the CRM up?").status_code == 200
    _wait_said(stack, "Everything is up")
    assert stack.dm("summarize Globex", user="U0OTHERBOT", bot_id="B0OTHER").status_code == 200
    assert stack.dm("summarize Globex", user="U0ACMEBOT").status_code == 200  # itself
    assert stack.dm("summarize Globex", subtype="message_changed").status_code == 200
    assert stack.dm("", user=None, subtype="message_deleted").status_code == 200
    time.sleep(1.0)
    assert not _said(stack, "Summary of Globex")
    assert len(_turns(stack)) == 1
    # A person's message with a file is still theirs to be answered.
    assert stack.dm("summarize Initech", subtype="file_share", files=[{"id": "F1"}]).status_code == 200
    _wait_said(stack, "Summary of Initech")


def test_a_reply_in_the_agents_thread_is_a_follow_up_with_its_memory(stack: Stack) -> None:
    body, headers = stack.signer.app_mention("summarize Globex", channel=CHANNEL, user=USER)
    stack.http.post("/slack/events", content=body, headers=headers)
    thread = httpx.Response(200, content=body).json()["event"]["ts"]
    _wait_said(stack, "Summary of Globex")
    # Also sent to the channel ("thread_broadcast"), and with a word the customer's name must not take.
    stack.reply_in_thread(f"now post it to <#{SALES}|sales> too", thread, subtype="thread_broadcast")
    message, _ = _approval(stack)
    assert message["thread_ts"] == thread and "summary of *Globex*" in message["text"]
    # A reply in a thread the agent never spoke in is left alone.
    stack.reply_in_thread("summarize Hooli", "1700000000.000001")
    time.sleep(1.0)
    assert not _said(stack, "Summary of Hooli")


def test_approval_acts_once_and_only_for_the_asker(stack: Stack) -> None:
    stack.mention(f"summarize Globex and drop it in <#{SALES}|sales>")
    message, approval = _approval(stack)
    assert not [c for c in stack.slack.calls if c.payload.get("channel") == SALES]

    assert stack.click(AGENT_APPROVE, message, approval, user="U0SOMEONE").status_code == 200
    stack.slack.wait_for(lambda calls: any(c.method == "chat.postEphemeral" for c in calls))
    told = next(c for c in stack.slack.calls if c.method == "chat.postEphemeral")
    assert told.payload["user"] == "U0SOMEONE" and f"<@{USER}>" in told.text
    assert not [c for c in stack.slack.calls if c.payload.get("channel") == SALES]

    assert stack.click(AGENT_APPROVE, message, approval).status_code == 200
    stack.slack.wait_for(lambda calls: any(c.payload.get("channel") == SALES for c in calls))
    _wait_said(stack, "I posted the summary of *Globex*")
    assert stack.click(AGENT_APPROVE, message, approval).status_code == 200
    stack.slack.wait_for(lambda calls: sum(c.method == "chat.postEphemeral" for c in calls) == 2)
    assert "already approved" in [c for c in stack.slack.calls if c.method == "chat.postEphemeral"][-1].text
    assert len([c for c in stack.slack.calls if c.payload.get("channel") == SALES]) == 1
    settled = stack.slack.messages[message["ts"]]
    assert "Approved by" in settled["text"] and [b["type"] for b in settled["blocks"]] == ["section"]
    [turn] = _turns(stack)
    run = _run(stack, turn["id"], ("succeeded",))
    assert [s["tool"] for s in run["steps"]] == ["summarize_and_post_customer_update"]
    assert any(e["status"] == "waiting" for e in run["events"])


def test_an_approval_whose_message_is_gone_is_still_acted_on(stack: Stack) -> None:
    stack.mention(f"summarize Initech and drop it in <#{SALES}|sales>")
    message, approval = _approval(stack)
    stack.slack.fail_next("chat.update", 200, error="message_not_found")  # someone deleted the request
    stack.click(AGENT_APPROVE, message, approval)
    _wait_said(stack, "I posted the summary of *Initech*")
    assert len([c for c in stack.slack.calls if c.payload.get("channel") == SALES]) == 1
    [turn] = _turns(stack)
    assert _run(stack, turn["id"], ("succeeded", "failed", "cancelled"))["status"] == "succeeded"


def test_cancel_does_nothing_and_ends_the_turn(stack: Stack) -> None:
    stack.mention(f"report on Globex and Initech in <#{SALES}|sales>")
    message, approval = _approval(stack)
    # What the approval covers, said before it is given: the other customer is not done with it.
    assert "*Initech* after this, if you ask again" in message["text"]
    stack.click(AGENT_CANCEL, message, approval)
    stack.slack.wait_for(lambda calls: "Cancelled by" in str(stack.slack.messages[message["ts"]].get("text")))
    assert "*Initech* after this" in str(stack.slack.messages[message["ts"]].get("text"))
    [turn] = _turns(stack)
    assert _run(stack, turn["id"], ("cancelled",))["error"] == "cancelled by the asker"
    assert not [c for c in stack.slack.calls if c.payload.get("channel") == SALES]


def test_a_turn_cancelled_through_the_api_while_it_waits_for_approval_ends_at_once_and_approve_does_nothing(
        stack: Stack) -> None:
    stack.mention(f"summarize Initech and post it in <#{SALES}|sales>")
    message, approval = _approval(stack)
    [turn] = _turns(stack)
    assert _run(stack, turn["id"], ("waiting",))["status"] == "waiting"

    cancelled = stack.http.post(f"/v1/runs/{turn['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"  # nothing runs it: at once
    stack.click(AGENT_APPROVE, message, approval)
    stack.slack.wait_for(lambda calls: "cancelled before it was approved" in str(
        stack.slack.messages[message["ts"]].get("text")))
    assert _run(stack, turn["id"], ("cancelled",))["status"] == "cancelled"
    assert not [c for c in stack.slack.calls if c.payload.get("channel") == SALES]


def test_an_approval_nobody_decides_expires_with_a_message(stack_factory) -> None:
    stack = stack_factory(agent_approval_ttl_s=1)
    stack.mention(f"summarize Globex and post it to <#{SALES}|sales>")
    message, approval = _approval(stack)
    stack.slack.wait_for(lambda calls: "expired" in str(stack.slack.messages[message["ts"]].get("text")),
                         timeout_s=15)
    stack.click(AGENT_APPROVE, message, approval)
    stack.slack.wait_for(lambda calls: any(c.method == "chat.postEphemeral" for c in calls))
    assert "has expired" in [c for c in stack.slack.calls if c.method == "chat.postEphemeral"][-1].text
    assert not [c for c in stack.slack.calls if c.payload.get("channel") == SALES]


def test_a_pending_approval_survives_a_worker_restart(stack: Stack) -> None:
    stack.mention(f"summarize Hooli and share it in <#{SALES}|sales>")
    message, approval = _approval(stack)
    assert stack.worker is not None
    stack.worker.stop()
    stack.worker = WorkerThread(stack.collaborators).start()
    stack.click(AGENT_APPROVE, message, approval)
    stack.slack.wait_for(lambda calls: any(c.payload.get("channel") == SALES for c in calls))


def test_a_click_on_something_else_is_refused(stack: Stack) -> None:
    forged = {"ts": "1700000000.000009", "text": "x", "blocks": []}
    assert stack.click(AGENT_APPROVE, forged, "0" * 32).status_code == 403


def test_feedback_is_recorded_on_the_run(stack: Stack) -> None:
    stack.mention("summarize Wonka")
    stack.slack.wait_for(lambda calls: any(c.method == "chat.stopStream" for c in calls))
    [turn] = _turns(stack)
    stack.click(AGENT_FEEDBACK, {"ts": "1.1"}, f"good:{turn['id']}")
    deadline = time.monotonic() + 10
    while not stack.http.get(f"/v1/runs/{turn['id']}").json().get("feedback") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.http.get(f"/v1/runs/{turn['id']}").json()["feedback"] == {USER: "good"}
    assert 'acme_agent_feedback_total{verdict="good"} 1.0' in stack.http.get("/metrics").text
    # The same word again counts once; a click from a channel the answer is not in does not count.
    stack.click(AGENT_FEEDBACK, {"ts": "1.1"}, f"good:{turn['id']}")
    stack.click(AGENT_FEEDBACK, {"ts": "1.2"}, f"bad:{turn['id']}", user="U0FORGER", channel="D0ELSEWHERE")
    stack.click(AGENT_FEEDBACK, {"ts": "1.1"}, f"bad:{turn['id']}", user="U0OTHER")
    while len(stack.http.get(f"/v1/runs/{turn['id']}").json()["feedback"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert stack.http.get(f"/v1/runs/{turn['id']}").json()["feedback"] == {USER: "good", "U0OTHER": "bad"}
    metrics = stack.http.get("/metrics").text
    assert 'acme_agent_feedback_total{verdict="good"} 1.0' in metrics
    assert 'acme_agent_feedback_total{verdict="bad"} 1.0' in metrics


@pytest.mark.parametrize("text", ["", "x" * 4000])
def test_a_mention_with_only_the_bots_name_or_4000_characters_is_answered(stack: Stack, text: str) -> None:
    response = stack.mention(text)
    assert response.status_code == 200 and response.elapsed.total_seconds() < 3
    stack.slack.wait_for(lambda calls: any(c.method == "chat.stopStream" for c in calls))
    [turn] = _turns(stack)
    assert _run(stack, turn["id"])["status"] == "succeeded"


def test_slash_ask_posts_the_question_and_answers_in_its_thread(stack: Stack) -> None:
    assert stack.slash("ask is the CRM up?").text == "Working on it..."
    _wait_said(stack, "Everything is up")
    root = next(c for c in stack.slack.calls if c.method == "chat.postMessage")
    assert f"<@{USER}> asked: is the CRM up?" in root.text
    start = next(c for c in stack.slack.calls if c.method == "chat.startStream")
    assert start.payload["thread_ts"] == root.payload["ts"]


def test_slash_ask_can_name_a_channel_as_slack_escapes_it(stack: Stack) -> None:
    # The manifest asks Slack to escape the command's text: a channel comes as its link, as in a mention.
    stack.slash(f"ask summarize AT&amp;T and post it in <#{SALES}|sales> for <@U0BOSS|boss>")
    message, _ = _approval(stack)
    assert f"<#{SALES}>" in message["text"]
    echo = next(c for c in stack.slack.calls if c.method == "chat.postMessage" and "asked:" in c.text)
    assert echo.text.endswith(f"asked: summarize AT&amp;T and post it in <#{SALES}> for @boss")


def test_dms_keep_their_own_memory(stack: Stack) -> None:
    stack.dm("summarize Globex", thread_ts="1700000000.000100")
    _wait_said(stack, "Summary of Globex")
    stack.dm("and their tickets?", thread_ts="1700000000.000100")
    _wait_said(stack, "open ticket(s)")
    assert next(c for c in stack.slack.calls if "open ticket(s)" in c.text).payload["channel"] == DM


def test_a_report_asked_of_the_agent_mentions_the_asker_when_ready_and_says_so_plainly(stack: Stack) -> None:
    stack.mention("report on Globex here")
    stack.slack.wait_for(lambda calls: any("is ready" in c.text for c in calls), timeout_s=30)
    answer = _wait_said(stack, "The account report on Globex")
    told = " ".join(c.text + str(c.payload.get("initial_comment", "")) for c in stack.slack.calls)
    assert f"<@{USER}>" in told
    assert "cus_" not in answer[-1].text and answer[-1].text.count(f"<#{CHANNEL}>") <= 1
