"""Answering Slack so that it delivers a request again later, instead of the request being lost."""

from __future__ import annotations

import logging

from slack_bolt import BoltResponse

log = logging.getLogger(__name__)


def deliver_again_later(exc: Exception) -> BoltResponse:
    """503: Slack retries events (after 1 min, then 5 min) and shows the user an error for a click."""
    log.error("could not queue a Slack request, asking Slack to retry: %s", exc)
    return BoltResponse(status=503, body="queue unavailable")
