"""Account reports: built once per customer and channel at a time, their progress edited in the channel."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from app.domain.customers import Customer
from app.domain.outcome import Failed
from app.integrations.crm import CrmClient
from app.integrations.deferral import PostDeferred
from app.integrations.errors import DownstreamRejected, IntegrationError
from app.integrations.slack_poster import NOT_A_MEMBER, SlackPoster, Upload
from app.messages.bot import WORKING
from app.messages.message import Message
from app.messages.mrkdwn import escape_line, mention
from app.reports.chart import tickets_per_week_png
from app.reports.document import AccountReport, TicketHistory, markdown
from app.state.report_claims import ReportClaim, ReportClaims

STEPS = 4
PAGE_SIZE = 50
# A report finished less than this long ago is handed to a new asker instead of built again.
REUSE_FINISHED_S = 60
# chat.update is rate-limited (about 50 a minute); progress edits go no faster than this.
MIN_EDIT_INTERVAL_S = 1.0


@dataclass(frozen=True)
class ReportPlace:
    """Where a report goes: a channel, and the thread of the message that asked for it, if any."""

    channel: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class Built:
    permalink: str
    tickets: int


@dataclass(frozen=True)
class UnderWay:
    """Someone else's report for this customer is being built here; the asker will be mentioned."""


@dataclass(frozen=True)
class JustBuilt:
    permalink: str


@dataclass(frozen=True)
class NotAMember:
    """The bot cannot upload files to a channel it has not joined."""


ReportOutcome = Built | UnderWay | JustBuilt | NotAMember | Failed


@dataclass(frozen=True)
class ShownProgress:
    """Where a report's progress message is, and whose claim it shows: what a next run (or the failure
    callback, when the worker building it died) needs to edit it."""

    channel: str
    ts: str
    title: str
    customer_id: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShownProgress:
        return cls(str(data["channel"]), str(data["ts"]), str(data["title"]), str(data["customer_id"]))


class ProgressMemory(Protocol):
    """Kept by whoever runs the job, across its runs."""

    def recall(self) -> ShownProgress | None: ...

    def remember(self, shown: ShownProgress) -> None: ...


class _Forgetful:
    def recall(self) -> ShownProgress | None:
        return None

    def remember(self, shown: ShownProgress) -> None:
        pass


class Progress:
    """The one message that tells the channel how the report is going, edited as it advances."""

    def __init__(self, slack: SlackPoster, channel: str, ts: str, title: str,
                 keep_alive: Callable[[], None] = lambda: None) -> None:
        self._slack, self._channel, self._ts, self._title = slack, channel, ts, title
        self._keep_alive = keep_alive
        self._shown: tuple[int, float] = (0, 0.0)

    def step(self, number: int, what: str, detail: str = "") -> None:
        self._keep_alive()
        shown_step, shown_at = self._shown
        now = time.monotonic()
        if number == shown_step and now - shown_at < MIN_EDIT_INTERVAL_S:
            return
        suffix = f": {detail}" if detail else ""
        self.say(f"{self._title}: {what} ({number}/{STEPS}){suffix}...")
        self._shown = (number, now)

    def say(self, text: str) -> None:
        self._slack.update_message(self._channel, self._ts, Message(text=text))

    def failed(self, reason: str) -> None:
        self.say(f":warning: {self._title} failed: {escape_line(reason)}")

    def retrying(self, reason: str) -> None:
        self.say(f":hourglass: {self._title} failed, retrying ({escape_line(reason)})...")


