"""What the rules planner says: fixed replies, and answers written from tool results. Pure.

Every value from a tool (the CRM's words) or from the user is escaped here, so answers are safe mrkdwn.
"""

from __future__ import annotations

from typing import Any

from app.agent.conversation import Answer, ToolResult
from app.messages.long_text import shortened
from app.messages.mrkdwn import escape_line

CAN_DO = ("I can summarize a customer (`summarize Globex`), list their open tickets (`open tickets for Initech`), "
          "look one up or search the CRM, build an account report (`report on Globex`), post a summary to a "
          "channel (`summarize Globex and post it to #sales`), and tell you whether the CRM and the queues are up "
          "(`is the CRM up?`).")
MAX_LISTED = 8
MAX_ERROR_SHOWN = 300


def fixed_reply(kind: str, reason: str = "") -> Answer:
    replies = {
        "help": f"Here is what I can do. {CAN_DO}\nThe same with `/acme`: `/acme summary <customer>`, "
                "`/acme report <customer>`, `/acme status`, `/acme ask <anything>`.",
        "empty": f"Hi! What can I do for you? {CAN_DO}",
        "unknown": f"I'm not sure what you'd like me to do. {CAN_DO}",
        "smalltalk:greeting": "Hi! Ask me about a customer, e.g. `summarize Globex` or `open tickets for Initech`.",
        "smalltalk:thanks": "You're welcome!",
        "smalltalk:declined": "OK, I won't. Ask me whenever you need something.",
        "smalltalk:pleasantry": f"I'm ACME Assistant, the bot that connects Slack to the CRM. {CAN_DO}",
        "refuse:injection": "I can't do that: I follow my own instructions, not ones given in a message, and I never "
                            "share keys, tokens or my configuration.",
        "refuse:mass_mention": "I won't notify a whole channel (@channel, @here or @everyone). I can post a "
                               "summary to a channel without pinging anyone.",
        "refuse:destroy": "I can't delete or change anything in the CRM or in Slack: I only read the CRM and post "
                          "summaries and reports.",
        "unsupported:create": "I can't create tickets or customers: I only read the CRM. " + CAN_DO,
        "unsupported:elsewhere": "I can't act on other systems (email, DMs, Jira, Zendesk, calendars...): I only "
                                 "read the CRM and post to Slack channels. " + CAN_DO,
        "unsupported:filter": "I can search customers by name, id or email (`which customers match labs?`), not by "
                              "plan, status or owner, and I don't list them all.",
        "unsupported:ticket_id": "I can't look up one ticket by its id: I read tickets by customer. Ask for a "
                                 "customer's open tickets, e.g. `open tickets for Globex`.",
        # Said of a password reset or a meeting room as much as of a customer's plan: no system's change is ours.
        "unsupported:change": "I can't do that: I change nothing, in the CRM (plans, owners, tickets) or anywhere "
                              "else. I only read the CRM and post to Slack channels. " + CAN_DO,
    }
    return Answer(replies.get(f"{kind}:{reason}", replies.get(kind, replies["unknown"])), mrkdwn=True)


def ask(text: str) -> Answer:
    return Answer(text, mrkdwn=True)


def _customer_line(c: dict[str, Any], bold: bool = True) -> str:
    f = {k: escape_line(str(c.get(k, ""))) for k in ("name", "company", "plan", "status", "owner", "email", "id")}
    name = f"*{f['name']}*" if bold else f["name"]
    return (f"{name} ({f['company']}): {f['plan']} plan, {f['status'].replace('_', ' ')}, owner {f['owner']}, "
            f"{f['email']} (`{f['id']}`)")


def _ticket_line(t: dict[str, Any]) -> str:
    return (f"• *{escape_line(str(t.get('priority', '')))}* {escape_line(str(t.get('subject', '')))} "
            f"(`{escape_line(str(t.get('id', '')))}`, {escape_line(str(t.get('status', '')))})")


