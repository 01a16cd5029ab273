"""The benchmark's downstreams in a process of their own: the mock CRM and the Slack emulator.

Kept apart from the load generator so neither steals the other's interpreter lock.
GET /_bench/calls on the Slack port answers what Slack received, with receive times.
"""

from __future__ import annotations

import argparse
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from app.http_server import BackgroundServer
from app.slack_emulator import SlackEmulator
from mock_crm.server import create_crm_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crm-port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    args = parser.parse_args()
    slack = SlackEmulator()

    async def calls(request: Request) -> JSONResponse:
        return JSONResponse([{"method": c.method, "channel": c.payload.get("channel"), "text": c.text,
                              "at": c.at, "received_at": c.received_at} for c in slack.calls])

    slack_app = Starlette(routes=[Route("/_bench/calls", calls), Mount("/", slack.asgi_app())])
    BackgroundServer(create_crm_app(), port=args.crm_port, name="mock-crm").start()
    BackgroundServer(slack_app, port=args.slack_port, name="slack").start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
