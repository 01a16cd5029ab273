"""The built-in workflows: Slack's work recorded as runs, beside the runs the API starts.

Slack's ack path writes nothing to the database (it must answer in milliseconds); the
worker records each Slack job as a run of its built-in workflow when it starts: queued
at the time the job was queued, then running, then how it ended.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rq import get_current_job

from app.domain.outcome import Failed

BUILTIN_PREFIX = "wf_builtin_"


@dataclass(frozen=True)
class BuiltinWorkflow:
    id: str
    name: str
    description: str
    step: str


BUILTIN_WORKFLOWS = {
    w.id: w for w in (
        BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_summary", "Slack: customer summary",
                        "/acme summary, @acme summarize, or a Summarize button", "slack.summary"),
        BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_report", "Slack: account report", "/acme report or @acme report",
                        "slack.report"),
        BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_help", "Slack: help", "@acme with no known verb", "slack.help"),
        BuiltinWorkflow(f"{BUILTIN_PREFIX}crm_notification", "CRM: notification",
                        "a CRM webhook posted as a notification", "slack.notify"),
        BuiltinWorkflow(f"{BUILTIN_PREFIX}notification_draft", "Notification: draft response",
                        "the Draft response button", "slack.draft_response"),
        BuiltinWorkflow(f"{BUILTIN_PREFIX}notification_dismiss", "Notification: dismiss", "the Dismiss button",
                        "slack.dismiss"),
    )
}


def as_builtin_run(workflow_id: str, live: bool = False) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Record every call of an RQ job function as a run of the built-in workflow `workflow_id`.

    A quick job (a summary takes milliseconds) is recorded in one transaction after its work, so
    the database is never between the user and the answer; a `live` one (a report) is recorded
    as it goes, so that watchers see it running.
    """
    workflow = BUILTIN_WORKFLOWS[workflow_id]

    def wrap(job_function: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(job_function)
        def job(**kwargs: Any) -> str:
            from app.jobs import runtime  # noqa: PLC0415 - only in the worker

            rq_job = get_current_job()
            runs = runtime.current().runs
            with runs.recorded(workflow.id, workflow.step, inputs=kwargs,
                               queued_at=rq_job.enqueued_at if rq_job else None, live=live) as run:
                result = job_function(**kwargs)
                if isinstance(result, Failed):
                    run.fail(str(result))
                else:
                    run.output = result
            return str(result)

        return job

    return wrap
