"""`acme worker --processes N` as real processes on the test Redis: replaced children, warm and cold stops, bursts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from app.queueing.job_table import SUMMARY_QUEUE
from tests.conftest import Stack

WAIT_S = 30.0


def _wait_for(predicate: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited too long for {what}")
        time.sleep(0.05)


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, state) of every process on the machine, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        found.append((int(entry.name), int(fields[1]), int(fields[2]), fields[0]))
    return found


def _children(pid: int) -> set[int]:
    return {child for child, parent, _, state in _processes() if parent == pid and state != "Z"}


def _left_in_groups(groups: set[int]) -> set[int]:
    """Processes still running in these process groups (zombies waiting for init do not count)."""
    return {pid for pid, _, group, state in _processes() if group in groups and state != "Z"}


def _ended(pid: int) -> bool:
    """Exited (a zombie left for its new parent to reap counts)."""
    return not any(p == pid and state != "Z" for p, _, _, state in _processes())


def _registered_pids(connection: redis.Redis) -> set[int]:
    return {worker.pid for worker in Worker.all(connection=connection)}


class Supervised:
    """An `acme worker` process started by a test, with what it logged."""

    def __init__(self, stack: Stack, tmp_path: Path, *args: str, **env: str) -> None:
        self.log_path = tmp_path / f"worker-{len(list(tmp_path.glob('worker-*.log')))}.log"
        settings = stack.settings
        variables = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "ACME_"))}
        variables.update(SLACK_BOT_TOKEN=settings.slack_bot_token.get_secret_value(),  # type: ignore[union-attr]
                         SLACK_API_URL=settings.slack_api_url, CRM_BASE_URL=settings.crm_base_url,
                         REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url, LOG_LEVEL="INFO",
                         # One job at a time in each process unless a test says otherwise: the counts below are
                         # of processes.
                         WORKER_THREADS="1")
        variables.update(env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "app", "worker", *args], env=variables,
                                            cwd=tmp_path, stderr=log)
        self.groups: set[int] = set()

    def children(self) -> set[int]:
        found = _children(self.process.pid)
        self.groups |= found  # each child leads a group of its own
        return found

    def log(self) -> str:
        return self.log_path.read_text()

    def kill_everything(self) -> None:
        self.children()
        self.process.kill()
        self.process.wait()
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture()
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(stack: Stack, *args: str, **env: str) -> Supervised:
        started.append(Supervised(stack, tmp_path, *args, **env))
        return started[-1]

    yield start
    for supervised in started:
        supervised.kill_everything()


def _two_workers_up(supervised: Supervised, connection: redis.Redis) -> set[int]:
    children: set[int] = set()

    def up() -> bool:
        children.clear()
        children.update(supervised.children())
        return len(children) == 2 and children <= _registered_pids(connection)

    _wait_for(up, "two worker processes registered with RQ")
    return set(children)


def _scheduled_last(pid: int) -> bool:
    """The process asked to run after others, and so did its session (app/worker/lower_priority.py)."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    return os.getpriority(os.PRIO_PROCESS, pid) == 19 and (
        not autogroup.exists() or autogroup.read_text().strip().endswith(" nice 19"))


def _replaced(supervised: Supervised, killed: int, connection: redis.Redis) -> bool:
    children = supervised.children()
    return killed not in children and len(children) == 2 and children <= _registered_pids(connection)


def _summaries(stack: Stack) -> int:
    return sum("Summary of" in call.text for call in stack.slack.calls)


def _stop_with_jobs_in_flight(stack: Stack, supervised: Supervised, redis_conn: redis.Redis,
                              customers: tuple[str, ...], in_flight: int) -> None:
    """Summaries of `customers` on a slow CRM, a stop once `in_flight` of them run: those finish, the rest wait."""
    stack.crm.faults("slow", delay_s=0.5)
    for customer in customers:
        assert stack.slash(f"summary {customer}").text == "Working on it..."
    started = StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: started.count == in_flight, f"{in_flight} summaries running at once")
    running = started.get_job_ids()

    supervised.process.send_signal(signal.SIGTERM)
    assert supervised.process.wait(timeout=WAIT_S) == 0

    assert _summaries(stack) == in_flight
    assert all(Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.FINISHED for job_id in running)
    queue = Queue(SUMMARY_QUEUE, connection=redis_conn)
    assert queue.count == len(customers) - in_flight
    assert all(job.get_status() == JobStatus.QUEUED for job in queue.jobs)
    assert redis_conn.scard("rq:workers") == 0  # each worker said it stopped


