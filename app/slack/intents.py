"""What a user asked for, parsed from a slash command's text or a mention: pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.messages.mrkdwn import unescape
from app.queueing.job_table import HELP, REPORT, SUMMARY, JobKind


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
    pass


@dataclass(frozen=True)
class MissingCustomer:
    verb: str = "summary"


Intent = Summarize | Report | Status | Help | MissingCustomer

SUMMARY_VERBS = ("summary", "summarize", "summarise", "sum-up")
REPORT_VERBS = ("report",)
_LEADING_MENTIONS = re.compile(r"^(\s*<@[A-Z0-9]+(\|[^>]*)?>\s*)+")
_FILLER_BEFORE_CUSTOMER = re.compile(r"^(?:(?:of|for|about|on|the|customer|account)\b\s*)+", re.IGNORECASE)
_FILLER_AFTER_CUSTOMER = re.compile(r"[\s?!.,]*(?:\bplease\b)?[\s?!.,]*$", re.IGNORECASE)


def _customer_after(words: str, verb: str) -> Intent:
    customer = _FILLER_AFTER_CUSTOMER.sub("", _FILLER_BEFORE_CUSTOMER.sub("", words.strip()))
    customer = unescape(customer.strip().strip("\"'\u201c\u201d"))
    if not customer:
        return MissingCustomer(verb)
    return Report(customer) if verb == "report" else Summarize(customer)


def parse_command(text: str) -> Intent:
    """`/acme summary Globex` → Summarize("Globex"); anything unknown is a request for help."""
    verb, _, rest = text.strip().partition(" ")
    verb = verb.lower()
    if verb in SUMMARY_VERBS:
        return _customer_after(rest, "summary")
    if verb in REPORT_VERBS:
        return _customer_after(rest, "report")
    if verb == "status":
        return Status()
    return Help()


def parse_mention(text: str) -> Intent:
    """`<@U123> summarize Globex`, or the same in plain words (`can you summarise Globex please?`)."""
    words = _LEADING_MENTIONS.sub("", text).strip()
    lowered = words.lower()
    for verb in REPORT_VERBS + SUMMARY_VERBS:
        found = re.search(rf"\b{re.escape(verb)}\b", lowered)
        if found:
            return _customer_after(words[found.end():], "report" if verb in REPORT_VERBS else "summary")
    return Help()


def job_for(intent: Intent) -> tuple[JobKind, str | None]:
    """The job an intent starts, and the customer it is about; anything else gets the help."""
    if isinstance(intent, Summarize):
        return SUMMARY, intent.customer
    if isinstance(intent, Report):
        return REPORT, intent.customer
    return HELP, None
