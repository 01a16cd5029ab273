"""`/acme report`: a long job that keeps the asker informed, and runs once for everyone who asks."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import redis
from rq import get_current_job

from app.domain.customers import Customer
from app.domain.outcome import Failed
from app.integrations.errors import DownstreamRejected, IntegrationError
from app.integrations.slack_poster import NOT_A_MEMBER, SlackPoster, Upload
from app.jobs import runtime
from app.jobs.lookup import customer_or_reason
from app.jobs.queue import REPORT_TIMEOUT_S
from app.jobs.replies import Replies
from app.jobs.requests import SlackRequest
from app.messages.bot import WORKING
from app.messages.message import Message
from app.messages.mrkdwn import escape
from app.reports.chart import tickets_per_week_png
from app.reports.document import AccountReport, TicketHistory, markdown
from app.runs.builtin import BUILTIN_PREFIX, as_builtin_run

log = logging.getLogger(__name__)
STEPS = 4
PAGE_SIZE = 50
# A report finished less than this long ago is handed to a new asker instead of built again.
REUSE_FINISHED_S = 60
# chat.update is rate-limited (about 50 a minute); progress edits go no faster than this.
MIN_EDIT_INTERVAL_S = 1.0


class ReportClaim:
    """One report per customer and channel at a time, and the list of everyone waiting for it."""

    def __init__(self, connection: redis.Redis, channel: str, customer_id: str) -> None:
        self._redis = connection
        self._key = f"acme:report:{channel}:{customer_id}"
        self._askers_key = self._key + ":askers"

    def claim(self, job_id: str) -> bool:
        return bool(self._redis.set(self._key, json.dumps({"state": "running", "job": job_id}), nx=True,
                                    ex=REPORT_TIMEOUT_S))

    def current(self) -> dict[str, Any]:
        raw = self._redis.get(self._key)
        return json.loads(raw) if raw else {}

    def add_asker(self, user_id: str) -> None:
        with self._redis.pipeline() as pipe:
            pipe.rpush(self._askers_key, user_id)
            pipe.expire(self._askers_key, REPORT_TIMEOUT_S)
            pipe.execute()

    def askers(self) -> list[str]:
        raw = self._redis.lrange(self._askers_key, 0, -1)
        return list(dict.fromkeys(u.decode() if isinstance(u, bytes) else str(u) for u in raw))

    def finish(self, permalink: str) -> None:
        with self._redis.pipeline() as pipe:
            pipe.set(self._key, json.dumps({"state": "done", "permalink": permalink}), ex=REUSE_FINISHED_S)
            pipe.expire(self._askers_key, REUSE_FINISHED_S)
            pipe.execute()

    def release(self) -> None:
        self._redis.delete(self._key, self._askers_key)


class Progress:
    """The one message that tells the channel how the report is going, edited as it advances."""

    def __init__(self, slack: SlackPoster, channel: str, ts: str, title: str) -> None:
        self._slack, self._channel, self._ts, self._title = slack, channel, ts, title
        self._shown: tuple[int, float] = (0, 0.0)

    def step(self, number: int, what: str, detail: str = "") -> None:
        shown_step, shown_at = self._shown
        now = time.monotonic()
        if number == shown_step and now - shown_at < MIN_EDIT_INTERVAL_S:
            return
        suffix = f": {detail}" if detail else ""
        self._say(f"{self._title}: {what} ({number}/{STEPS}){suffix}...")
        self._shown = (number, now)

    def _say(self, text: str) -> None:
        self._slack.update_message(self._channel, self._ts, Message(text=text))

    def finished(self, text: str) -> None:
        self._say(text)

    def failed(self, reason: str) -> None:
        self._say(f":warning: {self._title} failed: {escape(reason)}")


def _mentions(user_ids: list[str]) -> str:
    return " ".join(f"<@{u}>" for u in user_ids if re.fullmatch(r"[UW][A-Z0-9]{2,}", u))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "customer"


def report_for(request: dict[str, Any]) -> str:
    """Build the report a request asks for; the job and the `report.build` tool both run this."""
    services = runtime.current()
    asked = SlackRequest.from_job_args(request)
    replies = Replies(services.slack, asked, services.jobs.response_url(asked.request_id))
    customer = customer_or_reason(services, replies, asked.customer or "")
    if isinstance(customer, Failed):
        return customer

    claim = ReportClaim(services.redis, asked.channel_id, customer.id)
    job = get_current_job()
    if not claim.claim(job.id if job else asked.request_id):
        claim.add_asker(asked.user_id)
        current = claim.current()
        if current.get("state") == "done":
            replies.to_asker(Message(
                text=f"The account report for *{escape(customer.name)}* was built a moment ago: "
                     f"<{current['permalink']}|open it>."))
        else:
            replies.to_asker(Message(
                text=f"An account report for *{escape(customer.name)}* is already being built here; "
                     f"I will mention you when it is ready."))
        return "joined a report already under way"
    claim.add_asker(asked.user_id)
    try:
        return _build(services, asked, replies, customer, claim)
    except BaseException:
        claim.release()
        raise


def _build(services: Any, asked: SlackRequest, replies: Replies, customer: Customer, claim: ReportClaim) -> str:
    title = f"Account report for *{escape(customer.name)}*"
    try:
        ts = services.slack.post_message(asked.channel_id, Message(text=WORKING),
                                         thread_ts=asked.thread_ts)
    except DownstreamRejected as exc:
        if not any(code in exc.detail for code in NOT_A_MEMBER):
            raise
        claim.release()
        replies.to_asker(Message(
            text="I need to be a member of this channel to upload a report here: `/invite @acme`, then ask again."))
        return Failed("the bot is not a member of the channel")
    progress = Progress(services.slack, asked.channel_id, ts, title)
    # Files and late news go in the thread of the progress message, or of the mention it answers.
    thread = asked.thread_ts or ts
    try:
        progress.step(2, "Fetching tickets")
        tickets = []
        for page in services.crm.ticket_pages(customer.id, PAGE_SIZE):
            tickets.extend(page)
            progress.step(2, "Fetching tickets", f"{len(tickets)} so far")
        histories = []
        for number, ticket in enumerate(tickets, start=1):
            progress.step(3, "Fetching ticket history", f"{number}/{len(tickets)}")
            histories.append(TicketHistory(ticket, tuple(services.crm.ticket_history(ticket.id))))
        progress.step(4, "Drawing the chart and writing the report")
        report = AccountReport(customer, tuple(histories), datetime.now(UTC))
        slug = _slug(customer.name)
        chart_name = f"tickets-per-week-{slug}.png"
        uploads = [
            Upload(f"report-{slug}.md", f"Account report: {customer.name}", markdown(report, chart_name).encode()),
            Upload(chart_name, f"Tickets per week: {customer.name}", tickets_per_week_png(customer.name, tickets)),
        ]
        askers = claim.askers()
        permalink = services.slack.upload_files(
            asked.channel_id, uploads, thread_ts=thread,
            comment=f"{_mentions(askers)} here is the account report for {escape(customer.name)}, "
                    f"with its chart.".strip())
        claim.finish(permalink)
    except IntegrationError as exc:
        claim.release()
        progress.failed(exc.user_message)
        return Failed(exc.user_message)
    except Exception:
        claim.release()
        progress.failed("an internal error; the details are in the logs")
        job = get_current_job()
        if job:
            # The progress message said it; RQ's failure callback need not say it again.
            job.meta["user_told"] = True
            job.save_meta()
        raise
    late = [user for user in claim.askers() if user not in askers]
    if late:
        services.slack.post_message(asked.channel_id, Message(
            text=f"{_mentions(late)} the account report for {escape(customer.name)} is ready: <{permalink}|open it>."),
            thread_ts=thread)
    progress.finished(f"{title} is ready: <{permalink}|open the report> ({len(tickets)} tickets). "
                      f"The file and its chart are in the thread.")
    return f"report on {customer.id}: {len(tickets)} tickets"


build_report = as_builtin_run(f"{BUILTIN_PREFIX}slack_report", live=True)(report_for)
