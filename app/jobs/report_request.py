"""`/acme report` for whoever asked in Slack: find the customer, then build the report or say why not."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.outcome import Failed
from app.integrations.crm import CrmClient
from app.jobs.lookup import customer_or_reason
from app.jobs.replies import Replies
from app.jobs.reports import AccountReports, Built, JustBuilt, NotAMember, ProgressMemory, ReportPlace, UnderWay
from app.messages.message import Message
from app.messages.mrkdwn import escape_line
from app.queueing.slack_request import SlackRequest

JOINED = "joined a report already under way"


def answer_with_report(reports: AccountReports, crm: CrmClient, replies: Replies, asked: SlackRequest, holder: str,
                       on_told: Callable[[], None], shown: ProgressMemory | None = None) -> str:
    customer = customer_or_reason(crm, replies, asked.customer or "")
    if isinstance(customer, Failed):
        return customer
    outcome = reports.build(customer, ReportPlace(asked.channel_id, asked.thread_ts), holder, asked.user_id, on_told,
                            shown)
    name = escape_line(customer.name)
    match outcome:
        case Built(_, tickets):
            return f"report on {customer.id}: {tickets} tickets"
        case JustBuilt(permalink):
            replies.to_asker(Message(
                text=f"The account report for *{name}* was built a moment ago: <{permalink}|open it>."))
            return JOINED
        case UnderWay():
            replies.to_asker(Message(text=f"An account report for *{name}* is already being built here; "
                                          f"I will mention you when it is ready."))
            return JOINED
        case NotAMember():
            replies.to_asker(Message(
                text="I need to be a member of this channel to upload a report here: `/invite @acme`, then ask again."))
            return Failed("the bot is not a member of the channel")
    return outcome
