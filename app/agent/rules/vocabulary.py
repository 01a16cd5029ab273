"""The words the rules planner knows, by what they ask for. Pure data."""

from __future__ import annotations

from app.agent.rules.fuzzy import Vocabulary

SUMMARY = "summary"
REPORT = "report"
TICKETS = "tickets"
LOOKUP = "lookup"
SEARCH = "search"
STATUS = "status"
POST = "post"
HELP = "help"
DESTROY = "destroy"
CHANGE = "change"


# Words that never name a customer on their own: stripped from the edges of what might be one.
FILLER = frozenset("""
a an the me us my our your their its his her this that these those it them they he she we i you u y'all ya another
please pls plz kindly thanks thank thx ty cheers can could would will shall should may might must do does did
done doing going gonna get got give gimme show tell bring pull fetch grab need needs want wanna like love
quick quickly short brief full complete detailed latest current recent new now today tonight tomorrow asap real
really just some any all every each of for on about regarding re with to in into at from by per and then also
is are was were be been being am what whats what's how hows how's who whos whose where wheres which why when
there here up out over off so ok okay yo hey hi hello there's it's that's let let's lets know have has had
account accounts acct customer customers client clients team crew
folks guys people stuff things thing everything something anything nothing situation side end one ones
info information details quick-look look looking see check checking current currently again once more
open opened opening closed pending outstanding active unresolved urgent high low normal priority priorities
bot assistant buddy mate hmm um uh well oh okay alright right sure great cool nice awesome
days day lately recently week weeks month months quarter year so far yet still much lot lots very bit
message messages msg note notes announcement reminder word together maybe perhaps possibly just actually
damn dang darn ugh argh geez jeez oops whoops meh yikes welp
basically literally sorry umm ummm erm er ah who's what're whatcha gotta i'm im i've ive i'd i'll
across too as well aswell either taking take took handing inheriting picking paying using seeing facing
experiencing overall generally
atm rn tbh fyi btw imo whether started starting joined trying try tried kinds kind sorts sort types type
organisation organization mentioned hang hold wait sec second moment name names uh lemme gonna support
reported raised filed logged opened em many we're they're you're we've they've seeing feels feel seems seem
fill catch build generate make do run prepare produce compile draft list display pull provide having going
doing getting looking hear heard saying says said stating telling
por favor porfa porfavor stp svp bitte schön schoen prego vous plait plaît s'il sil beaucoup mille muchas
vielen dank bien très tres merci gracias grazie danke obrigado obrigada
""".split())

# What "the system" is called when someone asks whether it is working.
SYSTEM_NOUNS = frozenset("""
crm system systems slack service services bot you things everything platform integration integrations api
apis worker workers queue queues server servers app apps backend database db redis it stuff all connection
connections connectivity link links sync end side network
""".split())

# Clause boundaries: a customer name does not run across them.
BOUNDARY_WORDS = frozenset({"and", "n", "then", "but", "also", "plus", "or", "so", "afterwards", "after", "before",
                            "if", "when", "because", "since", "unless", "once", "while", "whenever", "ahead",
                            "prior", "b4", "till", "until"})
# What a customer does, said after its name ("when did Hooli sign up", "has Globex paid"), in lower case; its
# forms in -ed and -ing are known by their ending (names.py).
VERBS_AFTER_NAMES = frozenset("""
sign join start churn renew pay paid buy bought leave left upgrade downgrade cancel switch move complain go went
become became onboard sign-up signup
""".split())
# Legal forms written after a comma in a company's name ("Initech, Inc.").
COMPANY_FORMS = frozenset({"inc", "llc", "ltd", "limited", "co", "corp", "corporation", "incorporated", "plc", "llp",
                           "gmbh", "ag", "sa", "sas", "sarl", "srl", "bv", "nv", "pty", "pte", "kg", "pllc"})
# A name may contain "of" (Bank of America); these start a new phrase once a name has begun.
SPLITTING_PREPOSITIONS = frozenset({"for", "to", "in", "into", "at", "from", "with", "by", "on", "about",
                                    "regarding", "re", "over", "via", "onto", "inside", "within", "under"})
