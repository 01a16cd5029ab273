"""GETs of JSON from one origin on kept-alive connections (urllib3), for the calls made on every job.

httpx cost a summary's two CRM calls about 1 ms of CPU each; urllib3's pool does the same GET in
under half of that. What an attempt counts as worth retrying is the same as for httpx callers
(app/integrations/http_calls.py): timeouts, failed connections, 429 and 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, TimeoutError

from app.integrations.resilience import RetryableFailure, parse_retry_after

# Connections kept per origin: one per thread that calls at once (a worker's main loop and its turns).
POOL_SIZE = 8


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    body: bytes


class PooledHttp:
    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self._prefix = parts.path.rstrip("/")
        self._headers = headers
        # No retries or redirects of urllib3's own: the downstream retries, and a redirect is an answer.
        self._pool = urllib3.connection_from_url(
            base_url, maxsize=POOL_SIZE, retries=False, timeout=urllib3.Timeout(timeout_s))

    def get(self, path: str, params: dict[str, Any] | None = None) -> JsonAnswer:
        """One attempt; raises RetryableFailure for what is worth another."""
        url = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = self._pool.request("GET", url, headers=self._headers, redirect=False)
        except TimeoutError:
            raise RetryableFailure("timed out") from None
        except HTTPError as exc:
            raise RetryableFailure(f"connection failed: {type(exc).__name__}") from None
        if response.status == 429 or response.status >= 500:
            raise RetryableFailure(f"HTTP {response.status}", parse_retry_after(response.headers))
        return JsonAnswer(response.status, response.data)

    def close(self) -> None:
        self._pool.close()