def test_a_killed_worker_process_is_replaced_and_the_replacements_run_jobs(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "2")
    first = _two_workers_up(supervised, redis_conn)
    assert all(_scheduled_last(pid) for pid in first)

    for victim in sorted(first):
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda killed=victim: _replaced(supervised, killed, redis_conn), f"a replacement for {victim}")
    replacements = supervised.children()
    assert not replacements & first
    assert all(_scheduled_last(pid) for pid in replacements)

    # Only the replacements are left to run it.
    assert stack.slash("summary Globex").text == "Working on it..."
    _wait_for(lambda: _summaries(stack) == 1, "the summary")

    supervised.process.send_signal(signal.SIGTERM)
    assert supervised.process.wait(timeout=WAIT_S) == 0
    log = supervised.log()
    for victim in first:
        assert f"worker process {victim} was killed by SIGKILL" in log
    # Nothing outlives them, not even the RQ scheduler a killed child had forked.
    _wait_for(lambda: not _left_in_groups(supervised.groups), "every worker's processes to end")
    # The replacements said they stopped; the killed ones could not (RQ drops them when their key expires).
    assert not _registered_pids(redis_conn) & replacements


def test_a_stop_lets_the_jobs_in_flight_finish_and_leaves_the_queued_ones_queued(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "2")
    _two_workers_up(supervised, redis_conn)
    _stop_with_jobs_in_flight(stack, supervised, redis_conn, ("Globex", "Initech", "Hooli"), in_flight=2)
    assert "warm stop" in supervised.log()


def test_one_process_runs_quick_jobs_at_once_and_a_stop_lets_them_all_finish(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "1", WORKER_THREADS="3")
    summary_workers = Queue(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: len(Worker.all(queue=summary_workers)) == 3, "three workers of the summaries in one process")
    assert len({worker.pid for worker in Worker.all(queue=summary_workers)}) == 1
    _stop_with_jobs_in_flight(stack, supervised, redis_conn, ("Globex", "Initech", "Hooli", "Umbrella"), in_flight=3)


def test_a_stop_leaves_no_scheduler_behind_to_hold_its_locks(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    # Sweeps every second, and a job of three: the main loop's maintenance falls due while its job ends.
    supervised = start_worker(stack, "--processes", "1", WORKER_JOB_LEASE_S="3")
    _wait_for(lambda: redis_conn.keys("rq:scheduler-lock:*"), "the worker's scheduler to take its locks")
    stack.crm.faults("slow", delay_s=1.5)
    assert stack.slash("summary Globex").text == "Working on it..."
    started = StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: started.count == 1, "the summary to start")
    supervised.process.send_signal(signal.SIGTERM)
    assert supervised.process.wait(timeout=WAIT_S) == 0
    assert _summaries(stack) == 1
    # Left behind, the locks kept every other worker from queueing the jobs put off for later for a minute.
    assert not redis_conn.keys("rq:scheduler-lock:*")
    assert "started a scheduler" not in supervised.log()


def test_a_second_stop_signal_stops_the_jobs_in_flight_and_the_next_worker_runs_them(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "2")
    _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=3)
    assert stack.slash("summary Globex").text == "Working on it..."
    started = StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: started.count == 1, "a worker to be running the job")
    [job_id] = started.get_job_ids()

    supervised.process.send_signal(signal.SIGINT)
    # Two signals sent at once would arrive as one, where a person presses Ctrl+C twice.
    _wait_for(lambda: "warm stop" in supervised.log(), "the warm stop")
    supervised.process.send_signal(signal.SIGINT)
    assert supervised.process.wait(timeout=WAIT_S) == 0

    # Not failed, and nobody told it failed: queued again, first in line, as when its worker dies.
    assert Job.fetch(job_id, connection=redis_conn).get_status() == JobStatus.QUEUED
    assert _summaries(stack) == 0
    assert not any("Something went wrong" in call.text for call in stack.slack.calls)
    assert "cold stop" in supervised.log() and "Traceback" not in supervised.log()

    stack.crm.faults("ok")
    assert start_worker(stack, "--burst", "--processes", "1").process.wait(timeout=WAIT_S) == 0
    assert _summaries(stack) == 1


