"""The rules planner beyond its first move (the eval set covers that): answers, memory, limits, escaping."""

from __future__ import annotations

import json

from app.agent.conversation import AgentRequest, Answer, Calls, ToolCall, ToolResult, ToolSpec, Turn
from app.agent.evals import default_cases_path, evaluate, read_cases
from app.agent.rules.planner import RulesPlanner
from app.agent.slack_text import read_slack_text

PLANNER = RulesPlanner()


def _first(text: str, **kwargs: object) -> Calls | Answer:
    step = PLANNER.next_step(AgentRequest(text=text, **kwargs))  # type: ignore[arg-type]
    return step


def test_slack_markup_is_read_not_taken_for_words() -> None:
    read = read_slack_text("<@U0ACMEBOT> post <!here> to <#C0SALES|sales> for <mailto:a@b.example|a@b.example> :wave:")
    assert read.channels == ("C0SALES",) and read.mass_mention
    assert "a@b.example" in read.text and "<" not in read.text and "wave" not in read.text


def test_a_channel_id_typed_after_in_or_to_is_read_as_the_channel() -> None:
    read = read_slack_text("post the Globex summary to C0123ABCD, not C3po or Cyberdyne in C0SALES")
    assert read.channels == ("C0123ABCD", "C0SALES") and "to #C0123ABCD" in read.text
    assert read_slack_text("summary of C3PO Robotics").channels == ()


def test_the_rules_planner_gets_every_case_of_its_own_eval_set_right() -> None:
    with default_cases_path().open() as lines:
        wrong = [o.case.text for o in evaluate(PLANNER, read_cases(lines)) if not o.right]
    assert wrong == []


def test_a_follow_up_in_a_thread_uses_the_customer_it_was_about() -> None:
    history = (Turn("user", "summarize Globex", customer="Globex"), Turn("assistant", "Globex is ..."))
    step = _first("now post it to <#C0SALES|sales>", history=history, channel="C0GEN")
    assert isinstance(step, Calls)
    assert step.calls[0].tool == "summarize_and_post_customer_update"
    assert step.calls[0].args == {"customer": "Globex", "channel": "C0SALES"}
    tickets = _first("and their open tickets?", history=history)
    assert isinstance(tickets, Calls) and tickets.calls[0].args == {"customer": "Globex"}
    # "that" is the summary before, not the words to post ("in #sales"), however the place is said.
    for asked in ("now post that in <#C0SALES|sales>", "post that to <#C0SALES|sales> please",
                  "share this in <#C0SALES|sales>"):
        step = _first(asked, history=history, channel="C0GEN")
        assert isinstance(step, Calls), asked
        assert (step.calls[0].tool, step.calls[0].args) == (
            "summarize_and_post_customer_update", {"customer": "Globex", "channel": "C0SALES"}), asked


def test_posting_that_with_nothing_before_it_asks_what_to_post() -> None:
    for asked in ("post that in <#C0SALES|sales>", "post that to <#C0SALES|sales>", "share this in <#C0SALES|sales>"):
        step = _first(asked, channel="C0GEN")
        assert isinstance(step, Answer) and "What should I post?" in step.text, asked
    told = _first("tell <#C0OPS|ops> that the deploy is done", channel="C0GEN")
    assert isinstance(told, Calls) and told.calls[0].args == {"channel": "C0OPS", "text": "the deploy is done"}


def test_it_does_not_use_a_tool_the_agent_may_not_use() -> None:
    allowed = (ToolSpec("summarize_customer", "", {}),)
    step = _first("report on Globex", channel="C1", tools=allowed)
    assert isinstance(step, Answer) and "not allowed" in step.text


def test_a_channel_slack_did_not_link_is_asked_about_not_guessed() -> None:
    step = _first("summarize Globex and post it in #sales", channel="C1")
    assert isinstance(step, Answer) and "#sales" in step.text


