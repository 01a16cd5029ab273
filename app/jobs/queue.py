"""Putting work on the RQ queues, from the web process: quick, and never with a secret in the job."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from rq import Callback, Queue

from app.jobs.requests import SlackRequest

log = logging.getLogger(__name__)

SUMMARY_QUEUE = "acme-summaries"
NOTIFICATION_QUEUE = "acme-notifications"
REPORT_QUEUE = "acme-reports"
RUN_QUEUE = "acme-runs"
# Slack retries an event at once, after 1 min and after 5 min: remember event ids well past that.
SLACK_EVENT_MEMORY_S = 3600
CRM_EVENT_MEMORY_S = 24 * 3600
# A response_url works for 30 minutes; keeping it longer is pointless.
RESPONSE_URL_TTL_S = 1800
JOB_TIMEOUT_S = 180
REPORT_TIMEOUT_S = 900
RESULT_TTL_S = 600
FAILURE_TTL_S = 7 * 24 * 3600


class QueueUnavailable(Exception):
    """Redis did not take the job; the user must be told rather than left waiting."""


def new_request_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection
        self.summaries = Queue(SUMMARY_QUEUE, connection=connection)
        self.notifications = Queue(NOTIFICATION_QUEUE, connection=connection)
        self.reports = Queue(REPORT_QUEUE, connection=connection)
        self.runs = Queue(RUN_QUEUE, connection=connection)

    @property
    def queues(self) -> list[Queue]:
        """In the order a worker takes them: quick answers first, long reports last."""
        return [self.summaries, self.notifications, self.runs, self.reports]

    def first_time(self, kind: str, delivery_id: str, remember_s: int = SLACK_EVENT_MEMORY_S) -> bool:
        """True the first time `delivery_id` is seen; False for every redelivery within `remember_s`."""
        try:
            return bool(self._redis.set(f"acme:seen:{kind}:{delivery_id}", 1, nx=True, ex=remember_s))
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from None

    def forget(self, kind: str, delivery_id: str) -> None:
        """Let the next redelivery of `delivery_id` through, because this one could not be queued."""
        try:
            self._redis.delete(f"acme:seen:{kind}:{delivery_id}")
        except redis.RedisError:
            log.warning("could not forget %s %s; its redeliveries will be ignored", kind, delivery_id)

    def response_url(self, request_id: str) -> str | None:
        value = self._redis.get(f"acme:response-url:{request_id}")
        return value.decode() if isinstance(value, bytes) else value

    def enqueue(self, job: str, request: SlackRequest, response_url: str | None = None) -> str:
        """Queue `job` (a dotted function name) for a Slack request; answers the job id."""
        if response_url:
            try:
                # Kept beside the job, not in it: a response_url can post to the channel.
                self._redis.set(f"acme:response-url:{request.request_id}", response_url, ex=RESPONSE_URL_TTL_S)
            except redis.RedisError as exc:
                raise QueueUnavailable(str(exc)) from None
        long_running = job.endswith("build_report")
        return self.put(
            self.reports if long_running else self.summaries,
            job,
            {"request": request.to_job_args()},
            job_id=f"{request.origin}-{request.request_id}",
            description=f"{job.rsplit('.', 1)[-1]} {request.origin} in {request.channel_id}",
            timeout=REPORT_TIMEOUT_S if long_running else JOB_TIMEOUT_S,
        )

    def put(self, queue: Queue, job: str, kwargs: dict[str, Any], *, job_id: str, description: str,
            timeout: int = JOB_TIMEOUT_S) -> str:
        try:
            queued = queue.enqueue_call(
                job,
                kwargs=kwargs,
                job_id=job_id,
                description=description,
                timeout=timeout,
                result_ttl=RESULT_TTL_S,
                failure_ttl=FAILURE_TTL_S,
                on_failure=Callback("app.jobs.tasks.tell_user_job_failed"),
            )
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from None
        return queued.id
