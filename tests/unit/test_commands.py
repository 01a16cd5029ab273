import pytest

from app.slack.intents import Ask, Help, MissingCustomer, Report, Status, Summarize, parse_command


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
    ("ask is the CRM up?", Ask("is the CRM up?")),
    ("ask", MissingCustomer("ask")),
])
def test_parse_command(text: str, intent: object) -> None:
    assert parse_command(text) == intent
