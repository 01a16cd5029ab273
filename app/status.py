"""Reading the shared state every process sees, breakers and queues, from Redis: two round trips in all,
as the agent's status tool and `/acme status` read it on every ask."""

from __future__ import annotations

from datetime import UTC, datetime

from rq import Queue
from rq.job import Job
from rq.utils import utcparse

from app.domain.system_status import BreakerStatus, QueueStatus, SystemStatus
from app.integrations.resilience import SharedBreaker


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def read_status(breakers: list[SharedBreaker], queues: list[Queue]) -> SystemStatus:
    """Raises redis.RedisError when Redis does not answer."""
    if not queues and not breakers:
        return SystemStatus((), ())
    connection = queues[0].connection if queues else breakers[0].connection
    with connection.pipeline(transaction=False) as pipe:
        pipe.mget([key for breaker in breakers for key in breaker.status_keys()])
        for queue in queues:
            pipe.llen(queue.key)
            pipe.lindex(queue.key, 0)
        breaker_values, *queue_values = pipe.execute()
    counts, first_ids = queue_values[0::2], [_text(v) for v in queue_values[1::2]]
    with connection.pipeline(transaction=False) as pipe:
        for job_id in first_ids:
            pipe.hget(Job.key_for(job_id) if job_id else "acme:no-such-job", "enqueued_at")
        enqueued = [_text(v) for v in pipe.execute()]
    now = datetime.now(UTC)
    return SystemStatus(
        tuple(_breaker_status(b, _text(breaker_values[2 * i]), _text(breaker_values[2 * i + 1]))
              for i, b in enumerate(breakers)),
        tuple(QueueStatus(q.name, int(count), max(0.0, (now - utcparse(at)).total_seconds()) if at else None)
              for q, count, at in zip(queues, counts, enqueued, strict=True)),
    )


def _breaker_status(breaker: SharedBreaker, state: str | None, opened_at: str | None) -> BreakerStatus:
    state = state or "closed"
    if state != "open":
        return BreakerStatus(breaker.name, state, None)
    return BreakerStatus(breaker.name, state, breaker.retry_in_s_after(float(opened_at) if opened_at else None))
