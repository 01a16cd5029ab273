"""Retry, backoff, circuit breaker and Retry-After, against a real mock CRM, fake Slack and Redis."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
import redis

from app.composition import build_collaborators
from app.http_server import BackgroundServer
from app.integrations.breaker_storage import CLOSED_FRESH_S
from app.integrations.errors import DownstreamFailed, DownstreamRejected, DownstreamUnavailable
from app.integrations.resilience import TRIPPED
from app.queueing.job_table import SUMMARY_QUEUE
from mock_crm.server import CrmState, create_crm_app
from tests.conftest import CHANNEL, FakeSlack, MockCrm, RecordedSleeps, Stack, make_settings


def _ephemeral_texts(stack: Stack) -> list[str]:
    return [c.text for c in stack.slack.calls if c.method == "response_url"]


def _wait_for_answers(stack: Stack, count: int) -> list[str]:
    stack.slack.wait_for(lambda calls: len([c for c in calls if c.method == "response_url"]) >= count)
    return _ephemeral_texts(stack)


def test_crm_down_backs_off_trips_the_breaker_fails_fast_and_recovers(
    stack_factory, mock_crm: MockCrm, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stack = stack_factory(crm_breaker_fail_max=5, crm_breaker_reset_s=1)
    mock_crm.faults("down")

    stack.slash("summary Globex")
    first = _wait_for_answers(stack, 1)[0]
    assert first.startswith("The CRM is unavailable right now (HTTP 503, after 4 attempts)")
    assert stack.sleeps == [1, 2, 4]
    assert mock_crm.state.api_requests == 4

    stack.slash("summary Globex")
    second = _wait_for_answers(stack, 2)[1]
    assert second == "The CRM is unavailable right now; I will not retry for 1 s."
    assert any(TRIPPED in r.getMessage() and "CRM" in r.getMessage() for r in caplog.records)
    assert mock_crm.state.api_requests == 5  # the fifth failure tripped it; no retry after that
    assert stack.sleeps == [1, 2, 4]

    stack.slash("summary Initech")
    third = _wait_for_answers(stack, 3)[2]
    assert "will not retry for" in third
    assert mock_crm.state.api_requests == 5  # failed fast: the CRM never saw it

    mock_crm.faults("ok")
    time.sleep(2.1)  # past the reset time (opened_at is stored to the second)
    stack.slash("summary Globex")
    stack.slack.wait_for(lambda calls: any("Summary of Globex" in c.text for c in calls))
    assert stack.collaborators.crm_downstream.breaker.state == "closed"
    assert any("Circuit breaker closed: CRM" in r.getMessage() for r in caplog.records)


def test_breaker_state_is_shared_between_processes(redis_conn: redis.Redis, redis_url: str, mock_crm: MockCrm,
                                                   fake_slack: FakeSlack) -> None:
    mock_crm.faults("down")
    env = {**os.environ, "REDIS_URL": redis_url, "CRM_BASE_URL": mock_crm.url, "CRM_BREAKER_FAIL_MAX": "2",
           "CRM_BREAKER_RESET_S": "60"}
    script = textwrap.dedent("""
        from app.config import load_settings
        from app.integrations.errors import DownstreamFailed, DownstreamUnavailable
        from app.composition import build_collaborators
        collaborators = build_collaborators(load_settings(), sleep=lambda seconds: None)
        for _ in range(3):
            try:
                collaborators.crm.search_customers("Globex")
            except DownstreamFailed:
                continue
            except DownstreamUnavailable:
                print(collaborators.crm_downstream.breaker.state)
                break
    """)
    tripped = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert tripped.stdout.strip() == "open", tripped.stderr
    seen_by_the_other_process = mock_crm.state.api_requests

    here = build_collaborators(make_settings(redis_url, mock_crm.url, fake_slack.url, crm_breaker_fail_max=2),
                          sleep=RecordedSleeps())
    assert here.crm_downstream.breaker.state == "open"
    with pytest.raises(DownstreamUnavailable) as refused:
        here.crm.search_customers("Globex")
    assert 55 <= refused.value.retry_in_s <= 60
    assert mock_crm.state.api_requests == seen_by_the_other_process
    here.close()


def test_half_open_lets_one_trial_through_at_a_time(redis_conn: redis.Redis, redis_url: str, mock_crm: MockCrm,
                                                    fake_slack: FakeSlack) -> None:
    collaborators = build_collaborators(make_settings(redis_url, mock_crm.url, fake_slack.url, crm_breaker_fail_max=1,
                                            crm_breaker_reset_s=1), sleep=RecordedSleeps())
    mock_crm.faults("down")
    with pytest.raises(DownstreamUnavailable):
        collaborators.crm.search_customers("Globex")
    mock_crm.faults("ok")
    time.sleep(2.1)
    calls_before = mock_crm.state.api_requests

    # Another process's trial call is in flight: this one must not become a second trial.
    redis_conn.set("acme:breaker:CRM:trial", "someone-else", px=5000)
    with pytest.raises(DownstreamUnavailable):
        collaborators.crm.search_customers("Globex")
    assert mock_crm.state.api_requests == calls_before

    redis_conn.delete("acme:breaker:CRM:trial")
    assert collaborators.crm.search_customers("Globex")[0].name == "Globex"
    assert collaborators.crm_downstream.breaker.state == "closed"
    collaborators.close()


def test_a_breaker_opened_by_another_process_is_seen_within_moments(
        redis_url: str, mock_crm: MockCrm, fake_slack: FakeSlack) -> None:
    settings = make_settings(redis_url, mock_crm.url, fake_slack.url, crm_breaker_fail_max=2)
    here, elsewhere = (build_collaborators(settings, sleep=RecordedSleeps()) for _ in range(2))
    here.crm.search_customers("Globex")  # closed, as read just now
    mock_crm.faults("down")
    with pytest.raises((DownstreamFailed, DownstreamUnavailable)):
        elsewhere.crm.search_customers("Globex")  # its failures open the shared breaker
    assert elsewhere.crm_downstream.breaker.state == "open"
    time.sleep(CLOSED_FRESH_S)
    with pytest.raises(DownstreamUnavailable):
        here.crm.search_customers("Globex")
    here.close()
    elsewhere.close()


def test_timeouts_are_retried_with_backoff(redis_conn: redis.Redis, redis_url: str, mock_crm: MockCrm,
                                           fake_slack: FakeSlack) -> None:
    sleeps = RecordedSleeps()
    collaborators = build_collaborators(make_settings(redis_url, mock_crm.url, fake_slack.url, crm_timeout_s=0.2),
                              sleep=sleeps)
    mock_crm.faults("slow", delay_s=1.0)
    with pytest.raises(DownstreamFailed, match="timed out, after 4 attempts"):
        collaborators.crm.search_customers("Globex")
    assert sleeps == [1, 2, 4]
    collaborators.close()


def test_a_4xx_from_the_crm_is_not_retried_and_does_not_count_against_it(
    redis_conn: redis.Redis, redis_url: str, fake_slack: FakeSlack
) -> None:
    server = BackgroundServer(create_crm_app(CrmState(), token="the-right-token"), name="crm-with-token").start()
    sleeps = RecordedSleeps()
    collaborators = build_collaborators(make_settings(redis_url, server.url, fake_slack.url,
                                                      crm_api_token="a-wrong-token", crm_breaker_fail_max=1),
                                        sleep=sleeps)
    try:
        for _ in range(3):
            with pytest.raises(DownstreamRejected, match="HTTP 401"):
                collaborators.crm.search_customers("Globex")
        assert sleeps == []
        assert collaborators.crm_downstream.breaker.state == "closed"
        good = build_collaborators(make_settings(redis_url, server.url, fake_slack.url,
                                                 crm_api_token="the-right-token"))
        assert good.crm.get_customer("cus_001").name == "Globex"  # type: ignore[union-attr]
        assert good.crm.get_customer("cus_999") is None
        good.close()
    finally:
        collaborators.close()
        server.stop()


def test_a_tool_called_through_the_api_and_hit_by_a_429_runs_again_later_not_asleep(stack_factory) -> None:
    """The API's runs give their worker back as Slack's jobs do (test_waiting.py); the agent waits in place."""
    stack = stack_factory(acme_api_rate="1000/s")
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "1"})
    asked_at = time.time()
    started = stack.http.post("/v1/tools/slack.post_message/invoke", json={"channel": CHANNEL, "text": "hello"})
    assert started.status_code == 202
    stack.slack.wait_for(lambda calls: any(c.text == "hello" for c in calls))
    [hello] = [c for c in stack.slack.calls if c.text == "hello"]
    assert hello.received_at - asked_at >= 1.0 and stack.sleeps == []


def test_slack_5xx_is_retried_and_a_rejection_is_not(stack: Stack, redis_conn: redis.Redis) -> None:
    stack.slack.fail_next("chat.postMessage", 503, times=2)
    stack.slash("summary Globex")
    stack.slack.wait_for(lambda calls: any("Summary of Globex" in c.text for c in calls))
    assert stack.sleeps == [1, 2]

    stack.slack.fail_next("chat.postMessage", 200, error="invalid_blocks")
    stack.slash("summary Initech")
    answers = _wait_for_answers(stack, 1)
    assert answers[0].startswith(":warning: Something went wrong")
    assert stack.sleeps == [1, 2]
    # RQ files the job as failed just after its failure callback has told the user.
    deadline = time.monotonic() + 5
    while stack.collaborators.jobs.queue(SUMMARY_QUEUE).failed_job_registry.count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.collaborators.jobs.queue(SUMMARY_QUEUE).failed_job_registry.count == 1


def test_a_call_through_the_closed_breaker_reads_redis_once_and_a_success_still_resets_the_failures(
        redis_conn: redis.Redis, redis_url: str, mock_crm: MockCrm, fake_slack: FakeSlack) -> None:
    # No throttle: its leases are Redis calls too, and not the breaker's.
    collaborators = build_collaborators(make_settings(redis_url, mock_crm.url, fake_slack.url, crm_breaker_fail_max=6,
                                                      crm_max_rps=0), sleep=RecordedSleeps())
    collaborators.crm.search_customers("Globex")
    time.sleep(CLOSED_FRESH_S)
    redis_conn.config_resetstat()
    for _ in range(5):
        collaborators.crm.search_customers("Globex")
    calls = {name.removeprefix("cmdstat_"): stat["calls"] for name, stat in redis_conn.info("commandstats").items()}
    # The first call reads the state; the next ones, within CLOSED_FRESH_S of it, take it as still closed.
    assert calls.pop("mget") == 1
    assert not {"get", "set", "incr"} & set(calls), calls

    mock_crm.faults("down")
    with pytest.raises(DownstreamFailed):  # 4 failed attempts in a row: 4 of the 6 that trip it
        collaborators.crm.search_customers("Globex")
    mock_crm.faults("ok")
    collaborators.crm.search_customers("Globex")  # a success: the count starts again
    mock_crm.faults("down")
    with pytest.raises(DownstreamFailed):
        collaborators.crm.search_customers("Globex")
    assert collaborators.crm_downstream.breaker.state == "closed"
    collaborators.close()
