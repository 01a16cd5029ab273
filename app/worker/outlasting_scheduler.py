"""RQ's scheduler (the process that queues jobs when they are due: Slack posts waiting for their turn or for
Slack to come back, approvals' expiry), made to outlast a Redis outage.

RQ's own loop dies on the first Redis error, with a traceback of about fifty lines, and a worker starts a new
one only at its ten-minute maintenance: meanwhile every job queued for later waited. Here the loop waits for
Redis with a backoff, in one line a failure, and takes up its work where it was.
"""

from __future__ import annotations

import logging
import time

import redis
from rq.scheduler import RQScheduler

from app.worker.redis_waits import RedisWaits

log = logging.getLogger("app.worker.scheduler")


class OutlastingScheduler(RQScheduler):
    redis_url: str = ""

    def work(self) -> None:
        self._install_signal_handlers()
        waits = RedisWaits(self.redis_url, log, stopping=lambda: bool(self._stop_requested))
        born = False
        while not self._stop_requested:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
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
