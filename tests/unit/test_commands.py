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
    ("SUMMARY\tglobex", Summarize("globex")),
    ("summary\nGlobex Corp", Summarize("Globex Corp")),
    ("summary: Globex", Summarize("Globex")),
    ("", Help()),
    ("frobnicate Globex", Help(unknown="frobnicate")),
    ("Frobnicate: Globex", Help(unknown="Frobnicate:")),
    ("  HELP ", Help()),
    ("ask is the CRM up?", Ask("is the CRM up?")),
    ("ask", MissingCustomer("ask")),
    ("summary \x00", MissingCustomer()),
    ("summary " + "Globex, " * 6000, MissingCustomer(too_long=True)),
    ("report " + "\u00e9" * 201, MissingCustomer("report", too_long=True)),
    ("summary " + "A" * 200, Summarize("A" * 200)),
    ("summary \x00 \x00", MissingCustomer()),
    ("sum\x00mary Glo\x00bex", Summarize("Globex")),
])
def test_parse_command(text: str, intent: object) -> None:
    assert parse_command(text) == intent


def test_a_nul_in_what_slack_sent_never_reaches_a_job() -> None:
    from app.queueing.slack_request import SlackRequest  # noqa: PLC0415

    request = SlackRequest("r1", "command", "T1", "C1", "U1", customer="Glo\x00bex", text="summary Glo\x00bex")
    assert request.to_job_args()["customer"] == "Globex" and request.to_job_args()["text"] == "summary Globex"
    assert SlackRequest.from_job_args(request.to_job_args()) == request
