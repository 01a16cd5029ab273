"""Every job the worker runs, in one table: the entry point RQ imports, its queue and its time limit.

RQ finds a job's function by its dotted name, so the web process queues work without
importing the worker's code; `tests/unit/test_job_table.py` imports every entry.
"""

from __future__ import annotations

from dataclasses import dataclass

SUMMARY_QUEUE = "acme-summaries"
AGENT_QUEUE = "acme-agent"
NOTIFICATION_QUEUE = "acme-notifications"
RUN_QUEUE = "acme-runs"
REPORT_QUEUE = "acme-reports"
# The order a worker takes them in: a waiting summary, then the agent's turns, notifications, the API's
# runs, and long reports last.
QUEUE_ORDER = (SUMMARY_QUEUE, AGENT_QUEUE, NOTIFICATION_QUEUE, RUN_QUEUE, REPORT_QUEUE)

ENTRY_POINTS = "app.worker.entrypoints"
JOB_TIMEOUT_S = 180
REPORT_TIMEOUT_S = 900
RESULT_TTL_S = 600
FAILURE_TTL_S = 7 * 24 * 3600
# A job whose worker died (or lost Redis) runs again this many times at most.
JOB_RERUNS = 3


@dataclass(frozen=True)
class JobKind:
    name: str
    function: str
    queue: str
    parameters: tuple[str, ...]
    timeout_s: int = JOB_TIMEOUT_S


def _entry(name: str, function: str, queue: str, parameters: tuple[str, ...],
           timeout_s: int = JOB_TIMEOUT_S) -> JobKind:
    return JobKind(name, f"{ENTRY_POINTS}.{function}", queue, parameters, timeout_s)


SUMMARY = _entry("summary", "summarize_customer", SUMMARY_QUEUE, ("request",))
HELP = _entry("help", "reply_with_help", SUMMARY_QUEUE, ("request",))
REPORT = _entry("report", "build_report", REPORT_QUEUE, ("request",), REPORT_TIMEOUT_S)
NOTIFY = _entry("notify", "post_notification", NOTIFICATION_QUEUE, ("event",))
DRAFT = _entry("draft", "draft_response", NOTIFICATION_QUEUE, ("channel", "ts", "user"))
DISMISS = _entry("dismiss", "dismiss_notification", NOTIFICATION_QUEUE, ("channel", "ts", "user"))
RUN = _entry("run", "execute_run", RUN_QUEUE, ("run_id",))
AGENT = _entry("agent", "answer_with_the_agent", AGENT_QUEUE, ("request",))
AGENT_RUN = _entry("agent-run", "run_agent", RUN_QUEUE, ("run_id",))
APPROVAL = _entry("approval", "resolve_approval", AGENT_QUEUE, ("approval_id", "user", "decision"))
APPROVAL_EXPIRY = _entry("approval-expiry", "expire_approval", AGENT_QUEUE, ("approval_id",))
FEEDBACK = _entry("feedback", "record_feedback", NOTIFICATION_QUEUE, ("run_id", "user", "verdict", "channel"))
JOB_KINDS = (SUMMARY, HELP, REPORT, NOTIFY, DRAFT, DISMISS, RUN, AGENT, AGENT_RUN, APPROVAL, APPROVAL_EXPIRY, FEEDBACK)

# RQ calls it in the worker when a job fails, with the job; it tells the asker.
FAILURE_CALLBACK = f"{ENTRY_POINTS}.tell_user_job_failed"


def kind_of(function: str) -> JobKind:
    """The kind of job RQ runs as `function` (its dotted name)."""
    for kind in JOB_KINDS:
        if kind.function == function:
            return kind
    raise KeyError(f"no job runs {function}")
