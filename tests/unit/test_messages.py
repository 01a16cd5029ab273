from app.domain.customers import Ambiguous, Customer, NoMatch, Ticket
from app.domain.summary import summarize
from app.messages.agent import agent_answer, streamed_answer
from app.messages.bot import help_text
from app.messages.customers import ambiguous_customer, customer_summary, no_customer
from app.messages.long_text import pieces
from app.messages.message import MAX_SECTION_CHARS, section
from app.messages.mrkdwn import escape, escape_line, quoted, unescape

HOSTILE = Customer("cus_1", "<!channel> & Co", "<@U1>@x.example", "<!here> Ltd", "pro", "active", "<!subteam^S1>",
                   "2026-01-01")


def test_escape_the_three_characters_and_nothing_else() -> None:
    assert escape("<!channel> & <@U1> *bold* _it_") == "&lt;!channel&gt; &amp; &lt;@U1&gt; *bold* _it_"
    assert unescape(escape("a < b & c > d")) == "a < b & c > d"


def test_summary_message_escapes_every_crm_field_in_blocks_and_fallback() -> None:
    summary = summarize(HOSTILE, [Ticket("t<1>", "<!everyone> help", "urgent", "open", "2026-01-02")])
    message = customer_summary(summary)
    everything = message.text + str(message.blocks)
    for raw in ("<!channel>", "<@U1>", "<!here>", "<!subteam^S1>", "<!everyone>", "t<1>"):
        assert raw not in everything
    assert message.text.startswith("Summary of &lt;!channel&gt; &amp; Co")


def test_crm_values_cannot_start_lines_of_their_own_nor_carry_control_characters() -> None:
    assert escape("a\r\nb\x07\x1b[31m\u202egnp.exe\x00") == "a\nb[31mgnp.exe"
    assert escape_line("Dana\n*Open tickets (0):* none\u2028\t:white_check_mark:") == \
        "Dana *Open tickets (0):* none :white_check_mark:"
    forged = Customer("cus_2", "Globex\n:white_check_mark: *All clear*", "a@b.example", "Globex\x1b[31m", "pro",
                      "active", "Dana\n*Open tickets (0):* none\x07", "2026-01-01")
    message = customer_summary(summarize(forged, [Ticket("t1", "Login\nfails\u202e", "urgent", "open", "2026-01-02")]))
    shown = [message.text, *_strings(message.blocks)]
    for text in shown:
        assert "\n*Open tickets (0)" not in text and "\n:white_check_mark:" not in text, text
        assert not any(ch in text for ch in "\x07\x1b\u202e"), text
    assert any("Dana *Open tickets (0):* none" in text for text in shown)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings(item)] if isinstance(value, list) else []


def test_long_ticket_lists_are_cut_and_sections_stay_under_slacks_limit() -> None:
    tickets = [Ticket(f"t{i}", "x" * 400, "normal", "open", "2026-01-01") for i in range(40)]
    message = customer_summary(summarize(HOSTILE, tickets))
    assert all(len(block["text"]["text"]) <= 3000 for block in message.blocks)
    assert "\u2026" in message.blocks[1]["text"]["text"]


def test_no_match_and_ambiguous_escape_what_the_user_typed() -> None:
    assert no_customer(NoMatch("<!here>")).text == "No customer matches \u201c&lt;!here&gt;\u201d."
    assert no_customer(NoMatch("B" * 45_000)).text == f"No customer matches \u201c{'B' * 100}\u2026\u201d."
    text = ambiguous_customer(Ambiguous("<b>", (HOSTILE,))).text
    assert "<b>" not in text and "<!channel>" not in text


def test_a_markdown_link_in_a_streamed_answer_stays_text() -> None:
    shown = streamed_answer(escape("Reset it [here](https://evil.example), ![x](https://e/i.png) or [a][r]\n[r]: https://e"))
    for link in ("](", "][", "]:"):
        assert link not in shown
    assert shown.replace("\u2060", "") == escape(
        "Reset it [here](https://evil.example), ![x](https://e/i.png) or [a][r]\n[r]: https://e")


def test_an_answer_too_long_for_slack_says_where_it_was_cut() -> None:
    words = " ".join(f"w{i}" for i in range(20000))
    streamed = streamed_answer(words)
    assert len(streamed) <= 12000 and "more characters did not fit" in streamed
    posted = agent_answer(words, "run-1")
    sections = [b["text"]["text"] for b in posted.blocks if b["type"] == "section"]
    assert all(len(s) <= MAX_SECTION_CHARS for s in sections)
    assert "more characters did not fit" in sections[-1] and "more characters did not fit" in posted.text
    kept = "".join(sections[:-1]) + sections[-1].split("\n_(cut here")[0]
    assert words.startswith(kept) and not kept.endswith(("w", "w1"))  # cut between words
    assert agent_answer("short", None).blocks == [section("short")]


def test_a_cut_never_splits_an_entity() -> None:
    text = "x" * 95 + "&amp;" * 10
    assert pieces(text, 98, 5)[0] == "x" * 95
    assert all(not p.endswith(("&", "&a", "&am", "&amp")) for p in pieces(text, 98, 5))


def test_what_a_person_typed_is_quoted_with_its_channels_linked_and_nobody_pinged() -> None:
    typed = "post AT&amp;T's summary in <#C0SALES|sales> for <@U0BOSS|boss> <!here> <!subteam^S1|@admins> &lt;x&gt;"
    assert quoted(typed) == "post AT&amp;T's summary in <#C0SALES> for @boss @here @admins &lt;x&gt;"
    assert quoted("<@U0BOSS> <!channel|channel> 1 < 2") == "@U0BOSS @channel 1 &lt; 2"


def test_a_section_too_long_is_cut_between_words_never_inside_an_escape() -> None:
    cut = section("x" * 2895 + " &lt;!here&gt;" * 10)["text"]["text"]
    assert len(cut) <= MAX_SECTION_CHARS and cut.endswith("\u2026") and "&l\u2026" not in cut and "&lt\u2026" not in cut
    assert not cut[:-1].endswith(("&", "&l", "&lt"))


def test_a_fact_the_crm_does_not_have_is_left_out_of_the_summary() -> None:
    bare = Customer("cus_9", "Bare", "", "Bare Ltd", "pro", "active", "", "2026-01-01")
    summary = customer_summary(summarize(bare, []))
    text = summary.blocks[0]["text"]["text"]
    assert "owner ," not in summary.text and "*Email:*" not in text and "*Owner:*" not in text
    assert "*Plan:* pro" in text and "*Id:* cus_9" in text


def test_help_for_an_unknown_command_says_which_without_pinging_anyone() -> None:
    assert help_text().text.startswith("*ACME Assistant*")
    said = help_text("<!channel>").text
    assert said.startswith("I don't know the command \u201c@channel\u201d.") and "<!channel>" not in said
    assert "x" * 40 + "\u2026\u201d" in help_text("x" * 5000).text and "`/acme summary <customer>`" in said
