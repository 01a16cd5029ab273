"""slack-sdk's WebClient, sending its requests on kept-alive connections (urllib3) instead of a new one each.

slack-sdk opens every Web API call with `urllib.request.urlopen`: a new TCP connection (and, to slack.com, a
new TLS handshake) for each message posted. Here the same requests go through one urllib3 pool per client,
and everything above the request (arguments, SlackResponse, SlackApiError, its retry handlers) stays
slack-sdk's: the answer is handed back in the shape `urlopen` gives, and an HTTP error status is raised as
urllib's HTTPError, as `urlopen` raises it.
"""

from __future__ import annotations

import io
from http.client import HTTPMessage
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import urllib3
from slack_sdk import WebClient
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from app.logs import drop_lines_saying, library_logger

# Connections kept to Slack: one per thread of a worker process that posts at once (its quick jobs and turns).
POOL_SIZE = 24


def _message_headers(headers: urllib3.HTTPHeaderDict) -> HTTPMessage:
    message = HTTPMessage()
    for name, value in headers.iteritems():
        message[name] = value
    return message


class KeepAliveWebClient(WebClient):
    """A WebClient whose calls reuse connections; with a proxy set, slack-sdk's own urlopen is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("logger") is None:
            logger = library_logger("app.integrations.slack_sdk")
            # slack-sdk logs every request that fails to go through at ERROR; the integration layer says each
            # failed attempt itself, with what it does next (a WARNING and its retry).
            drop_lines_saying(logger, "Failed to send a request to Slack API server")
            kwargs["logger"] = logger
        super().__init__(*args, **kwargs)
        # No retries or redirects of urllib3's own: the caller's policy retries, and Slack's API does not redirect.
        self._pool = urllib3.PoolManager(maxsize=POOL_SIZE, retries=False, ssl_context=self.ssl)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        try:
            body = req.data if isinstance(req.data, bytes) else None  # slack-sdk sends its body as bytes
            response = self._pool.request(req.get_method(), req.full_url, body=body,
                                          headers=dict(req.header_items()), redirect=False,
                                          timeout=urllib3.Timeout(self.timeout))
        except Urllib3TimeoutError as exc:
            raise TimeoutError(f"{type(exc).__name__}: {exc}") from None
        except Urllib3Error as exc:
            # urlopen's failures are OSErrors (URLError, TimeoutError, ConnectionError): the callers sort on those.
            raise URLError(f"{type(exc).__name__}: {exc}") from None
        headers = _message_headers(response.headers)
        if response.status >= 300:
            raise HTTPError(req.full_url, response.status, response.reason or "", headers,
                            io.BytesIO(response.data))
        if headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": headers, "body": response.data}
        charset = headers.get_content_charset() or "utf-8"
        return {"status": response.status, "headers": headers, "body": response.data.decode(charset)}

    def close(self) -> None:
        self._pool.clear()
