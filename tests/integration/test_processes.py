"""`acme serve` and `acme worker` as real processes: start-up checks, the full flow, and secrets kept out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from app.embedded_redis import free_port
from app.http_server import BackgroundServer
from app.slack_request_signer import SlackRequestSigner
from mock_crm.server import CrmState, create_crm_app
from tests.conftest import CHANNEL, USER, FakeSlack

BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN"
SIGNING_SECRET = "s1gning-secret-never-logged"
CRM_TOKEN = "crm-token-never-logged"
API_KEY = "api-key-never-logged"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "ACME_"))}
    env.update(extra)
    return env


def test_serve_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "serve"], env=_clean_env(), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_misspelt_setting_and_a_users_token_are_said_and_an_unanswering_database_is_one_line(tmp_path: Path) -> None:
    env = _clean_env(SLACK_BOT_TOKNE="xoxb-typo", SLACK_BOT_TOKEN="xoxp-1-users-own-token",
                     DATABASE_URL="postgres://u:sekret@127.0.0.1:1/db")
    result = subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "sekret" not in result.stderr
    assert "not a setting, and ignored: SLACK_BOT_TOKNE" in result.stderr
    assert "SLACK_BOT_TOKEN is not a bot token (xoxb-...)" in result.stderr and "users-own" not in result.stderr
    assert "the database at postgresql+psycopg://u:***@127.0.0.1:1/db did not answer" in result.stderr


def test_worker_refuses_to_start_without_the_bot_token(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "worker", "--burst"], env=_clean_env(), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr


@pytest.fixture()
def crm_with_token() -> Iterator[tuple[CrmState, BackgroundServer]]:
    state = CrmState()
    server = BackgroundServer(create_crm_app(state, token=CRM_TOKEN), name="crm").start()
    yield state, server
    server.stop()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("acme serve exited early")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("acme serve did not start")


def test_serve_and_worker_processes_run_the_flow_and_never_log_a_secret(
    tmp_path: Path, redis_conn: redis.Redis, redis_url: str, fake_slack: FakeSlack, crm_with_token
) -> None:
    crm_state, crm = crm_with_token
    port = free_port()
    env = _clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, CRM_API_TOKEN=CRM_TOKEN,
        SLACK_API_URL=f"{fake_slack.url}/api/", CRM_BASE_URL=crm.url, REDIS_URL=redis_url, PORT=str(port),
        LOG_LEVEL="DEBUG", CRM_BREAKER_FAIL_MAX="1", ACME_API_KEYS=f"other-key,{API_KEY}",
    )
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    with serve_log.open("wb") as serve_err, worker_log.open("wb") as worker_err:
        serve = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, cwd=tmp_path, stderr=serve_err)
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], env=env, cwd=tmp_path, stderr=worker_err)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_serving(url, serve)
            signer = SlackRequestSigner(SIGNING_SECRET, response_base_url=fake_slack.url)
            body, headers = signer.slash_command("summary Globex", channel=CHANNEL, user=USER)
            assert httpx.post(f"{url}/slack/events", content=body, headers=headers).text == "Working on it..."
            body, headers = signer.app_mention("summarize Initech", channel=CHANNEL, user=USER)
            assert httpx.post(f"{url}/slack/events", content=body, headers=headers).status_code == 200
            fake_slack.api.wait_for(lambda calls: sum("Summary of" in c.text for c in calls) == 2, timeout_s=30)
            api = httpx.get(f"{url}/v1/workflows", headers={"Authorization": f"Bearer {API_KEY}"})
            assert api.status_code == 200
            assert httpx.get(f"{url}/v1/workflows", headers={"Authorization": "Bearer wrong"}).status_code == 401

            # A failure path too: its errors and tracebacks must be as clean as the happy path.
            crm_state.faults.mode = "down"
            body, headers = signer.slash_command("summary Globex", channel=CHANNEL, user=USER)
            httpx.post(f"{url}/slack/events", content=body, headers=headers)
            fake_slack.api.wait_for(lambda calls: any("unavailable" in c.text for c in calls), timeout_s=30)
            job_records = b"".join(
                str(redis_conn.hgetall(key)).encode() for key in redis_conn.scan_iter("rq:job:*")
                if redis_conn.type(key) == b"hash"
            )
        finally:
            for process in (serve, worker):
                process.terminate()
                process.wait(timeout=15)

    logs = serve_log.read_text() + worker_log.read_text()
    assert "Circuit Breaker Tripped" in logs  # the logs were really captured, at DEBUG
    assert "Working on it" in logs or "summarize_customer" in logs
    assert "GET /v1/workflows 200" in logs and "request_id=" in logs  # the access log was there to read
    for secret in (BOT_TOKEN, SIGNING_SECRET, CRM_TOKEN, API_KEY):
        assert secret not in logs
        assert secret.encode() not in job_records
        assert not any(secret in str(c.payload) for c in fake_slack.api.calls)
    assert job_records  # the jobs were there to inspect
