"""Every Slack effect of a job happens once, whatever Slack answers and however often the job runs.

Slack has no idempotency key for chat.postMessage: a post it took but answered with a 500 (or too late for our
timeout) is found in the conversation by the effect key in its metadata, not posted again; a job run again (a
later run, or the same job re-queued after its worker died) answers from its effects' records. A 429 or an
outage past the quick retries runs the job again later, without holding the worker, and the message goes out
once when Slack is back. The scheduler's clock is moved on by re-scoring its registry, not by waiting.
"""

from __future__ import annotations

import time

from rq.job import Job
from rq.registry import ScheduledJobRegistry

from app.integrations.slack_effects import EffectRecords
from app.slack_emulator import SlackCall
from tests.conftest import CHANNEL, Stack
from tests.integration.test_notifications import NOTIFY, SECRET, click, deliver, posted_notification
from tests.integration.test_waiting import QUIET, posts, slash, summary_of, summary_runs

SUMMARIES = {"acme_api_rate": "1000/s", "slack_channel_interval_s": 0.0}


def summaries_in(stack: Stack, channel: str = CHANNEL, thread_ts: str | None = None) -> list[str]:
    """The customers of the summaries that a person reads in the channel (or thread), as Slack keeps it."""
    return [c for c in (summary_of_message(m) for m in stack.slack.in_conversation(channel, thread_ts)) if c]


def summary_of_message(message: dict) -> str:
    return summary_of(SlackCall("chat.postMessage", message))


def scheduled(stack: Stack) -> dict[str, float]:
    """The jobs waiting in RQ's scheduler, with the Unix time each is due."""
    due: dict[str, float] = {}
    for queue in stack.collaborators.jobs.queues:
        registry = ScheduledJobRegistry(queue=queue)
        due.update({job_id.decode(): score for job_id, score in
                    stack.collaborators.redis.zrange(registry.key, 0, -1, withscores=True)})
    return due


def wait_until_scheduled(stack: Stack, known: set[str], timeout_s: float = 15) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = {job_id: at for job_id, at in scheduled(stack).items() if job_id not in known}
        if new:
            return new
        time.sleep(0.02)
    raise TimeoutError(f"no job was scheduled; scheduled: {scheduled(stack)}")


def make_due_now(stack: Stack, job_ids: set[str]) -> None:
    """Time passes for the scheduler: the jobs are due now (the worker queues them within its next second)."""
    for queue in stack.collaborators.jobs.queues:
        key = ScheduledJobRegistry(queue=queue).key
        for job_id in job_ids:
            if stack.collaborators.redis.zscore(key, job_id) is not None:
                stack.collaborators.redis.zadd(key, {job_id: time.time() - 1})


def test_a_429_asking_for_30_s_again_and_again_then_recovering_posts_one_message(stack_factory) -> None:
    stack: Stack = stack_factory(**SUMMARIES)
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "30"}, times=3,
                          channel=CHANNEL)
    asked_at = time.time()
    slash(stack, "summary cus_001")

    seen: set[str] = set()
    for _ in range(3):  # three runs are each told to come back in 30 s
        later = wait_until_scheduled(stack, seen)
        assert all(at >= asked_at + 30 for at in later.values())  # Retry-After honoured, not slept
        seen |= set(later)
        if len(seen) == 1:
            # Meanwhile the worker is free: another channel is answered at once.
            slash(stack, "summary cus_005", channel=QUIET)
            stack.slack.wait_for(lambda calls: posts(stack, QUIET), timeout_s=10)
        make_due_now(stack, set(later))
        asked_at = time.time()

    stack.slack.wait_for(lambda calls: posts(stack, CHANNEL), timeout_s=15)
    time.sleep(0.3)
    assert summaries_in(stack) == ["cus_001"]
    assert stack.sleeps == []  # nothing waited in the worker


def test_slack_down_past_several_rounds_of_quick_retries_posts_one_message_when_back(stack_factory) -> None:
    stack: Stack = stack_factory(slack_retry_later_s=30, slack_breaker_fail_max=100, **SUMMARIES)
    stack.slack.fail_next("chat.postMessage", 503, times=12)  # three runs, each with its four quick tries
    slash(stack, "summary cus_001")

    seen: set[str] = set()
    for _ in range(3):
        later = wait_until_scheduled(stack, seen)
        seen |= set(later)
        make_due_now(stack, set(later))

    stack.slack.wait_for(lambda calls: posts(stack, CHANNEL), timeout_s=15)
    time.sleep(0.3)
    assert summaries_in(stack) == ["cus_001"]
    assert stack.sleeps == [1, 2, 4] * 3
    assert not [c for c in stack.slack.calls if c.method == "response_url"]  # nobody was told of a failure
    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"


def test_a_message_slack_posted_but_answered_500_is_not_posted_again(stack_factory) -> None:
    stack: Stack = stack_factory(**SUMMARIES)
    stack.slack.fail_next("chat.postMessage", 500, accepted=True)
    slash(stack, "summary cus_001")

    stack.slack.wait_for(lambda calls: any(c.method == "conversations.history" for c in calls), timeout_s=10)
    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"
    assert summaries_in(stack) == ["cus_001"]
    assert stack.sleeps == [1]  # one quick retry, which found the message instead of posting it


