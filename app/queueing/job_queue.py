"""Putting work on the RQ queues, from the web process: quick, and never with a secret in the job."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry

from app.queueing.job_table import FAILURE_CALLBACK, FAILURE_TTL_S, JOB_RERUNS, QUEUE_ORDER, RESULT_TTL_S, JobKind
from app.queueing.slack_request import SlackRequest
from app.state.response_urls import ResponseUrls

# Slack retries an event at once, after 1 min and after 5 min: remember event ids well past that.
SLACK_EVENT_MEMORY_S = 3600
CRM_EVENT_MEMORY_S = 24 * 3600
# The web process's connection for the ack path: a request waits at most this long on Redis per call.
ACK_REDIS_TIMEOUT_S = 0.2


# The queued commands, run only when the delivery's key is new, in one round trip: a redelivery queues
# nothing, and a delivery is never marked seen without its job (a crash between the two would lose it).
# A command that fails takes the mark back, so that the sender's next delivery is acted on.
_QUEUE_IF_FIRST = """
for k = 2, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for k = 2, #KEYS do redis.call('SET', KEYS[k], '1', 'EX', ARGV[k]) end
local i = #KEYS + 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + n))
  if type(reply) == 'table' and reply.err then
    redis.call('DEL', unpack(KEYS))
    return redis.error_reply(reply.err)
  end
  i = i + n + 1
end
return 1
"""


def roll_key(queue_name: str) -> str:
    """The roll of a queue's jobs, from their first queuing to their end (the time each was first queued): where
    the workers find a job that a dying worker took off its queue before starting it (app/worker/stranded_jobs.py)."""
    return f"acme:roll:{queue_name}"


class QueueUnavailable(Exception):
    """Redis did not take the job, or did not say in time; the user must be told rather than left waiting."""

    def __init__(self, reason: str, maybe_queued: bool = False) -> None:
        super().__init__(reason)
        # Redis may have taken it and not answered in time (a timeout): it may run yet.
        self.maybe_queued = maybe_queued


def _unavailable(exc: redis.RedisError) -> QueueUnavailable:
    return QueueUnavailable(str(exc), maybe_queued=isinstance(exc, redis.TimeoutError))


@dataclass(frozen=True)
class Delivery:
    """One delivery of something its sender delivers again (Slack's retries, a replayed request, a second
    click): acted on the first time within `remember_s`."""

    kind: str
    id: str
    remember_s: int = SLACK_EVENT_MEMORY_S

    @property
    def key(self) -> str:
        return f"acme:seen:{self.kind}:{self.id}"


def new_request_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, connection: redis.Redis, response_urls: ResponseUrls) -> None:
        self._redis = connection
        self._response_urls = response_urls
        self._queues = {name: Queue(name, connection=connection) for name in QUEUE_ORDER}
        self._queue_if_first = connection.register_script(_QUEUE_IF_FIRST)

    @property
    def queues(self) -> list[Queue]:
        """In the order a worker takes them."""
        return list(self._queues.values())

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def enqueue_slack(self, kind: JobKind, request: SlackRequest, response_url: str | None = None,
                      once: Delivery | tuple[Delivery, ...] | None = None) -> str | None:
        """Queue a job for a Slack request; answers the job id, or None for a delivery queued before."""
        def keep_response_url(pipeline: Pipeline) -> None:
            if response_url:
                self._response_urls.keep(request.request_id, response_url, pipeline)

        kwargs = {"request": request.to_job_args()}
        job_id = f"{request.origin}-{request.request_id}"
        description = f"{kind.name} {request.origin} in {request.channel_id}"
        if once is not None:
            return self.enqueue_once(once, kind, kwargs, job_id=job_id, description=description,
                                     with_it=keep_response_url)
        return self.enqueue(kind, kwargs, job_id=job_id, description=description, with_it=keep_response_url)

    def enqueue(self, kind: JobKind, kwargs: dict[str, Any], *, job_id: str, description: str,
                delay_s: float = 0, meta: dict[str, Any] | None = None,
                with_it: Callable[[Pipeline], None] | None = None) -> str:
        """Queue a job of `kind`; with `delay_s`, RQ's scheduler (run by the workers) queues it then, never sooner.

        One round trip (RQ's own enqueue makes two), in one MULTI with what `with_it` adds to it."""
        try:
            with self._redis.pipeline() as pipeline:
                self._stage(pipeline, kind, kwargs, job_id, description, delay_s, meta, with_it)
                pipeline.execute()
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return job_id

    def enqueue_once(self, delivery: Delivery | tuple[Delivery, ...], kind: JobKind, kwargs: dict[str, Any], *,
                     job_id: str, description: str,
                     with_it: Callable[[Pipeline], None] | None = None) -> str | None:
        """As `enqueue`, the first time `delivery` comes; None, queuing nothing, for each time it comes again.
        Several deliveries: the first time none of them has come (one thing known by two names).

        Still one round trip: the check and the job's commands run together in Redis."""
        deliveries = delivery if isinstance(delivery, tuple) else (delivery,)
        try:
            with self._redis.pipeline() as pipeline:
                self._stage(pipeline, kind, kwargs, job_id, description, 0, None, with_it)
                staged: list[Any] = [d.remember_s for d in deliveries]
                for args, _options in pipeline.command_stack:
                    staged += [len(args), *args]
            first = self._queue_if_first(keys=[d.key for d in deliveries], args=staged)
        except redis.RedisError as exc:
            raise _unavailable(exc) from None
        return job_id if first else None

    def _stage(self, pipeline: Pipeline, kind: JobKind, kwargs: dict[str, Any], job_id: str, description: str,
               delay_s: float, meta: dict[str, Any] | None, with_it: Callable[[Pipeline], None] | None) -> None:
        if set(kwargs) != set(kind.parameters):
            raise ValueError(f"job {kind.name} takes {', '.join(kind.parameters)}, not {', '.join(kwargs)}")
        options: dict[str, Any] = {"job_id": job_id, "description": description, "job_timeout": kind.timeout_s,
                                   "result_ttl": RESULT_TTL_S, "failure_ttl": FAILURE_TTL_S,
                                   "on_failure": Callback(FAILURE_CALLBACK), "meta": meta,
                                   # Run again, first in line, when its worker dies (app/worker/reruns.py).
                                   "retry": Retry(max=JOB_RERUNS, enqueue_at_front=True)}
        queue = self._queues[kind.queue]
        if delay_s > 0:
            # RQ keeps the time in whole seconds, cut down: rounded up here, the job is never queued early.
            due = datetime.fromtimestamp(math.ceil(time.time() + delay_s), UTC)
            queue.enqueue_at(due, kind.function, kwargs=kwargs, pipeline=pipeline, **options)
        else:
            queue.enqueue_call(kind.function, kwargs=kwargs, timeout=kind.timeout_s, pipeline=pipeline,
                               **{k: v for k, v in options.items() if k != "job_timeout"})
        pipeline.zadd(roll_key(kind.queue), {job_id: time.time()}, nx=True)
        if with_it is not None:
            with_it(pipeline)
