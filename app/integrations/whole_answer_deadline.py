"""An HTTP answer read in full within its timeout, not only each read within it.

httpx's timeouts bound each operation: a server that sends a byte every few seconds never trips the read
timeout, and a model's answer trickled so would run past its turn's budget to the job's own limit. This
transport gives the whole exchange, headers and body, the longest of the request's timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx


class WholeAnswerDeadline(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = [t for t in (request.extensions.get("timeout") or {}).values() if t is not None]
        if not timeouts:
            return self._inner.handle_request(request)
        deadline = time.monotonic() + max(timeouts)
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=_ReadBy(response.stream, deadline, request), extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


class _ReadBy(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: float, request: httpx.Request) -> None:
        self._inner, self._deadline, self._request = inner, deadline, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the whole answer took longer than its timeout", request=self._request)
            yield chunk

    def close(self) -> None:
        self._inner.close()
