"""Reading the shared state every process sees, breakers and queues, from Redis."""

from __future__ import annotations

from datetime import UTC, datetime

from rq import Queue
from rq.job import Job

from app.domain.system_status import BreakerStatus, QueueStatus, SystemStatus
from app.integrations.resilience import SharedBreaker


def _oldest_wait_s(queue: Queue, now: datetime) -> float | None:
    first = queue.get_job_ids(0, 0)
    if not first:
        return None
    job = Job.fetch(first[0], connection=queue.connection)
    if job.enqueued_at is None:
        return None
    enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
    return max(0.0, (now - enqueued).total_seconds())


def read_status(breakers: list[SharedBreaker], queues: list[Queue]) -> SystemStatus:
    """Raises redis.RedisError when Redis does not answer."""
    now = datetime.now(UTC)
    return SystemStatus(
        tuple(BreakerStatus(b.name, state := b.state, b.retry_in_s() if state == "open" else None) for b in breakers),
        tuple(QueueStatus(q.name, q.count, _oldest_wait_s(q, now)) for q in queues),
    )
