"""What Slack sends, checked for shape before Bolt sees it, so that a malformed body is a 400 with a reason.

Bolt's own parser is used (the body must mean here what it will mean to Bolt), then every field that
Bolt's context building or our listeners read is checked for the type they assume: Bolt calls `.get`,
`len` and `in` on them, and a list where an object should be was a 500 with a traceback. Only a signed
body comes here; the signature is checked on the raw bytes first (app/web/slack_events.py).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.request.internals import parse_body

from app.slack.listeners.messages import WRITTEN_BY_A_PERSON

# Slack's deepest payloads (rich text in a message event, a modal's state) stay far below this.
MAX_DEPTH = 32
# Fields Bolt reads as an id, or as an object holding one: anything else makes it fail.
_ID_HOLDERS = ("enterprise", "team", "user", "channel")
_STRINGS = ("type", "command", "text", "channel_id", "user_id", "team_id", "enterprise_id", "api_app_id",
            "event_id", "trigger_id", "callback_id", "response_url", "action_id", "block_id")
_OBJECTS = ("view", "container", "message", "state")
_INTERACTIVE = ("block_actions", "interactive_message", "block_suggestion", "view_submission", "view_closed",
                "shortcut", "message_action", "dialog_submission", "dialog_cancellation", "dialog_suggestion")
_WITH_ACTIONS = ("block_actions", "interactive_message")
_WITH_VIEW = ("view_submission", "view_closed")
_EVENT_STRINGS = ("type", "ts", "text", "thread_ts", "subtype", "bot_id", "channel_type")


# What Bolt raises out of dispatch on a body whose shape it did not expect (its listeners' own errors go to
# its error handler instead): the sender's fault, a 400, never a 500 with a traceback.
BOLT_READ_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError)


class MalformedSlackBody(ValueError):
    """The reason a signed body cannot be a Slack request; said in the 400."""


def parse_slack_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as Bolt will see it, or MalformedSlackBody saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedSlackBody("the body is not UTF-8") from None
    media_type = (content_type or "").split(";")[0].strip().lower() or None
    try:
        body = parse_body(text, media_type)
    except RecursionError:
        raise MalformedSlackBody(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise MalformedSlackBody(f"the body is neither JSON nor form data: {exc}") from None
    return checked_payload(body)


def checked_payload(body: Any) -> dict[str, Any]:
    """A body already parsed (a Socket Mode envelope's payload) checked as one sent over HTTP is."""
    if not isinstance(body, dict):
        raise MalformedSlackBody(f"the payload is a JSON {_json_type(body)}, not an object")
    _check_depth(body)
    _check_shape(body)
    return body


def _json_type(value: Any) -> str:
    return {type(None): "null", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(value), type(value).__name__)


def is_slash_command(body: dict[str, Any]) -> bool:
    return isinstance(body.get("command"), str)


def _check_depth(value: Any) -> None:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise MalformedSlackBody(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)


def _expect(ok: bool, where: str, wanted: str) -> None:
    if not ok:
        raise MalformedSlackBody(f"{where} must be {wanted}")


def _check_id_holders(body: dict[str, Any], where: str) -> None:
    for name in _ID_HOLDERS:
        value = body.get(name)
        _expect(value is None or isinstance(value, (str, dict)), f"{where}{name}", "a string or an object")
    authorizations = body.get("authorizations")
    if authorizations is not None:
        _expect(isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations),
                f"{where}authorizations", "a list of objects")
        for authorization in authorizations[:1]:
            _check_id_holders(authorization, f"{where}authorizations[0].")
    if "response_urls" in body:
        response_urls = body["response_urls"]
        _expect(isinstance(response_urls, list) and all(isinstance(u, dict) for u in response_urls),
                f"{where}response_urls", "a list of objects")


def _check_shape(body: dict[str, Any]) -> None:
    for name in _STRINGS:
        _expect(body.get(name) is None or isinstance(body[name], str), name, "a string")
    for name in _OBJECTS:
        _expect(body.get(name) is None or isinstance(body[name], dict), name, "an object")
    _check_id_holders(body, "")
    kind = body.get("type")
    if is_slash_command(body):
        for name in ("channel_id", "user_id", "team_id"):
            _expect(isinstance(body.get(name), str), name, "given in a slash command")
    if kind in _INTERACTIVE:
        # Bolt and the listeners read these as objects in a click's payload (a string in an event).
        for name in _ID_HOLDERS:
            _expect(body.get(name) is None or isinstance(body[name], dict), name, "an object")
    if "actions" in body or kind in _WITH_ACTIONS:
        actions = body.get("actions")
        _expect(isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
                and (bool(actions) or kind not in _WITH_ACTIONS), "actions", "a list of objects")
        for n, action in enumerate(actions or []):
            _expect(isinstance(action.get("action_id"), str), f"actions[{n}].action_id", "a string")
            _expect(action.get("value") is None or isinstance(action["value"], str), f"actions[{n}].value",
                    "a string")
            _expect(action.get("selected_option") is None or isinstance(action["selected_option"], dict),
                    f"actions[{n}].selected_option", "an object")
    if kind in _WITH_VIEW or "view" in body:
        _expect(isinstance(body.get("view"), dict), "view", "an object")
    if "event" in body:
        event = body["event"]
        _expect(isinstance(event, dict), "event", "an object")
        _check_id_holders(event, "event.")
        for name in _EVENT_STRINGS:
            _expect(event.get(name) is None or isinstance(event[name], str), f"event.{name}", "a string")
        if event.get("type") in ("app_mention", "message"):
            # Who wrote a message is an id (an object only in events about a user's profile).
            _expect(event.get("user") is None or isinstance(event["user"], str), "event.user", "a string")
            if event.get("subtype") in (None, *WRITTEN_BY_A_PERSON):
                for name in ("channel", "ts"):
                    _expect(isinstance(event.get(name), str), f"event.{name}", "given in a message")
