"""What an effect's record must say after a failed call, and how a message is known to be an effect."""

from __future__ import annotations

from app.integrations.slack_effects import EFFECT_EVENT_TYPE, Effect, carries_effect


def test_a_call_known_not_to_have_reached_slack_drops_the_records_maybe() -> None:
    effect = Effect("k", recorded_since=100.0)  # marked "maybe" by the claim, then paced or answered 429
    assert effect.settling() is None
    assert Effect("k").settling() is False  # no record to drop (Redis did not answer the claim)


def test_an_unknown_outcome_keeps_the_earliest_time_it_may_have_been_sent() -> None:
    effect = Effect("k", recorded_since=100.0)
    effect.sent_unsure(105.0)
    effect.sent_unsure(109.0)  # a later attempt: the first one is the one to look back to
    assert effect.unsure_since == 105.0
    assert effect.settling() is False  # the record's "maybe since 100" already looks back further

    earlier_run = Effect("k", recorded_since=100.0, unsure_since=100.0)
    earlier_run.not_made()  # looked: it is not there
    earlier_run.sent_unsure(300.0)
    assert earlier_run.settling() is False
    assert Effect("k", unsure_since=300.0).settling() == 300.0


def test_a_message_is_the_effect_whose_key_its_metadata_carries() -> None:
    effect = Effect("abc")
    assert carries_effect({"ts": "1.1", **{"metadata": effect.metadata()}}, "abc")
    assert effect.metadata()["event_type"] == EFFECT_EVENT_TYPE
    assert not carries_effect({"ts": "1.1", "metadata": {"event_type": "other", "event_payload": {"effect": "abc"}}},
                              "abc")
    assert not carries_effect({"ts": "1.1", "metadata": Effect("xyz").metadata()}, "abc")
    assert not carries_effect({"ts": "1.1", "text": "no metadata"}, "abc")
