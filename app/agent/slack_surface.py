"""Where a turn is seen in Slack: a status under the thread saying what the agent does, the answer streamed
with a task per tool call where Slack allows it, else posted; a stream that expired is finished by an edit.

What only shows progress (the status, "Working on it...", the stream's tasks) is sent by a thread of the
surface's own, in order, while the turn goes on planning and calling tools: a turn never waits for Slack to
show that it is working. The answer waits for everything shown before it."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.agent.conversation import ToolCall, ToolResult
from app.integrations.errors import DownstreamRejected, IntegrationError
from app.integrations.slack_poster import SlackPoster
from app.messages.agent import agent_answer, doing, feedback_block, streamed_answer
from app.messages.bot import WORKING
from app.messages.message import Message

log = logging.getLogger(__name__)
STREAM_EXPIRED = "message_not_in_streaming_state"


class SlackSurface:
    def __init__(self, slack: SlackPoster, channel: str, thread_ts: str, user: str, team: str,
                 stream: bool = True) -> None:
        self._slack = slack
        self._channel, self._thread_ts, self._user, self._team = channel, thread_ts, user, team
        self._streaming = stream
        self._stream_ts: str | None = None
        self._stream_expired = False
        # A finished task is told with the next update (the next task, or the answer): one call fewer each.
        self._held: list[dict[str, Any]] = []
        self._stream_opening = False
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"slack-surface-{channel}")
        self._last_sent: Future[None] | None = None
        # The sender posts for the turn's job: a run of it again (its worker died) finds what was shown, and shows
        # it once (one "Working on it...", one stream).
        self._job_effects = slack.effects_ledger()

    def __enter__(self) -> SlackSurface:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for what is still being shown, then let the sender's thread go."""
        self._wait_for_shown()
        self._sender.shutdown(wait=True)

    def working(self) -> None:
        """A `Working on it...` reply in the thread: the sign of work Slack shows in any channel."""
        self._show(self._post_working)

    def status(self, text: str) -> None:
        """Best effort: Slack refuses a status outside assistant threads, and the answer matters more."""
        self._show(self._set_status, text)

    def calling(self, call: ToolCall) -> None:
        if not (self._streaming and self._stream_opening):
            # Slack shows a status only until the bot's reply is in the thread; after that, the stream's
            # tasks say what is being done.
            self.status(doing(call.tool, call.args))
        self._stream_opening = True
        chunks, self._held = [*self._held, _task(call, "in_progress")], []
        self._show(self._stream, chunks)

    def called(self, call: ToolCall, result: ToolResult) -> None:
        self._held.append(_task(call, "error" if result.error else "complete"))

    def answer(self, text: str, run_id: str | None) -> str:
        """Show the answer (already safe mrkdwn) once all shown before it is in; answers the ts of the message
        that holds it."""
        self._wait_for_shown()
        message = agent_answer(text, run_id)
        answer, self._held = [*self._held, {"type": "markdown_text", "text": streamed_answer(text)}], []
        if self._streaming and not self._stream_expired and self._stream_ts is None:
            self._stream(answer)  # a turn with no tool call: the answer opens the stream
            answer = []
        if self._streaming and not self._stream_expired and self._stream_ts is not None:
            try:
                self._slack.stop_stream(self._channel, self._stream_ts, chunks=answer or None,
                                        blocks=[feedback_block(run_id)] if run_id else None)
                return self._stream_ts
            except DownstreamRejected as exc:
                self._stream_expired = STREAM_EXPIRED in exc.detail
                if not self._stream_expired:
                    raise
        if self._stream_ts is not None:
            # The stream stopped taking appends (they expire after a few minutes): its message is edited.
            self._slack.update_message(self._channel, self._stream_ts, message)
            return self._stream_ts
        return self._slack.post_message(self._channel, message, thread_ts=self._thread_ts)

    def pause(self, text: str) -> None:
        """The turn waits (for the asker's approval): a stream it opened is stopped with `text`, not left open
        until Slack expires it; the turn goes on in a message of its own."""
        self._wait_for_shown()
        chunks, self._held = [*self._held, {"type": "markdown_text", "text": text}], []
        if self._streaming and not self._stream_expired and self._stream_ts is not None:
            try:
                self._slack.stop_stream(self._channel, self._stream_ts, chunks=chunks)
            except IntegrationError as exc:
                log.info("could not stop the stream in %s: %s", self._channel, exc)

    def _show(self, send: Callable[..., None], *args: Any) -> None:
        context = contextvars.copy_context()  # the turn's logging context goes with what it shows
        self._last_sent = self._sender.submit(context.run, self._send_for_the_job, send, *args)

    def _send_for_the_job(self, send: Callable[..., None], *args: Any) -> None:
        with self._slack.recording_in(self._job_effects):
            _logged(send, *args)

    def _wait_for_shown(self) -> None:
        if self._last_sent is not None:
            self._last_sent.result()
            self._last_sent = None

    def _post_working(self) -> None:
        try:
            self._slack.post_message(self._channel, Message(text=WORKING), thread_ts=self._thread_ts)
        except IntegrationError as exc:
            log.warning("could not say the agent is working in %s: %s", self._channel, exc)

    def _set_status(self, text: str) -> None:
        try:
            self._slack.set_status(self._channel, self._thread_ts, text)
        except IntegrationError as exc:
            log.debug("no status in %s/%s: %s", self._channel, self._thread_ts, exc)

    def _stream(self, chunks: list[dict[str, Any]]) -> None:
        if not self._streaming or self._stream_expired:
            return
        try:
            if self._stream_ts is None:
                self._stream_ts = self._slack.start_stream(self._channel, self._thread_ts, self._user, self._team,
                                                           chunks)
            else:
                self._slack.append_stream(self._channel, self._stream_ts, chunks)
        except DownstreamRejected as exc:
            if self._stream_ts is not None and STREAM_EXPIRED in exc.detail:
                self._stream_expired = True
            else:
                log.info("not streaming in %s: %s", self._channel, exc)
                self._streaming = False
        except IntegrationError as exc:
            log.warning("streaming in %s failed: %s", self._channel, exc)
            self._streaming = False


def _logged(send: Callable[..., None], *args: Any) -> None:
    # What only shows progress never fails the turn; a bug in it is still seen in the log.
    try:
        send(*args)
    except Exception:
        log.exception("showing the turn's progress in Slack failed")


def _task(call: ToolCall, status: str) -> dict[str, Any]:
    return {"type": "task_update", "id": call.id, "title": doing(call.tool, call.args), "status": status}
