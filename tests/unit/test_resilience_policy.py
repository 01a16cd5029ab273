import time

import pytest

from app.integrations.errors import DownstreamFailed
from app.integrations.resilience import RetryableFailure, RetryPolicy


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_four_attempts_waiting_1_2_4_seconds() -> None:
    sleeps: list[float] = []
    operation = Flaky([RetryableFailure("HTTP 503")] * 4)
    with pytest.raises(DownstreamFailed, match="HTTP 503, after 4 attempts"):
        RetryPolicy(sleep=sleeps.append).run(operation, "CRM")
    assert sleeps == [1, 2, 4]
    assert operation.calls == 4


def test_success_after_retries_returns_the_result() -> None:
    sleeps: list[float] = []
    assert RetryPolicy(sleep=sleeps.append).run(Flaky([RetryableFailure("timed out")]), "CRM") == "ok"
    assert sleeps == [1]


def test_retry_after_is_honoured_when_longer_than_the_backoff_and_capped() -> None:
    sleeps: list[float] = []
    failures = [RetryableFailure("HTTP 429", retry_after_s=7), RetryableFailure("HTTP 429", retry_after_s=0.5),
                RetryableFailure("HTTP 429", retry_after_s=3600)]
    RetryPolicy(sleep=sleeps.append).run(Flaky(failures), "Slack")
    assert sleeps == [7, 2, 60]


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    operation = Flaky([KeyError("not retryable")])
    with pytest.raises(KeyError):
        RetryPolicy(sleep=sleeps.append).run(operation, "CRM")
    assert sleeps == [] and operation.calls == 1


def test_no_wait_ends_past_the_deadline_and_the_failure_says_why() -> None:
    sleeps: list[float] = []
    soon = time.monotonic() + 10
    failures = [RetryableFailure("HTTP 503"), RetryableFailure("HTTP 429", retry_after_s=120)]
    operation = Flaky(failures)
    with pytest.raises(DownstreamFailed, match="HTTP 429, with no time left to try again"):
        RetryPolicy(sleep=sleeps.append).run(operation, "LLM", deadline=soon)
    assert sleeps == [1] and operation.calls == 2  # the 1 s wait fits; the 60 s one would not


def test_a_deadline_far_off_changes_nothing() -> None:
    sleeps: list[float] = []
    with pytest.raises(DownstreamFailed, match="after 4 attempts"):
        RetryPolicy(sleep=sleeps.append).run(Flaky([RetryableFailure("HTTP 503")] * 4), "CRM",
                                             deadline=time.monotonic() + 3600)
    assert sleeps == [1, 2, 4]
