"""The functions RQ runs, by the dotted names in app/queueing/job_table.py: the worker's one way in.

Each asks the worker running it for its collaborators, records Slack's work as a run of
its built-in workflow, and hands the job below only the parts it uses.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rq import get_current_job
from rq.job import Job

from app.agent.turns import Asked, RunSlot
from app.composition import Collaborators
from app.integrations.deferral import PostDeferred
from app.jobs.notifications import Notifier
from app.jobs.replies import Replies
from app.jobs.report_request import answer_with_report
from app.jobs.reports import ShownProgress
from app.jobs.summary import answer_with_summary
from app.messages.bot import help_text, unexpected_failure
from app.queueing.job_table import ENTRY_POINTS, JOB_RERUNS, RUN, kind_of
from app.queueing.slack_request import SlackRequest
from app.runs.builtin_workflows import (
    CRM_NOTIFICATION,
    NOTIFICATION_DISMISS,
    NOTIFICATION_DRAFT,
    SLACK_HELP,
    SLACK_REPORT,
    SLACK_SUMMARY,
    BuiltinWorkflow,
)
from app.runs.engine import RunNotStarted
from app.worker.current import this_worker
from app.worker.later import Later, later_job_id, run_again_later
from app.worker.reruns import failed_for_want_of_a_worker, failure_reason, runs_again

log = logging.getLogger(__name__)
# In a job's meta: the run it records as it goes, and the report's progress message, for its next run and for
# the failure callback when its worker dies.
RUN_META = "acme_run"
PROGRESS_META = "acme_progress"
# An API run that could not start for a database outage tries again after 2 s, 4 s... then every 30 s.
DATABASE_RETRY_FIRST_S = 2.0
DATABASE_RETRY_MAX_S = 30.0
JobFunction = Callable[..., str]
# A recorded job answers RQ nothing: its run keeps what it answered.
RecordedJob = Callable[..., str | None]


def _lost_attempts(rq_job: Job | None) -> int:
    """Runs of the job before this one that ended for want of a worker (the only failures run again)."""
    if rq_job is None or rq_job.retries_left is None:
        return 0
    return max(0, JOB_RERUNS - rq_job.retries_left)


def _recorded_as(workflow: BuiltinWorkflow, live: bool = False) -> Callable[[JobFunction], RecordedJob]:
    """Record every run of the job as a run of `workflow` (live: as it goes, not only when it ends).

    The job never waits long for Slack: when it would (its channel's turn, a Retry-After, an outage),
    it is queued to run again later (app/worker/later.py) and the worker goes on with other jobs; the
    run waits meanwhile, and the later run carries on with it.
    """

    def wrap(job_function: JobFunction) -> RecordedJob:
        kind = kind_of(f"{ENTRY_POINTS}.{job_function.__name__}")

        @functools.wraps(job_function)
        def job(**kwargs: Any) -> str | None:
            rq_job = get_current_job()
            worker = this_worker()
            later = Later.of(rq_job)
            deferred: PostDeferred | None = None
            next_job = ""
            resumes = later.run_id or (rq_job.meta.get(RUN_META) if rq_job else None)
            if resumes and worker.runs.cancelled(resumes):
                return f"run {resumes} was cancelled; nothing to do"
            with worker.slack_runs.recorded(workflow, inputs=kwargs, live=live, resumes=resumes,
                                            queued_at=rq_job.enqueued_at if rq_job else None,
                                            job_id=rq_job.id if rq_job else None,
                                            lost_attempts=_lost_attempts(rq_job)) as run:
                if rq_job is not None and run.run_id and run.run_id != resumes:
                    # If this worker dies, the job's next run goes on with the same run (a live one's).
                    rq_job.meta[RUN_META] = run.run_id
                    rq_job.save_meta()
                try:
                    with worker.slack.deferring(later.slack):
                        result = job_function(**kwargs)
                except PostDeferred as exc:
                    deferred, next_job = exc, later_job_id(later, exc)
                    run.waits(exc.reason, exc.wait_s, next_job)
                else:
                    run.ended_with(result)
            if deferred is not None:
                return run_again_later(worker.jobs, kind, kwargs, rq_job, later, run.run_id, deferred, next_job)
            # The run keeps what it answered; RQ keeps no result of its own for it (two writes a job fewer).
            return None

        return job

    return wrap


def _replies(worker: Collaborators, asked: SlackRequest) -> Replies:
    return Replies(worker.slack, asked, lambda: worker.response_urls.get(asked.request_id))


def _notifier(worker: Collaborators) -> Notifier:
    return Notifier(worker.crm, worker.slack, worker.notifications, worker.settings.slack_notify_channel,
                    worker.settings.notify_priority_set, worker.drafts)


def _mark_user_told() -> None:
    job = get_current_job()
    if job:
        # The user has heard of the failure; the failure callback need not say it again.
        job.meta["user_told"] = True
        job.save_meta()


@_recorded_as(SLACK_SUMMARY)
def summarize_customer(request: dict[str, Any]) -> str:
    worker = this_worker()
    asked = SlackRequest.from_job_args(request)
    return answer_with_summary(worker.crm, _replies(worker, asked), asked)


@_recorded_as(SLACK_HELP)
def reply_with_help(request: dict[str, Any]) -> str:
    _replies(this_worker(), SlackRequest.from_job_args(request)).to_asker(help_text())
    return "help sent"


@_recorded_as(SLACK_REPORT, live=True)
def build_report(request: dict[str, Any]) -> str:
    worker = this_worker()
    asked = SlackRequest.from_job_args(request)
    job = get_current_job()
    # Its later runs, if it waits for Slack, hold the same claim on the report.
    return answer_with_report(worker.reports, worker.crm, _replies(worker, asked), asked,
                              holder=Later.of(job).first_job if job else asked.request_id, on_told=_mark_user_told,
                              shown=_ProgressInMeta(job))


class _ProgressInMeta:
    """The report's progress message, kept in the job's meta: its next run edits the same message."""

    def __init__(self, job: Job | None) -> None:
        self._job = job

    def recall(self) -> ShownProgress | None:
        data = self._job.meta.get(PROGRESS_META) if self._job else None
        return ShownProgress.from_json(data) if data else None

    def remember(self, shown: ShownProgress) -> None:
        if self._job is not None:
            self._job.meta[PROGRESS_META] = shown.to_json()
            self._job.save_meta()


@_recorded_as(CRM_NOTIFICATION)
def post_notification(event: dict[str, Any]) -> str:
    return _notifier(this_worker()).post(event)


@_recorded_as(NOTIFICATION_DRAFT)
def draft_response(channel: str, ts: str, user: str) -> str:
    return _notifier(this_worker()).draft_response(channel, ts, user)


@_recorded_as(NOTIFICATION_DISMISS)
def dismiss_notification(channel: str, ts: str, user: str) -> str:
    return _notifier(this_worker()).dismiss(channel, ts, user)


def execute_run(run_id: str) -> str:
    """Run every step of `run_id` in order, recording each. A step that would wait long for Slack (its channel's
    turn, a Retry-After, an outage) is not waited for here: the run waits, and a later job goes on from that step."""
    worker = this_worker()
    job = get_current_job()
    later = Later.of(job)
    job_id = job.id if job else None
    try:
        with worker.slack.deferring(later.slack):
            return worker.engine.execute(run_id, job_id=job_id, waited_for=later.waited_for)
    except RunNotStarted as exc:
        # Nothing was done and nothing can be recorded: tried again later, as a run waiting for Slack is, by a
        # job that stands in for this one (a waiting run waits for this one's id).
        wait_s = min(DATABASE_RETRY_MAX_S, DATABASE_RETRY_FIRST_S * 2 ** later.runs_waited)
        deferred = PostDeferred(wait_s, f"the database is unavailable ({exc})")
        log.warning("run %s could not start: %s; trying again in %.0f s", run_id, deferred.reason, wait_s)
        return run_again_later(worker.jobs, RUN, {"run_id": run_id}, job, later, run_id, deferred,
                               later_job_id(later, deferred), waited_for=later.waited_for or job_id)
    except PostDeferred as deferred:
        next_job = later_job_id(later, deferred)
        if not worker.engine.waits(run_id, deferred.reason, deferred.wait_s, next_job):
            return f"run {run_id} ended meanwhile; it does not wait"
        return run_again_later(worker.jobs, RUN, {"run_id": run_id}, job, later, run_id, deferred, next_job)


def answer_with_the_agent(request: dict[str, Any]) -> str:
    """A mention, a direct message, a follow-up in the agent's thread, or `/acme ask`."""
    worker = this_worker()
    asked = SlackRequest.from_job_args(request)
    job = get_current_job()
    turn = Asked(text=asked.text or "", channel=asked.channel_id, user=asked.user_id, team=asked.team_id,
                 thread_ts=asked.thread_ts, origin=asked.origin)
    queued_at = job.enqueued_at if job else None
    slot = _run_slot(job)
    if asked.origin == "command":
        return worker.slack_agent.answer_in_channel(turn, queued_at, _replies(worker, asked).to_asker, slot)
    return worker.slack_agent.answer(turn, queued_at, say_working=asked.origin == "mention", slot=slot)


def _run_slot(job: Job | None) -> RunSlot | None:
    """The job's meta keeps the run it began: if its worker dies, its next run goes on with the same run."""
    if job is None:
        return None

    def keep(run_id: str) -> None:
        job.meta[RUN_META] = run_id
        job.save_meta()

    return RunSlot(job.meta.get(RUN_META), keep)


def run_agent(run_id: str) -> str:
    """A turn asked for through POST /v1/agents/{id}/run."""
    return this_worker().agent.answer_queued(run_id)


def resolve_approval(approval_id: str, user: str, decision: str) -> str:
    return this_worker().slack_agent.resolve(approval_id, user, decision)


def expire_approval(approval_id: str) -> str:
    return this_worker().slack_agent.expire(approval_id)


def record_feedback(run_id: str, user: str, verdict: str, channel: str | None = None) -> str:
    recorded = this_worker().agent.record_feedback(run_id, user, verdict, channel)
    return f"{verdict} from {user}" if recorded else "not a new word on an agent's answer in that channel"


def tell_user_job_failed(
    job: Job, connection: Any, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """RQ's failure callback, after every failed attempt: the run and the progress message say whether the job
    runs again ("failed, retrying") or not ("failed: ..."); the asker hears of it only when it does not."""
    again = runs_again(job, exc_type)
    reason = failure_reason(exc_type)
    worker = this_worker()
    try:
        _record_interruption(worker, job, again, reason)
        progress = job.meta.get(PROGRESS_META)
        if progress:
            worker.reports.interrupted(ShownProgress.from_json(progress), retrying=again, reason=reason)
        request = job.kwargs.get("request")
        if again or not request or job.meta.get("user_told"):
            return
        detail = reason if failed_for_want_of_a_worker(exc_type) else exc_type.__name__
        _replies(worker, SlackRequest.from_job_args(request)).to_asker(
            unexpected_failure(f"working on your request ({detail})"))
    except Exception as failure:  # noqa: BLE001 - RQ has logged and kept the job's failure; one line is enough
        log.warning("could not tell of job %s's failure: %s: %s", job.id, type(failure).__name__, failure)


def _record_interruption(worker: Collaborators, job: Job, again: bool, reason: str) -> None:
    """The run a job recorded as it went (an API run, a report) waits for its next run, or fails with `reason`."""
    run_id = job.kwargs.get("run_id") or job.meta.get(RUN_META) or Later.of(job).run_id
    if not run_id:
        return
    if job.kwargs.get("run_id"):
        worker.runs.interrupted(run_id, retrying=again, reason=reason)
    else:
        worker.slack_runs.interrupted(run_id, retrying=again, reason=reason)
