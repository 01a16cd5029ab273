"""Whole-sentence patterns of what people ask (or must not be given): injections, changes, questions about
the system, ways of asking for a summary. Pure."""

from __future__ import annotations

import re

INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(instructions?|prompts?|rules|guidelines|"
    r"directions|guardrails|programming|previous|prior|safety)\b|\bsystem prompt\b|\bjailbreak|\bdeveloper mode\b"
    r"|\byou('?re| are) now\b|\bfrom now on,? you\b|\bpretend (to be|you)\b|\bact as\b|\bnew instructions\b"
    r"|\b(ignore|disregard|forget)\s+(everything|anything|all)\s+(above|before|else|earlier|prior|previous|"
    r"you('ve| have| were) (been )?told|i said)\b|\b(ignore|disregard|forget)\s+(the\s+|what'?s\s+|what is\s+)?above\b"
    r"|\bforget (that )?you('?re| are)\b|\bwith(out)? (no|any) (rules|restrictions|limits)\b"
    r"|\b(dump|export|leak|list|give me) (all|every|each) (of )?(the )?customers?('s|’s)? (emails?|data|contacts?)\b"
    r"|\b(reveal|show|print|tell me|give me|what is|what's|share|send|leak|dump)\b.{0,25}"
    r"\b(api[ _-]?keys?|tokens?|secrets?|passwords?|credentials?|(your|the|system) prompt|signing)\b",
    re.IGNORECASE)
DESTRUCTIVE_OBJECT = re.compile(r"\b(all|every|everything|customers?|tickets?|accounts?|records?|data|database|"
                                 r"db|tables?|crm|users?|history)\b", re.IGNORECASE)
CREATE_THING = re.compile(
    r"\b(create|add|make|file|raise|log|submit)\s+(a\s+|an\s+|one\s+|another\s+)?(new\s+)?(support\s+)?"
    r"(ticket|case|incident|customer|account|record)s?\b(?!\s+(report|summary|overview|review|recap))"
    r"|\b(open|start)\s+(a|an|one|another)\s+(new\s+)?(support\s+)?(ticket|case|issue|incident)\b", re.IGNORECASE)
SYSTEM_QUESTION = re.compile(
    r"\b(is|are|'s|’s)\b.{0,20}\b(crm|slack|system|systems|bot|service|services|you|things|everything|api|"
    r"queue|queues|worker|workers|integration|integrations|acme)\b.{0,15}\b(up|down|ok|okay|working|alive|"
    r"available|healthy|broken|online|offline|running|reachable|responding|fine)\b"
    r"|\bany (outages?|incidents? (on|with) (the )?(crm|slack))\b"
    r"|\bhow('s| is| are)\b.{0,10}\b(the )?(crm|system|systems|queues?|breakers?|services?|integrations?)\b"
    r"|\b(what'?s|what is|anything|something|is (something|anything)) (wrong|going on|broken|off|up) with "
    r"(the |your )?(crm|slack|system|systems|queues?|integrations?|api|workers?|services?|connection)\b"
    r"|\b(circuit )?breakers?\b|\bqueue (depth|length|size)s?\b|\bsystem status\b"
    r"|\b(is|are)\b.{0,12}\b(the )?(crm|slack|system|systems|bot|api|integrations?|services?|queues?|workers?)\b"
    r"\s+(having|seeing|experiencing|got|getting)\s+(any\s+|some\s+)?(problems?|issues?|trouble|errors?|"
    r"outages?|hiccups?|difficulties)\b", re.IGNORECASE)
SUMMARY_PHRASE = re.compile(
    r"\bhow('?s| is| are| has| have)\b.{1,60}\b(doing|going|looking|holding up|faring|getting on|coming along)\b"
    r"|\bhow'?s\b.{1,40}\b(account|relationship)\b"
    r"|\bhow are things\b|\bwhat('?s| is| has been) (going on|happening|up|new|the story|the deal)\b"
    r"|\bwhere (are|do|does|did) .{0,30}\bstand\b"
    r"|\bwhere (are|do) we( at)?\b|\btell me (about|more about)\b|\b(fill|catch) me (in|up)\b"
    r"|\bwhat do (we|you) know about\b|\bstate of\b|\bsum up\b|\bheads[- ]up\b|\banything new\b"
    r"|\bbrief me\b|\bwhat about\b|\bdeal with\b"
    r"|\b(what|anything) (should|do|must|would|need) (i|we) (know|be aware)|\bknow about\b"
    r"|\b(is|are) (everything|things|all) (ok|okay|alright|good|fine|well) (with|at|over at|for)\b"
    r"|\b(on fire|burning|blowing up|red flags?|going sideways)\b"
    r"|\b(past due|overdue|in arrears|behind on (payments?|invoices?|bills?|paying))\b"
    r"|\b(anything|something) (wrong|bad|urgent|worrying|concerning|off) (at|with|over at|for)\b", re.IGNORECASE)
# "search customers: health", "search the crm for robotics": what follows is the query, whatever its words.
SEARCH_FOR = re.compile(r"^\W*(search|find|look for)( (the )?(crm|customers?))?( for)?\s*[:\-]?\s+"
                        r"(?P<query>\S.{0,80})$", re.IGNORECASE)
WHICH_CUSTOMERS = re.compile(r"\b(which|what|any) (customers?|clients?|accounts?) (have|has|with|contain|named|called|"
                             r"match|like)\b", re.IGNORECASE)
