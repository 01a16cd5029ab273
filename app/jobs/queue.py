"""Putting work on the RQ queue, from the web process: quick, and never with a secret in the job."""

from __future__ import annotations

import logging
import uuid

import redis
from rq import Callback, Queue

from app.jobs.requests import SlackRequest

log = logging.getLogger(__name__)

SUMMARY_QUEUE = "acme-summaries"
# Slack retries an event at once, after 1 min and after 5 min: remember event ids well past that.
EVENT_MEMORY_S = 3600
# A response_url works for 30 minutes; keeping it longer is pointless.
RESPONSE_URL_TTL_S = 1800
JOB_TIMEOUT_S = 180
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

    @property
    def queues(self) -> list[Queue]:
        return [self.summaries]

    def first_delivery(self, event_id: str) -> bool:
        """True the first time Slack delivers `event_id`; False for its retries."""
        try:
            return bool(self._redis.set(f"acme:slack-event:{event_id}", 1, nx=True, ex=EVENT_MEMORY_S))
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from None

    def forget_delivery(self, event_id: str) -> None:
        """Let Slack's next retry of `event_id` through, because this delivery could not be queued."""
        try:
            self._redis.delete(f"acme:slack-event:{event_id}")
        except redis.RedisError:
            log.warning("could not forget event %s; Slack's retries of it will be ignored", event_id)

    def response_url(self, request_id: str) -> str | None:
        value = self._redis.get(f"acme:response-url:{request_id}")
        return value.decode() if isinstance(value, bytes) else value

    def enqueue(self, job: str, request: SlackRequest, response_url: str | None = None) -> str:
        """Queue `job` (a dotted function name) for `request`; answers the job id."""
        try:
            if response_url:
                # Kept beside the job, not in it: a response_url can post to the channel.
                self._redis.set(f"acme:response-url:{request.request_id}", response_url, ex=RESPONSE_URL_TTL_S)
            queued = self.summaries.enqueue_call(
                job,
                kwargs={"request": request.to_job_args()},
                job_id=f"{request.origin}-{request.request_id}",
                description=f"{job.rsplit('.', 1)[-1]} {request.origin} in {request.channel_id}",
                timeout=JOB_TIMEOUT_S,
                result_ttl=RESULT_TTL_S,
                failure_ttl=FAILURE_TTL_S,
                on_failure=Callback("app.jobs.tasks.tell_user_job_failed"),
            )
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from None
        return queued.id
