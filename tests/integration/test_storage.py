"""Storage that tells the truth: a locked SQLite database holds no answer, a deleted one says so."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from app.runs.builtin_workflows import SLACK_SUMMARY
from app.store.db import Database, upgrade
from app.store.models import Run
from tests.conftest import Stack


@pytest.fixture()
def own_sqlite(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A SQLite file of this test's own, to lock or delete without touching the other tests' database."""
    file = tmp_path / "acme.db"
    url = f"sqlite:///{file}"
    upgrade(url)
    yield url, file


def _runs_of(url: str, workflow_id: str) -> list[Run]:
    db = Database(url)
    try:
        with db.session() as session:
            return list(session.scalars(select(Run).where(Run.workflow_id == workflow_id)))
    finally:
        db.close()


def _wait_until(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not come true")
        time.sleep(0.02)


def test_a_locked_database_holds_no_summary_and_its_run_is_written_once_unlocked(
    stack_factory, own_sqlite: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, file = own_sqlite
    stack: Stack = stack_factory(database_url=url)
    caplog.set_level(logging.WARNING, logger="app.runs.record_writer")
    lock = sqlite3.connect(file, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        assert stack.slash("summary Globex").text == "Working on it..."
        stack.slack.wait_for(lambda calls: any("Globex" in c.text and "Summary" in c.text for c in calls))
        # Posted while the lock is still held; the run's record waits for the database instead.
        _wait_until(lambda: any("run records wait for the database" in r.getMessage() for r in caplog.records))
        assert lock.in_transaction
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    _wait_until(lambda: len(_runs_of(url, SLACK_SUMMARY.id)) == 1)
    assert _runs_of(url, SLACK_SUMMARY.id)[0].status == "succeeded"


def test_a_deleted_database_file_is_not_ready_and_refuses_writes(
    stack_factory, own_sqlite: tuple[str, Path]
) -> None:
    url, file = own_sqlite
    stack: Stack = stack_factory(database_url=url, worker=False)
    workflow = {"name": "before", "steps": [{"id": "s", "tool": "crm.get_customer", "args": {"customer": "Globex"}}]}
    assert stack.http.post("/v1/workflows", json=workflow).status_code == 201
    assert stack.http.get("/readyz").status_code == 200

    file.unlink()
    ready = stack.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable" and "acme.db" in ready.json()["reason"]
    answer = stack.http.post("/v1/workflows", json={**workflow, "name": "lost"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "unavailable"
    assert not file.exists()  # not created again, empty, by the attempt


def test_a_run_that_waits_while_the_database_is_locked_is_recorded_waiting_once_it_is_free(
    stack_factory, own_sqlite: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, file = own_sqlite
    stack: Stack = stack_factory(database_url=url, slack_channel_interval_s=1, slack_channel_burst=1)
    caplog.set_level(logging.WARNING, logger="app.runs.slack_runs")
    # The worker's first look for orphaned runs reads the database: done before the lock, not behind it.
    stack.http.post("/slack/events", **dict(zip(("content", "headers"), stack.signer.slash_command(
        "summary Hooli", channel="C0WARMUP", user="U0WARMUP"), strict=True)))
    stack.slack.wait_for(lambda calls: any(c.payload.get("channel") == "C0WARMUP" for c in calls), 10)
    lock = sqlite3.connect(file, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        # Two to one channel: the second waits its turn, and its run must say so while it waits.
        assert stack.slash("summary Globex").text == "Working on it..."
        assert stack.slash("summary Initech").text == "Working on it..."
        time.sleep(0.8)  # the second job has been put off and tries to write its run meanwhile
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    stack.slack.wait_for(lambda calls: sum(c.payload.get("channel") != "C0WARMUP" and "Summary" in c.text
                                           for c in calls) == 2, 10)
    _wait_until(lambda: sorted(run.status for run in _runs_of(url, SLACK_SUMMARY.id)) == ["succeeded"] * 3)
    assert not [r for r in caplog.records if "could not record" in r.getMessage()]


# --- several processes starting at once on an empty database -------------------------------------------------

def _upgrade_at_once(url: str, processes: int = 4) -> list[subprocess.CompletedProcess]:
    started = [subprocess.Popen([sys.executable, "-c", f"from app.store.db import upgrade; upgrade({url!r})"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in started]


def test_servers_starting_at_once_on_a_new_sqlite_file_take_turns_to_create_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/acme.db"
    finished = _upgrade_at_once(url)
    assert [f.returncode for f in finished] == [0] * 4, [f.stderr[-400:] for f in finished]
    assert _runs_of(url, SLACK_SUMMARY.id) == []  # the schema is there, whole


def test_servers_starting_at_once_on_a_new_postgresql_database_take_turns_to_create_it() -> None:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    name = f"acme_upgrade_{secrets.token_hex(4)}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        finished = _upgrade_at_once(url)
        assert [f.returncode for f in finished] == [0] * 4, [f.stderr[-400:] for f in finished]
        assert _runs_of(url, SLACK_SUMMARY.id) == []
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_an_api_run_that_cannot_start_while_the_database_is_out_starts_once_it_is_back(
    stack_factory, own_sqlite: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, file = own_sqlite
    stack: Stack = stack_factory(database_url=url, worker=False, acme_api_rate="1000/s")
    caplog.set_level(logging.WARNING, logger="app.worker.entrypoints")
    workflow = stack.http.post("/v1/workflows", json={"name": "look up", "steps": [
        {"id": "who", "tool": "crm.get_customer", "args": {"customer": "Globex"}}]}).json()
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {}}).json()["run_id"]
    lock = sqlite3.connect(file, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        stack.start_worker()
        _wait_until(lambda: any(f"run {run_id} could not start: the database is unavailable" in r.getMessage()
                                for r in caplog.records), timeout_s=20)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    _wait_until(lambda: stack.http.get(f"/v1/runs/{run_id}").json()["status"] == "succeeded", timeout_s=20)
    run = stack.http.get(f"/v1/runs/{run_id}").json()
    assert [(s["step_id"], s["status"]) for s in run["steps"]] == [("who", "succeeded")]


def test_a_run_waiting_for_slack_whose_next_job_meets_the_database_out_goes_on_once_it_is_back(
    stack_factory, own_sqlite: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, file = own_sqlite
    stack: Stack = stack_factory(database_url=url, acme_api_rate="1000/s")
    caplog.set_level(logging.WARNING, logger="app.worker.entrypoints")
    workflow = stack.http.post("/v1/workflows", json={"name": "tell", "steps": [
        {"id": "post", "tool": "slack.post_message", "args": {"channel": "C0TELL", "text": "renewed"}}]}).json()
    stack.slack.fail_next("chat.postMessage", 429, error="ratelimited", headers={"Retry-After": "2"})
    run_id = stack.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {}}).json()["run_id"]
    _wait_until(lambda: stack.http.get(f"/v1/runs/{run_id}").json()["status"] == "waiting")
    lock = sqlite3.connect(file, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # before its later job comes, 2 s on
    try:
        _wait_until(lambda: any(f"run {run_id} could not start" in r.getMessage() for r in caplog.records),
                    timeout_s=20)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    _wait_until(lambda: stack.http.get(f"/v1/runs/{run_id}").json()["status"] == "succeeded", timeout_s=20)
    posted = [c for c in stack.slack.calls if c.method == "chat.postMessage" and c.payload["channel"] == "C0TELL"]
    assert [c.text for c in posted] == ["renewed"]
