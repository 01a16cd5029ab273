"""Waiting without holding a worker: a Slack call that would wait long raises PostDeferred instead, and the
job runs again later (app/worker/later.py), carrying what it needs to go on.

    PostDeferred      the job is to run again in `wait_s` (a BaseException: see its docstring)
    DeferralPolicy    how long a job may sleep, and how long it waits for Slack to come back
    Carried           what goes from one run of a job to the next: the places held in line, since when Slack
                      fails it, and the job's stable id (its Slack effects are recorded under it, in Redis:
                      app/integrations/slack_effects.py, so the calls already made are not made again)
    DeferringSession  one run of a job: turns long waits into PostDeferred, and gives up when Slack has failed
                      for too long
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from app.integrations.errors import DownstreamFailed, DownstreamUnavailable, IntegrationError
from app.integrations.pacing import Turn


class PostDeferred(BaseException):
    """The job must not wait here for `wait_s`: the worker's entry point queues it to run again then.

    A BaseException, like GeneratorExit: the jobs' `except Exception` handlers (which tell the user of a
    failure and clean up after one) must let it pass up to the entry point. `place_us` is the message's
    place in its channel's line, when it has one.
    """

    def __init__(self, wait_s: float, reason: str, place_us: int | None = None) -> None:
        super().__init__(f"run again in {wait_s:.1f} s: {reason}")
        self.wait_s = wait_s
        self.reason = reason
        self.place_us = place_us


@dataclass(frozen=True)
class DeferralPolicy:
    """A wait up to `longest_sleep_s` is slept in the job; longer ones run the job again later. After Slack's quick
    retries fail, the job runs again after `first_backoff_s`, doubling up to `max_backoff_s`, for at most
    `give_up_after_s` of Slack failing (then the failure is raised as it was before)."""

    longest_sleep_s: float = 0.05
    first_backoff_s: float = 8.0
    max_backoff_s: float = 300.0
    give_up_after_s: float = 3600.0

    def backoff_s(self, failures: int) -> float:
        return float(min(self.max_backoff_s, self.first_backoff_s * 2 ** min(failures, 32)))


@dataclass
class Carried:
    """What one run of a job hands the next: the places it holds in channels' lines, and since when Slack has been
    failing it. `job_key` is the job's stable id (its first run's job id), which names its Slack effects' records;
    None for work outside a queued job."""

    job_key: str | None = None
    turns: dict[str, Turn] = field(default_factory=dict)
    failures: int = 0
    failing_since: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"turns": {c: [t.token, t.slot_us] for c, t in self.turns.items()},
                "failures": self.failures, "failing_since": self.failing_since}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, job_key: str | None = None) -> Carried:
        if not data:
            return cls(job_key)
        return cls(job_key,
                   turns={c: Turn(str(t[0]), int(t[1]), in_line=True) for c, t in data.get("turns", {}).items()},
                   failures=int(data.get("failures", 0)), failing_since=data.get("failing_since"))


class DeferringSession:
    def __init__(self, carried: Carried, policy: DeferralPolicy, clock: Callable[[], float] = time.time) -> None:
        self.carried = carried
        self.policy = policy
        self._clock = clock

    def held_turn(self, channel: str) -> Turn | None:
        """The place in `channel`'s line an earlier run took for its next message, handed to this one."""
        return self.carried.turns.pop(channel, None)

    def hold(self, channel: str, turn: Turn) -> None:
        self.carried.turns[channel] = turn

    def succeeded(self) -> None:
        """Slack answered: whatever failed before has passed."""
        self.carried.failures, self.carried.failing_since = 0, None

    def retry_later(self, failure: IntegrationError, asked_s: float | None = None) -> NoReturn:
        """Raise PostDeferred for a call Slack failed, or asked (Retry-After) to have again in `asked_s`;
        raise the failure itself once Slack has been failing this job for the policy's whole wait."""
        now = self._clock()
        since = self.carried.failing_since if self.carried.failing_since is not None else now
        left_s = since + self.policy.give_up_after_s - now
        if left_s <= 0:
            raise DownstreamFailed(failure.downstream,
                                   f"{failure.detail}; still failing after {now - since:.0f} s of trying again later")
        self.carried.failing_since = since
        if asked_s is not None:
            wait_s, reason = asked_s, f"Slack asked to be called again in {asked_s:g} s ({failure.detail})"
        else:
            wait_s = self.policy.backoff_s(self.carried.failures)
            if isinstance(failure, DownstreamUnavailable):
                wait_s = max(wait_s, float(failure.retry_in_s))
            self.carried.failures += 1
            reason = f"Slack failed ({failure.detail})"
        raise PostDeferred(min(wait_s, left_s), reason)