def _mentions(user_ids: list[str]) -> str:
    return " ".join(mention(u) for u in user_ids if mention(u).startswith("<@"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "customer"


def _do_nothing() -> None:
    pass


class AccountReports:
    def __init__(self, crm: CrmClient, slack: SlackPoster, claims: ReportClaims) -> None:
        self._crm = crm
        self._slack = slack
        self._claims = claims

    def interrupted(self, shown: ShownProgress, retrying: bool, reason: str) -> None:
        """The job building the report failed for want of a worker: its message says so; given up, its claim goes."""
        progress = Progress(self._slack, shown.channel, shown.ts, shown.title)
        if retrying:
            progress.retrying(reason)
            return
        self._claims.for_report(shown.channel, shown.customer_id).release_lease()
        progress.failed(reason)

    def build(self, customer: Customer, place: ReportPlace, holder: str, asker: str = "",
              on_told: Callable[[], None] = _do_nothing, shown: ProgressMemory | None = None) -> ReportOutcome:
        """Build and upload `customer`'s report in `place`, unless one is under way or was just built there.

        `holder` names the job building it; `asker` is mentioned when it is ready; `on_told` is
        called when the channel has been told of an unexpected failure, before it is raised.
        """
        claim = self._claims.for_report(place.channel, customer.id)
        if not claim.claim(holder):
            current = claim.current()
            if current.get("state") == "done":
                # Not added as an asker: the list would outlive the finished report, and whoever is
                # on it would be mentioned in the next one.
                return JustBuilt(current["permalink"])
            if asker:
                claim.add_asker(asker)
            return UnderWay()
        if asker:
            claim.add_asker(asker)
        try:
            return self._build(customer, place, claim, on_told, shown or _Forgetful())
        except PostDeferred:
            raise  # the job runs again later, as the same holder: the claim and its askers wait for it
        except BaseException:
            claim.release()
            raise

    def _build(self, customer: Customer, place: ReportPlace, claim: ReportClaim,
               on_told: Callable[[], None], memory: ProgressMemory) -> ReportOutcome:
        title = f"Account report for *{escape_line(customer.name)}*"
        earlier = memory.recall()
        if earlier is not None and earlier.channel == place.channel:
            ts = earlier.ts  # a run before this one died: its message goes on showing the progress
        else:
            try:
                ts = self._slack.post_message(place.channel, Message(text=WORKING), thread_ts=place.thread_ts)
            except DownstreamRejected as exc:
                if not any(code in exc.detail for code in NOT_A_MEMBER):
                    raise
                claim.release()
                return NotAMember()
            memory.remember(ShownProgress(place.channel, ts, title, customer.id))
        progress = Progress(self._slack, place.channel, ts, title, keep_alive=claim.renew)
        # Files and late news go in the thread of the progress message, or of the mention it answers.
        thread = place.thread_ts or ts
        try:
            tickets, permalink, askers = self._fetch_and_upload(customer, place.channel, thread, claim, progress)
        except IntegrationError as exc:
            claim.release()
            progress.failed(exc.user_message)
            return Failed(exc.user_message)
        except Exception:
            claim.release()
            progress.failed("an internal error; the details are in the logs")
            on_told()
            raise
        late = [user for user in claim.askers() if user not in askers]
        if late:
            ready = f"the account report for {escape_line(customer.name)} is ready: <{permalink}|open it>."
            self._slack.post_message(place.channel, Message(text=f"{_mentions(late)} {ready}"), thread_ts=thread)
        progress.say(f"{title} is ready: <{permalink}|open the report> ({tickets} tickets). "
                     f"The file and its chart are in the thread.")
        return Built(permalink, tickets)

    def _fetch_and_upload(self, customer: Customer, channel: str, thread: str, claim: ReportClaim,
                          progress: Progress) -> tuple[int, str, list[str]]:
        """Fetch, draw, upload; answers the ticket count, the file's permalink, and who was mentioned."""
        progress.step(2, "Fetching tickets")
        tickets = []
        for page in self._crm.ticket_pages(customer.id, PAGE_SIZE):
            tickets.extend(page)
            progress.step(2, "Fetching tickets", f"{len(tickets)} so far")
        histories = []
        for number, ticket in enumerate(tickets, start=1):
            progress.step(3, "Fetching ticket history", f"{number}/{len(tickets)}")
            histories.append(TicketHistory(ticket, tuple(self._crm.ticket_history(ticket.id))))
        progress.step(4, "Drawing the chart and writing the report")
        report = AccountReport(customer, tuple(histories), datetime.now(UTC))
        slug = _slug(customer.name)
        chart_name = f"tickets-per-week-{slug}.png"
        uploads = [
            Upload(f"report-{slug}.md", f"Account report: {customer.name}", markdown(report, chart_name).encode()),
            Upload(chart_name, f"Tickets per week: {customer.name}", tickets_per_week_png(customer.name, tickets)),
        ]
        askers = claim.askers()
        permalink = self._slack.upload_files(
            channel, uploads, thread_ts=thread,
            comment=f"{_mentions(askers)} here is the account report for {escape_line(customer.name)}, "
                    f"with its chart.".strip())
        claim.finish(permalink)
        return len(tickets), permalink, askers
