"""What a job carries from one run to the next, and when waiting for Slack turns into running again later."""

from __future__ import annotations

import pytest

from app.integrations.deferral import Carried, DeferralPolicy, DeferringSession, PostDeferred
from app.integrations.errors import DownstreamFailed, DownstreamUnavailable
from app.integrations.pacing import Turn


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_later_run_is_handed_its_places_in_line_and_its_jobs_stable_id() -> None:
    first = DeferringSession(Carried(job_key="command-1"), DeferralPolicy())
    first.hold("C1", Turn("token", 123, in_line=True))

    carried = Carried.from_json(first.carried.to_json(), job_key="command-1")  # as the next run's job meta holds it
    later = DeferringSession(carried, DeferralPolicy())
    assert later.held_turn("C1") == Turn("token", 123, in_line=True) and later.held_turn("C1") is None
    assert later.carried.job_key == "command-1"


def test_slack_failing_backs_off_then_gives_up_after_the_policys_wait() -> None:
    clock = Clock()
    session = DeferringSession(Carried(), DeferralPolicy(first_backoff_s=8, max_backoff_s=300,
                                                         give_up_after_s=3600), clock=clock)
    waits = []
    while True:
        try:
            session.retry_later(DownstreamFailed("Slack", "HTTP 503, after 4 attempts"))
        except PostDeferred as deferred:
            waits.append(deferred.wait_s)
            clock.now += deferred.wait_s
        except DownstreamFailed as gave_up:
            assert "still failing after 3600 s" in gave_up.detail
            break
    assert waits[:7] == [8, 16, 32, 64, 128, 256, 300]
    assert sum(waits) == 3600  # the last wait ends when the policy's time is up, not past it


def test_a_retry_after_is_waited_exactly_and_an_open_breaker_at_least_until_its_trial() -> None:
    session = DeferringSession(Carried(), DeferralPolicy(first_backoff_s=8), clock=Clock())
    with pytest.raises(PostDeferred) as asked:
        session.retry_later(DownstreamFailed("Slack", "HTTP 429"), asked_s=30)
    assert asked.value.wait_s == 30 and "30 s" in asked.value.reason
    with pytest.raises(PostDeferred) as open_breaker:
        session.retry_later(DownstreamUnavailable("Slack", 25))
    assert open_breaker.value.wait_s == 25
    session.succeeded()
    assert session.carried.failing_since is None and session.carried.failures == 0


def test_post_deferred_passes_handlers_of_ordinary_failures() -> None:
    def job() -> str:
        try:
            raise PostDeferred(2.0, "its turn is in 2 s")
        except Exception:  # noqa: BLE001 - what a job does to tell the user of a failure
            return "told the user it failed"

    with pytest.raises(PostDeferred):
        job()
