"""`AcmeWorker`: RQ's SimpleWorker, giving the jobs it runs their collaborators, with its bookkeeping in
fewer round trips to Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.suspension import is_suspended
from rq.utils import now
from rq.worker import WorkerStatus

from app.composition import Collaborators
from app.queueing.job_table import QUEUE_ORDER
from app.runs.history import RunHistory
from app.runs.orphans import OrphanRuns
from app.worker.current import working_with
from app.worker.job_leases import LeaseKeeper, renew_every_s
from app.worker.orphan_sweep import OrphanSweep
from app.worker.quiet_failures import QuietFailures
from app.worker.redis_outlasting import RedisOutlasting
from app.worker.started_job import StartedJob
from app.worker.stranded_jobs import StrandedJobs

log = logging.getLogger(__name__)

# RQ's loop beats the worker's heartbeat up to three times a job, each a round trip of its own, for a key
# that lives worker_ttl (420 s): a beat every few seconds keeps the worker just as alive.
HEARTBEAT_EVERY_S = 5.0
# `rq suspend` is noticed within this long, instead of a round trip before every job.
SUSPENSION_CHECK_EVERY_S = 1.0
# A job's own heartbeat at its end is for the callbacks' time limit; a job this short has a fresh one.
FRESH_JOB_HEARTBEAT_S = 10.0

class AcmeWorker(RedisOutlasting, QuietFailures, SimpleWorker):
    """Works the queues in QUEUE_ORDER, and gives the jobs it runs its own collaborators.

    SimpleWorker runs each job in this process instead of forking: a job starts in about
    3 ms instead of 10 ms, and the CRM client and breaker are built once. RQ's bookkeeping
    is kept (registries, results, statistics, heartbeats while a job runs) with fewer round
    trips to Redis: repeated writes of an unchanged state, a heartbeat on every turn of the loop
    and a watch for job dependencies we never use cost about half of a summary's Redis commands.
    """

    # RQ logs four lines at INFO per job; its start and its "Job OK" say enough.
    log_result_lifespan = False
    job_class = StartedJob

    def __init__(self, collaborators: Collaborators, queues: tuple[str, ...] = QUEUE_ORDER,
                 on_loop_started: Callable[[], object] | None = None,
                 on_stop_requested: Callable[[], object] | None = None) -> None:
        # RQ raises the socket timeout of the connection it is given to fit its blocking
        # dequeue; the jobs' own Redis calls keep their short timeout on a connection of their own.
        super().__init__(list(queues), connection=redis.Redis.from_url(collaborators.settings.redis_url))
        self.collaborators = collaborators
        self._started_job_id: str | None = None
        self._running: tuple[Job, Execution] | None = None
        self._lease_s = collaborators.settings.worker_job_lease_s
        self._leases = _lease_keeper(self.connection, self._lease_s)
        self.sweep_every_s = renew_every_s(self._lease_s)
        history = RunHistory(collaborators.db, collaborators.run_events)
        self.orphan_sweep = OrphanSweep(OrphanRuns(history, collaborators.redis, self._lease_s), collaborators.redis,
                                        every_s=self._lease_s)
        # Confirmed a little under a sweep apart: the next sweep queues again what a dead worker took.
        self.stranded_sweep = StrandedJobs(collaborators.redis, queues, every_s=self.sweep_every_s,
                                           confirm_s=0.8 * self.sweep_every_s)
        self.outlast_redis(collaborators.settings.redis_url)
        self._on_loop_started = on_loop_started
        self._on_stop_requested = on_stop_requested
        self._unrecorded_successes = 0
        self._unrecorded_working_s = 0.0
        self._suspension_checked_at = 0.0
        # Imported now, not at the first job: its first answer is not slowed, and the memory the worker
        # will use is taken at start.
        import app.worker.entrypoints  # noqa: F401, PLC0415

        if collaborators.llm is not None:
            collaborators.llm.prepare()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # The first time the loop waits for a job: its stop signals are handled by then, and a signal that
        # comes now is RQ's to handle, inside its loop.
        if self._on_loop_started is not None:
            started, self._on_loop_started = self._on_loop_started, None
            started()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        # At the signal, not when this loop's own job ends: the process's other workers take no job meanwhile.
        if self._on_stop_requested is not None:
            self._on_stop_requested()

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None,
                  only_if_due: bool = False) -> None:
        beat_recently = (self.last_heartbeat is not None and
                         (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY_S)
        if (pipeline is None or only_if_due) and timeout is None and beat_recently:
            return
        if pipeline is not None:
            self._record_successes(pipeline)
            super().heartbeat(timeout, pipeline)
            return
        try:
            with self.connection.pipeline() as beat:
                self._record_successes(beat)
                super().heartbeat(timeout, beat)
                beat.execute()
        except redis.RedisError as exc:
            # Said by the loop's next Redis call, which waits for it; a heartbeat missed costs nothing yet.
            log.debug("worker heartbeat failed: %s", exc)

    def _record_successes(self, pipeline: Pipeline) -> None:
        # RQ counts a worker's successes and working time with two writes a job; here they are added up and
        # written with the heartbeat, every few seconds (and when the worker stops).
        if self._unrecorded_successes:
            pipeline.hincrby(self.key, "successful_job_count", self._unrecorded_successes)
            pipeline.hincrbyfloat(self.key, "total_working_time", self._unrecorded_working_s)
            self._unrecorded_successes, self._unrecorded_working_s = 0, 0.0

    def get_heartbeat_ttl(self, job: Job) -> int:
        # A short lease, renewed by the process's LeaseKeeper while the job runs: a dead worker's job is
        # noticed within it, not after the job's whole time limit.
        return self._lease_s

    def running(self) -> tuple[Job, Execution] | None:
        """The job this worker runs now, and its execution (for the LeaseKeeper's thread)."""
        return self._running

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is None and state == getattr(self, "_state", None):
            return
        super().set_state(state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        checked_at = time.monotonic()
        if checked_at - self._suspension_checked_at < SUSPENSION_CHECK_EVERY_S:
            return
        self._suspension_checked_at = checked_at
        try:
            if is_suspended(self.connection, self):
                super().check_for_suspension(burst)
        except redis.RedisError:
            pass  # the loop's next Redis call waits for it, and says so

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            self._execute(job, queue)
        except redis.RedisError as exc:
            self.lost_redis_running(job, exc)

    def _execute(self, job: Job, queue: Queue) -> None:
        # RQ writes a job's start in two MULTI blocks (its execution and the worker's state, then the job's
        # own fields and heartbeats), a field a command, and PERSISTs the job's key when it runs it; here
        # it is one round trip, a command a key, and prepare_job_execution finds it done. Not a MULTI: a
        # start written in part (its worker died) is a start whose lease lapses, as one written whole.
        with self.connection.pipeline(transaction=False) as pipeline:
            self.execution = Execution.create(job, self.get_heartbeat_ttl(job), pipeline=pipeline,
                                              worker_name=self.name)
            self._state = WorkerStatus.BUSY
            pipeline.hset(self.key, mapping={"state": WorkerStatus.BUSY.value, "current_job": job.id,
                                             "current_job_working_time": 0})
            self.heartbeat(pipeline=pipeline, only_if_due=True)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            pipeline.persist(job.key)
            if len(self.queues) == 1:  # RQ moved it to the queue's intermediate list when it took it
                pipeline.lrem(queue.intermediate_queue_key, 1, job.id)
            pipeline.execute()
        self._started_job_id = job.id
        self._running = (job, self.execution)
        try:
            self.perform_job(job, queue)
        finally:
            self._running = None
        self.set_state(WorkerStatus.IDLE)

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        if self._started_job_id == job.id:
            self._started_job_id = None
            return
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        job.ended_at = now()
        if job.started_at is None or (job.ended_at - job.started_at).total_seconds() > FRESH_JOB_HEARTBEAT_S:
            job.heartbeat(job.ended_at, heartbeat_ttl)

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry: StartedJobRegistry) -> None:
        if job._dependency_ids or job.repeats_left:
            super().handle_job_success(job, queue, started_job_registry)
            return
        # RQ's own version watches the job's dependents key and reads it, for jobs queued to run after
        # this one; no job here is queued that way (JobQueue.enqueue), so the writes go in one MULTI.
        assert job.started_at is not None and job.ended_at is not None
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        self._unrecorded_successes += 1
        self._unrecorded_working_s += (job.ended_at - job.started_at).total_seconds()
        with self.connection.pipeline() as pipeline:
            if result_ttl > 0 and isinstance(job, StartedJob):
                job.record_success(result_ttl, pipeline)
                if job._result is not None:  # None is what RQ answers for a job without a result
                    Result.create(job, Result.Type.SUCCESSFUL, return_value=job._result, ttl=result_ttl,
                                  worker_name=self.name, pipeline=pipeline,
                                  execution_id=self.execution.id if self.execution else None,
                                  execution_started_at=self.execution.created_at if self.execution else None,
                                  execution_ended_at=job.ended_at)
            else:
                if result_ttl != 0:
                    job._handle_success(result_ttl, pipeline=pipeline, worker_name=self.name,
                                        execution_id=self.execution.id if self.execution else None,
                                        execution_started_at=self.execution.created_at if self.execution else None,
                                        execution_ended_at=job.ended_at)
                job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            self.set_state(WorkerStatus.IDLE, pipeline=pipeline)
            pipeline.execute()

    def register_death(self) -> None:
        with self.connection.pipeline() as pipeline:
            self._record_successes(pipeline)
            pipeline.execute()
        super().register_death()

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # For the whole loop, not per job: RQ also runs failure callbacks while it cleans up.
        self._leases.keep(self)
        try:
            with working_with(self.collaborators):
                return bool(super().work(*args, **kwargs))
        finally:
            self._leases.forget(self)


_keepers: dict[tuple[str, int], LeaseKeeper] = {}


def _lease_keeper(connection: redis.Redis, lease_s: int) -> LeaseKeeper:
    """One keeper (one thread) for all the workers of this process that share a Redis."""
    key = (repr(connection.connection_pool), lease_s)
    if key not in _keepers:
        _keepers[key] = LeaseKeeper(connection, lease_s)
    return _keepers[key]
