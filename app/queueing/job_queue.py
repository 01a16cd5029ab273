"""Putting work on the RQ queues, from the web process: quick, and never with a secret in the job."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry

from app.queueing.job_table import FAILURE_CALLBACK, FAILURE_TTL_S, JOB_RERUNS, QUEUE_ORDER, RESULT_TTL_S, JobKind
from app.queueing.slack_request import SlackRequest
from app.state.response_urls import ResponseUrls

log = logging.getLogger(__name__)

# Slack retries an event at once, after 1 min and after 5 min: remember event ids well past that.
SLACK_EVENT_MEMORY_S = 3600
CRM_EVENT_MEMORY_S = 24 * 3600
# The web process's connection for the ack path: a request waits at most this long on Redis per call.
ACK_REDIS_TIMEOUT_S = 0.2


class QueueUnavailable(Exception):
    """Redis did not take the job; the user must be told rather than left waiting."""


def new_request_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, connection: redis.Redis, response_urls: ResponseUrls) -> None:
        self._redis = connection
        self._response_urls = response_urls
        self._queues = {name: Queue(name, connection=connection) for name in QUEUE_ORDER}

    @property
    def queues(self) -> list[Queue]:
        """In the order a worker takes them."""
        return list(self._queues.values())

    def queue(self, name: str) -> Queue:
        return self._queues[name]

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

    def enqueue_slack(self, kind: JobKind, request: SlackRequest, response_url: str | None = None) -> str:
        """Queue a job for a Slack request; answers the job id."""
        def keep_response_url(pipeline: Pipeline) -> None:
            if response_url:
                self._response_urls.keep(request.request_id, response_url, pipeline)

        return self.enqueue(kind, {"request": request.to_job_args()}, job_id=f"{request.origin}-{request.request_id}",
                            description=f"{kind.name} {request.origin} in {request.channel_id}",
                            with_it=keep_response_url)

    def enqueue(self, kind: JobKind, kwargs: dict[str, Any], *, job_id: str, description: str,
                delay_s: float = 0, meta: dict[str, Any] | None = None,
                with_it: Callable[[Pipeline], None] | None = None) -> str:
        """Queue a job of `kind`; with `delay_s`, RQ's scheduler (run by the workers) queues it then, never sooner.

        One round trip (RQ's own enqueue makes two), in one MULTI with what `with_it` adds to it."""
        if set(kwargs) != set(kind.parameters):
            raise ValueError(f"job {kind.name} takes {', '.join(kind.parameters)}, not {', '.join(kwargs)}")
        options: dict[str, Any] = {"job_id": job_id, "description": description, "job_timeout": kind.timeout_s,
                                   "result_ttl": RESULT_TTL_S, "failure_ttl": FAILURE_TTL_S,
                                   "on_failure": Callback(FAILURE_CALLBACK), "meta": meta,
                                   # Run again, first in line, when its worker dies (app/worker/reruns.py).
                                   "retry": Retry(max=JOB_RERUNS, enqueue_at_front=True)}
        queue = self._queues[kind.queue]
        try:
            with self._redis.pipeline() as pipeline:
                if delay_s > 0:
                    # RQ keeps the time in whole seconds, cut down: rounded up here, the job is never queued early.
                    due = datetime.fromtimestamp(math.ceil(time.time() + delay_s), UTC)
                    queued = queue.enqueue_at(due, kind.function, kwargs=kwargs, pipeline=pipeline, **options)
                else:
                    queued = queue.enqueue_call(kind.function, kwargs=kwargs, timeout=kind.timeout_s,
                                                pipeline=pipeline,
                                                **{k: v for k, v in options.items() if k != "job_timeout"})
                if with_it is not None:
                    with_it(pipeline)
                pipeline.execute()
        except redis.RedisError as exc:
            raise QueueUnavailable(str(exc)) from None
        return queued.id