def test_burst_processes_drain_the_queue_and_exit(stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    for customer in ("Globex", "Initech", "Hooli"):
        assert stack.slash(f"summary {customer}").text == "Working on it..."

    supervised = start_worker(stack, "--burst", "--processes", "2", SLACK_BOT_TOKNE="typo")
    assert supervised.process.wait(timeout=WAIT_S) == 0
    assert supervised.log().count("not a setting, and ignored: SLACK_BOT_TOKNE") == 1  # by the supervisor alone

    assert Queue(SUMMARY_QUEUE, connection=redis_conn).count == 0
    assert _summaries(stack) == 3
    assert supervised.log().count("is done: the queues are empty") == 2


def test_a_burst_exits_non_zero_when_a_worker_process_fails(stack_factory, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--burst", "--processes", "2", REDIS_URL="redis://127.0.0.1:1/0")
    assert supervised.process.wait(timeout=WAIT_S) == 1
    assert supervised.log().count("not replaced (--burst)") == 2


def test_jobs_queued_after_a_worker_is_killed_wait_for_the_next_worker_not_for_what_it_forked(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "1", WORKER_THREADS="3")
    summary_workers = Queue(SUMMARY_QUEUE, connection=redis_conn)
    _wait_for(lambda: len(Worker.all(queue=summary_workers)) == 3 and _children(supervised.process.pid),
              "three workers of the summaries, and RQ's scheduler forked")
    [scheduler] = _children(supervised.process.pid)
    _wait_for(lambda: redis_conn.keys("rq:scheduler-lock:*"), "the scheduler to take its locks")
    try:
        supervised.process.kill()
        supervised.process.wait()
        # The scheduler outlives its worker until a supervisor ends its group; meanwhile the worker's blocked pops
        # must have ended with it, or Redis hands them the next jobs, which then are in no queue and never run.
        customers = ("Globex", "Initech", "Hooli", "Umbrella")
        for customer in customers:
            assert stack.slash(f"summary {customer}").text == "Working on it..."
        assert Path(f"/proc/{scheduler}").exists(), "the scheduler ended before the jobs came: nothing was tested"
        time.sleep(0.3)
        assert Queue(SUMMARY_QUEUE, connection=redis_conn).count == len(customers)
        # Then it sees its worker gone and stops, giving up its locks to the next worker's scheduler.
        _wait_for(lambda: _ended(scheduler), "the scheduler to stop")
        assert not redis_conn.keys("rq:scheduler-lock:*")
    finally:
        try:
            os.kill(scheduler, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_worker_started_before_serve_brings_a_fresh_database_up_to_date(stack_factory, start_worker,
                                                                         tmp_path: Path) -> None:
    stack = stack_factory(worker=False)
    assert stack.slash("summary Globex").text == "Working on it..."
    fresh = tmp_path / "fresh.db"

    worker = start_worker(stack, "--burst", "--processes", "1", DATABASE_URL=f"sqlite:///{fresh}")
    assert worker.process.wait(timeout=WAIT_S) == 0

    assert _summaries(stack) == 1
    assert "no such table" not in worker.log() and "Traceback" not in worker.log()
    with sqlite3.connect(fresh) as db:
        assert db.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone() == (1,)


def test_the_worker_processes_end_with_a_supervisor_killed_outright_and_the_job_in_flight_finishes(
        stack_factory, redis_conn: redis.Redis, start_worker) -> None:
    stack = stack_factory(worker=False)
    supervised = start_worker(stack, "--processes", "2")
    children = _two_workers_up(supervised, redis_conn)
    stack.crm.faults("slow", delay_s=1.5)
    assert stack.slash("summary Globex").text == "Working on it..."
    _wait_for(lambda: StartedJobRegistry(SUMMARY_QUEUE, connection=redis_conn).count == 1, "the job to start")

    supervised.process.kill()  # no stop of its own: the kernel tells the children (SIGTERM, a warm stop)
    supervised.process.wait()
    _wait_for(lambda: all(_ended(child) for child in children), "the worker processes to end")
    assert _summaries(stack) == 1
    assert not _registered_pids(redis_conn) & children
