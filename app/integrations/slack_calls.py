"""One attempt at a slack-sdk call, its failures sorted; and finding a message we may have posted already.

    sdk_call       one attempt: RetryableFailure for what is worth retrying (SlackDeclined when Slack said it
                   did not take the call), DownstreamRejected for a refusal
    find_effect    the ts of the message carrying an effect's key in a channel or thread, if Slack has it
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from app.integrations.errors import DownstreamRejected
from app.integrations.resilience import RetryableFailure, parse_retry_after
from app.integrations.slack_effects import Effect, carries_effect

log = logging.getLogger(__name__)
# Slack's ts is Slack's clock, the attempt's time ours: look this much further back.
LOOKBACK_MARGIN_S = 120.0
# Slack pages conversations.history at 15 messages for apps outside the Marketplace (limits of May 2025),
# and answers those reads at one a minute: a few pages cover the minutes since an attempt in most channels.
PAGE_SIZE = 15
MAX_PAGES = 4


class SlackDeclined(RetryableFailure):
    """Slack answered 429: it did not take the call (rate limits refuse before acting)."""


def sdk_call(method: str, call: Callable[[], Any]) -> Any:
    """One attempt at a slack-sdk call, sorting failures into retryable and not."""
    try:
        return call()
    except SlackApiError as exc:
        status = exc.response.status_code
        if status == 429:
            raise SlackDeclined(f"{method}: HTTP 429", parse_retry_after(exc.response.headers)) from None
        if status >= 500:
            raise RetryableFailure(f"{method}: HTTP {status}", parse_retry_after(exc.response.headers)) from None
        raise DownstreamRejected("Slack", f"{method}: {exc.response.get('error', status)}", status) from None
    except (URLError, OSError) as exc:
        raise RetryableFailure(f"{method}: connection failed: {type(exc).__name__}") from None
    except json.JSONDecodeError:
        raise RetryableFailure(f"{method}: the answer was not JSON") from None
    except SlackRequestError as exc:
        # files_upload_v2 raises this when the upload URL answers anything but 200.
        raise RetryableFailure(f"{method}: {exc}") from None


def find_effect(client: WebClient, channel: str, thread_ts: str | None, effect: Effect) -> str | None:
    """The ts of the message in `channel` (or its thread) tagged with `effect`'s key since its unsure attempt.

    None when it is not there, and when the bot cannot read the conversation (no history scope for its kind,
    not a member, a DM opened by user id): then the caller posts again, and a copy is possible, rather than
    lose the message. A failure worth retrying is raised, so the lookup is retried like the post."""
    oldest = f"{(effect.unsure_since or 0.0) - LOOKBACK_MARGIN_S:.6f}"
    method = "conversations.replies" if thread_ts else "conversations.history"
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        def read(cursor: str | None = cursor) -> Any:
            if thread_ts:
                return client.conversations_replies(channel=channel, ts=thread_ts, oldest=oldest, cursor=cursor,
                                                    include_all_metadata=True, limit=PAGE_SIZE)
            return client.conversations_history(channel=channel, oldest=oldest, cursor=cursor,
                                                include_all_metadata=True, limit=PAGE_SIZE)

        try:
            page = sdk_call(method, read)
        except DownstreamRejected as exc:
            log.warning("cannot look in %s for a message Slack may have posted (%s); posting it again", channel,
                        exc.detail)
            return None
        found = next((m for m in page.get("messages") or [] if carries_effect(m, effect.key)), None)
        if found:
            return str(found["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not page.get("has_more") or not cursor:
            return None
    log.warning("%s has too many messages since the attempt to look through; posting again", channel)
    return None
