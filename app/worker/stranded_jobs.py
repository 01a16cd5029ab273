"""Jobs that a worker took off their queue and died before starting: queued again.

A worker that listens on several queues (ours do) takes a job with BLPOP, and writes its start in a later
round trip. Killed between the two, it leaves a job that is `queued` in its hash and in no queue and no
registry: nothing would ever run it. (RQ's own remedy, its intermediate list, covers workers of one queue.)

Each job queued through JobQueue is on its queue's roll (app/queueing/job_queue.py) until it ends. A sweep,
one worker's a turn, finds where the roll's jobs are with a few commands a queue, for all of them at once:
- in its queue, started, scheduled or deferred: left on the roll;
- finished, failed, cancelled or gone: taken off it;
- `queued` but nowhere: a suspect. A suspect still so at a sweep `confirm_s` later (a live worker starts what
  it took within milliseconds) is queued again, first in line. A Lua script decides that in Redis, so a job
  that a worker started meanwhile, or that is back in its queue, is left alone.
"""

from __future__ import annotations

import logging
import math
import time

import redis
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

from app.queueing.job_queue import roll_key
from app.state.suspects import confirmed

log = logging.getLogger(__name__)
TURN_KEY = "acme:sweep:stranded-jobs"
SUSPECTS_KEY = "acme:sweep:stranded-jobs:suspects"
# A job queued this recently may still be on its way into its queue: not looked at yet.
SETTLE_S = 2.0
# The oldest this many of a queue's roll are looked at a sweep; the rest at the next ones.
BATCH = 5000
_DUE_REGISTRIES = (ScheduledJobRegistry, DeferredJobRegistry)
_ENDED_REGISTRIES = (FinishedJobRegistry, FailedJobRegistry, CanceledJobRegistry)
_ENDED = {"finished", "failed", "stopped", "canceled"}
_QUEUE_AGAIN = """
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
"""


class StrandedJobs:
    def __init__(self, connection: redis.Redis, queue_names: tuple[str, ...], every_s: float,
                 confirm_s: float) -> None:
        self._redis = connection
        self._queue_names = queue_names
        self._every_s = max(1, math.ceil(every_s))
        self.confirm_s = confirm_s
        self._queue_again = connection.register_script(_QUEUE_AGAIN)

    def __call__(self) -> list[str] | None:
        """Sweep if no worker has in the last `every_s`; None when it was another's turn. Raises RedisError."""
        # Left to expire, not deleted: the key is both the lock and the time of the next turn.
        if not self._redis.set(TURN_KEY, 1, nx=True, ex=self._every_s):
            return None
        return self.sweep()

    def sweep(self, now: float | None = None) -> list[str]:
        """Queue again the stranded jobs confirmed at this sweep; answers their ids."""
        at = time.time() if now is None else now
        with self._redis.pipeline(transaction=False) as pipeline:
            for name in self._queue_names:
                pipeline.zrangebyscore(roll_key(name), "-inf", at - SETTLE_S, start=0, num=BATCH)
            rolled = {name: [_text(i) for i in ids] for name, ids in zip(self._queue_names, pipeline.execute(),
                                                                         strict=True) if ids}
        nowhere: dict[str, str] = {}  # job id -> its queue's name
        ended: dict[str, list[str]] = {}
        with self._redis.pipeline(transaction=False) as pipeline:
            for name, ids in rolled.items():
                _where(pipeline, name, ids)
            answers = iter(pipeline.execute())
        for name, ids in rolled.items():
            due = {_text(i) for i in next(answers)} | {_text(i) for i in next(answers)}
            due |= {_text(entry).split(":")[0] for entry in next(answers)}
            for _ in _DUE_REGISTRIES:
                due |= {job_id for job_id, score in zip(ids, next(answers), strict=True) if score is not None}
            done: set[str] = set()
            for _ in _ENDED_REGISTRIES:
                done |= {job_id for job_id, score in zip(ids, next(answers), strict=True) if score is not None}
            ended[name] = [job_id for job_id in ids if job_id in done]
            nowhere.update({job_id: name for job_id in ids if job_id not in due and job_id not in done})
        suspects = self._suspects(nowhere, ended)
        self._forget_ended(ended)
        return self._queue_again_confirmed(suspects, at)

    def _suspects(self, nowhere: dict[str, str], ended: dict[str, list[str]]) -> dict[str, str]:
        """Of the jobs in no queue and no registry: the ones their hash says are queued; the gone and the ended
        are added to `ended`."""
        ids = list(nowhere)
        with self._redis.pipeline(transaction=False) as pipeline:
            for job_id in ids:
                pipeline.hget(f"rq:job:{job_id}", "status")
            statuses = [_text(s) if s is not None else None for s in pipeline.execute()] if ids else []
        suspects = {}
        for job_id, status in zip(ids, statuses, strict=True):
            if status is None or status in _ENDED:
                ended.setdefault(nowhere[job_id], []).append(job_id)
            elif status == "queued":
                suspects[job_id] = nowhere[job_id]
        return suspects

    def _forget_ended(self, ended: dict[str, list[str]]) -> None:
        with self._redis.pipeline(transaction=False) as pipeline:
            for name, ids in ended.items():
                if ids:
                    pipeline.zrem(roll_key(name), *ids)
            pipeline.execute()

    def _queue_again_confirmed(self, suspects: dict[str, str], at: float) -> list[str]:
        found = confirmed(self._redis, SUSPECTS_KEY, suspects, at, self.confirm_s)
        queued_again = []
        for job_id in found:
            queue_key = f"rq:queue:{suspects[job_id]}"
            if self._queue_again(keys=[f"rq:job:{job_id}", queue_key], args=[job_id]):
                log.warning("job %s was taken off %s by a worker that stopped before starting it: queued again",
                            job_id, suspects[job_id])
                queued_again.append(job_id)
        return queued_again


def _where(pipeline: redis.client.Pipeline, queue_name: str, ids: list[str]) -> None:
    """In this order: the queue, its intermediate list (workers of one queue), the started registry (entries are
    job:execution), then the due registries' and the ended registries' scores for `ids`."""
    pipeline.lrange(f"rq:queue:{queue_name}", 0, -1)
    pipeline.lrange(f"rq:queue:{queue_name}:intermediate", 0, -1)
    pipeline.zrange(StartedJobRegistry.key_template.format(queue_name), 0, -1)
    for registry in (*_DUE_REGISTRIES, *_ENDED_REGISTRIES):
        pipeline.zmscore(registry.key_template.format(queue_name), ids)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
