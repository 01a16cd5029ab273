"""What a user asked for with `/acme ...`: pure. Plain words (mentions, messages, `/acme ask`) go to the agent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.customers import MAX_CUSTOMER_CHARS
from app.messages.mrkdwn import unescape
from app.queueing.job_table import AGENT, HELP, REPORT, SUMMARY, JobKind


@dataclass(frozen=True)
class Summarize:
    customer: str


@dataclass(frozen=True)
class Report:
    customer: str


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Help:
    unknown: str = ""  # the word asked for that is no command, if any


@dataclass(frozen=True)
class MissingCustomer:
    verb: str = "summary"
    too_long: bool = False  # a "name" past MAX_CUSTOMER_CHARS: no customer is named so, and the CRM refuses it


@dataclass(frozen=True)
class Ask:
    """`/acme ask <anything>`: for the agent."""

    text: str


Intent = Summarize | Report | Status | Help | MissingCustomer | Ask

SUMMARY_VERBS = ("summary", "summarize", "summarise", "sum-up")
REPORT_VERBS = ("report",)
_FILLER_BEFORE_CUSTOMER = re.compile(r"^(?:(?:of|for|about|on|the|customer|account)\b\s*)+", re.IGNORECASE)
_FILLER_AFTER_CUSTOMER = re.compile(r"[\s?!.,]*(?:\bplease\b)?[\s?!.,]*$", re.IGNORECASE)


def _customer_after(words: str, verb: str) -> Intent:
    customer = _FILLER_AFTER_CUSTOMER.sub("", _FILLER_BEFORE_CUSTOMER.sub("", words.strip()))
    customer = unescape(customer.strip().strip("\"'\u201c\u201d"))
    if not customer:
        return MissingCustomer(verb)
    if len(customer) > MAX_CUSTOMER_CHARS:
        return MissingCustomer(verb, too_long=True)
    return Report(customer) if verb == "report" else Summarize(customer)


def parse_command(text: str) -> Intent:
    """`/acme summary Globex` → Summarize("Globex"); anything unknown is a request for help (with the word)."""
    # No NUL reaches a job (SlackRequest drops them): dropped here first, "summary \0" names no customer.
    text = text.replace("\x00", "")
    # Split at any whitespace (a tab, a new line), and "summary:" is "summary".
    verb, *more = text.strip().split(maxsplit=1) or [""]
    verb, rest = verb.lower().rstrip(":,.!"), more[0] if more else ""
    if verb in SUMMARY_VERBS:
        return _customer_after(rest, "summary")
    if verb in REPORT_VERBS:
        return _customer_after(rest, "report")
    if verb == "status":
        return Status()
    if verb == "ask":
        return Ask(rest.strip()) if rest.strip() else MissingCustomer("ask")
    return Help() if verb in ("", "help") else Help(unknown=text.strip().split(maxsplit=1)[0])


def job_for(intent: Intent) -> tuple[JobKind, str | None]:
    """The job an intent starts, and the customer it is about; anything else gets the help."""
    if isinstance(intent, Ask):
        return AGENT, None
    if isinstance(intent, Summarize):
        return SUMMARY, intent.customer
    if isinstance(intent, Report):
        return REPORT, intent.customer
    return HELP, None
