import pytest

from app.slack.intents import Help, MissingCustomer, Report, Status, Summarize, parse_command, parse_mention


@pytest.mark.parametrize(("text", "intent"), [
    ("summary Globex", Summarize("Globex")),
    ("  SUMMARY   Globex Europe  ", Summarize("Globex Europe")),
    ("summarize ops@globex.example", Summarize("ops@globex.example")),
    ("summary cus_001", Summarize("cus_001")),
    ("summary AT&amp;T", Summarize("AT&T")),
    ("summary", MissingCustomer()),
    ("report Globex", Report("Globex")),
    ("report", MissingCustomer("report")),
    ("status", Status()),
    ("summary   ", MissingCustomer()),
    ("help", Help()),
    ("", Help()),
    ("frobnicate Globex", Help()),
])
def test_parse_command(text: str, intent: object) -> None:
    assert parse_command(text) == intent


@pytest.mark.parametrize(("text", "intent"), [
    ("<@U0BOT> summarize Globex", Summarize("Globex")),
    ("<@U0BOT|acme> summarise Globex please", Summarize("Globex")),
    ("<@U0BOT> can you give me a summary of Initech Labs?", Summarize("Initech Labs")),
    ("<@U0BOT> summarize the customer \u201cWonka\u201d", Summarize("Wonka")),
    ("<@U0BOT> summarize", MissingCustomer()),
    ("<@U0BOT> a full report on Globex please", Report("Globex")),
    ("<@U0BOT> hello there", Help()),
    ("<@U0BOT> summarize <!here>", Summarize("<!here>")),
])
def test_parse_mention(text: str, intent: object) -> None:
    assert parse_mention(text) == intent
