"""`acme worker` outlasting Redis: started while it is down, and while it restarts with the worker idle and mid-job."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq.registry import StartedJobRegistry
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.embedded_redis import EmbeddedRedis, free_port
from app.integrations.breaker_storage import SnapshotRedisStorage
from app.queueing.job_table import SUMMARY_QUEUE
from tests.conftest import Stack
from tests.integration.test_worker_processes import Supervised, _two_workers_up, _wait_for, start_worker  # noqa: F401


class RestartableRedis:
    """A redis-server of the test's own, stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server = EmbeddedRedis(self.port).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture()
def own_redis() -> Iterator[RestartableRedis]:
    server = RestartableRedis()
    yield server
    server.stop()


def _summaries(stack: Stack) -> int:
    return sum("Summary of" in call.text for call in stack.slack.calls)


def _no_traceback_nor_exit(supervised: Supervised) -> None:
    log = supervised.log()
    assert "unhandled exception" not in log and "quitting" not in log
    assert supervised.process.poll() is None
    # The worker's own lines about Redis are one line each. (RQ's scheduler process and pybreaker's Redis
    # storage still log tracebacks of their own when Redis goes away.)
    worker_lines = [line for line in log.splitlines() if " app.worker" in line]
    assert all("Traceback" not in line for line in worker_lines)


def test_a_worker_started_while_redis_is_down_says_so_waits_and_then_works(
        stack_factory, own_redis: RestartableRedis, start_worker) -> None:  # noqa: F811
    stack = stack_factory(worker=False, redis_url=own_redis.url)
    supervised: Supervised = start_worker(stack, "--processes", "1")
    refused = f"cannot reach Redis at {own_redis.url} (starting): Connection refused; retrying in"
    _wait_for(lambda: supervised.log().count(refused) >= 3, "the worker to say, again, that Redis is down")
    waits = [float(w) for w in re.findall(re.escape(refused) + r" ([\d.]+) s", supervised.log())]
    assert waits[:3] == [0.5, 1, 2]  # backing off

    own_redis.start()
    _wait_for(lambda: "Redis at" in supervised.log() and "answers again" in supervised.log(), "Redis to be found")
    assert stack.slash("summary Globex").text == "Working on it..."
    _wait_for(lambda: _summaries(stack) == 1, "the summary")
    _no_traceback_nor_exit(supervised)


def test_a_worker_outlasts_redis_restarting_while_idle_and_mid_job(
        stack_factory, own_redis: RestartableRedis, start_worker, tmp_path: Path) -> None:  # noqa: F811
    own_redis.start()
    stack = stack_factory(worker=False, redis_url=own_redis.url)
    supervised: Supervised = start_worker(stack, "--processes", "1", WORKER_JOB_LEASE_S="3")
    _wait_for(lambda: "Listening on" in supervised.log(), "the worker to start")

    # Idle: Redis goes away and comes back on the same port.
    own_redis.stop()
    _wait_for(lambda: "cannot reach Redis at" in supervised.log(), "the worker to notice")
    own_redis.start()
    _wait_for(lambda: "answers again" in supervised.log(), "Redis to be found again")
    assert stack.slash("summary Globex").text == "Working on it..."
    _wait_for(lambda: _summaries(stack) == 1, "the summary after the idle outage")

    # Mid-job: the job's end cannot be recorded (and Redis comes back empty: no persistence here).
    stack.crm.faults("slow", delay_s=1.5)
    assert stack.slash("summary Initech").text == "Working on it..."
    _wait_for(lambda: "command-" in supervised.log().rsplit("Globex", 1)[-1] or
              supervised.log().count("acme-summaries: command-") >= 2, "the worker to take the job")
    own_redis.stop()
    _wait_for(lambda: supervised.log().count("cannot reach Redis at") >= 3, "the worker to notice, mid-job")
    own_redis.start()
    stack.crm.faults("ok")
    before = _summaries(stack)
    assert stack.slash("summary Hooli").text == "Working on it..."
    _wait_for(lambda: any("Hooli" in call.text and "Summary of" in call.text for call in stack.slack.calls),
              "a job taken after Redis came back")
    assert _summaries(stack) >= before + 1
    _no_traceback_nor_exit(supervised)
    # One line a failure: every line that says Redis failed is a short one.
    failures = [line for line in supervised.log().splitlines() if "cannot reach Redis" in line]
    assert failures and all(len(line) < 300 for line in failures)


