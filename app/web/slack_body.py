"""What Slack sends, checked for shape before Bolt sees it, so that a malformed body is a 400 with a reason.

Bolt's own parser is used (the body must mean here what it will mean to Bolt), then every field that
Bolt's context building or our listeners read is checked for the type they assume: Bolt calls `.get`,
`len` and `in` on them, and a list where an object should be was a 500 with a traceback. Only a signed
body comes here; the signature is checked on the raw bytes first (app/web/slack_events.py).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.request.internals import parse_body

# Slack's deepest payloads (rich text in a message event, a modal's state) stay far below this.
MAX_DEPTH = 32
# Fields Bolt reads as an id, or as an object holding one: anything else makes it fail.
_ID_HOLDERS = ("enterprise", "team", "user", "channel")
# Fields of an interactive payload that the listeners read as objects.
_INTERACTIVE_OBJECTS = ("channel", "container", "message", "team", "user", "view", "enterprise")
_EVENT_STRINGS = ("type", "ts", "text", "thread_ts", "subtype", "bot_id", "channel_type")


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
    if not isinstance(body, dict):
        raise MalformedSlackBody(f"the payload is a JSON {type(body).__name__}, not an object")
    _check_depth(body)
    # As Bolt decides: a body that is not JSON and names a payload is an interactive payload.
    is_json = media_type == "application/json" or text.startswith("{")
    _check_shape(body, interactive=not is_json and "payload" in text)
    return body


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
    response_urls = body.get("response_urls")
    if response_urls is not None:
        _expect(isinstance(response_urls, list) and all(isinstance(u, dict) for u in response_urls),
                f"{where}response_urls", "a list of objects")


def _check_shape(body: dict[str, Any], *, interactive: bool) -> None:
    _expect(body.get("type") is None or isinstance(body["type"], str), "type", "a string")
    _check_id_holders(body, "")
    if is_slash_command(body):
        for name in ("channel_id", "user_id", "team_id"):
            _expect(isinstance(body.get(name), str), name, "given in a slash command")
    if interactive:
        for name in _INTERACTIVE_OBJECTS:
            _expect(body.get(name) is None or isinstance(body[name], dict), name, "an object")
        actions = body.get("actions")
        if actions is not None:
            _expect(isinstance(actions, list) and all(isinstance(a, dict) for a in actions), "actions",
                    "a list of objects")
    if "event" in body:
        event = body["event"]
        _expect(isinstance(event, dict), "event", "an object")
        _check_id_holders(event, "event.")
        for name in _EVENT_STRINGS:
            _expect(event.get(name) is None or isinstance(event[name], str), f"event.{name}", "a string")
        if event.get("type") in ("app_mention", "message") and not event.get("subtype"):
            for name in ("channel", "ts"):
                _expect(isinstance(event.get(name), str), f"event.{name}", "given in a message")
