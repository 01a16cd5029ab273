"""The benchmark's downstreams in a process of their own: the mock CRM, the Slack emulator, and (with
--model-port) a model that answers at once with a two-tool turn.

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
from app.model_emulator import ModelAnswer, ModelEmulator, call, say
from app.slack_emulator import SlackEmulator
from mock_crm.server import create_crm_app


def two_tool_turn(body: dict) -> ModelAnswer:
    """A customer's summary, then the system's status, then the answer: what a two-tool turn looks like."""
    done = sum(1 for message in body.get("messages", []) if message.get("role") == "tool")
    if done == 0:
        return call("summarize_customer", {"customer": "Globex"})
    if done == 1:
        return call("system_status", {})
    return say("Globex has two urgent tickets open, and everything is up.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crm-port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    parser.add_argument("--model-port", type=int)
    args = parser.parse_args()
    slack = SlackEmulator()

    async def calls(request: Request) -> JSONResponse:
        return JSONResponse([{"method": c.method, "channel": c.payload.get("channel"), "text": c.text,
                              "at": c.at, "received_at": c.received_at} for c in slack.calls])

    slack_app = Starlette(routes=[Route("/_bench/calls", calls), Mount("/", slack.asgi_app())])
    BackgroundServer(create_crm_app(), port=args.crm_port, name="mock-crm").start()
    BackgroundServer(slack_app, port=args.slack_port, name="slack").start()
    if args.model_port:
        BackgroundServer(ModelEmulator(two_tool_turn).asgi_app(), port=args.model_port, name="model").start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