def _descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_a_scheduler_whose_locks_another_took_stops_and_one_is_kept(
        stack_factory, own_redis: RestartableRedis, start_worker) -> None:  # noqa: F811
    # As when Redis comes back empty and another worker's scheduler asks for the locks first.
    own_redis.start()
    stack = stack_factory(worker=False, redis_url=own_redis.url)
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S="3")
    _wait_for(lambda: supervised.log().count("Listening on") >= 2, "both workers to start")

    def schedulers() -> int:  # the workers' own processes: each worker's, and its scheduler's if it has one
        return len(_descendants(supervised.process.pid)) - 2

    _wait_for(lambda: schedulers() == 1, "one scheduler")
    connection = redis.Redis.from_url(own_redis.url)
    locks = connection.keys("rq:scheduler-lock:*")
    for lock in locks:
        connection.set(lock, "another-scheduler", ex=60)
    _wait_for(lambda: "this one stops" in supervised.log() and schedulers() == 0, "the scheduler to stop")
    connection.delete(*locks)  # the other one stops in turn
    _wait_for(lambda: schedulers() == 1 and len({connection.get(lock) for lock in locks}) == 1,
              "a worker to start one again, for all the queues")
    _no_traceback_nor_exit(supervised)


def test_a_breaker_whose_redis_is_gone_logs_one_line_per_failure(own_redis: RestartableRedis,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    own_redis.start()
    storage = SnapshotRedisStorage(redis.Redis.from_url(own_redis.url, socket_connect_timeout=0.5), "outage-test")
    own_redis.stop()
    with caplog.at_level("INFO"):
        storage.snapshot()
        storage.increment_counter()
    lines = [r for r in caplog.records if r.name == "app.integrations.breaker_storage"]
    assert len(lines) == 2
    assert all(r.levelname == "WARNING" and r.exc_info is None and "Connection" in r.getMessage() for r in lines)


def test_jobs_queued_for_later_still_run_after_redis_restarts(
        stack_factory, own_redis: RestartableRedis, start_worker) -> None:  # noqa: F811
    own_redis.start()
    stack = stack_factory(worker=False, redis_url=own_redis.url)
    supervised: Supervised = start_worker(stack, "--processes", "1")
    _wait_for(lambda: "Listening on" in supervised.log() and "Scheduler for" in supervised.log(),
              "the worker and its scheduler to start")
    own_redis.stop()
    # Long enough for RQ's scheduler, which looks every second, to meet the outage too.
    _wait_for(lambda: supervised.log().count("cannot reach Redis at") >= 3, "the worker to notice")
    own_redis.start()
    _wait_for(lambda: "answers again" in supervised.log(), "Redis to be found again")

    # Slack asks for a wait: the summary goes out later, queued by the scheduler when due.
    stack.slack.fail_next("chat.postMessage", 429, headers={"Retry-After": "1"})
    assert stack.slash("summary Globex").text == "Working on it..."
    _wait_for(lambda: _summaries(stack) == 1, "the summary queued for later, after the outage")
    log = supervised.log()
    assert "Traceback" not in log, "the scheduler (or anything) logged a traceback for the outage"
    assert "could not connect to Redis instance" not in log  # RQ's own line every 2 s: said once, by the loop
    _no_traceback_nor_exit(supervised)


def test_the_api_without_redis_reads_the_database_says_when_to_come_back_for_the_rest_and_logs_it_once(
        stack_factory, own_redis: RestartableRedis, caplog: pytest.LogCaptureFixture) -> None:
    own_redis.start()
    stack: Stack = stack_factory(worker=False, redis_url=own_redis.url)
    workflow = stack.http.post("/v1/workflows", json={"name": "w"}).json()
    queued = stack.http.post(f"/v1/workflows/{workflow['id']}/run").json()["run_id"]
    own_redis.stop()

    read = [stack.http.get(path) for path in ("/v1/workflows", f"/v1/workflows/{workflow['id']}", "/v1/runs")]
    assert [r.status_code for r in read] == [200] * 3
    refused = [stack.http.post(f"/v1/workflows/{workflow['id']}/run", headers=headers)
               for headers in ({}, {"Idempotency-Key": "k1"}, {})]
    assert [r.status_code for r in refused] == [503] * 3, [r.text for r in refused]
    assert all(r.headers["retry-after"] and r.json()["error"]["code"] == "unavailable" for r in refused)
    cancel = stack.http.post(f"/v1/runs/{queued}/cancel")  # where its job is, only Redis knows
    assert cancel.status_code == 503 and cancel.headers["retry-after"] == "5", cancel.text
    said = [r for r in caplog.records if "rate limiter unavailable" in r.getMessage() and r.levelname == "ERROR"]
    assert len(said) == 1
    # The metrics say Redis is away, and still give what the database knows; no warning a breaker a scrape.
    metrics = stack.http.get("/metrics").text
    assert "acme_redis_up 0.0" in metrics and "acme_database_up 1.0" in metrics and "acme_runs" in metrics
    assert "acme_queue_depth" not in metrics
    assert not [r for r in caplog.records if "falling back to default circuit state" in r.getMessage()]
    # A socket is opened, then closed as "try again later" with the reason: not refused as a bad key is.
    with connect(stack.app.url.replace("http://", "ws://") + "/v1/ws", open_timeout=5) as socket:
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    assert socket.close_code == 1013 and "Redis" in (socket.close_reason or "")

    own_redis.start()
    assert stack.http.get("/v1/workflows").status_code == 200
    assert any("rate limiter available again" in r.getMessage() for r in caplog.records)
    assert [stack.http.get("/v1/tools").status_code for _ in range(2)] == [200, 200]


def test_a_job_running_through_a_redis_pause_longer_than_its_lease_runs_once(
        stack_factory, own_redis: RestartableRedis, start_worker) -> None:  # noqa: F811
    own_redis.start()
    stack = stack_factory(worker=False, redis_url=own_redis.url)
    connection = redis.Redis.from_url(own_redis.url)
    # Two processes: the one not running the job looks for lapsed leases as soon as Redis answers again.
    supervised: Supervised = start_worker(stack, "--processes", "2", WORKER_JOB_LEASE_S="3")
    _two_workers_up(supervised, connection)
    stack.crm.faults("slow", delay_s=5)
    assert stack.slash("summary Globex").text == "Working on it..."
    started = StartedJobRegistry(SUMMARY_QUEUE, connection=connection)
    _wait_for(lambda: started.count == 1, "the job to start")
    requests_before = stack.crm.state.api_requests

    pid = int(connection.info("server")["process_id"])
    os.kill(pid, signal.SIGSTOP)  # hung, not gone: past the job's lease, while it waits on the CRM
    time.sleep(4.5)
    os.kill(pid, signal.SIGCONT)

    _wait_for(lambda: _summaries(stack) == 1, "the summary")
    time.sleep(6)  # two looks for lapsed leases and more, by both processes
    assert _summaries(stack) == 1
    assert "stopped renewing its lease" not in supervised.log()
    # The summary's two CRM reads, once: the job was not run a second time beside the first.
    assert stack.crm.state.api_requests - requests_before <= 2
