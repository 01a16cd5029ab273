"""Where a turn is seen in Slack: a status under the thread saying what the agent does, the answer streamed
with a task per tool call where Slack allows it, else posted; a stream that expired is finished by an edit."""

from __future__ import annotations

import logging
from typing import Any

from app.agent.conversation import ToolCall, ToolResult
from app.integrations.errors import DownstreamRejected, IntegrationError
from app.integrations.slack_poster import SlackPoster
from app.messages.agent import agent_answer, doing, feedback_block

log = logging.getLogger(__name__)
MAX_STREAM_CHARS = 12000
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

    def status(self, text: str) -> None:
        """Best effort: Slack refuses a status outside assistant threads, and the answer matters more."""
        try:
            self._slack.set_status(self._channel, self._thread_ts, text)
        except IntegrationError as exc:
            log.debug("no status in %s/%s: %s", self._channel, self._thread_ts, exc)

    def calling(self, call: ToolCall) -> None:
        if self._stream_ts is None:
            # Slack shows a status only until the bot's reply is in the thread; after that, the stream's
            # tasks say what is being done.
            self.status(doing(call.tool, call.args))
        self._stream([_task(call, "in_progress")])

    def called(self, call: ToolCall, result: ToolResult) -> None:
        self._held.append(_task(call, "error" if result.error else "complete"))

    def _stream(self, chunks: list[dict[str, Any]]) -> None:
        chunks, self._held = [*self._held, *chunks], []
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

    def answer(self, text: str, run_id: str | None) -> str:
        """Show the answer (already safe mrkdwn); answers the ts of the message that holds it."""
        message = agent_answer(text, run_id)
        answer = [*self._held, {"type": "markdown_text", "text": text[:MAX_STREAM_CHARS]}]
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


def _task(call: ToolCall, status: str) -> dict[str, Any]:
    return {"type": "task_update", "id": call.id, "title": doing(call.tool, call.args), "status": status}
