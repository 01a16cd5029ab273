"""Posting to Slack (Web API and response_url), only through the Slack downstream.

slack-sdk's own retry handlers are switched off: retries, Retry-After and the breaker are the
integration layer's, so Slack and the CRM behave alike; its requests reuse connections (slack_web_client).

Within `deferring` (a job run by the worker's entry points), no call waits long: a
message whose turn in its channel is not now, a Retry-After, or Slack still failing
after the quick retries raises PostDeferred, and the job runs again later. Elsewhere
(the agent, the API's tools) a call waits as it always did.

In any RQ job, a message, an upload or a response is made once however often the job runs
(app/integrations/slack_effects.py): a later run, or a re-run, answers it from its record. A
message Slack may have posted without our knowing (a 5xx, a timeout) is looked for by the key in
its metadata before it is tried again (Slack has no idempotency key). A response_url, an ephemeral
message and an upload cannot be looked for: after such an unknown outcome they are sent again (at
least once), and a person may see a copy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.error import URLError
from urllib.parse import urlsplit

import redis
from slack_sdk.webhook import WebhookClient

from app.integrations.deferral import Carried, DeferralPolicy, DeferringSession, PostDeferred
from app.integrations.errors import DownstreamFailed, DownstreamRejected, DownstreamUnavailable
from app.integrations.pacing import ChannelPacer, Turn
from app.integrations.resilience import Downstream, RetryableFailure, parse_retry_after
from app.integrations.slack_calls import SlackDeclined, find_effect, sdk_call
from app.integrations.slack_effects import Effect, EffectLedger, EffectRecords, unrecorded_effect
from app.integrations.slack_web_client import KeepAliveWebClient
from app.integrations.thread_ledgers import ThreadLedgers
from app.messages.message import Message

log = logging.getLogger(__name__)
T = TypeVar("T")
# Errors that mean "the bot is not in that conversation": the command's response_url still reaches it.
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True)
class Upload:
    filename: str
    title: str
    content: bytes


class SlackPoster:
    def __init__(self, *, client: KeepAliveWebClient, downstream: Downstream, api_url: str,
                 pacer: ChannelPacer | None = None, deferral: DeferralPolicy | None = None,
                 effects: EffectRecords | None = None) -> None:
        self._client = client
        self._downstream = downstream
        self._pacer = pacer
        self._deferral = deferral or DeferralPolicy()
        self._ledgers = ThreadLedgers(effects)
        # Each worker thread runs one job at a time: its session is its own.
        self._local = threading.local()
        # response_url is signed into the request by Slack; still, only ever post to Slack's own hosts.
        self._response_hosts = {"hooks.slack.com", urlsplit(api_url).hostname}

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def deferring(self, carried: Carried) -> Iterator[DeferringSession]:
        """One run of a job in this thread: long waits raise PostDeferred, and what a run of the job made (recorded
        under `carried.job_key`) is not made again. A PostDeferred leaves the places held in the channels' lines
        to the next run (`carried`, updated as the block goes); any other end gives them up."""
        self._local.session = session = DeferringSession(carried, self._deferral)
        self._ledgers.begin_session(carried.job_key)
        deferred = False
        try:
            yield session
        except PostDeferred:
            deferred = True
            raise
        finally:
            self._local.session = None
            self._ledgers.end_session()
            if not deferred:
                for channel, turn in list(carried.turns.items()):
                    self._leave(channel, turn)
                carried.turns.clear()

    def _session(self) -> DeferringSession | None:
        return getattr(self._local, "session", None)

    def effects_ledger(self) -> EffectLedger | None:
        """Where the effects of the job this thread runs are recorded: to lend to a thread that works for it."""
        return self._ledgers.current()

    def recording_in(self, ledger: EffectLedger | None) -> AbstractContextManager[None]:
        """Effects made meanwhile in this thread (one that shows a job's progress) are recorded in `ledger`."""
        return self._ledgers.lent(ledger)

    def _once(self, call: tuple[Any, ...], make: Callable[[Effect], T]) -> T:
        ledger = self._ledgers.current()
        return ledger.once(call, make) if ledger else make(unrecorded_effect())

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
        return self._through_slack(lambda: sdk_call(method, call))

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

        def post(effect: Effect) -> str:
            kwargs["metadata"] = effect.metadata()
            return self._paced(channel, lambda: self._through_slack(lambda: self._post_attempt(kwargs, effect)))

        return self._once(("chat.postMessage", channel, thread_ts, message.text, message.blocks), post)

    def _post_attempt(self, kwargs: dict[str, Any], effect: Effect) -> str:
        """One attempt at chat.postMessage. After an attempt Slack may have taken without our knowing (a 5xx, a
        timeout), the conversation is read first for the message carrying the effect's key."""
        if effect.unsure_since is not None:
            found = find_effect(self._client, kwargs["channel"], kwargs.get("thread_ts"), effect)
            if found:
                log.info("Slack had posted it after all (%s in %s): not posted again", found, kwargs["channel"])
                return found
            effect.not_made()
        started_at = time.time()
        try:
            return str(sdk_call("chat.postMessage", lambda: self._client.chat_postMessage(**kwargs)).get("ts", ""))
        except SlackDeclined:
            raise
        except RetryableFailure:
            effect.sent_unsure(started_at)
            raise

    def post_ephemeral(self, channel: str, user: str, message: Message) -> None:
        """chat.postEphemeral: seen by `user` alone."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": message.text}
        if message.blocks:
            kwargs["blocks"] = message.blocks

        def post() -> None:
            self._web_api("chat.postEphemeral", lambda: self._client.chat_postEphemeral(**kwargs))

        self._once(("chat.postEphemeral", channel, user, message.text, message.blocks), lambda _: post())

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

        return self._once(("chat.startStream", channel, thread_ts, chunks), lambda _: self._paced(channel, start))

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
        return self._once(("files.upload", channel, thread_ts, [(u.filename, u.title) for u in uploads]),
                          lambda _: upload())

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
        self._once(("response_url", in_channel, message.text, message.blocks), lambda _: self._through_slack(send))

    def post_to_command_channel(self, channel: str, message: Message, response_url: Callable[[], str | None]) -> None:
        """Post where a slash command was typed, even in a channel the bot has not joined."""
        try:
            self.post_message(channel, message)
        except DownstreamRejected as exc:
            url = response_url() if any(code in exc.detail for code in NOT_A_MEMBER) else None
            if url is None:
                raise
            log.info("bot is not in %s; answering through the command's response_url", channel)
            self.respond(url, message, in_channel=True)
