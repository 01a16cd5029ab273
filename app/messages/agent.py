"""What the agent shows in Slack: its answers with feedback buttons, what it is doing, and approvals. Pure."""

from __future__ import annotations

from typing import Any

from app.messages.long_text import cut_saying_so, pieces
from app.messages.markdown import as_markdown
from app.messages.message import MAX_SECTION_CHARS, Message, section
from app.messages.mrkdwn import escape, mention, quoted

AGENT_FEEDBACK = "agent_feedback"
AGENT_APPROVE = "agent_approve"
AGENT_CANCEL = "agent_cancel"
MAX_ANSWER_SECTIONS = 10
MAX_FALLBACK_CHARS = 3000
MAX_STREAM_CHARS = 12000  # Slack's limit on a stream's markdown_text

# What the agent says it is doing while a tool runs: {customer} and {channel} come from the call's arguments.
DOING = {
    "summarize_customer": "Looking up {customer} in the CRM...",
    "crm.get_customer": "Looking up {customer} in the CRM...",
    "crm.list_tickets": "Reading {customer}'s tickets in the CRM...",
    "crm.search_customers": "Searching the CRM...",
    "summarize_and_post_customer_update": "Summarizing {customer} and posting it...",
    "report.build": "Building the account report for {customer}...",
    "slack.post_message": "Posting the message...",
    "system.status": "Checking the CRM and the queues...",
}


def doing(tool: str, args: dict[str, Any]) -> str:
    template = DOING.get(tool, "Calling " + tool + "...")
    return template.format(customer=str(args.get("customer", "the customer"))[:80],
                           channel=str(args.get("channel", "")))


def safe_answer(text: str, mrkdwn: bool) -> str:
    """The answer as Slack may show it: a model's words escaped whole; ours are already escaped."""
    return text if mrkdwn else escape(text)


def feedback_block(run_id: str) -> dict[str, Any]:
    return {"type": "context_actions", "elements": [{
        "type": "feedback_buttons", "action_id": AGENT_FEEDBACK,
        "positive_button": {"text": {"type": "plain_text", "text": "Good answer"}, "value": f"good:{run_id}"},
        "negative_button": {"text": {"type": "plain_text", "text": "Bad answer"}, "value": f"bad:{run_id}"}}]}


def agent_answer(text: str, run_id: str | None) -> Message:
    """An answer already made safe (see safe_answer), in sections Slack accepts, with feedback buttons."""
    blocks = [section(part) for part in pieces(text, MAX_SECTION_CHARS, MAX_ANSWER_SECTIONS) or [" "]]
    if run_id:
        blocks.append(feedback_block(run_id))
    return Message(text=cut_saying_so(text, MAX_FALLBACK_CHARS) or " ", blocks=blocks)


def streamed_answer(text: str) -> str:
    """An answer already made safe, as the `markdown_text` of a stream (see markdown.py)."""
    return cut_saying_so(as_markdown(text), MAX_STREAM_CHARS)


def approval_request(asker: str, effect: str, approval_id: str, minutes: int) -> Message:
    """`effect` is safe mrkdwn that says exactly what will happen (see approval_policy)."""
    text = f"{mention(asker)}, before I do it: I would {effect}\nOnly you can approve; this expires in {minutes} min."
    actions = {"type": "actions", "block_id": "agent_approval", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "style": "primary",
         "action_id": AGENT_APPROVE, "value": approval_id},
        {"type": "button", "text": {"type": "plain_text", "text": "Cancel"}, "action_id": AGENT_CANCEL,
         "value": approval_id}]}
    return Message(text=text, blocks=[section(text), actions])


def approval_settled(effect: str, outcome: str) -> Message:
    """The approval request as it reads once decided or expired: what was asked, what became of it, no buttons."""
    text = f"I asked to {effect}\n{outcome}"
    return Message(text=text, blocks=[section(text)])


def asked_in_channel(user: str, question: str) -> Message:
    text = f":speech_balloon: {mention(user)} asked: {quoted(question)}"
    return Message(text=text, blocks=[section(text)])
