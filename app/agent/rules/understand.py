"""What a person asks for, read from how people really type in Slack: refusals first, then the most
specific request. Pure and deterministic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.agent.rules import patterns
from app.agent.rules.declined import without_declined
from app.agent.rules.names import concepts_of, customers, looks_like_a_name, text_to_post, tokens
from app.agent.rules.vocabulary import (
    CHANGE,
    DESTROY,
    FACETS,
    FILLER,
    GREETINGS,
    HELP,
    IMPERATIVE_CHANGES,
    LOOKUP,
    NOT_A_CHANGE_AFTER,
    PHRASES,
    PLEASANTRIES,
    POLITE,
    POST,
    POSTING_VERBS,
    QUESTION_WORDS,
    REPORT,
    SEARCH,
    STATUS,
    SUMMARY,
    SYSTEM_NOUNS,
    THANKS,
    TICKETS,
)
from app.agent.slack_text import SlackText


@dataclass(frozen=True)
class Understood:
    """What was asked: a kind (summary, report, ...) and what it is about."""

    kind: str
    customer: str | None = None
    channels: tuple[str, ...] = ()
    here: bool = False
    wants_post: bool = False
    text_to_post: str | None = None
    unlinked_channel: str | None = None
    reason: str = ""
    also: tuple[str, ...] = ()  # other customers named after the first ("Globex and Initech")


def _is_change_request(words: list[str]) -> bool:
    """Led by a verb that changes something ("update Globex's plan"), not one asking for news ("update on")."""
    lowered = [w.lower() for w in words if w[0].isalnum()]
    if lowered and lowered[0] in QUESTION_WORDS:
        return False
    # An order's verb comes first, or after "please", "can you"...: "I've got a call" orders nothing.
    leading = next((n for n, w in enumerate(lowered) if w not in POLITE), None)
    if leading is None or lowered[leading] not in IMPERATIVE_CHANGES:
        return False
    return leading + 1 == len(lowered) or lowered[leading + 1] not in NOT_A_CHANGE_AFTER


_LIST_JOINER = re.compile(r"\s*(?:,\s*(?:(?:and|&|or|vs\.?|versus)(?:\s+also)?\s+)?|\s(?:and|&|or|vs\.?|versus)"
                          r"(?:\s+also)?\s+)", re.IGNORECASE)


# What may follow a name in a list typed all in lower case: the list goes on, or the request ends.
_LIST_GOES_ON = re.compile(r"\s*(?:$|[,?.!;:\-–—]|(?:and|&|or|please|pls|thanks|thx|for|in|to|on)\b)", re.IGNORECASE)


def _listed_after(first: str, candidates: list[str], text: str) -> tuple[str, ...]:
    """The customers listed right after the first ("Globex, Initech and Umbrella"): a list of names, not any
    other word that could be one ("Globex, I have a meeting", "Globex and upload it")."""
    at = text.casefold().find(first.casefold())
    if at < 0:
        return ()
    at += len(first)
    # Typed in lower case, a name is told from other words by where it stands: at the end of the list.
    lower_case = not looks_like_a_name(first)
    listed = _names_listed_before(first, candidates, text[:at - len(first)]) if _is_exact(first) else []
    while joiner := _LIST_JOINER.match(text, at):
        start = joiner.end()
        following = next((c for c in candidates if c not in listed and c.casefold() != first.casefold()
                          and text[start:start + len(c)].casefold() == c.casefold()
                          and not text[start + len(c):start + len(c) + 1].isalnum()
                          and (looks_like_a_name(c) or lower_case and _LIST_GOES_ON.match(text, start + len(c)))),
                         None)
        if following is None:
            break
        listed.append(following)
        at = start + len(following)
    return tuple(listed)


def _is_exact(customer: str) -> bool:
    """An id or an email: what the names give first, wherever it stands in the request."""
    return "@" in customer or customer.lower().startswith("cus_")


def _names_listed_before(first: str, candidates: list[str], before: str) -> list[str]:
    """Names listed right before an id or an email ("Globex and ops@initech.example"), nearest last."""
    listed: list[str] = []
    while found := next((c for c in candidates if c not in listed and c.casefold() != first.casefold()
                         and looks_like_a_name(c) and not _is_exact(c)
                         and re.search(rf"(?<!\w){re.escape(c)}{_LIST_JOINER.pattern}$", before, re.IGNORECASE)), None):
        listed.insert(0, found)
        before = before[:before.casefold().rfind(found.casefold())]
    return listed


def _leading(lowered: list[str]) -> str | None:
    """The word that leads an order, after "please", "can you"..."""
    return next((w for w in lowered if w[0].isalnum() and w not in POLITE), None)


def _plain(text: str) -> str:
    text = patterns.ADDRESSING_THE_BOT.sub("", text)
    for typed, meant in PHRASES:
        text = re.sub(rf"(?<!\w){re.escape(typed)}(?!\w)", meant, text, flags=re.IGNORECASE)
    # "how are things w hooli": a lowercase "w" alone is "with" ("W Industries" is a name).
    return re.sub(r"(?<![\w'’])w(?=\s)", "with", text)


def _is_smalltalk(lowered: set[str], text: str) -> str | None:
    if lowered & THANKS:
        return "thanks"
    if lowered & GREETINGS:
        return "greeting"
    if patterns.ABOUT_BOT.search(text) or lowered <= PLEASANTRIES | FILLER:
        return "pleasantry"
    return None


def understand(message: SlackText) -> Understood:
    kept = without_declined(message)
    if kept is None:
        return _understand(message)
    understood = _understand(kept)
    # "DON'T summarize globex", "no need to summarize Globex, I have it. thanks": nothing else is asked.
    return Understood("smalltalk", reason="declined") if understood.kind in ("empty", "unknown", "smalltalk") \
        else understood


def _understand(message: SlackText) -> Understood:
    text = _plain(message.text)
    words = tokens(text)
    lowered = [w.lower() for w in words]
    concepts = concepts_of(words)
    present = set(concepts) - {None}
    here = bool(patterns.HERE.search(text))
    linked = {name.lower() for name in message.channel_names}
    unlinked = next((w for w in words if w.startswith("#") and w[1:].lower() not in linked), None)
    # "write in #ops: ...", "ping #ops with: ...": a verb that otherwise asks for something this bot does not
    # do (a change, an email) is an order to post when it names a channel and what to say there.
    posting_order = _leading(lowered) in POSTING_VERBS and bool(message.channels) and text_to_post(text) is not None
    # "just tell me here", "show us": told to the asker, not posted.
    posts = any(c == POST and lowered[n + 1:n + 2] not in (["me"], ["us"]) for n, c in enumerate(concepts))
    wants_post = (posts or posting_order) and (bool(message.channels) or here or unlinked is not None)
    to_post = text_to_post(text) if wants_post else None
    named_in = text
    if to_post:
        # The words to post are not where the customer is named, nor what is asked ("...: pricing updated").
        named_in = text.replace(to_post, " ")
        words = tokens(named_in)
        concepts = concepts_of(words)
        present = set(concepts) - {None}

    def asked(kind: str, customer: str | None = None, text_to_post: str | None = None) -> Understood:
        also = _listed_after(customer, candidates, named_in) if customer else ()
        return Understood(kind, customer, message.channels, here, wants_post, text_to_post, unlinked, also=also)

    if not any(w[0].isalnum() for w in words):
        return Understood("empty")
    if patterns.INJECTION.search(text):
        return Understood("refuse", reason="injection")
    if message.mass_mention:
        return Understood("refuse", reason="mass_mention")
    if DESTROY in present or ("drop" in lowered and patterns.DESTRUCTIVE_OBJECT.search(text) and not wants_post):
        return Understood("refuse", reason="destroy")
    if patterns.CREATE_THING.search(text):
        return Understood("unsupported", reason="create")
    if patterns.SEND_ELSEWHERE.search(text):
        return Understood("unsupported", reason="elsewhere")
    if not posting_order and (_is_change_request(words) or patterns.CHANGE_PHRASE.search(text)):
        return Understood("unsupported", reason="change")
    if patterns.OTHER_SYSTEM.search(text):
        return Understood("unsupported", reason="elsewhere")
    if POST in present and message.users and not (message.channels or here):
        # "send the Globex summary to @boss": to a person is a direct message, which this bot does not send.
        return Understood("unsupported", reason="elsewhere")

    if patterns.CUSTOMERS_BY_FACT.search(text) and not wants_post:
        return Understood("unsupported", reason="filter")
    candidates = customers(named_in, words, concepts)
    customer = candidates[0] if candidates else None
    if customer and patterns.TICKET_ID.match(customer):
        return Understood("unsupported", reason="ticket_id")
    if patterns.HELP_PHRASE.search(text) or (HELP in present and not customer):
        return Understood("help")
    search = patterns.SEARCH_FOR.search(text)
    if search:
        # What follows "search customers:" is the query, whatever its words ("health" is no status here).
        query = search.group("query")
        return asked("search", customer or query.strip(" \"'“”?.!"))
    named = any(map(looks_like_a_name, candidates))
    about_the_system = any(w in SYSTEM_NOUNS for w in lowered) and not named
    # "is everything ok with Soylent?" asks about a customer, not the system.
    if (patterns.SYSTEM_QUESTION.search(text) and not named) or (
            STATUS in present and (not customer or about_the_system)):
        return Understood("status")
    if REPORT in present:
        return asked("report", customer)
    # Several facets of one customer at once (its plan, its owner and its tickets) make a summary.
    if SUMMARY in present or patterns.SUMMARY_PHRASE.search(text) or (TICKETS in present and FACETS & set(lowered)):
        return asked("summary", customer)
    if (TICKETS in present or patterns.STILL_OPEN.search(text)) and not wants_post:
        return asked("tickets", customer)
    if patterns.HAVE_A_CUSTOMER.search(text) or patterns.WHICH_CUSTOMERS.search(text):
        return asked("search", customer)
    if SEARCH in present and not wants_post:
        return asked("search", customer)
    if LOOKUP in present and not wants_post:
        return asked("lookup", customer)
    if wants_post:
        if to_post and (not customer or posting_order):
            return asked("post", None, text_to_post=to_post)
        return asked("summary" if customer else "followup", customer)
    if CHANGE in present:
        return Understood("unsupported", customer, reason="change")
    if patterns.ABOUT_BOT.search(text) and not named:
        # "who made you?": about the bot, whatever lowercase word is left over ("made" names no customer).
        return Understood("smalltalk", reason="pleasantry")
    smalltalk = _is_smalltalk(set(lowered), text)
    if smalltalk and (customer is None or not (set(lowered) - FILLER - GREETINGS - THANKS - PLEASANTRIES)):
        return Understood("smalltalk", reason=smalltalk)
    # "thanks, that's super helpful": thanks, with words that name nobody and ask nothing.
    if smalltalk == "thanks" and not named and not text.rstrip().endswith("?"):
        return Understood("smalltalk", reason=smalltalk)
    if customer and _is_exact(customer) and len(candidates) <= 2:
        # "which customer is ops@wonka.example", "cus_007?": an id or an email alone asks whose it is.
        return asked("lookup", customer)
    if patterns.REFERS_BACK.search(text) and customer is None:
        return asked("followup", None)
    # Only a name, nothing else ("Globex?"): its summary. Other words with it ("the weather in Chicago")
    # mean something this bot does not do.
    # ... or a lone word that is no word of a request: "wonka", as "globex?".
    short_question = (text.rstrip().endswith("?") and len(words) <= 4) or (
        len(words) == 1 and words[0].isalpha() and len(words[0]) >= 3)
    if customer and len(candidates) == 1 and (looks_like_a_name(customer) or short_question):
        return asked("summary", customer)
    return Understood("unknown")
