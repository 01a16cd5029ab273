"""Where a shared circuit breaker keeps its state: Redis, read at most once per call."""

from __future__ import annotations

import logging
import threading
import time

import pybreaker
import redis

# How long a closed breaker with no failures, as read from Redis, is taken as still closed without asking
# again: a breaker opened by another process is seen this much later here, and a busy worker saves a round
# trip on most of its calls (a summary makes three).
CLOSED_FRESH_S = 0.1


def _one_line(record: logging.LogRecord) -> bool:
    """pybreaker logs each Redis error of each call with its traceback: during an outage that buried the
    log. One warning line each, with the error's own words, instead."""
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        record.msg = f"{record.msg} ({type(error).__name__}: {error})"
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


log = logging.getLogger(__name__)
log.addFilter(_one_line)


def storage_keys(namespace: str) -> list[str]:
    """Where pybreaker's Redis storage of `namespace` keeps the state, when it opened and the failure count
    (its `_namespace`), known without making one: making one writes to Redis."""
    return [f"{namespace}:{pybreaker.CircuitRedisStorage.BASE_NAMESPACE}:{key}"
            for key in ("state", "opened_at", "fail_counter")]


class SnapshotRedisStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's Redis storage, read once per call: one MGET of the state, when it opened and the failure
    count, instead of a GET of the state twice and a SET of the count after every success. A closed state
    with no failures read less than CLOSED_FRESH_S ago is not read again; a failure here forgets it."""

    def __init__(self, connection: redis.Redis, namespace: str, closed_fresh_s: float = CLOSED_FRESH_S) -> None:
        super().__init__(pybreaker.STATE_CLOSED, connection, namespace=namespace)
        self.logger = log
        self.keys = [self._namespace("state"), self._namespace("opened_at"), self._namespace("fail_counter")]
        assert self.keys == storage_keys(namespace), "pybreaker names its keys otherwise"
        self._call = threading.local()
        self._closed_fresh_s = closed_fresh_s
        self._closed_seen_at = float("-inf")

    def snapshot(self) -> tuple[str, float | None]:
        """The state and when it opened, as read for the call about to start; pybreaker's next read of the
        state, and its reset of the failure count, use this read instead of asking Redis again."""
        if time.monotonic() - self._closed_seen_at < self._closed_fresh_s:
            self._call.state, self._call.no_failures = pybreaker.STATE_CLOSED, True
            return pybreaker.STATE_CLOSED, None
        read_at = time.monotonic()
        try:
            state, opened_at, failures = self._redis.mget(self.keys)
        except redis.RedisError:
            self.logger.exception("RedisError: falling back to default circuit state")
            return self._fallback_circuit_state, None
        if state is None:
            self._initialize_redis_state(self._fallback_circuit_state)
            state = self._fallback_circuit_state.encode()
        self._call.state = state.decode() if isinstance(state, bytes) else str(state)
        self._call.no_failures = not failures or int(failures) == 0
        if self._call.state == pybreaker.STATE_CLOSED and self._call.no_failures:
            self._closed_seen_at = read_at
        return self._call.state, float(opened_at) if opened_at else None

    def forget_snapshot(self) -> None:
        self._call.__dict__.clear()

    @property
    def state(self) -> str:
        pinned = self._call.__dict__.pop("state", None)
        return pinned if pinned is not None else super().state

    @state.setter
    def state(self, state: str) -> None:
        self._closed_seen_at = float("-inf")
        self._call.__dict__.pop("state", None)
        pybreaker.CircuitRedisStorage.state.fset(self, state)  # type: ignore[attr-defined]

    def reset_counter(self) -> None:
        # A success in the closed state resets the count of failures in a row: nothing to write when the
        # count read for this call was already zero.
        if not self._call.__dict__.pop("no_failures", False):
            super().reset_counter()

    def increment_counter(self) -> None:
        self._closed_seen_at = float("-inf")
        self._call.__dict__.pop("no_failures", None)
        super().increment_counter()
