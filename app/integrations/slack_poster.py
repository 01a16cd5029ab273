"""Posting to Slack (Web API and response_url), only through the Slack downstream.

slack-sdk's own retry handlers are switched off: retries, Retry-After and the
breaker are the integration layer's, so Slack and the CRM behave alike.

Within `deferring` (a job run by the worker's entry points), no call waits long: a
message whose turn in its channel is not now, a Retry-After, or Slack still failing
after the quick retries raises PostDeferred, and the job runs again later; the
messages, uploads and responses it made before are answered from what it carried,
not made again. Elsewhere (the agent, the API's tools) a call waits as it always did.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.error import URLError
from urllib.parse import urlsplit

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from app.integrations.deferral import Carried, DeferralPolicy, DeferringSession, PostDeferred
from app.integrations.errors import DownstreamFailed, DownstreamRejected, DownstreamUnavailable
from app.integrations.pacing import ChannelPacer, Turn
from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after
from app.messages.message import Message

log = logging.getLogger(__name__)
T = TypeVar("T")
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
                 pacer: ChannelPacer | None = None, deferral: DeferralPolicy | None = None) -> None:
        self._client = client
        self._downstream = downstream
        self._pacer = pacer
        self._deferral = deferral or DeferralPolicy()
        # Each worker thread runs one job at a time: its session is its own.
        self._local = threading.local()
        # response_url is signed into the request by Slack; still, only ever post to Slack's own hosts.
        self._response_hosts = {"hooks.slack.com", urlsplit(api_url).hostname}

    @contextmanager
    def deferring(self, carried: Carried) -> Iterator[DeferringSession]:
        """One run of a job in this thread: long waits raise PostDeferred, and what an earlier run of the job made
        (`carried`, updated as the block goes) is not made again. A PostDeferred leaves the places held in the
        channels' lines to the next run; any other end gives them up."""
        session = DeferringSession(carried, self._deferral)
        self._local.session = session
        deferred = False
        try:
            yield session
        except PostDeferred:
            deferred = True
            raise
        finally:
            self._local.session = None
            if not deferred:
                for channel, turn in list(carried.turns.items()):
                    self._leave(channel, turn)
                carried.turns.clear()

    def _session(self) -> DeferringSession | None:
        return getattr(self._local, "session", None)

    def _once(self, call: tuple[Any, ...], make: Callable[[], T]) -> T:
        session = self._session()
        return session.once(call, make) if session else make()

    def _through_slack(self, operation: Callable[[], T]) -> T:
        """`operation` (one attempt, raising RetryableFailure for what is worth retrying) through the downstream."""
        session = self._session()
        if session is None:
            return self._downstream.call(operation)
        longest_sleep_s = self._deferral.longest_sleep_s

        def attempt() -> T:
            try:
                return operation()
            except RetryableFailure as exc:
                if exc.retry_after_s and exc.retry_after_s > longest_sleep_s:
                    # Passes the breaker (Slack is alive) and the retries (not theirs to wait for).
                    raise PostDeferred(exc.retry_after_s, exc.reason) from None
                raise

        try:
            answer = self._downstream.call(attempt)
        except PostDeferred as asked:
            session.retry_later(DownstreamFailed(self._downstream.name, asked.reason), asked_s=asked.wait_s)
        except (DownstreamFailed, DownstreamUnavailable) as exc:
            session.retry_later(exc)
        session.succeeded()
        return answer

    def _web_api(self, method: str, call: Callable[[], Any]) -> Any:
        return self._through_slack(lambda: _sdk_call(method, call))

    def _paced(self, channel: str, send: Callable[[], T]) -> T:
        """`send` in the channel's turn: waited for here, or (deferring) by the job running again later."""
        session = self._session()
        if self._pacer is None:
            return send()
        if session is None:
            self._pacer.wait_turn(channel)
            return send()
        turn = self._pacer.take_turn(channel, session.held_turn(channel), self._deferral.longest_sleep_s)
        if turn.wait_s > 0:
            session.hold(channel, turn)
            raise PostDeferred(turn.wait_s, f"its turn to post in {channel} is in {turn.wait_s:.1f} s", turn.slot_us)
        try:
            answer = send()
        except PostDeferred as deferred:
            # Slack is not taking it now: the message keeps its place, and the ones behind it wait for it.
            again = self._pacer.wait_again(channel, turn, deferred.wait_s)
            session.hold(channel, again)
            deferred.wait_s, deferred.place_us = max(deferred.wait_s, again.wait_s), turn.slot_us
            raise
        except BaseException:
            self._leave(channel, turn)
            raise
        self._leave(channel, turn)
        return answer

    def _leave(self, channel: str, turn: Turn) -> None:
        if self._pacer is None:
            return
        try:
            self._pacer.leave(channel, turn)
        except redis.RedisError as exc:
            log.warning("could not leave %s's line (its place lapses on its own): %s", channel, exc)

    def post_message(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        """chat.postMessage; answers the new message's ts."""
        kwargs: dict[str, Any] = {"channel": channel, "text": message.text, "unfurl_links": False}
        if message.blocks:
            kwargs["blocks"] = message.blocks
        if thread_ts:
            kwargs["thread_ts"] = thread_ts

        def post() -> str:
            return str(self._web_api("chat.postMessage", lambda: self._client.chat_postMessage(**kwargs)).get("ts", ""))

        return self._once(("chat.postMessage", channel, thread_ts, message.text, message.blocks),
                          lambda: self._paced(channel, post))

    def post_ephemeral(self, channel: str, user: str, message: Message) -> None:
        """chat.postEphemeral: seen by `user` alone."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": message.text}
        if message.blocks:
            kwargs["blocks"] = message.blocks

        def post() -> None:
            self._web_api("chat.postEphemeral", lambda: self._client.chat_postEphemeral(**kwargs))

        self._once(("chat.postEphemeral", channel, user, message.text, message.blocks), post)

    def set_status(self, channel: str, thread_ts: str, status: str) -> None:
        """assistant.threads.setStatus: what the agent is doing, shown under the thread; "" clears it."""
        self._web_api("assistant.threads.setStatus", lambda: self._client.assistant_threads_setStatus(
            channel_id=channel, thread_ts=thread_ts, status=status))

    def start_stream(self, channel: str, thread_ts: str, user: str, team: str,
                     chunks: list[dict[str, Any]] | None = None) -> str:
        """chat.startStream: a message in the thread that the agent writes as it goes; answers its ts."""

        def start() -> str:
            return str(self._web_api("chat.startStream", lambda: self._client.chat_startStream(
                channel=channel, thread_ts=thread_ts, recipient_user_id=user or None, recipient_team_id=team or None,
                chunks=chunks, task_display_mode="timeline")).get("ts", ""))

        return self._once(("chat.startStream", channel, thread_ts, chunks), lambda: self._paced(channel, start))

    def append_stream(self, channel: str, ts: str, chunks: list[dict[str, Any]]) -> None:
        self._web_api("chat.appendStream", lambda: self._client.chat_appendStream(
            channel=channel, ts=ts, chunks=chunks))

    def stop_stream(self, channel: str, ts: str, chunks: list[dict[str, Any]] | None = None,
                    blocks: list[dict[str, Any]] | None = None) -> None:
        self._web_api("chat.stopStream", lambda: self._client.chat_stopStream(
            channel=channel, ts=ts, chunks=chunks, blocks=blocks))

    def update_message(self, channel: str, ts: str, message: Message) -> None:
        """chat.update: replace a message the bot posted (its blocks too: none removes the buttons).

        Made again by a job's next run, not answered from what it carried: an edit made twice reads the same."""
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": message.text, "blocks": message.blocks}
        self._web_api("chat.update", lambda: self._client.chat_update(**kwargs))

    def upload_files(self, channel: str, uploads: list[Upload], comment: str, thread_ts: str | None = None) -> str:
        """files_upload_v2 (three calls); answers the first file's permalink."""
        file_uploads = [{"content": u.content, "filename": u.filename, "title": u.title} for u in uploads]

        def upload() -> str:
            response = self._web_api("files.upload", lambda: self._client.files_upload_v2(
                file_uploads=file_uploads, channel=channel, thread_ts=thread_ts, initial_comment=comment))
            files = response.get("files") or [{}]
            return str(files[0].get("permalink", ""))

        # The files' content may differ on a later run (the report's date): their names say which upload it is.
        return self._once(("files.upload", channel, thread_ts, [(u.filename, u.title) for u in uploads]), upload)

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

        # One response_url a job: the message says which answer it is.
        self._once(("response_url", in_channel, message.text, message.blocks), lambda: self._through_slack(send))

    def post_to_command_channel(self, channel: str, message: Message, response_url: str | None) -> None:
        """Post where a slash command was typed, even in a channel the bot has not joined."""
        try:
            self.post_message(channel, message)
        except DownstreamRejected as exc:
            if response_url is None or not any(code in exc.detail for code in NOT_A_MEMBER):
                raise
            log.info("bot is not in %s; answering through the command's response_url", channel)
            self.respond(response_url, message, in_channel=True)
