"""Retry, circuit breaker and throttle: the plumbing every outbound call goes through.

Nesting (see shared/LIBRARY-NOTES.md): tenacity outside, the breaker around each
attempt, and a breaker error is never retried.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker
import redis
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_any, wait_exponential
from tenacity.stop import stop_base

from app.integrations.breaker_storage import SnapshotRedisStorage, storage_keys
from app.integrations.errors import DownstreamFailed, DownstreamUnavailable
from app.integrations.shared_throttle import SharedThrottle

log = logging.getLogger(__name__)
T = TypeVar("T")
TRIPPED = "Circuit Breaker Tripped"


class RetryableFailure(Exception):
    """One attempt failed in a way worth retrying: a timeout, a connection error, a 429 or a 5xx."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


def parse_retry_after(headers: Any) -> float | None:
    """The seconds a `Retry-After` header asks for (httpx's headers, or slack-sdk's dict of lists)."""
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value[0] if isinstance(value, list) else value)
    except (AttributeError, TypeError, ValueError):
        return None


class RetryPolicy:
    """Up to `attempts` tries, waiting 1 s, 2 s, 4 s... between them, or longer when the downstream asks."""

    def __init__(
        self,
        attempts: int = 4,
        first_wait_s: float = 1.0,
        max_wait_s: float = 4.0,
        max_retry_after_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._backoff = wait_exponential(multiplier=first_wait_s, min=first_wait_s, max=max_wait_s)

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, RetryableFailure) and failure.retry_after_s:
            return max(backoff, min(failure.retry_after_s, self.max_retry_after_s))
        return backoff

    def run(self, attempt: Callable[[], T], downstream: str, deadline: float | None = None) -> T:
        """`attempt` until it succeeds, fails in a way not worth retrying, or has had its attempts; with a
        `deadline` (time.monotonic()), no wait for another attempt ends past it."""
        out_of_time = _Deadline(deadline)

        def log_retry(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0
            log.warning("%s call failed (%s); attempt %d of %d, retrying in %.0f s",
                        downstream, failure, state.attempt_number, self.attempts, wait)

        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self.attempts), out_of_time),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableFailure),
            sleep=self._sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except RetryableFailure as exc:
            if out_of_time.reached:
                raise DownstreamFailed(downstream, f"{exc.reason}, with no time left to try again") from None
            raise DownstreamFailed(downstream, f"{exc.reason}, after {self.attempts} attempts") from None


