"""What Slack sends to /slack/events, signed with the signing secret exactly as Slack signs it: slash
commands, app_mention and message events, and button clicks. For `acme demo` and the tests."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from typing import Any

from slack_sdk.signature import SignatureVerifier


class SlackRequestSigner:
    """Builds the requests Slack would send to /slack/events, signed with `signing_secret`."""

    def __init__(self, signing_secret: str, response_base_url: str, team_id: str = "T0ACME") -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._response_base_url = response_base_url.rstrip("/")
        self.team_id = team_id
        self._ids = itertools.count(1)

    def signed(self, body: str, *, timestamp: int | None = None, content_type: str) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": self._verifier.generate_signature(timestamp=stamp, body=body) or "",
        }

    def slash_command(self, text: str, *, channel: str, user: str, timestamp: int | None = None,
                      command: str = "/acme") -> tuple[str, dict[str, str]]:
        n = next(self._ids)
        body = urllib.parse.urlencode({
            "token": "deprecated-verification-token", "team_id": self.team_id, "team_domain": "acme",
            "channel_id": channel, "channel_name": "demo", "user_id": user, "user_name": "you",
            "command": command, "text": text, "api_app_id": "A0ACME",
            "response_url": f"{self._response_base_url}/response/{channel}/{n}",
            "trigger_id": f"trigger.{n}",
        })
        return body, self.signed(body, timestamp=timestamp, content_type="application/x-www-form-urlencoded")

    def app_mention(self, text: str, *, channel: str, user: str, bot_user: str = "U0ACMEBOT",
                    event_id: str | None = None, thread_ts: str | None = None,
                    timestamp: int | None = None) -> tuple[str, dict[str, str]]:
        n = next(self._ids)
        ts = f"{int(time.time())}.{n:06d}"
        event: dict[str, Any] = {"type": "app_mention", "user": user, "text": f"<@{bot_user}> {text}",
                                 "ts": ts, "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        body = json.dumps({
            "token": "deprecated-verification-token", "team_id": self.team_id, "api_app_id": "A0ACME",
            "event": event, "type": "event_callback", "event_id": event_id or f"Ev{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": bot_user, "is_bot": True}],
        })
        return body, self.signed(body, timestamp=timestamp, content_type="application/json")

    def message_event(self, text: str, *, channel: str, user: str | None, channel_type: str = "im",
                      thread_ts: str | None = None, bot_user: str = "U0ACMEBOT", event_id: str | None = None,
                      **extra: Any) -> tuple[str, dict[str, str]]:
        """A `message` event: a direct message (`channel_type` im) or a channel's message; `extra` adds fields
        such as `bot_id` or `subtype` (an edit, a bot's post)."""
        n = next(self._ids)
        ts = f"{int(time.time())}.{n:06d}"
        event: dict[str, Any] = {"type": "message", "text": text, "ts": ts, "channel": channel,
                                 "channel_type": channel_type, "event_ts": ts, **extra}
        if user:
            event["user"] = user
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self._event(event, event_id or f"Ev{n:08d}", bot_user)

    def _event(self, event: dict[str, Any], event_id: str, bot_user: str) -> tuple[str, dict[str, str]]:
        body = json.dumps({
            "token": "deprecated-verification-token", "team_id": self.team_id, "api_app_id": "A0ACME",
            "event": event, "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": bot_user, "is_bot": True}],
        })
        return body, self.signed(body, content_type="application/json")

    def block_action(self, action_id: str, *, channel: str, user: str, message: dict[str, Any],
                     value: str = "", timestamp: int | None = None,
                     block_id: str = "notification_actions") -> tuple[str, dict[str, str]]:
        """A click on a button of `message` (as the Slack emulator stored it), as Slack posts it."""
        n = next(self._ids)
        payload = {
            "type": "block_actions", "team": {"id": self.team_id}, "user": {"id": user, "name": "you"},
            "api_app_id": "A0ACME", "token": "deprecated-verification-token", "trigger_id": f"trigger.{n}",
            "container": {"type": "message", "message_ts": message.get("ts"), "channel_id": channel},
            "channel": {"id": channel, "name": "demo"}, "message": message,
            "response_url": f"{self._response_base_url}/response/{channel}/{n}",
            "actions": [{"action_id": action_id, "block_id": block_id, "value": value,
                         "type": "button", "action_ts": f"{int(time.time())}.{n:06d}"}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return body, self.signed(body, timestamp=timestamp, content_type="application/x-www-form-urlencoded")
