"""Which tool calls act outside the conversation, and what to tell the asker they would do. Pure.

Posting to another channel, building a report elsewhere, and a registered HTTP tool that is not a GET all
wait for the asker's Approve; reading never does.
"""

from __future__ import annotations

from typing import Any

from app.agent.conversation import ToolCall
from app.messages.mrkdwn import escape, escape_line

MAX_QUOTED = 500


def _channel(args: dict[str, Any]) -> str:
    return str(args.get("channel", ""))


def _quote(text: str) -> str:
    text = text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"
    return "\n".join(f">{escape(line)}" for line in text.splitlines() or [""])


def effect_outside(call: ToolCall, conversation: str | None, http_method: str | None = None,
                   thread: str | None = None) -> str | None:
    """Exactly what `call` would do outside the conversation in `conversation` (and its `thread`, if any), as
    safe mrkdwn; None when it would do nothing there."""
    args = call.args
    elsewhere = _channel(args) and _channel(args) != conversation
    customer = escape_line(str(args.get("customer", "")))
    if call.tool == "slack.post_message":
        # Someone else's thread in the same channel is another conversation too, and so is the channel itself
        # when the conversation is in a thread: a post there is read by the whole channel.
        in_thread = str(args.get("thread_ts") or "")
        if elsewhere or in_thread != (thread or ""):
            where = f"<#{escape_line(_channel(args))}>" + (
                f", in the thread of message {escape_line(in_thread)}" if in_thread
                else ", for the whole channel" if thread and not elsewhere
                else "")
            return f"post this message in {where}:\n{_quote(str(args.get('text', '')))}"
        return None
    if call.tool == "summarize_and_post_customer_update" and elsewhere:
        return f"post a summary of *{customer}* (from the CRM) in <#{escape_line(_channel(args))}>"
    if call.tool == "report.build" and elsewhere:
        return f"build the account report for *{customer}* and upload it to <#{escape_line(_channel(args))}>"
    if http_method is not None and http_method != "GET":
        shown = ", ".join(f"{escape_line(str(k))}={escape_line(str(v))[:80]}"
                          for k, v in args.items()) or "no arguments"
        return f"call the HTTP tool `{escape_line(call.tool)}` ({escape_line(http_method)}) with {shown}"
    return None
