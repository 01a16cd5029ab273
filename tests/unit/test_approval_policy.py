from app.agent.approval_policy import effect_outside
from app.agent.conversation import ToolCall


def post(**args: str) -> ToolCall:
    return ToolCall("c1", "slack.post_message", {"text": "Renewal is <!here> due", **args})


def test_posting_in_the_conversation_asks_nobody() -> None:
    assert effect_outside(post(channel="C1", thread_ts="111.1"), "C1", thread="111.1") is None
    assert effect_outside(post(channel="C1"), "C1") is None  # an API turn in its channel


def test_posting_in_another_channel_or_another_thread_of_the_same_channel_asks_first() -> None:
    assert effect_outside(post(channel="C2"), "C1", thread="111.1") == (
        "post this message in <#C2>:\n>Renewal is &lt;!here&gt; due")
    other_thread = effect_outside(post(channel="C1", thread_ts="222.2"), "C1", thread="111.1")
    assert other_thread == "post this message in <#C1>, in the thread of message 222.2:\n>Renewal is &lt;!here&gt; due"
    assert effect_outside(post(channel="C1", thread_ts="222.2"), "C1") is not None  # an API turn has no thread
    # From a thread, the channel itself is read by all of it.
    assert effect_outside(post(channel="C1"), "C1", thread="111.1") == (
        "post this message in <#C1>, for the whole channel:\n>Renewal is &lt;!here&gt; due")


def test_reading_never_asks() -> None:
    assert effect_outside(ToolCall("c1", "crm.get_customer", {"customer": "Globex", "channel": "C9"}), "C1") is None