HELP_PHRASE = re.compile(r"\bwhat (can|do) you do\b|\bhow (do|does|can) (i|this|you|it) (use|work)|"
                          r"\bwhat are you (for|able to do|good for)\b|\bwhat can i (ask|do|say)\b|"
                          r"\bhow do i (use|ask)\b|\bwhat do you (know how to do|support)\b"
                          r"|\b(what|which) (kinds?|sorts?|types?) of (things|stuff|requests|questions|help)\b"
                          r"|\bhow can you help\b|\bcan you help (me )?with\b", re.IGNORECASE)
ABOUT_BOT = re.compile(r"\b(who|what) are you\b|\bwho (made|built|created|wrote|designed|programmed|trained|owns|"
                       r"runs|maintains) you\b|\bwhat('s| is) your name\b|\bare you (a |an )?(bot|human|ai|real)"
                        r"|\bhow are you\b|\bhow('s| is) it going\b|\bgood (bot|job|morning|afternoon|evening)\b"
                        r"|\bhave a (good|nice|great)\b|\bwhat'?s up\??$", re.IGNORECASE)
REFERS_BACK = re.compile(r"\b(it|them|they|their|theirs|that one|same one|the same|this one|that customer|"
                          r"him|her|its|that|those|these)\b", re.IGNORECASE)
HERE = re.compile(r"\b(here|this channel|this thread|the channel|in here)\b", re.IGNORECASE)
# "@acme, ...", "hey acme ...", "acme: ...": the bot addressed, not "acme robotics".
ADDRESSING_THE_BOT = re.compile(r"^\s*((hey|hi|ok|okay|yo|hello)\s+(@?acme|bot|assistant)\b[,:!]?\s*|@acme\b[,:!]?\s*"
                                r"|(acme|bot|assistant)\s*[,:!]\s*)", re.I)
STILL_OPEN = re.compile(r"\b(what'?s|what is|what are|anything|everything|things) (still )?(open|outstanding|pending|"
                        r"unresolved)\b", re.I)
HAVE_A_CUSTOMER = re.compile(r"\b(do|does|did) (we|you|the crm|acme) (have|know|got) (a |an |any )?"
                             r"(customers?|clients?|accounts?)\b", re.I)
CHANGE_PHRASE = re.compile(
    r"\b(make|set|assign|appoint|put)\b.{0,40}\b(as |the )?(owner|admin|manager|contact|plan|tier|priority)\b"
    r"(?!.{0,20}\b(summary|report|overview|details)\b)"
    r"|\b(give|issue|process|apply|grant)\b.{0,20}\b(refund|credit|discount|coupon)s?\b", re.IGNORECASE)
# Systems this bot has no tool for: asked to act on them, it says so rather than reading the CRM instead.
# Not after "#" or "@" or a dot (a channel, an email) and never the CRM itself.
OTHER_SYSTEM = re.compile(r"(?<![#@\w.])(jira|zendesk|salesforce|hubspot|github|gitlab|servicenow|pagerduty|"
                          r"opsgenie|freshdesk|intercom|confluence|gmail|outlook|trello|asana|quickbooks|netsuite|"
                          r"google (calendar|docs?|drive|sheets?)|sharepoint|twitter|linkedin)\b(?![@.]\w)"
                          # ... unless it is a customer's name: "Salesforce Ltd", "Github Inc"
                          r"(?!\s+(?-i:[A-Z]))", re.I)
# Sending something other than a Slack message: an email, a text, a DM, an invite.
SEND_ELSEWHERE = re.compile(
    r"\b(send|write|shoot|drop|draft|compose|forward|fire off)\s+(\S+\s+){0,3}?(e-?mails?|mails?|sms|dms?|"
    r"direct messages?|letters?|invites?|invitations?|faxe?s?|newsletters?)\b"
    r"|\b(dm|pm|text|e-?mail|sms|whatsapp)\s+(me|him|her|them|us|everyone|everybody|all)\b"
    # "dm the Globex summary to ...": an order whose verb sends it elsewhere.
    r"|^\W*((please|pls|plz|kindly|can you|could you|would you)\s+)?(dm|pm|e-?mail|text|sms|whatsapp)\s"
    # ... not a noun asked about: "email address for Bluth Company", "email of the Globex contact".
    r"(?!(address|addresses|addy|id|contact|details|of|for|on)\b)", re.I)
# Customers chosen by a fact the CRM cannot be searched by (plan, status, owner), or all of them: the search
# reads names, ids and emails only.
CUSTOMERS_BY_FACT = re.compile(
    r"\b(which|what|who|list|show|all|every|any)\b.{0,30}\b(customers|clients|accounts)\b.{0,20}"
    r"\b(on|in|with|have|has|using|paying)\b.{0,15}\b(plans?|tiers?|enterprise|pro|starter|free|premium|trial|"
    r"status|churned|churning|active|inactive)\b"
    r"|\b(enterprise|pro|starter|free|premium|trial|churned|active|inactive|paying)\s+(customers|clients|accounts)\b"
    r"|^\W*(list|show|give me)( me)?( all| every| our)* (the )?(customers|clients|accounts)\W*$", re.IGNORECASE)
TICKET_ID = re.compile(r"^tkt_\w+$", re.IGNORECASE)
# What is asked after what this bot does, done elsewhere ("summarize Globex and email it to the team"): said as
# not done, rather than passed over. "send"/"share" count only where no channel names where to (then they post).
DONE_ELSEWHERE_AFTER = re.compile(
    r"\band\s+(?:then\s+|also\s+)?(e-?mail|upload|forward|fax|text|dm|pm|sms|print|download|attach|export|"
    r"send|share)\b", re.IGNORECASE)