def _summary(output: dict[str, Any]) -> str:
    customer = output.get("customer") or {}
    tickets = list(output.get("open_tickets") or [])
    lines = [f"Summary of {_customer_line(customer, bold=False)}"]
    if tickets:
        lines.append(f"Open tickets ({len(tickets)}):")
        lines += [_ticket_line(t) for t in tickets[:MAX_LISTED]]
        if len(tickets) > MAX_LISTED:
            lines.append(f"… and {len(tickets) - MAX_LISTED} more")
    else:
        lines.append("No open tickets.")
    lines.append(f":mag: Needs attention: {escape_line(str(output.get('attention', '')))}")
    return "\n".join(lines)


def _tickets(customer: str, tickets: list[dict[str, Any]]) -> str:
    open_ones = [t for t in tickets if t.get("status") in ("open", "pending", "new")]
    if not open_ones:
        return f"*{escape_line(customer)}* has no open tickets ({len(tickets)} in all)."
    lines = [f"*{escape_line(customer)}* has {len(open_ones)} open ticket(s):"]
    lines += [_ticket_line(t) for t in open_ones[:MAX_LISTED]]
    if len(open_ones) > MAX_LISTED:
        lines.append(f"… and {len(open_ones) - MAX_LISTED} more")
    return "\n".join(lines)


def _status(output: dict[str, Any]) -> str:
    breakers = output.get("circuit_breakers") or {}
    queues = output.get("queues") or {}
    down = [name for name, state in breakers.items() if state != "closed"]
    head = (f":warning: {', '.join(escape_line(d) for d in down)} {'is' if len(down) == 1 else 'are'} not answering "
            f"(circuit breaker {', '.join(escape_line(str(breakers[d])) for d in down)})." if down
            else "Everything is up: every circuit breaker is closed.")
    waiting = ", ".join(f"`{escape_line(name)}` {depth}" for name, depth in queues.items())
    return f"{head}\nJobs waiting: {waiting or 'none'}."


def from_result(result: ToolResult, customer: str | None) -> Answer:
    """An answer from the last tool call's result."""
    tool, args, output = result.call.tool, result.call.args, result.output
    if result.error:
        # An error may repeat what was asked in full (a page pasted as a name): its start says enough.
        shown = escape_line(shortened(result.error, MAX_ERROR_SHOWN))
        return Answer(f"I couldn't do that ({escape_line(tool)}): {shown}", mrkdwn=True)
    name = escape_line(customer or str(args.get("customer", "")))
    channel = str(args.get("channel", ""))
    if tool == "summarize_customer" and isinstance(output, dict):
        return Answer(_summary(output), mrkdwn=True)
    if tool == "summarize_and_post_customer_update":
        return Answer(f"Done: I posted the summary of *{name}* in <#{escape_line(channel)}>.", mrkdwn=True)
    if tool == "report.build" and isinstance(output, dict):
        under_way = escape_line(str(output.get("result", "The report is under way")))
        return Answer(f"{under_way}, in <#{escape_line(channel)}>.", mrkdwn=True)
    if tool == "crm.list_tickets" and isinstance(output, list):
        return Answer(_tickets(customer or str(args.get("customer", "")), output), mrkdwn=True)
    if tool == "crm.get_customer" and isinstance(output, dict):
        return Answer(_customer_line(output), mrkdwn=True)
    if tool == "crm.search_customers" and isinstance(output, list):
        if not output:
            return Answer(f"No customer matches “{escape_line(str(args.get('query', '')))}”.", mrkdwn=True)
        lines = [f"{len(output)} customer(s) match “{escape_line(str(args.get('query', '')))}”:"]
        lines += [f"• {_customer_line(c)}" for c in output[:MAX_LISTED]]
        return Answer("\n".join(lines), mrkdwn=True)
    if tool == "system.status" and isinstance(output, dict):
        return Answer(_status(output), mrkdwn=True)
    if tool == "slack.post_message":
        return Answer(f"Done: posted in <#{escape_line(channel)}>.", mrkdwn=True)
    return Answer(f"Done ({escape_line(tool)}).", mrkdwn=True)
