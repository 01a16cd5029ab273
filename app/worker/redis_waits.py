"""Waiting out Redis: one line per failure, never a traceback, and a backoff from 0.5 s doubling to 30 s."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import redis

FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 30.0


def shown_url(url: str) -> str:
    """`url` without its password (or user), fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def reason(exc: redis.RedisError) -> str:
    """The gist of a redis-py error: "Error 111 connecting to h:p. Connection refused." says "Connection refused"."""
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text.rsplit(". ", 1)[-1] if text.startswith("Error ") else text


class RedisWaits:
    """How long to wait before trying Redis again, growing while it keeps failing; said in one line each time."""

    def __init__(self, url: str, log: logging.Logger, *, stopping: Callable[[], bool] = lambda: False,
                 sleep: Callable[[float], None] = time.sleep, level: int = logging.WARNING) -> None:
        self._url = shown_url(url)
        self._level = level
        self._log = log
        self._stopping = stopping
        self._sleep = sleep
        self._next_s = FIRST_WAIT_S
        self._failing = False

    @property
    def url(self) -> str:
        """Redis' URL as it may be shown: without its password."""
        return self._url

    def failed(self, exc: redis.RedisError, doing: str) -> None:
        """Say that Redis failed while `doing`, then wait (a stop cuts the wait short)."""
        wait_s = self._next_s
        self._log.log(self._level, "cannot reach Redis at %s (%s): %s; retrying in %s s", self._url, doing, reason(exc),
                          f"{wait_s:g}")
        self._failing = True
        self._next_s = min(LONGEST_WAIT_S, wait_s * 2)
        waited = 0.0
        while waited < wait_s and not self._stopping():
            step = min(0.1, wait_s - waited)
            self._sleep(step)
            waited += step

    def answered(self) -> None:
        """Redis answered: the next failure waits the shortest time again."""
        if self._failing:
            self._log.log(min(self._level, logging.INFO), "Redis at %s answers again", self._url)
            self._failing = False
        self._next_s = FIRST_WAIT_S


def wait_until_redis_answers(connection: redis.Redis, waits: RedisWaits) -> None:
    """Before a worker is built (RQ names its connection at once): a worker started with Redis down waits."""
    while True:
        try:
            connection.ping()
        except redis.RedisError as exc:
            waits.failed(exc, "starting")
            continue
        waits.answered()
        return
