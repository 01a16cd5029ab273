"""Duplicates and delays after each Slack fault: N summaries through the whole stack, Slack failing as asked.

Each scenario starts a fresh stack in this process (the app under uvicorn, two workers, a redis-server of its
own, the mock CRM, the fake Slack), sends N slash commands (one channel each, so Slack's pace per channel is
not what is measured), makes Slack fail as the scenario says, and prints, once every summary is posted or the
wait runs out: summaries expected, posted, duplicates (must be 0), missing, askers told of a failure, and the
time from the first command to the last summary. The outages (429s, 500s) last 10 s, then Slack answers again.
Real time: the quick retries sleep 1, 2, 4 s, and jobs that wait for Slack run again later through RQ's
scheduler.

    .venv/bin/python -m bench.slack_faults [--count 50] [--retry-after 3] [--only posted-then-500]
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import redis

from app.composition import Collaborators, build_collaborators
from app.config import load_settings
from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.slack_emulator import SlackEmulator
from app.slack_request_signer import SlackRequestSigner
from app.store.db import upgrade
from app.web.app import create_web_app
from app.worker.runner import WorkerThread
from mock_crm.server import CrmState, create_crm_app

WORKERS = 2
TIMEOUT_S = 1  # Slack's timeout in the timeout scenario: an answer later than this is never read


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[SlackEmulator, int, float], None]  # (slack, count, retry_after_s)
    settings: dict[str, object]
    outage_s: float = 0.0  # then Slack stops failing


SCENARIOS = (
    Scenario("none", lambda slack, n, r: None, {}),
    # Slack refuses every post with Retry-After for the outage: each job runs again that much later, again.
    Scenario("429 Retry-After", lambda slack, n, r: slack.fail_next(
        "chat.postMessage", 429, error="ratelimited", headers={"Retry-After": f"{r:g}"}, times=10**6), {},
        outage_s=10.0),
    # Slack answers 500 to every post for the outage: the breaker opens after 5 failures, jobs wait for its trials.
    Scenario("500 burst", lambda slack, n, r: slack.fail_next("chat.postMessage", 500, times=10**6), {},
             outage_s=10.0),
    # Slack posts the message, then answers 500: the retry must find it rather than post it again.
    Scenario("posted-then-500", lambda slack, n, r: slack.fail_next("chat.postMessage", 500, accepted=True,
                                                                   times=n), {}),
    # Slack posts the message and answers after our timeout.
    Scenario("timeout-after-accept", lambda slack, n, r: slack.fail_next(
        "chat.postMessage", 500, accepted=True, delay_s=TIMEOUT_S + 0.5, times=n), {"slack_timeout_s": TIMEOUT_S}),
)


@dataclass
class Outcome:
    expected: int
    posted: int
    duplicates: int
    missing: int
    told: int
    to_last_s: float


def run(scenario: Scenario, count: int, retry_after_s: float, redis_url: str, wait_s: float) -> Outcome:
    redis.Redis.from_url(redis_url).flushdb()
    slack = SlackEmulator()
    slack_server = BackgroundServer(slack.asgi_app(), name="fake-slack").start()
    crm_server = BackgroundServer(create_crm_app(CrmState()), name="mock-crm").start()
    database = tempfile.mkdtemp(prefix="acme-bench-")
    values: dict[str, object] = {
        "redis_url": redis_url, "crm_base_url": crm_server.url, "slack_api_url": f"{slack_server.url}/api/",
        "slack_bot_token": f"xoxb-bench-{secrets.token_hex(8)}", "slack_signing_secret": secrets.token_hex(16),
        "database_url": f"sqlite:///{database}/acme.db", "log_level": "ERROR",
        # An outage's waits, shortened so that a scenario takes seconds: the same code paths as an hour's.
        "slack_retry_later_s": 2.0, "slack_breaker_reset_s": 5.0, **scenario.settings,
    }
    settings = load_settings(**values)
    upgrade(settings.database_url)
    built: list[Collaborators] = [build_collaborators(settings) for _ in range(WORKERS + 1)]
    app = BackgroundServer(create_web_app(built[0]), name="acme-serve").start()
    workers = [WorkerThread(c, name=f"acme-worker-{n}").start() for n, c in enumerate(built[1:])]
    signer = SlackRequestSigner(settings.slack_signing_secret.get_secret_value(),  # type: ignore[union-attr]
                                response_base_url=slack_server.url)
    channels = [f"C0B{n:04d}" for n in range(count)]
    try:
        scenario.inject(slack, count, retry_after_s)
        started = time.time()
        if scenario.outage_s:
            threading.Timer(scenario.outage_s, slack.stop_failing).start()
        with httpx.Client(base_url=app.url, timeout=10) as http:
            for n, channel in enumerate(channels):
                body, headers = signer.slash_command(f"summary cus_{n % 20 + 1:03d}", channel=channel, user="U0BENCH")
                http.post("/slack/events", content=body, headers=headers).raise_for_status()

        def summaries() -> list[dict]:
            return [m for m in list(slack.messages.values()) if str(m.get("text", "")).startswith("Summary of")]

        deadline = time.monotonic() + wait_s
        while len({m["channel"] for m in summaries()}) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # room for a copy, were one coming
        posted = summaries()
        per_channel = Counter(m["channel"] for m in posted)
        last_seen = max((c.received_at for c in slack.calls if c.method == "chat.postMessage"
                         and str(c.payload.get("text", "")).startswith("Summary of")), default=started)
        return Outcome(count, len(posted), sum(n - 1 for n in per_channel.values()),
                       sum(1 for c in channels if c not in per_channel),
                       sum(1 for c in slack.calls if c.method == "response_url"), last_seen - started)
    finally:
        for worker in workers:
            worker.request_stop()
        for worker in workers:
            worker.join(10)
        app.stop()
        for collaborators in built:
            collaborators.close()
        slack_server.stop()
        crm_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="summaries per scenario")
    parser.add_argument("--retry-after", type=float, default=3.0, help="seconds the 429s ask for")
    parser.add_argument("--wait", type=float, default=180.0, help="longest wait for the summaries, per scenario")
    parser.add_argument("--only", choices=[s.name for s in SCENARIOS], action="append")
    args = parser.parse_args()
    server = EmbeddedRedis().start()
    try:
        print(f"{'fault':<22} {'expected':>8} {'posted':>6} {'dupes':>5} {'missing':>7} {'told':>4} {'to last':>8}")
        for scenario in SCENARIOS:
            if args.only and scenario.name not in args.only:
                continue
            out = run(scenario, args.count, args.retry_after, server.url, args.wait)
            print(f"{scenario.name:<22} {out.expected:>8} {out.posted:>6} {out.duplicates:>5} {out.missing:>7} "
                  f"{out.told:>4} {out.to_last_s:>7.1f}s", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
