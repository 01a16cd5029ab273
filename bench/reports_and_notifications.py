"""Benchmark of the long and the proactive paths, run by hand: `python bench/reports_and_notifications.py`.

1. `/acme report` over a customer with --tickets tickets (paged reads, one history call per
   ticket through the CRM throttle, chart, upload): time from the ack to the "is ready" edit.
2. A burst of --burst signed CRM webhooks for urgent tickets: when each notification reached
   the Slack emulator, at the default pace (SLACK_CHANNEL_INTERVAL_S=1, SLACK_CHANNEL_BURST=3),
   and how long summaries asked in other channels meanwhile took to be posted.

Everything runs in this process tree on 127.0.0.1 (a real redis-server, the app under
uvicorn, a worker thread, the mock CRM, the Slack emulator) and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time

import httpx
from processes import wait_for

from app.composition import build_collaborators
from app.config import load_settings
from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.logs import configure_logging
from app.slack_emulator import SlackEmulator
from app.slack_request_signer import SlackRequestSigner
from app.store.db import upgrade
from app.web.app import create_web_app
from app.webhook_signature import crm_signature
from app.worker.runner import WorkerThread
from mock_crm.server import CrmState, create_crm_app

NOTIFY = "C0NOTIFY"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--reports", type=int, default=3)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    configure_logging("ERROR")

    redis_server = EmbeddedRedis().start()
    crm_state = CrmState()
    slack = SlackEmulator()
    crm = BackgroundServer(create_crm_app(crm_state), name="mock-crm").start()
    slack_server = BackgroundServer(slack.asgi_app(), name="slack").start()
    signing_secret, webhook_secret = secrets.token_hex(16), secrets.token_hex(16)
    database = tempfile.TemporaryDirectory(prefix="acme-bench-")
    database_url = f"sqlite:///{database.name}/acme.db"
    upgrade(database_url)
    settings = load_settings(
        database_url=database_url, redis_url=redis_server.url, crm_base_url=crm.url,
        slack_api_url=f"{slack_server.url}/api/", slack_bot_token=f"xoxb-bench-{secrets.token_hex(6)}",
        slack_signing_secret=signing_secret, crm_webhook_secret=webhook_secret, slack_notify_channel=NOTIFY)
    collaborators = build_collaborators(settings)
    app = BackgroundServer(create_web_app(collaborators), name="acme-serve").start()
    worker = WorkerThread(collaborators).start()
    signer = SlackRequestSigner(signing_secret, response_base_url=slack_server.url)
    http = httpx.Client(base_url=app.url, timeout=10)
    try:
        print(f"settings: CRM_MAX_RPS={settings.crm_max_rps:g}, SLACK_CHANNEL_INTERVAL_S="
              f"{settings.slack_channel_interval_s:g}, SLACK_CHANNEL_BURST={settings.slack_channel_burst}")
        durations = []
        for n in range(args.reports):
            customer = crm_state.customers[10 + n]
            for t in range(args.tickets):
                crm_state.tickets.append({
                    "id": f"tkt_b{n}_{t:04d}", "customer_id": customer["id"], "subject": f"Bench issue {t}",
                    "priority": ["low", "normal", "high", "urgent"][t % 4], "status": ["open", "closed"][t % 2],
                    "created_at": f"2026-{1 + t % 10:02d}-{1 + t % 28:02d}T09:00:00+00:00"})
            crm_calls = crm_state.api_requests
            channel = f"C0REPORT{n}"
            body, headers = signer.slash_command(f"report {customer['id']}", channel=channel, user="U0BENCH")
            acked_at = time.monotonic()
            assert http.post("/slack/events", content=body, headers=headers).text == "Working on it..."
            wait_for(lambda channel=channel: any(c.method == "chat.update" and c.payload.get("channel") == channel
                                                 and "is ready" in c.text for c in slack.calls), 600, poll_s=0.01)
            durations.append(time.monotonic() - acked_at)
            print(f"report {n + 1}: {customer['name']}, {args.tickets} tickets: {durations[-1]:.2f} s from ack to "
                  f"'is ready'; {crm_state.api_requests - crm_calls} CRM calls")
        print(f"\n1. report over {args.tickets} tickets: median {statistics.median(durations):.2f} s "
              f"(min {min(durations):.2f}, max {max(durations):.2f}) over {len(durations)} reports")

        sent_at = time.monotonic()
        for n in range(args.burst):
            event = json.dumps({"id": f"evt_bench_{n}", "type": "ticket.created", "created_at": "2026-11-21T10:00:00Z",
                                "data": {"id": f"tkt_n{n}", "customer_id": "cus_001", "subject": f"Burst {n}",
                                         "priority": "urgent", "status": "open"}})
            stamp = str(int(time.time()))
            answer = http.post("/webhooks/crm", content=event, headers={
                "Content-Type": "application/json", "X-CRM-Timestamp": stamp,
                "X-CRM-Signature": crm_signature(webhook_secret, stamp, event.encode())})
            assert answer.status_code == 202, answer.text
        acked_in = time.monotonic() - sent_at
        def posted() -> list:
            return [c for c in slack.calls if c.method == "chat.postMessage" and c.payload.get("channel") == NOTIFY]

        # Summaries asked in other channels while the burst waits for its turns: they need not wait for it.
        elsewhere: list[float] = []
        while len(posted()) < args.burst:
            channel = f"C0ELSE{len(elsewhere):03d}"
            body, headers = signer.slash_command("summary cus_002", channel=channel, user="U0BENCH")
            asked_at = time.monotonic()
            assert http.post("/slack/events", content=body, headers=headers).text == "Working on it..."
            wait_for(lambda channel=channel: any(c.method == "chat.postMessage" and c.payload.get("channel") == channel
                                                 for c in slack.calls), 120, poll_s=0.002)
            elsewhere.append((time.monotonic() - asked_at) * 1000)
            time.sleep(0.25)

        wait_for(lambda: len(posted()) >= args.burst, 120, poll_s=0.01)
        time.sleep(1.5)
        times = sorted(c.at for c in posted())
        subjects = [c.text.split("Burst ")[1].split(".")[0] for c in posted()]
        span = times[-1] - times[0]
        busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
        print(f"\n2. burst of {args.burst} webhooks (all acked 202 in {acked_in * 1000:.0f} ms): "
              f"{len(times)} notifications, {len(set(subjects))} distinct, over {span:.2f} s from first to last: "
              f"{(len(times) - 1) / span:.2f}/s after the first; at most {busiest} in any 1 s window; "
              f"first one {(times[0] - sent_at) * 1000:.0f} ms after the first webhook; "
              f"{'in' if subjects == sorted(subjects, key=int) else 'NOT in'} the order sent")
        print(f"   summaries asked in other channels during the burst, ack -> posted: "
              f"p50 {statistics.median(elsewhere):.0f} ms, max {max(elsewhere):.0f} ms (n={len(elsewhere)})")
    finally:
        worker.stop()
        for server in (app, slack_server, crm):
            server.stop()
        collaborators.close()
        redis_server.stop()
        database.cleanup()


if __name__ == "__main__":
    main()