# Request words that ask something of a customer: the customer is named next to them.
CUSTOMER_REQUESTS = frozenset({SUMMARY, REPORT, TICKETS, LOOKUP, SEARCH, POST})
# Facts of a customer that a summary gives too: asked for with its tickets, they ask for the summary.
FACETS = frozenset({"owner", "owns", "manager", "plan", "tier", "email", "e-mail", "contact", "phone", "address"})
# Request words that are also parts of names ("Umbrella Health", "Contact Energy"): in a capitalised name
# they belong to the name.
NAME_PARTS = frozenset({STATUS, LOOKUP})
# Request words that may also lead a company's name ("Report Co", "Status Labs", "Summary Partners"); never a
# word that posts, changes or destroys, so that no order of those is ever read as a name.
NOUNS_IN_NAMES = frozenset({SUMMARY, REPORT, TICKETS, LOOKUP, SEARCH, STATUS, HELP})
# Verbs that, leading a request, ask to change something even when a request word follows ("update X's plan").
IMPERATIVE_CHANGES = frozenset({"update", "change", "edit", "set", "modify", "move", "close", "reopen", "assign",
                                "reassign", "rename", "upgrade", "downgrade", "mark", "resolve", "merge", "email",
                                "call", "phone", "text", "ping", "contact", "refund", "cancel", "invoice", "bill",
                                "reset", "restart", "reboot", "deploy", "rollback", "revert", "approve", "reject",
                                "deny", "grant", "revoke", "unlock", "lock", "block", "unblock", "enable", "install",
                                "uninstall", "book", "order", "buy", "transfer", "sign", "provision", "dm",
                                "invite", "schedule", "onboard", "offboard", "archive", "unarchive", "pause",
                                "resume", "trigger", "rerun", "retry", "kick", "tweet"})
# Words after such a verb that make it a request for information instead ("update on", "contact details").
NOT_A_CHANGE_AFTER = frozenset({"on", "about", "for", "me", "us", "details", "detail", "info", "information",
                                "of", "address", "addresses", "list",
                                # a noun after the verb makes a compound: "contact email", "phone number"
                                "email", "e-mail", "emails", "phone", "number", "numbers", "person", "name",
                                "names", "owner", "owners"})
# Verbs that lead an order to post when a channel and the words for it follow ("write in #ops: ...").
POSTING_VERBS = frozenset({"write", "ping", "message", "msg", "tell", "let", "notify", "remind", "alert", "say",
                           "post", "send", "announce"})
# Phrases typed as two words that mean one request word.
PHRASES = (("deep dive", "deep-dive"), ("look up", "lookup"), ("pull up", "show"), ("run down", "rundown"),
           ("round up", "roundup"), ("sum up", "sum-up"), ("tl dr", "tldr"), ("up to date", "update"),
           ("w/", "with"), ("how r", "how are"), ("what r", "what are"), ("where r", "where are"),
           ("r things", "are things"), ("r we", "are we"), ("r they", "are they"), ("abt", "about"),
           ("acct", "account"), ("accts", "accounts"), ("thru", "through"),
           ("tl;dr", "tldr"), ("r u", "are you"), ("ru", "are you"), ("u up", "you up"),
           ("lay of the land", "lay-of-the-land"), ("state of play", "state-of-play"),
           ("big picture", "big-picture"), ("need to know", "need-to-know"))
# A question ("what email do we have for X?") asks for something even when a verb of change comes next.
# Words that may come before an order ("please", "can you"): an order's verb comes right after them.
POLITE = frozenset({"please", "pls", "plz", "kindly", "can", "could", "would", "will", "you", "u", "just", "hey",
                    "hi", "ok", "okay", "yo", "quickly", "now", "go", "ahead", "and"})
QUESTION_WORDS = frozenset({"what", "whats", "what's", "who", "who's", "whos", "whose", "which", "where", "when",
                            "how", "hows", "how's", "why", "do", "does", "did", "is", "are", "was", "were", "have",
                            "has", "any"})

GREETINGS = frozenset({"hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "morning", "afternoon",
                       "evening", "greetings", "hallo", "hola", "gm", "bonjour", "salut", "ciao", "hej", "namaste",
                       "ola", "olá", "servus", "moin", "buongiorno", "buenos", "dias", "días"})
THANKS = frozenset({"thanks", "thank", "thx", "ty", "cheers", "appreciated", "appreciate", "kudos", "ta", "merci",
                    "gracias", "grazie", "danke", "obrigado", "obrigada", "arigato", "dank"})