class _Deadline(stop_base):
    """Stops before a wait that would end past `deadline` (time.monotonic()); None never stops."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.reached = False

    def __call__(self, retry_state: RetryCallState) -> bool:
        self.reached = self.deadline is not None and time.monotonic() + retry_state.upcoming_sleep >= self.deadline
        return self.reached


class _TripLogger(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: object, new_state: object) -> None:
        new = getattr(new_state, "name", None)
        if new == pybreaker.STATE_OPEN:
            log.error("%s: %s is failing; calls fail fast for %.0f s", TRIPPED, cb.name, cb.reset_timeout)
        elif new == pybreaker.STATE_CLOSED and getattr(old_state, "name", None) != pybreaker.STATE_CLOSED:
            log.info("Circuit breaker closed: %s answers again", cb.name)


class SharedBreaker:
    """A pybreaker circuit breaker whose state lives in Redis, shared by every process.

    pybreaker lets every caller through in half-open; a Redis lock here lets only
    one trial call through at a time, across all processes.
    """

    def __init__(self, name: str, connection: redis.Redis, fail_max: int, reset_s: float) -> None:
        self.name = name
        self.fail_max = fail_max
        self.reset_s = reset_s
        self._redis = self.connection = connection
        self._trial_key = f"acme:breaker:{name}:trial"
        self._namespace = f"acme:{name}"
        self._created: tuple[SnapshotRedisStorage, pybreaker.CircuitBreaker] | None = None
        self._create_lock = threading.Lock()

    def _parts(self) -> tuple[SnapshotRedisStorage, pybreaker.CircuitBreaker]:
        # Built on first use: pybreaker's Redis storage writes to Redis when it is made, and a
        # server must start (and say "not ready") while Redis is down.
        with self._create_lock:
            if self._created is None:
                storage = SnapshotRedisStorage(self._redis, namespace=self._namespace)
                breaker = pybreaker.CircuitBreaker(
                    fail_max=self.fail_max,
                    reset_timeout=self.reset_s,
                    state_storage=storage,
                    name=self.name,
                    listeners=[_TripLogger()],
                    # Only failures worth retrying say the downstream is unwell; a 404 proves it is alive.
                    exclude=[lambda exc: not isinstance(exc, RetryableFailure)],
                )
                self._created = (storage, breaker)
            return self._created

    @property
    def _storage(self) -> SnapshotRedisStorage:
        return self._parts()[0]

    @property
    def _breaker(self) -> pybreaker.CircuitBreaker:
        return self._parts()[1]

    @property
    def state(self) -> str:
        return self._storage.state

    def status_keys(self) -> list[str]:
        """Where its state and the time it opened are kept, for a reader of many breakers at once; known without
        Redis (`acme serve` reads breakers it never used: making their storage would wait on Redis)."""
        return storage_keys(self._namespace)[:2]

    def retry_in_s(self) -> int:
        opened_at = self._storage.opened_at
        return self.retry_in_s_after(opened_at.timestamp() if opened_at else None)

    def retry_in_s_after(self, opened_at: float | None) -> int:
        """Seconds until a trial call, for a breaker that opened at `opened_at` (a Unix time, as stored)."""
        if opened_at is None:
            return math.ceil(self.reset_s)
        return max(1, math.ceil(opened_at + self.reset_s - datetime.now(UTC).timestamp()))

    def _trial_due(self, state: str, opened_at: float | None) -> bool:
        if state == pybreaker.STATE_HALF_OPEN:
            return True
        if state != pybreaker.STATE_OPEN:
            return False
        return opened_at is None or datetime.now(UTC).timestamp() >= opened_at + self.reset_s

    @contextlib.contextmanager
    def guard(self, trial_timeout_s: float) -> Iterator[None]:
        """Run the block through the breaker; raise DownstreamUnavailable at once while it is open."""
        storage, breaker = self._parts()
        trial_token = None
        try:
            if self._trial_due(*storage.snapshot()):
                token = uuid.uuid4().hex
                ttl_ms = max(1000, int(trial_timeout_s * 1000) + 1000)
                if not self._redis.set(self._trial_key, token, nx=True, px=ttl_ms):
                    raise DownstreamUnavailable(self.name, 1)
                trial_token = token
            with breaker.calling():
                yield
        except pybreaker.CircuitBreakerError:
            raise DownstreamUnavailable(self.name, self.retry_in_s()) from None
        finally:
            storage.forget_snapshot()
            if trial_token is not None and self._redis.get(self._trial_key) == trial_token.encode():
                self._redis.delete(self._trial_key)


class Downstream:
    """One system we call: every call is throttled, guarded by the breaker, and retried with backoff."""

    def __init__(
        self, name: str, breaker: SharedBreaker, retry: RetryPolicy, throttle: SharedThrottle,
        timeout_s: float
    ) -> None:
        self.name = name
        self.breaker = breaker
        self.retry = retry
        self.throttle = throttle
        self.timeout_s = timeout_s

    def call(self, operation: Callable[[], T], deadline: float | None = None) -> T:
        """`operation` raises RetryableFailure for what is worth retrying; anything else passes through. With a
        `deadline` (time.monotonic()), no retry waits past it."""

        def attempt() -> T:
            self.throttle.acquire()
            with self.breaker.guard(self.timeout_s):
                return operation()

        return self.retry.run(attempt, self.name, deadline)
