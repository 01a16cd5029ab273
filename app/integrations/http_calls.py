"""HTTP calls through a downstream: what one attempt counts as worth retrying, for every httpx caller."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after


def _attempt(send: Callable[[], httpx.Response]) -> httpx.Response:
    try:
        response = send()
    except httpx.TimeoutException:
        raise RetryableFailure("timed out") from None
    except httpx.TransportError as exc:
        raise RetryableFailure(f"connection failed: {type(exc).__name__}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableFailure(f"HTTP {response.status_code}", parse_retry_after(response.headers))
    return response


def call_http(downstream: Downstream, send: Callable[[], httpx.Response]) -> httpx.Response:
    """`send` through the downstream's throttle, breaker and retries.

    Timeouts, connection errors, 429 and 5xx are retried (after Retry-After when given);
    any other answer, 4xx included, is returned for the caller to judge.
    """
    return downstream.call(lambda: _attempt(send))
