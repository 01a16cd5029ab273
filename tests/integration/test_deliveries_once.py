"""A delivery that comes again queues nothing, and one whose job Redis refused is not taken as delivered."""

from __future__ import annotations

import pytest
import redis
from rq import Queue

from app.queueing.job_queue import Delivery, JobQueue, QueueUnavailable
from app.queueing.job_table import NOTIFY
from app.state.response_urls import ResponseUrls

EVENT = {"event": {"id": "evt_1", "type": "ticket.created", "data": {}}}


def _queue(connection: redis.Redis) -> JobQueue:
    return JobQueue(connection, ResponseUrls(connection))


def test_a_delivery_queues_its_job_the_first_time_only(redis_conn: redis.Redis) -> None:
    jobs = _queue(redis_conn)
    delivery = Delivery("crm-event", "evt_1", 60)

    first = jobs.enqueue_once(delivery, NOTIFY, EVENT, job_id="crm-evt_1", description="notify")
    again = jobs.enqueue_once(delivery, NOTIFY, EVENT, job_id="crm-evt_1-again", description="notify")

    assert (first, again) == ("crm-evt_1", None)
    assert Queue(NOTIFY.queue, connection=redis_conn).job_ids == ["crm-evt_1"]
    assert 0 < redis_conn.ttl(delivery.key) <= 60


def test_a_delivery_whose_job_redis_refused_is_queued_when_it_comes_again(redis_conn: redis.Redis) -> None:
    jobs = _queue(redis_conn)
    delivery = Delivery("crm-event", "evt_2", 60)
    queue_key = Queue(NOTIFY.queue, connection=redis_conn).key
    redis_conn.set(queue_key, "not a list")  # the push fails, after the job's hash was written

    with pytest.raises(QueueUnavailable, match="WRONGTYPE"):
        jobs.enqueue_once(delivery, NOTIFY, EVENT, job_id="crm-evt_2", description="notify")
    assert not redis_conn.exists(delivery.key)

    redis_conn.delete(queue_key)
    assert jobs.enqueue_once(delivery, NOTIFY, EVENT, job_id="crm-evt_2", description="notify") == "crm-evt_2"
    assert Queue(NOTIFY.queue, connection=redis_conn).job_ids == ["crm-evt_2"]
