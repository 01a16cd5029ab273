"""Where the answer to a Slack request goes: the channel or thread for all to see, or the asker alone."""

from __future__ import annotations

from collections.abc import Callable

from app.integrations.slack_poster import SlackPoster
from app.messages.message import Message
from app.queueing.slack_request import SlackRequest


class Replies:
    """`response_url` looks up the command's response_url, only when an answer needs it (a round trip to
    Redis that most answers, posted to the channel, never make)."""

    def __init__(self, slack: SlackPoster, request: SlackRequest, response_url: Callable[[], str | None]) -> None:
        self._slack = slack
        self._request = request
        self._response_url = response_url

    def publish(self, message: Message) -> None:
        """For everyone: the channel of a slash command, the thread of a mention or a button's message."""
        if self._request.thread_ts:
            self._slack.post_message(self._request.channel_id, message, thread_ts=self._request.thread_ts)
        else:
            self._slack.post_to_command_channel(self._request.channel_id, message, self._response_url)

    def to_asker(self, message: Message) -> None:
        """For the one who asked: ephemeral for a slash command, in the thread otherwise."""
        url = self._response_url() if self._request.origin == "command" else None
        if url:
            self._slack.respond(url, message, in_channel=False)
        else:
            self.publish(message)
