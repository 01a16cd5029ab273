"""The Slack flows end to end: signed request → app under uvicorn → Redis → worker → mock CRM → fake Slack."""

from __future__ import annotations

import json
import time

import httpx

from app.embedded_redis import free_port
from app.queueing.job_table import SUMMARY_QUEUE
from tests.conftest import CHANNEL, DM, Stack

ANSWERING = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream")


def _summaries(calls, name: str):
    """Messages that carry a summary: posted, or streamed by the agent."""
    return [c for c in calls if c.method in ANSWERING and f"Summary of {name}" in c.text]


def _ephemeral(calls):
    return [c for c in calls if c.method == "response_url" and c.payload.get("response_type") == "ephemeral"]


def test_slash_command_acks_working_on_it_then_posts_the_summary_in_the_channel(stack: Stack) -> None:
    response = stack.slash("summary Globex")

    assert response.status_code == 200
    assert response.text == "Working on it..."
    # Slack gives up after 3 s; the ack must never come near it.
    assert response.elapsed.total_seconds() < 3
    calls = stack.slack.wait_for(lambda calls: _summaries(calls, "Globex"))
    summary = _summaries(calls, "Globex")[0]
    assert summary.payload["channel"] == CHANNEL
    assert "thread_ts" not in summary.payload
    shown = summary.visible_text
    for fact in ("Globex Corporation", "enterprise", "active", "Dana Whitfield", "urgent",
                 "Production outage: checkout returns 502", "Needs attention"):
        assert fact in shown
    assert [b["type"] for b in summary.payload["blocks"]] == ["section", "section", "section"]


def test_slash_command_by_id_and_by_email(stack: Stack) -> None:
    stack.slash("summary cus_003")
    stack.slash("summary ops@hooli.example")
    stack.slack.wait_for(lambda calls: _summaries(calls, "Initech") and _summaries(calls, "Hooli"))


def test_mention_answers_working_on_it_then_the_summary_in_its_thread(stack: Stack) -> None:
    body, headers = stack.signer.app_mention("please summarize Initech", channel=CHANNEL, user="U0TESTER")
    response = stack.http.post("/slack/events", content=body, headers=headers)

    assert response.status_code == 200
    calls = stack.slack.wait_for(lambda calls: _summaries(calls, "Initech"))
    posts = [c for c in calls if c.method in ("chat.postMessage", "chat.startStream")]
    assert [p.text for p in posts][0] == "Working on it..."
    event_ts = httpx.Response(200, content=body).json()["event"]["ts"]
    assert {p.payload["thread_ts"] for p in posts} == {event_ts}


