"""Where a message names its customer: an id, an email, a quoted name, or the words its request leaves once
the request's own words and fillers are taken away. There is no list of names to match against. Pure."""

from __future__ import annotations

import re

from app.agent.rules.vocabulary import (
    BOUNDARY_WORDS,
    COMPANY_FORMS,
    CUSTOMER_REQUESTS,
    FILLER,
    GREETINGS,
    KEYWORDS,
    NAME_PARTS,
    NOUNS_IN_NAMES,
    PLEASANTRIES,
    SPLITTING_PREPOSITIONS,
    SYSTEM_NOUNS,
    THANKS,
    VERBS_AFTER_NAMES,
)
from app.messages.mrkdwn import unescape

# A word may hold dots only between letters (an email, "U.S."): "CFO..." is a word and a pause.
TOKEN = re.compile(r"#[\w-]+|[\w](?:[\w@&+'’\-]|\.(?=\w))*|&|[?!.,;:()\"“”—–/|…]|(?<=\s)-(?=\s)")
_REQUEST_VERB = re.compile(r"(i[sz]e|lookup|search|find|report|brief|recap|analy[sz]e)$")
_TIME = re.compile(r"^\d{1,2}([:.]\d\d)?\s*(am|pm)?$", re.IGNORECASE)
_CUSTOMER_ID = re.compile(r"\bcus_[A-Za-z0-9]+\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_QUOTED = re.compile(r"[\"“”]([^\"“”]{2,120})[\"“”]|(?<![\w])'([^']{2,80})'(?![\w])")
# "let #sales know the deck is out" (not "know about Globex", which asks for what there is to know).
_LET_KNOW = re.compile(r"\blet\s+(?:\S+\s+){1,6}?(know)\s+(?!about\b|of\b|how\b|what\b)(.{2,})$", re.IGNORECASE)
# "post that in #sales": "that" is what to post (the answer before), not "that" before the words to post
# ("tell #ops that the deploy is done"), when only where to post it follows.
_ONLY_WHERE = re.compile(r"^(?:(?:in|to|into|on|onto|over|at|please|pls|plz|now|too|also|as well|here|there|"
                         r"the channel|this channel|channel)\b\s*|#[\w-]+\s*|[.!?,]\s*)+$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s?$")
NEVER_A_NAME = FILLER | GREETINGS | THANKS | PLEASANTRIES
_SENTENCE_END = re.compile(r"[.!?:;…]")
# Verbs ("Summarize", "Analyse") are orders even when capitalised; nouns ("Report", "Status") may name a company.
_REQUEST_VERB_FORM = re.compile(r"(i[sz]e|y[sz]e)$")
# A lowercase word of a verb's forms ("dealing", "suspended"): never the end of a name typed with capitals.
_VERB_FORM = re.compile(r"^[a-z]{2,}(ing|ed)$")
TIMES = frozenset({"yesterday", "today", "tonight", "tomorrow", "lately", "recently", "now", "earlier", "again",
                   "anymore", "yet", "already", "currently", "atm", "rn"})


def tokens(text: str) -> list[str]:
    found = []
    for token in TOKEN.findall(text):
        if token[0].isalnum() and not _EMAIL.fullmatch(token):
            token = token.rstrip(".-")
        if token:
            found.append(token)
    return found


def capitalised(word: str) -> bool:
    return word[:1].isupper()


def concepts_of(words: list[str]) -> list[str | None]:
    """Each word's concept. A request word that can be part of a name ("Umbrella Health") is, after a name's
    word, when it is capitalised too or when something else in the message says what is asked."""
    concepts = [KEYWORDS.concept_of(_POSSESSIVE.sub("", w.lower())) if w[0].isalnum() else None for w in words]
    asked = {c for c in concepts if c is not None and c not in NAME_PARTS}
    for n in range(1, len(words)):
        before, word = words[n - 1], words[n]
        follows_a_name = concepts[n - 1] is None and before[0].isalnum() and before.lower() not in NEVER_A_NAME \
            and not _POSSESSIVE.search(before)
        if concepts[n] in NAME_PARTS and follows_a_name and (
                (capitalised(word) and capitalised(before)) or asked):
            concepts[n] = None
    # "report on Status Labs", "summarize Report Co": a capitalised noun of a request that leads a capitalised
    # name, mid-sentence, is that name's first word when another word of the message says what is asked.
    for n in range(1, len(words) - 1):
        word, after = words[n], words[n + 1]
        if concepts[n] in NOUNS_IN_NAMES and _titlecase(word) and not _SENTENCE_END.fullmatch(words[n - 1]) \
                and _titlecase(after) and after.lower() not in NEVER_A_NAME and concepts[n + 1] is None \
                and any(c is not None for c in concepts[:n] + concepts[n + 1:]) \
                and not _REQUEST_VERB_FORM.search(word.lower()):
            concepts[n] = None
    return concepts


def _titlecase(word: str) -> bool:
    return word[:1].isupper() and not word.isupper()


def _never_a_name(word: str) -> bool:
    return word.lower() in NEVER_A_NAME or word == "&" or bool(_TIME.match(word))


def _strip(words: list[str], keep_possessive: bool = False) -> list[str]:
    while words and _never_a_name(words[0]):
        words = words[1:]
    # "the Globex account": a lowercase trailing filler goes; "Bluth Company" keeps its capitalised word.
    while words and (words[-1] == "&" or _TIME.match(words[-1]) or words[-1].lower() in NEVER_A_NAME and not (
            len(words) > 1 and _titlecase(words[-1]) and capitalised(words[-2]))):
        words = words[:-1]
    # "when did Massive Dynamic sign up", "is Bluth Company dealing with", "Hooli yesterday", "is Umbrella
    # suspended": a lowercase word after a capitalised name says what it did, or when, not who.
    while len(words) > 1 and capitalised(words[-2]) and (
            words[-1] in VERBS_AFTER_NAMES or words[-1] in TIMES or _VERB_FORM.search(words[-1])):
        words = words[:-1]
    if words and not keep_possessive:
        words = [*words[:-1], _POSSESSIVE.sub("", words[-1])]
    return [w for w in words if w]


_ANCHORS = frozenset({"of", "for", "on", "about", "with", "at", "regarding", "re", "from"})


def _candidate_names(words: list[str], concepts: list[str | None]) -> list[str]:
    """Phrases that may name a customer, likeliest first: runs of words between request words and clause
    boundaries. A phrase gains for looking like a name, for following "of/for/on/about...", and most for
    standing right next to the request word ("a summary of X", "X's tickets", "put an X summary in ...")."""
    found: list[tuple[int, int, int, str]] = []
    run: list[str] = []
    anchored = after_request = after_verb = False

    def close(before_request: bool = False, keep_possessive: bool = False) -> None:
        nonlocal anchored, after_request, after_verb
        stripped = _strip(run, keep_possessive)
        if stripped:
            name = " ".join(stripped)
            before = run[: next(i for i, w in enumerate(run) if not _never_a_name(w))]
            named = looks_like_a_name(name)
            after_a_preposition = any(w.lower() in _ANCHORS for w in before)
            score = 2 * named + (anchored or after_a_preposition)
            if before_request or (after_request and (after_a_preposition or after_verb)
                                  and all(w.lower() in _ANCHORS | NEVER_A_NAME for w in before)):
                score += 2
            found.append((-score, -named, len(found), name))
        run.clear()
        anchored = after_request = after_verb = False

    for n, (word, concept) in enumerate(zip(words, concepts, strict=True)):
        lowered = word.lower()
        if word == "&" and run:
            run.append(word)
            continue
        # "Initech, Inc.", "Kepler & Finch, LLC": a comma before a company's legal form stays in its name.
        if word == "," and run and n + 1 < len(words) and words[n + 1].lower().rstrip(".") in COMPANY_FORMS:
            run[-1] += ","
            continue
        if concept is not None or not word[0].isalnum() or lowered in BOUNDARY_WORDS:
            asks = concept in CUSTOMER_REQUESTS
            close(before_request=asks)
            anchored = after_request = asks
            # "summarize X" names X right after the verb; after a noun ("bugs reported by X") it does not.
            after_verb = asks and _REQUEST_VERB.search(lowered) is not None
            continue
        if lowered in SPLITTING_PREPOSITIONS and _strip(run):
            close()
            anchored = lowered in _ANCHORS
            continue
        run.append(word)
        if _POSSESSIVE.search(word):
            # "Globex's tickets" owns something; "Ben & Jerry's", last of all, is the name itself.
            if any(w[0].isalnum() for w in words[n + 1:]):
                close(before_request=True)
            else:
                close(keep_possessive=True)
    close()
    return [name for *_, name in sorted(found)]


def _quoted(text: str) -> str | None:
    match = _QUOTED.search(text)
    return (match.group(1) or match.group(2)).strip() if match else None


def customers(text: str, words: list[str], concepts: list[str | None]) -> list[str]:
    """What the message may name as its customer, likeliest first."""
    exact = sorted((m.start(), m.group(0)) for pattern in (_CUSTOMER_ID, _EMAIL) for m in pattern.finditer(text))
    if exact:
        # An id or an email names the customer; names after it may only be listed with it ("cus_001 and Initech").
        return [found for _, found in exact] + [n for n in _candidate_names(words, concepts) if looks_like_a_name(n)]
    quoted = _quoted(text)
    if quoted and not quoted.startswith("#"):
        return [quoted]
    # One letter is no name: "s" is what is left of "<@U123>'s accounts" once the mention is read.
    found = [n for n in _candidate_names(words, concepts)
             if not all(w in SYSTEM_NOUNS or w in FILLER for w in n.lower().split())
             and n.split()[0].lower() not in SYSTEM_NOUNS and len(n) > 1]
    if any(map(looks_like_a_name, found)):
        # "is Acme Robotics at risk of churning?": a verb's form alone is what a named customer does.
        found = [n for n in found if not _VERB_FORM.fullmatch(n)]
    return found


def text_to_post(text: str) -> str | None:
    quoted = _quoted(text)
    if quoted:
        return quoted
    match = re.search(r"\b(saying|that says|that|:)\s+(.{2,})$", text, re.IGNORECASE)
    if match and _ONLY_WHERE.match(match.group(2)):
        match = None
    match = match or _LET_KNOW.search(text)
    return match.group(2).strip(" .!?") if match else None


_EMOJI = re.compile(r":[a-z0-9_+\-]{2,}:")


def as_typed(to_post: str, raw: str) -> str:
    """The words to post as they were typed, emoji codes (`:tada:`) included: reading the message drops them
    from its words, but in a quoted message they are part of what to say."""
    for match in _QUOTED.finditer(unescape(raw)):
        typed = " ".join((match.group(1) or match.group(2)).split())
        if ":" in typed and " ".join(_EMOJI.sub(" ", typed).split()) == to_post:
            return typed
    return to_post


def looks_like_a_name(name: str) -> bool:
    """Capitalised as a name is ("Globex", not "I"), or an id or an email."""
    return any((capitalised(w) and len(w) > 1 and w.lower() not in FILLER) or "_" in w or "@" in w
               for w in name.split())