def test_answers_escape_what_the_crm_says() -> None:
    hostile = {"customer": {"name": "<!channel> Co", "company": "<@U1>", "plan": "pro", "status": "active",
                            "owner": "x", "email": "a@b", "id": "cus_9"},
               "open_tickets": [{"id": "t1", "subject": "<!here> help", "priority": "urgent", "status": "open"}],
               "attention": "<!everyone>"}
    call = ToolCall("c1", "summarize_customer", {"customer": "x"})
    answer = PLANNER.next_step(AgentRequest(text="summarize x", results=(ToolResult(call, hostile),)))
    assert isinstance(answer, Answer) and answer.mrkdwn
    for raw in ("<!channel>", "<@U1>", "<!here>", "<!everyone>"):
        assert raw not in answer.text


def test_a_failed_tool_is_said_plainly() -> None:
    call = ToolCall("c1", "crm.list_tickets", {"customer": "Nobody"})
    answer = PLANNER.next_step(AgentRequest(text="tickets for Nobody",
                                            results=(ToolResult(call, error="no customer matches 'Nobody'"),)))
    assert isinstance(answer, Answer) and "no customer matches" in answer.text


def test_the_eval_scores_tool_and_arguments_apart() -> None:
    lines = [json.dumps({"text": "summarize Globex", "tool": "summarize_customer", "args": {"customer": "GLOBEX "}}),
             json.dumps({"text": "summarize Globex", "tool": "summarize_customer", "args": {"customer": "Hooli"}}),
             json.dumps({"text": "hi", "tool": "none", "args": {}})]
    outcomes = evaluate(PLANNER, read_cases(lines))
    assert [(o.tool_right, o.right) for o in outcomes] == [(True, True), (True, False), (True, True)]


def test_it_says_it_cannot_act_on_systems_it_has_no_tool_for() -> None:
    for text in ("open a zendesk ticket for Hooli", "send an email to <mailto:ops@globex.example|ops@globex.example>",
                 "create a jira ticket for the login bug", "reset the password for ops@hooli.example"):
        step = _first(text, channel="C1")
        assert isinstance(step, Answer), text
        assert "can't" in step.text, text


def test_a_quoted_message_is_posted_with_its_emoji_codes() -> None:
    step = _first("post 'deploy done :tada:' in <#C0ENG|eng>", channel="C1")
    assert isinstance(step, Calls) and step.calls[0].args == {"channel": "C0ENG", "text": "deploy done :tada:"}


def test_a_second_channel_asked_for_is_said_not_dropped() -> None:
    text = "summarize Globex and post it in <#C0SALES|sales> and <#C0GEN|general>"
    first = _first(text, channel="C1")
    assert isinstance(first, Calls) and first.calls[0].args["channel"] == "C0SALES"
    done = PLANNER.next_step(AgentRequest(text=text, channel="C1", results=(
        ToolResult(first.calls[0], output={"channel": "C0SALES", "ts": "1.1"}),)))
    assert isinstance(done, Answer) and "ask again for <#C0GEN>" in done.text


def test_several_customers_listed_are_each_read_and_answered_together() -> None:
    text = "open tickets for Globex, Initech and Umbrella please"
    step = _first(text)
    assert isinstance(step, Calls)
    assert [(c.tool, c.args["customer"]) for c in step.calls] == [
        ("crm.list_tickets", "Globex"), ("crm.list_tickets", "Initech"), ("crm.list_tickets", "Umbrella")]
    assert len({c.id for c in step.calls}) == 3
    results = (ToolResult(step.calls[0], [{"id": "t1", "subject": "Login <!here>", "status": "open"}]),
               ToolResult(step.calls[1], error="no customer matches 'Initech'"),
               ToolResult(step.calls[2], []))
    answer = PLANNER.next_step(AgentRequest(text=text, results=results))
    assert isinstance(answer, Answer)
    assert "*Globex* has 1 open ticket(s)" in answer.text and "no customer matches 'Initech'" in answer.text
    assert "*Umbrella* has no open tickets" in answer.text and "<!here>" not in answer.text
    assert "ask again" not in answer.text