PLEASANTRIES = frozenset({"great", "cool", "nice", "awesome", "ok", "okay", "perfect", "lol", "haha", "bye",
                          "goodbye", "cya", "later", "good", "bot", "wow", "neat", "sweet", "excellent", "yes",
                          "no", "nope", "yep", "sure", "fine", "k", "np", "nvm", "nevermind", "whatever", "test",
                          "testing", "ping", "hmm", "hm", "huh", "what", "why", "oh", "ah", "meh", "idk", "brb"})

# Common words that are no typos of a request word ("sorry", "story", "port"), besides the sets above.
COMMON_WORDS = frozenset("""
sorry story stuff start started starting join joined report port sport sure short shirt poster
bug bugs worry
""".split())

KEYWORDS = Vocabulary({
    SUMMARY: ("summarize", "summarise", "summary", "summaries", "summarizing", "summarising", "summarized",
              "summarised", "overview", "lowdown", "rundown", "run-down", "recap", "briefing", "brief", "digest",
              "snapshot", "update", "updates", "scoop", "debrief", "gist", "highlights", "headline", "headlines",
              "latest", "news", "tldr",
              "attention", "concerns", "risks", "risk", "worry", "worried", "pulse", "lay-of-the-land",
              "state-of-play", "big-picture", "temperature", "vibe", "vibes", "need-to-know",
              "tl;dr", "synopsis", "sitrep", "roundup", "round-up", "profile", "sum-up", "skinny",
              "compare", "comparison", "versus", "vs"),
    REPORT: ("report", "reports", "reporting", "deep-dive", "deepdive", "write-up", "writeup", "analysis",
             "analyze", "analyse", "dossier"),
    TICKETS: ("ticket", "tickets", "tix", "tkts", "issue", "issues", "case", "cases", "incident", "incidents",
              "problem", "problems", "bug", "bugs", "complaint", "complaints", "escalation", "escalations"),
    LOOKUP: ("lookup", "details", "detail", "info", "information", "contact", "email", "e-mail", "owner", "owns",
             "csm", "rep", "poc",
             "manager", "plan", "tier", "phone", "address", "record", "records"),
    SEARCH: ("search", "find", "matching", "match", "matches", "named", "called", "containing"),
    STATUS: ("status", "health", "healthy", "up", "down", "working", "alive", "available", "outage", "outages",
             "breaker", "breakers", "queue", "queues", "uptime", "operational", "reachable", "responding",
             "broken", "online", "offline", "laggy", "slow", "lag", "latency", "sluggish", "errors", "failing",
             "timeouts", "timing", "hiccup", "hiccups", "degraded", "backlog"),
    POST: ("post", "share", "send", "drop", "put", "publish", "forward", "push", "broadcast", "announce", "paste",
           "shoot", "throw", "pop", "stick", "dump", "relay", "say", "tell", "notify", "inform", "posted", "dropped",
           "shared", "sent", "pushed", "published", "forwarded", "dumped", "pasted", "message", "msg"),
    HELP: ("help", "halp", "commands", "command", "usage", "capabilities", "manual", "docs", "documentation", "menu",
           "options", "features"),
    DESTROY: ("delete", "remove", "erase", "wipe", "purge", "destroy", "truncate", "nuke", "obliterate",
              "deactivate", "disable", "ban", "shred", "kill", "drop-table"),
    CHANGE: ("create", "add", "update", "change", "edit", "modify", "assign", "reassign", "escalate", "merge",
             "rename", "move", "upgrade", "downgrade", "close", "reopen", "resolve", "set", "mark", "invite",
             "schedule", "call", "phone", "email", "text", "file", "raise", "log", "submit", "write", "reply",
             "respond", "answer", "pay", "charge", "bill", "invoice", "migrate", "import", "export", "fix",
             "cancel", "terminate", "refund", "suspend", "unsuspend", "renew", "extend", "discount",
               "reset", "restart", "reboot", "deploy", "redeploy", "rollback", "revoke", "provision", "uninstall"),
}, plain_words=FILLER | SYSTEM_NOUNS | BOUNDARY_WORDS | GREETINGS | THANKS | PLEASANTRIES | COMMON_WORDS)
