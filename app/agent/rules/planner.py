"""The rules planner: offline and deterministic. It proposes one tool call for what was asked, then
answers from its result; what it does not understand, or may not do, it says so."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from app.agent.conversation import AgentRequest, Answer, Calls, PlannerStep, ToolCall
from app.agent.rules import answers, patterns
from app.agent.rules.clauses import clauses
from app.agent.rules.names import as_typed, concepts_of, tokens
from app.agent.rules.understand import Understood, understand
from app.agent.slack_text import SlackText, narrowed, read_slack_text
from app.domain.customers import MAX_CUSTOMER_CHARS
from app.messages.mrkdwn import escape_line

NEEDS_CUSTOMER = ("summary", "report", "tickets", "lookup", "search")
# What only reads, asked of several customers at once ("open tickets for Globex and Initech"): one call each.
READ_FOR_EACH = frozenset({"summarize_customer", "crm.list_tickets", "crm.get_customer"})
MAX_CUSTOMERS_AT_ONCE = 5
# What is answered together, several calls in one answer: those reads, and the system's status.
READ_TOGETHER = READ_FOR_EACH | {"system.status"}
READ_KINDS = {"summary": "summarize_customer", "tickets": "crm.list_tickets", "lookup": "crm.get_customer"}


class RulesPlanner:
    name = "rules"

    def next_step(self, request: AgentRequest) -> PlannerStep:
        if request.results:
            said = read_slack_text(request.text)
            understood = understand(said)  # once, for what the answer adds of what was asked and not done
            last = request.results[-1]
            read = [r for r in request.results if r.call.tool in READ_TOGETHER]
            if len(read) > 1 and len(read) == len(request.results):
                answer = _joined([answers.from_result(r, r.call.args.get("customer")) for r in read])
                return _answered_here(_customers_left(answer, [r.call for r in read], understood), said, understood)
            answer = answers.from_result(last, last.call.args.get("customer") or last.call.args.get("query"))
            if "channel" not in last.call.args:
                answer = _answered_here(answer, said, understood)
            return _customers_left(_with_channels_left(answer, last.call, understood), [last.call], understood)
        return self.first_step(request)

    def first_step(self, request: AgentRequest) -> PlannerStep:
        said = read_slack_text(request.text)
        understood = understand(said)
        separate = _separate_reads(said, request, understood)
        if separate:
            return Calls(separate)
        understood = _continued(said, understood, request)
        kind, customer = understood.kind, understood.customer
        if kind == "followup" or (kind in NEEDS_CUSTOMER and customer is None):
            customer = _last_customer(request)
            if kind == "followup" and customer is None and understood.wants_post:
                # "post that in #sales" with nothing before it in the thread: what "that" is must be said.
                return answers.ask("What should I post? Name the customer whose summary to post (`post the summary "
                                   "of Globex in #sales`), or put the words in quotes (`post \"standup moved to 10\" "
                                   "in #sales`).")
            if kind == "followup":
                kind = "summary" if customer else "unknown"
        if kind in NEEDS_CUSTOMER and customer is None:
            return answers.ask("Which customer? Give me a name, an id (`cus_001`) or an email.")
        if customer is not None and len(customer) > MAX_CUSTOMER_CHARS:
            return answers.ask(f"That is too long for a customer's name ({MAX_CUSTOMER_CHARS} characters at most). "
                               "Give me a name, an id (`cus_001`) or an email.")
        call = _call(kind, customer, understood, request.channel, request.text)
        if isinstance(call, Answer):
            return call
        if call is None:
            return answers.fixed_reply(kind, understood.reason)
        allowed = {tool.name for tool in request.tools}
        if request.tools and call.tool not in allowed:
            return answers.ask(f"I'm not allowed to use `{escape_line(call.tool)}` here, so I can't do that.")
        if call.tool in READ_FOR_EACH and understood.also:
            others = understood.also[:MAX_CUSTOMERS_AT_ONCE - 1]
            return Calls((call, *(ToolCall(f"call_{n}", call.tool, {**call.args, "customer": other})
                                  for n, other in enumerate(others, start=2))))
        if understood.also and "customer" in call.args:
            # Said before it is approved, not only after: the asker knows what the approval covers.
            named = ", ".join(f"*{escape_line(name)}*" for name in understood.also)
            return Calls((call,), note=f"(One customer at a time: {named} after this, if you ask again.)")
        return Calls((call,))


# "and for Initech?", "same for Hooli", "what about Initech": the question before, of another customer.
_CONTINUES = re.compile(r"^\W*(?:and|what about|how about|same(?: thing)?(?: for| with)?|now|ok,? now|also)\b"
                        r"(?:\s+(?:for|with|about|on))?\s+(?P<rest>.+)$", re.IGNORECASE)
CONTINUED_KINDS = ("tickets", "lookup", "report")


def _continued(said: SlackText, understood: Understood, request: AgentRequest) -> Understood:
    """A short follow-up that names only a customer asks what the turn before asked, of that customer."""
    follow_up = _CONTINUES.match(said.text)
    if not follow_up or understood.kind not in ("summary", "unknown") or understood.wants_post \
            or len(follow_up.group("rest").split()) > 4:
        return understood
    previous = next((turn for turn in reversed(request.history) if turn.role == "user"), None)
    if previous is None:
        return understood
    before = understand(read_slack_text(previous.text))
    if before.kind not in CONTINUED_KINDS and not (understood.kind == "unknown" and before.kind == "summary"):
        return understood
    rest = follow_up.group("rest")
    if any(concept is not None for concept in concepts_of(tokens(rest))) or patterns.SUMMARY_PHRASE.search(rest):
        return understood  # "and summarize Initech": asked in its own words
    named = understand(narrowed(said, rest))
    if named.customer is None:
        return understood
    return replace(before, customer=named.customer, also=named.also)


def _separate_reads(said: SlackText, request: AgentRequest, whole: Understood) -> tuple[ToolCall, ...]:
    """One read for each part of a message that asks for one ("globex summary pls, and also open tickets for
    hooli"); none unless every part asks for a read or only chats ("thanks"), and at least two reads differ.
    The read the whole message asks for, when it is one of them, comes first: it is the likeliest."""
    parts = clauses(said)
    if len(parts) < 2:
        return ()
    reads: list[tuple[str, dict[str, Any]]] = []
    customer = _last_customer(request)
    for part in parts:
        understood = understand(part)
        if understood.kind in ("smalltalk", "empty"):
            continue
        if understood.kind == "status":
            reads.append(("system.status", {}))
            continue
        # "summarize Globex. and its tickets": a part that names no customer is about the one before it.
        customer = understood.customer or (customer if understood.kind in READ_KINDS or
                                           understood.kind == "followup" else None)
        kind = "summary" if understood.kind == "followup" else understood.kind
        if kind not in READ_KINDS or customer is None or understood.wants_post or understood.channels \
                or len(customer) > MAX_CUSTOMER_CHARS:
            return ()
        reads += [(READ_KINDS[kind], {"customer": name}) for name in (customer, *understood.also)]
    # A customer's summary gives its details and open tickets too: those asked with it are not read again.
    summarized = {args["customer"].casefold() for tool, args in reads if tool == "summarize_customer"}
    reads = [(tool, args) for tool, args in reads if tool in ("summarize_customer", "system.status")
             or args["customer"].casefold() not in summarized]
    distinct = list(dict.fromkeys((tool, tuple(args.items())) for tool, args in reads))
    if len(distinct) < 2:
        return ()
    if whole.kind in READ_KINDS and whole.customer:
        likeliest = (READ_KINDS[whole.kind], (("customer", whole.customer),))
        distinct.sort(key=lambda read: read != likeliest)
    return tuple(ToolCall(f"call_{n}", tool, dict(args))
                 for n, (tool, args) in enumerate(distinct[:MAX_CUSTOMERS_AT_ONCE], start=1))


def _with_channels_left(answer: Answer, call: ToolCall, understood: Understood) -> Answer:
    """One call posts to one channel: any other channel asked for is said, not dropped without a word."""
    if "channel" not in call.args:
        return answer
    left = [c for c in understood.channels if c != call.args["channel"]]
    if not left:
        return answer
    named = ", ".join(f"<#{escape_line(c)}>" for c in dict.fromkeys(left))
    return Answer(f"{answer.text}\nI do one channel at a time: ask again for {named}.", mrkdwn=True)


def _answered_here(answer: Answer, said: SlackText, understood: Understood) -> Answer:
    """A channel named for what is only answered here (tickets, a lookup) is said, not passed over; so is what was
    asked to be done elsewhere (emailed, uploaded)."""
    channels = understood.channels
    elsewhere = patterns.DONE_ELSEWHERE_AFTER.search(said.text)
    if elsewhere and not channels:
        answer = Answer(f"{answer.text}\nI did not {elsewhere.group(1).lower()} it: I answer here, and post to "
                        f"Slack channels (`post the summary of Globex in #sales`).", mrkdwn=True)
    if not channels:
        return answer
    return Answer(f"{answer.text}\nI answered here: to a channel I post a customer's summary or report "
                  f"(`post the summary of Globex in <#{escape_line(channels[0])}>`).", mrkdwn=True)


def _joined(pieces: list[Answer]) -> Answer:
    return Answer("\n\n".join(piece.text for piece in pieces), mrkdwn=True)


def _customers_left(answer: Answer, calls: list[ToolCall], understood: Understood) -> Answer:
    """Customers asked about and not done (a report or a post is for one; reads stop at five) are said, not
    dropped without a word."""
    done = {str(call.args.get("customer", "")).casefold() for call in calls}
    left = [name for name in (understood.customer, *understood.also) if name and name.casefold() not in done]
    if not left or not any("customer" in call.args for call in calls):
        return answer
    named = ", ".join(f"*{escape_line(name)}*" for name in left)
    one_at_a_time = "one customer at a time" if calls[0].tool not in READ_FOR_EACH else (
        f"up to {MAX_CUSTOMERS_AT_ONCE} customers at a time")
    return Answer(f"{answer.text}\nI do {one_at_a_time}: ask again for {named}.", mrkdwn=True)


def _last_customer(request: AgentRequest) -> str | None:
    for turn in reversed(request.history):
        if turn.customer:
            return turn.customer
    return None


def _target_channel(understood: Understood, current: str | None) -> str | None | Answer:
    if understood.channels:
        return understood.channels[0]
    if understood.unlinked_channel:
        return answers.ask(f"I can't tell which channel {escape_line(understood.unlinked_channel)} is: mention it so "
                           f"that Slack links it (type `#` and pick the channel), and ask again.")
    if understood.here and current:
        return current
    return None


def _call(kind: str, customer: str | None, understood: Understood, current: str | None,
          raw_text: str) -> ToolCall | Answer | None:
    def call(tool: str, **args: Any) -> ToolCall:
        return ToolCall("call_1", tool, args)

    if kind == "summary":
        target = _target_channel(understood, current) if understood.wants_post or understood.channels else None
        if isinstance(target, Answer):
            return target
        if target:
            return call("summarize_and_post_customer_update", customer=customer, channel=target)
        return call("summarize_customer", customer=customer)
    if kind == "report":
        target = _target_channel(understood, current)
        if isinstance(target, Answer):
            return target
        target = target or current
        if not target:
            return answers.ask("Which channel should the report go to? Mention it, e.g. `report on Globex in #sales`.")
        return call("report.build", customer=customer, channel=target)
    if kind == "tickets":
        return call("crm.list_tickets", customer=customer)
    if kind == "lookup":
        return call("crm.get_customer", customer=customer)
    if kind == "search":
        return call("crm.search_customers", query=customer)
    if kind == "status":
        return call("system.status")
    if kind == "post":
        target = _target_channel(understood, current)
        if isinstance(target, Answer):
            return target
        if not target:
            return answers.ask("Which channel? Mention it, e.g. `post \"standup moved to 10\" in #team`.")
        if not understood.text_to_post:
            return answers.ask("What should I post? Put the words in quotes.")
        return call("slack.post_message", channel=target, text=as_typed(understood.text_to_post, raw_text))
    return None
