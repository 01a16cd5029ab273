"""What the bot says about itself: help, its status, that it is working, and that something failed. Pure."""

from __future__ import annotations

from app.domain.system_status import SystemStatus
from app.messages.long_text import shortened
from app.messages.message import Message, section
from app.messages.mrkdwn import quoted

WORKING = "Working on it..."


# Enough of an unknown command to recognise it by; the rest would only crowd the help.
_UNKNOWN_SHOWN_CHARS = 40


def help_text(unknown: str = "") -> Message:
    """The commands; with `unknown`, what the person typed that is none of them, said first."""
    opening = "*ACME Assistant* connects Slack to the CRM.\n"
    if unknown:
        opening = f"I don't know the command \u201c{quoted(shortened(unknown, _UNKNOWN_SHOWN_CHARS))}\u201d. {opening}"
    text = (
        opening +
        "\u2022 `/acme summary <customer>`: a summary of a customer (an id, a name or an email)\n"
        "\u2022 `/acme report <customer>`: a full account report, uploaded as a file with a chart\n"
        "\u2022 `/acme status`: the circuit breakers and the job queues\n"
        "\u2022 `/acme ask <anything>`, `@acme <anything>` or a direct message: ask in your own words, e.g. "
        "`@acme summarize Globex and post it in #sales`\n"
        "\u2022 `/acme help`: this help"
    )
    return Message(text=text, blocks=[section(text)])


def queue_unavailable(maybe_queued: bool = False) -> str:
    if maybe_queued:
        # Said so: asked again at once, it would be done twice.
        return ("The job queue is slow to answer right now, so this may or may not have started. "
                "If no answer comes within a minute, please ask again.")
    return "The job queue is unavailable right now, so I cannot start this. Please try again in a minute."


def status_unavailable() -> str:
    # `/acme status` starts nothing: what is down is said, not that "this" cannot start.
    return (":red_circle: Redis is not answering, so I cannot read the status: the job queue and the circuit "
            "breakers' states are kept there. Until it answers, nothing asked of me can be queued; the team "
            "has the details in the logs.")


def unexpected_failure(what: str) -> Message:
    return Message(text=f":warning: Something went wrong while {what}; the team has the details in the logs.")


def system_status(status: SystemStatus) -> Message:
    icons = {"closed": ":large_green_circle:", "half-open": ":large_yellow_circle:", "open": ":red_circle:"}
    breakers = "\n".join(
        f"{icons.get(b.state, ':white_circle:')} *{b.name}*: {b.state}"
        + (f" (next trial in {b.retry_in_s} s)" if b.retry_in_s else "")
        for b in status.breakers
    )
    queues = "\n".join(
        f"\u2022 `{q.name}`: {q.depth} waiting"
        + (f", oldest for {q.oldest_wait_s:.0f} s" if q.oldest_wait_s is not None else "")
        for q in status.queues
    )
    text = f"*Circuit breakers*\n{breakers}\n*Queues*\n{queues}"
    return Message(text=text, blocks=[section(text)])