def test_words_after_a_customer_are_not_taken_for_more_customers() -> None:
    for text in ("summary of Bluth Company, heading into a mtg", "summarize Globex, I have a meeting",
                 "what's the deal with Soylent lately", "summarize Johnson and Johnson",
                 "generate the account report for Wayne Enterprises and upload it to <#C0EXEC|exec>",
                 "summarize globex, heading into a mtg", "summarize globex and tell me the owner"):
        step = _first(text, channel="C0GEN")
        assert isinstance(step, Calls) and len(step.calls) == 1 and not step.note, text


def test_customers_are_listed_however_they_are_named_or_typed() -> None:
    for text, listed in (("open tickets for globex, initech and umbrella", ["globex", "initech", "umbrella"]),
                         ("summarize cus_001 and cus_003", ["cus_001", "cus_003"]),
                         ("summarize ops@globex.example and Initech", ["ops@globex.example", "Initech"]),
                         ("summarize Globex and also Initech", ["Globex", "Initech"]),
                         ("summarize globex, initech", ["globex", "initech"]),
                         ("hey can you summarize globex and initech for me", ["globex", "initech"]),
                         ("summarize Globex and ops@initech.example", ["ops@initech.example", "Globex"]),
                         ("summarize Globex, Hooli and cus_003 please", ["cus_003", "Globex", "Hooli"])):
        step = _first(text)
        assert isinstance(step, Calls) and [c.args["customer"] for c in step.calls] == listed, text


def test_what_is_asked_to_be_done_elsewhere_is_said_as_not_done() -> None:
    for text, verb in (("summarize Globex and email it to the team", "email"), ("summarize Globex and upload it",
                                                                                "upload")):
        step = _first(text)
        assert isinstance(step, Calls) and [c.tool for c in step.calls] == ["summarize_customer"], text
        answer = PLANNER.next_step(AgentRequest(text=text, results=(ToolResult(step.calls[0], error="x"),)))
        assert isinstance(answer, Answer) and f"I did not {verb} it" in answer.text, text


def test_a_name_longer_than_any_customers_is_said_plainly() -> None:
    answer = _first("summarize " + "A" * 50_000)
    assert isinstance(answer, Answer) and answer.text.startswith("That is too long for a customer's name")


def test_a_channel_named_for_what_is_answered_here_is_said() -> None:
    text = "tickets for Globex and Initech in <#C0SALES|sales>"
    step = _first(text)
    assert isinstance(step, Calls) and [c.tool for c in step.calls] == ["crm.list_tickets"] * 2
    answer = PLANNER.next_step(AgentRequest(text=text, results=tuple(ToolResult(c, []) for c in step.calls)))
    assert isinstance(answer, Answer) and "I answered here" in answer.text and "<#C0SALES>" in answer.text


def test_customers_past_what_one_answer_does_are_named_not_dropped() -> None:
    text = "summarize Globex, Initech, Umbrella, Hooli, Oscorp and Tyrell"
    step = _first(text)
    assert isinstance(step, Calls) and len(step.calls) == 5
    done = PLANNER.next_step(AgentRequest(text=text, results=tuple(
        ToolResult(c, error="the CRM is unavailable") for c in step.calls)))
    assert isinstance(done, Answer) and done.text.endswith("I do up to 5 customers at a time: ask again for *Tyrell*.")

    text = "report on Globex and Initech in <#C0SALES|sales>"
    step = _first(text, channel="C0GEN")
    assert isinstance(step, Calls) and [c.args["customer"] for c in step.calls] == ["Globex"]
    assert step.note == "(One customer at a time: *Initech* after this, if you ask again.)"  # with the approval
    done = PLANNER.next_step(AgentRequest(text=text, channel="C0GEN", results=(
        ToolResult(step.calls[0], {"result": "The report is under way"}),)))
    assert isinstance(done, Answer) and done.text.endswith("I do one customer at a time: ask again for *Initech*.")


