"""Posting to Slack (Web API and response_url), only through the Slack downstream.

slack-sdk's own retry handlers are switched off: retries, Retry-After and the
breaker are the integration layer's, so Slack and the CRM behave alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from app.integrations.errors import DownstreamRejected
from app.integrations.pacing import ChannelPacer
from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after
from app.messages.message import Message

log = logging.getLogger(__name__)
# Errors that mean "the bot is not in that conversation": the command's response_url still reaches it.
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


def _sdk_call(method: str, call: Callable[[], Any]) -> Any:
    """One attempt at a slack-sdk call, sorting failures into retryable and not."""
    try:
        return call()
    except SlackApiError as exc:
        status = exc.response.status_code
        if status == 429 or status >= 500:
            raise RetryableFailure(f"{method}: HTTP {status}", parse_retry_after(exc.response.headers)) from None
        raise DownstreamRejected("Slack", f"{method}: {exc.response.get('error', status)}", status) from None
    except (URLError, OSError) as exc:
        raise RetryableFailure(f"{method}: connection failed: {type(exc).__name__}") from None
    except json.JSONDecodeError:
        raise RetryableFailure(f"{method}: the answer was not JSON") from None
    except SlackRequestError as exc:
        # files_upload_v2 raises this when the upload URL answers anything but 200.
        raise RetryableFailure(f"{method}: {exc}") from None


@dataclass(frozen=True)
class Upload:
    filename: str
    title: str
    content: bytes


class SlackPoster:
    def __init__(self, *, client: WebClient, downstream: Downstream, api_url: str,
                 pacer: ChannelPacer | None = None) -> None:
        self._client = client
        self._downstream = downstream
        self._pacer = pacer
        # response_url is signed into the request by Slack; still, only ever post to Slack's own hosts.
        self._response_hosts = {"hooks.slack.com", urlsplit(api_url).hostname}

    def post_message(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        """chat.postMessage; answers the new message's ts."""
        kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "unfurl_links": False}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if self._pacer:
            self._pacer.wait_turn(channel)
        response = self._downstream.call(
            lambda: _sdk_call("chat.postMessage", lambda: self._client.chat_postMessage(**kwargs))
        )
        return str(response.get("ts", ""))

    def post_ephemeral(self, channel: str, user: str, message: Message) -> None:
        """chat.postEphemeral: seen by `user` alone."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": message.text}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        self._downstream.call(
            lambda: _sdk_call("chat.postEphemeral", lambda: self._client.chat_postEphemeral(**kwargs)))

    def set_status(self, channel: str, thread_ts: str, status: str) -> None:
        """assistant.threads.setStatus: what the agent is doing, shown under the thread; "" clears it."""
        self._downstream.call(lambda: _sdk_call("assistant.threads.setStatus", lambda: (
            self._client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status))))

    def start_stream(self, channel: str, thread_ts: str, user: str, team: str,
                     chunks: list[dict[str, Any]] | None = None) -> str:
        """chat.startStream: a message in the thread that the agent writes as it goes; answers its ts."""
        if self._pacer:
            self._pacer.wait_turn(channel)
        response = self._downstream.call(lambda: _sdk_call("chat.startStream", lambda: self._client.chat_startStream(
            channel=channel, thread_ts=thread_ts, recipient_user_id=user or None, recipient_team_id=team or None,
            chunks=chunks, task_display_mode="timeline")))
        return str(response.get("ts", ""))

    def append_stream(self, channel: str, ts: str, chunks: list[dict[str, Any]]) -> None:
        self._downstream.call(lambda: _sdk_call("chat.appendStream", lambda: self._client.chat_appendStream(
            channel=channel, ts=ts, chunks=chunks)))

    def stop_stream(self, channel: str, ts: str, chunks: list[dict[str, Any]] | None = None,
                    blocks: list[dict[str, Any]] | None = None) -> None:
        self._downstream.call(lambda: _sdk_call("chat.stopStream", lambda: self._client.chat_stopStream(
            channel=channel, ts=ts, chunks=chunks, blocks=blocks)))

    def update_message(self, channel: str, ts: str, message: Message) -> None:
        """chat.update: replace a message the bot posted (its blocks too: none removes the buttons)."""
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": message.text, "blocks": message.blocks}
        self._downstream.call(lambda: _sdk_call("chat.update", lambda: self._client.chat_update(**kwargs)))

    def upload_files(self, channel: str, uploads: list[Upload], comment: str, thread_ts: str | None = None) -> str:
        """files_upload_v2 (three calls); answers the first file's permalink."""
        file_uploads = [{"content": u.content, "filename": u.filename, "title": u.title} for u in uploads]

        def upload() -> Any:
            return self._client.files_upload_v2(file_uploads=file_uploads, channel=channel, thread_ts=thread_ts,
                                                initial_comment=comment)

        response = self._downstream.call(lambda: _sdk_call("files.upload", upload))
        files = response.get("files") or [{}]
        return str(files[0].get("permalink", ""))

    def respond(self, response_url: str, message: Message, in_channel: bool) -> None:
        """Answer a slash command through its response_url: to the channel, or to the user alone."""
        if urlsplit(response_url).hostname not in self._response_hosts:
            raise DownstreamRejected("Slack", "response_url is not a Slack address")
        webhook = WebhookClient(response_url, timeout=int(self._downstream.timeout_s), retry_handlers=[])

        def send() -> None:
            try:
                response = webhook.send(
                    text=message.text,
                    blocks=message.blocks or None,
                    response_type="in_channel" if in_channel else "ephemeral",
                    replace_original=False,
                )
            except (URLError, OSError) as exc:
                raise RetryableFailure(f"response_url: connection failed: {type(exc).__name__}") from None
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableFailure(f"response_url: HTTP {response.status_code}",
                                       parse_retry_after(response.headers))
            if response.status_code >= 400:
                raise DownstreamRejected("Slack", f"response_url: HTTP {response.status_code}", response.status_code)

        self._downstream.call(send)

    def post_to_command_channel(self, channel: str, message: Message, response_url: str | None) -> None:
        """Post where a slash command was typed, even in a channel the bot has not joined."""
        try:
            self.post_message(channel, message)
        except DownstreamRejected as exc:
            if response_url is None or not any(code in exc.detail for code in NOT_A_MEMBER):
                raise
            log.info("bot is not in %s; answering through the command's response_url", channel)
            self.respond(response_url, message, in_channel=True)
