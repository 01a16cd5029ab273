"""RQ's scheduler (the process that queues jobs when they are due: Slack posts waiting for their turn or for
Slack to come back, approvals' expiry), made to outlast a Redis outage.

RQ's own loop dies on the first Redis error, with a traceback of about fifty lines, and a worker starts a new
one only at its ten-minute maintenance: meanwhile every job queued for later waited. Here the loop waits for
Redis with a backoff, in one line a failure, and takes up its work where it was. Its process, a fork of the
worker, first lets go of the worker's connections (app/worker/inherited_sockets.py), and stops when the worker
is gone.
"""

from __future__ import annotations

import logging
import os
import time
from multiprocessing import get_context
from multiprocessing.process import BaseProcess

import redis
from rq.scheduler import RQScheduler, run

from app.worker.inherited_sockets import detach_inherited_sockets
from app.worker.redis_waits import RedisWaits

log = logging.getLogger("app.worker.scheduler")


class OutlastingScheduler(RQScheduler):
    redis_url: str = ""
    worker_pid: int = 0

    def start(self) -> BaseProcess:
        # RQ's own start, but for what its process does first.
        self._status = self.Status.STARTED
        self.worker_pid = os.getpid()
        self._connection = None  # the child makes its own
        process = get_context("fork").Process(target=_run_detached, args=(self,), name="Scheduler")
        self._process = process  # type: ignore[assignment]  # RQ declares it None at first
        process.start()
        return process

    def work(self) -> None:
        self._install_signal_handlers()
        waits = RedisWaits(self.redis_url, log, stopping=lambda: bool(self._stop_requested))
        born = False
        while not self._stop_requested:
            if self.worker_pid and os.getppid() != self.worker_pid:
                # Its worker was killed (a worker that stops stops it first): a scheduler left on its own would
                # hold the locks for as long as it lives, where the next worker's would take them at once.
                log.warning("the worker that started this scheduler is gone; the scheduler stops")
                break
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                if not self._acquired_locks:
                    # Another worker's scheduler took them all (Redis came back empty and it was first): one
                    # scheduler is enough, and this one would only wait, idle, to take them back.
                    log.info("another worker's scheduler holds the locks now; this one stops")
                    break
                self.enqueue_scheduled_jobs()
            except redis.RedisError as exc:
                waits.failed(exc, "queuing the jobs that are due")
                continue
            waits.answered()
            time.sleep(self.interval)
        try:
            self.stop()
        except redis.RedisError as exc:
            # Its locks lapse on their own; the next scheduler takes them then.
            log.warning("the scheduler stopped without releasing its locks: %s", exc)


def _run_detached(scheduler: OutlastingScheduler) -> None:
    detached = detach_inherited_sockets()
    log.debug("the scheduler let go of %d connections of its worker", detached)
    run(scheduler)