def test_a_retried_event_makes_one_summary(stack: Stack) -> None:
    first = stack.mention("summarize Globex", event_id="Ev0RETRIED")
    retry = stack.mention("summarize Globex", event_id="Ev0RETRIED")
    body, headers = stack.signer.app_mention("summarize Globex", channel=CHANNEL, user="U0TESTER",
                                             event_id="Ev0RETRIED")
    headers.update({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    slack_retry = stack.http.post("/slack/events", content=body, headers=headers)

    assert [first.status_code, retry.status_code, slack_retry.status_code] == [200, 200, 200]
    stack.slack.wait_for(lambda calls: _summaries(calls, "Globex"))
    time.sleep(0.5)  # room for a second summary, were one coming
    assert len(_summaries(stack.slack.calls, "Globex")) == 1
    assert len([c for c in stack.slack.calls if c.text == "Working on it..."]) == 1


def test_one_message_brought_by_two_events_is_answered_once(stack: Stack) -> None:
    body, headers = stack.signer.message_event("summarize Initech", channel=DM, user="U0TESTER", channel_type="im")
    stack.http.post("/slack/events", content=body, headers=headers)
    again = json.loads(body)
    again["event_id"] = "Ev0ANOTHER"
    again_body = json.dumps(again)
    stack.http.post("/slack/events", content=again_body,
                    headers=stack.signer.signed(again_body, content_type="application/json"))
    stack.slack.wait_for(lambda calls: _summaries(calls, "Initech"))
    time.sleep(0.5)  # room for a second answer, were one coming
    assert len(_summaries(stack.slack.calls, "Initech")) == 1


def test_unknown_customer_is_told_to_the_asker(stack: Stack) -> None:
    stack.slash("summary Nobody Such")
    calls = stack.slack.wait_for(lambda calls: _ephemeral(calls))
    assert _ephemeral(calls)[0].text == "No customer matches \u201cNobody Such\u201d."
    assert not [c for c in calls if c.method == "chat.postMessage"]


def test_ambiguous_customer_lists_at_most_five_matches_and_asks_which(stack: Stack) -> None:
    stack.slash("summary Acme")
    calls = stack.slack.wait_for(lambda calls: _ephemeral(calls))
    answer = _ephemeral(calls)[0].text
    assert "Several customers match \u201cAcme\u201d" in answer
    assert "Acme Rockets" in answer and "Acme Robotics" in answer and "Which one?" in answer

    stack.slash("summary example")  # every customer's email matches
    calls = stack.slack.wait_for(lambda calls: len(_ephemeral(calls)) == 2)
    assert _ephemeral(calls)[1].text.count("\u2022") == 5


def test_help_unknown_subcommand_and_missing_customer(stack: Stack) -> None:
    help_answer = stack.slash("help")
    assert "/acme summary <customer>" in help_answer.json()["text"]
    unknown = stack.slash("frobnicate the widgets").json()["text"]
    assert unknown.startswith("I don't know the command \u201cfrobnicate\u201d.")
    assert unknown.endswith(help_answer.json()["text"].split("\n", 1)[1])
    assert stack.slash("summary").text.startswith("Which customer?")
    stack.mention("what can you do?")
    calls = stack.slack.wait_for(lambda calls: any("/acme summary" in c.text for c in calls))
    assert calls[0].payload.get("thread_ts")


def test_hostile_crm_data_is_escaped_and_pings_nobody(stack: Stack) -> None:
    created = httpx.post(f"{stack.crm.url}/customers", json={
        "name": "<!channel> & Co", "company": "<@U0BOSS> Holdings", "email": "x@<!here>.example", "plan": "pro",
    }).json()
    httpx.post(f"{stack.crm.url}/tickets", json={
        "customer_id": created["id"], "subject": "<!everyone> <https://evil.example|click> *now*",
        "priority": "urgent",
    }).raise_for_status()

    stack.slash(f"summary {created['id']}")
    calls = stack.slack.wait_for(lambda calls: [c for c in calls if c.method == "chat.postMessage"])
    post = [c for c in calls if c.method == "chat.postMessage"][0]
    raw = post.text + str(post.payload["blocks"])
    for hostile in ("<!channel>", "<@U0BOSS>", "<!here>", "<!everyone>", "<https://evil.example"):
        assert hostile not in raw
    assert "&lt;!channel&gt; &amp; Co" in post.text
    assert "&lt;!everyone&gt;" in str(post.payload["blocks"])


def test_hostile_user_text_is_escaped_when_echoed(stack: Stack) -> None:
    stack.slash("summary <b>Tom</b> & friends")
    calls = stack.slack.wait_for(lambda calls: any("No customer matches" in c.text for c in calls))
    answer = next(c.text for c in calls if "No customer matches" in c.text)
    assert "<b>" not in answer
    assert "&lt;b&gt;Tom&lt;/b&gt; &amp; friends" in answer


def test_a_mention_asking_to_ping_everyone_pings_nobody(stack: Stack) -> None:
    stack.mention("summarize <!here> & friends")
    calls = stack.slack.wait_for(lambda calls: any("won't notify" in c.text for c in calls))
    assert not any("<!here>" in str(c.payload) for c in calls if c.method != "assistant.threads.setStatus")


def test_summary_reaches_a_channel_the_bot_has_not_joined_through_response_url(stack: Stack) -> None:
    stack.slack.not_member_of.add(CHANNEL)
    stack.slash("summary Globex")
    calls = stack.slack.wait_for(lambda calls: [c for c in calls if c.method == "response_url"])
    answer = [c for c in calls if c.method == "response_url"][0]
    assert answer.payload["response_type"] == "in_channel"
    assert "Summary of Globex" in answer.text


def test_bad_signature_and_stale_timestamp_are_refused_and_do_nothing(stack: Stack) -> None:
    body, headers = stack.signer.slash_command("summary Globex", channel=CHANNEL, user="U0TESTER")
    forged = stack.http.post("/slack/events", content=body.replace("Globex", "Initech"), headers=headers)
    unsigned = stack.http.post("/slack/events", content=body,
                               headers={"Content-Type": headers["Content-Type"]})
    stale_body, stale_headers = stack.signer.slash_command("summary Globex", channel=CHANNEL, user="U0TESTER",
                                                           timestamp=int(time.time()) - 301)
    stale = stack.http.post("/slack/events", content=stale_body, headers=stale_headers)
    event_body, event_headers = stack.signer.app_mention("summarize Globex", channel=CHANNEL, user="U0TESTER",
                                                         timestamp=int(time.time()) + 400)
    future_event = stack.http.post("/slack/events", content=event_body, headers=event_headers)

    assert [forged.status_code, unsigned.status_code, stale.status_code, future_event.status_code] == [401] * 4
    assert stack.collaborators.jobs.queue(SUMMARY_QUEUE).count == 0
    time.sleep(0.3)
    assert stack.slack.calls == []


def test_malformed_signed_payload_gets_a_4xx_not_a_500(stack: Stack) -> None:
    body = "{not json"
    headers = stack.signer.signed(body, content_type="application/json")
    response = stack.http.post("/slack/events", content=body, headers=headers)
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text


def test_queue_unavailable_is_said_not_swallowed(stack_factory) -> None:
    stack = stack_factory(worker=False, redis_url=f"redis://127.0.0.1:{free_port()}/0")

    answer = stack.slash("summary Globex")
    assert answer.status_code == 200
    assert "queue is unavailable" in answer.text
    # An event gets a 503, so Slack delivers it again later instead of it being lost.
    assert stack.mention("summarize Globex").status_code == 503


def test_health_readiness_and_metrics(stack: Stack) -> None:
    stack.slash("summary Globex")
    stack.slack.wait_for(lambda calls: _summaries(calls, "Globex"))
    assert stack.http.get("/healthz").status_code == 200
    ready = stack.http.get("/readyz").json()
    assert ready["redis"] == "ok"
    assert ready["database"] == "ok"
    assert ready["circuit_breakers"] == {"CRM": "closed", "Slack": "closed", "HTTP-tools": "closed"}
    assert ready["queues"] == {"acme-summaries": 0, "acme-agent": 0, "acme-notifications": 0, "acme-runs": 0,
                               "acme-reports": 0}
    metrics = stack.http.get("/metrics").text
    assert 'acme_http_requests_total{path="/slack/events",status="200"}' in metrics
    assert 'acme_circuit_breaker_state{downstream="CRM",state="closed"} 1.0' in metrics