def test_what_is_asked_not_to_be_done_is_not_done() -> None:
    for asked in ("DON'T summarize globex", "please don’t post anything to <#C0SALES|sales>",
                  "no need to summarize Globex, I already have it. thanks"):
        step = _first(asked, channel="C0GEN")
        assert isinstance(step, Answer) and step.text.startswith("OK, I won't"), asked
    rest = _first("don't post it in <#C0SALES|sales>, just summarize Globex", channel="C0GEN")
    assert isinstance(rest, Calls)
    assert (rest.calls[0].tool, rest.calls[0].args) == ("summarize_customer", {"customer": "Globex"})


def test_separate_requests_in_one_message_are_each_read_and_answered_together() -> None:
    text = "globex summary pls, and also open tickets for hooli. also is the crm ok?"
    step = _first(text)
    assert isinstance(step, Calls)
    assert [(c.tool, c.args) for c in step.calls] == [
        ("summarize_customer", {"customer": "globex"}), ("crm.list_tickets", {"customer": "hooli"}),
        ("system.status", {})]
    assert len({c.id for c in step.calls}) == 3
    summary = {"customer": {"name": "Globex", "id": "cus_001"}, "open_tickets": [], "attention": "none"}
    results = (ToolResult(step.calls[0], summary), ToolResult(step.calls[1], []),
               ToolResult(step.calls[2], {"circuit_breakers": {"CRM": "closed"}, "queues": {}}))
    answer = PLANNER.next_step(AgentRequest(text=text, results=results))
    assert isinstance(answer, Answer)
    assert "Summary of Globex" in answer.text and "*hooli* has no open tickets" in answer.text
    assert "Everything is up" in answer.text


def test_a_message_read_whole_is_not_split_into_requests() -> None:
    for text, tool, args in (
            ("Summarize Globex. Post it in <#C0SALES|sales>", "summarize_and_post_customer_update",
             {"customer": "Globex", "channel": "C0SALES"}),
            ("Give me Globex's tickets. And the summary.", "summarize_customer", {"customer": "Globex"}),
            ("Hi! summarize Globex. thanks", "summarize_customer", {"customer": "Globex"})):
        step = _first(text, channel="C0GEN")
        assert isinstance(step, Calls) and [(c.tool, c.args) for c in step.calls] == [(tool, args)], text


def test_a_short_follow_up_asks_the_question_before_of_another_customer() -> None:
    def after(before: str, now: str) -> list[tuple[str, dict[str, object]]]:
        history = (Turn("user", before, customer="Globex"), Turn("assistant", "..."))
        step = _first(now, history=history, channel="C0GEN")
        assert isinstance(step, Calls), (before, now)
        return [(c.tool, c.args) for c in step.calls]

    assert after("open tickets for Globex", "and for Initech?") == [("crm.list_tickets", {"customer": "Initech"})]
    assert after("report on Globex", "same for Hooli please") == [
        ("report.build", {"customer": "Hooli", "channel": "C0GEN"})]
    assert after("who owns Globex?", "what about Initech?") == [("crm.get_customer", {"customer": "Initech"})]
    # Asked in its own words, it is what it says.
    assert after("open tickets for Globex", "and summarize Initech") == [
        ("summarize_customer", {"customer": "Initech"})]


def test_customers_compared_are_each_summarized() -> None:
    for text, names in (("compare globex and initech", ["globex", "initech"]),
                        ("acme rockets vs acme robotics - how are they each doing?",
                         ["acme rockets", "acme robotics"])):
        step = _first(text)
        assert isinstance(step, Calls)
        assert [(c.tool, c.args["customer"]) for c in step.calls] == [("summarize_customer", n) for n in names], text


def test_a_question_after_and_is_a_request_of_its_own() -> None:
    step = _first("who owns Hooli and what plan is Soylent on?")
    assert isinstance(step, Calls)
    assert [(c.tool, c.args["customer"]) for c in step.calls] == [("crm.get_customer", "Hooli"),
                                                                   ("crm.get_customer", "Soylent")]