def test_a_message_slack_took_but_answered_too_late_is_not_posted_again(stack_factory) -> None:
    stack: Stack = stack_factory(slack_timeout_s=1, **SUMMARIES)
    stack.slack.fail_next("chat.postMessage", 500, accepted=True, delay_s=1.6)  # past our 1 s timeout
    slash(stack, "summary cus_001")

    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"
    assert summaries_in(stack) == ["cus_001"]


def test_thread_replies_slack_posted_but_answered_500_are_not_posted_again(stack_factory) -> None:
    stack: Stack = stack_factory(slack_notify_channel=NOTIFY, crm_webhook_secret=SECRET, **SUMMARIES)
    deliver(stack, {"id": "evt_c", "type": "customer.created", "created_at": "2026-11-21T10:00:00Z",
                    "data": {"id": "cus_003", "name": "Initech", "plan": "pro"}})
    ts = posted_notification(stack)
    # "Working on it..." and the summary, both replies in the notification's thread: both taken, both 500.
    stack.slack.fail_next("chat.postMessage", 500, accepted=True, times=2)
    assert click(stack, "summarize_new_customer", stack.slack.messages[ts]).status_code == 200

    stack.slack.wait_for(lambda calls: sum(c.method == "conversations.replies" for c in calls) >= 2, timeout_s=15)
    time.sleep(0.3)
    thread = stack.slack.in_conversation(NOTIFY, ts)[1:]
    assert [m["text"] for m in thread][:1] == ["Working on it..."]
    assert len(thread) == 2 and summary_of_message(thread[1]) == "cus_003"


def test_a_job_run_again_under_the_same_id_posts_nothing_more(stack_factory) -> None:
    stack: Stack = stack_factory(**SUMMARIES)
    slash(stack, "summary cus_001")
    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"
    [job_id] = [j for q in stack.collaborators.jobs.queues for j in q.finished_job_registry.get_job_ids()]

    # As when its worker died and RQ queued it again: the same job, by the same id, run to its end again.
    job = Job.fetch(job_id, connection=stack.collaborators.redis)
    first_end = job.ended_at
    stack.collaborators.jobs.queue(job.origin).enqueue_job(job)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job.refresh()
        if job.ended_at != first_end and job.get_status() == "finished":
            break
        time.sleep(0.02)
    assert job.ended_at != first_end and job.get_status() == "finished"
    assert summaries_in(stack) == ["cus_001"]
    assert [c.text for c in stack.slack.calls if c.method == "response_url"] == []


def test_a_conversation_the_bot_cannot_read_still_gets_its_message(stack_factory) -> None:
    # Without the history scope the lookup fails: the post is made again (at least once, never lost).
    stack: Stack = stack_factory(**SUMMARIES)
    stack.slack.not_readable.add(CHANNEL)
    stack.slack.fail_next("chat.postMessage", 500)  # not taken: the retry must post it
    slash(stack, "summary cus_001")

    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"
    assert summaries_in(stack) == ["cus_001"]


def test_a_jobs_runs_share_its_effects_records_and_a_call_made_twice_in_one_run_is_two(redis_conn) -> None:
    records = EffectRecords(redis_conn)
    made: list[str] = []
    first = records.ledger("command-1")
    assert first.once(("post", "C1", "Working on it..."), lambda e: made.append("working") or "1.1") == "1.1"

    again = records.ledger("command-1")  # the job's next run: a later run, or the same job queued again
    assert again.once(("post", "C1", "Working on it..."), lambda e: made.append("again") or "9.9") == "1.1"
    assert again.once(("post", "C1", "The summary"), lambda e: made.append("summary") or "1.2") == "1.2"
    assert again.once(("post", "C1", "Working on it..."), lambda e: made.append("twice") or "1.3") == "1.3"
    assert records.ledger("command-2").once(("post", "C1", "The summary"), lambda e: made.append("other") or "2.1")
    assert made == ["working", "summary", "twice", "other"]
    assert 0 < redis_conn.ttl("acme:slack:effects:command-1") <= 24 * 3600


def test_a_message_posted_in_a_run_that_could_not_look_is_found_by_the_next_run(stack_factory) -> None:
    stack: Stack = stack_factory(slack_retry_later_s=30, slack_breaker_fail_max=100, **SUMMARIES)
    stack.slack.fail_next("chat.postMessage", 500, accepted=True)  # taken, answered 500
    stack.slack.fail_next("conversations.history", 503, times=3)  # and every quick retry's look fails
    slash(stack, "summary cus_001")

    later = wait_until_scheduled(stack, set())
    assert [c.method for c in stack.slack.calls if c.method.startswith("c")] == ["chat.postMessage"]
    make_due_now(stack, set(later))

    [run] = summary_runs(stack, 1)
    assert run["status"] == "succeeded"
    assert summaries_in(stack) == ["cus_001"]
    assert [c.method for c in stack.slack.calls if c.method.startswith("c")] == [
        "chat.postMessage", "conversations.history"]  # the later run looked first, and found it
