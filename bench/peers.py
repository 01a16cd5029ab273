"""The benchmark's downstreams in a process of their own: the mock CRM, the Slack emulator, and (with
--model-port) a model that answers at once with a two-tool turn.

Kept apart from the load generator so neither steals the other's interpreter lock.
GET /_bench/calls on the Slack port answers what Slack received, with receive times; GET /_bench/first
?channel=C&method=M waits for the first such call and answers when it came, so that a benchmark waiting for
an answer asks once instead of polling the process it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from app.http_server import BackgroundServer
from app.model_emulator import ModelAnswer, ModelEmulator, call, say
from app.slack_emulator import SlackCall, SlackEmulator
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
    parser.add_argument("--crm-port", type=int)
    parser.add_argument("--slack-port", type=int)
    parser.add_argument("--model-port", type=int)
    parser.add_argument("--model-delay-s", type=float, default=0.0, help="how long the model takes to answer")
    args = parser.parse_args()
    first_seen: dict[tuple[str, str], float] = {}

    def seen(call: SlackCall) -> None:
        first_seen.setdefault((str(call.payload.get("channel")), call.method), call.at)

    slack = SlackEmulator(on_call=seen)

    async def calls(request: Request) -> JSONResponse:
        return JSONResponse([{"method": c.method, "channel": c.payload.get("channel"), "text": c.text,
                              "at": c.at, "received_at": c.received_at} for c in slack.calls])

    async def first(request: Request) -> JSONResponse:
        key = (request.query_params["channel"], request.query_params["method"])
        deadline = time.monotonic() + 30
        while key not in first_seen and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        return JSONResponse({"at": first_seen.get(key)})

    slack_app = Starlette(routes=[Route("/_bench/calls", calls), Route("/_bench/first", first),
                                  Mount("/", slack.asgi_app())])
    if args.crm_port:
        BackgroundServer(create_crm_app(), port=args.crm_port, name="mock-crm").start()
    if args.slack_port:
        BackgroundServer(slack_app, port=args.slack_port, name="slack").start()
    if args.model_port:
        def slow_turn(body: dict) -> ModelAnswer:
            return dataclasses.replace(two_tool_turn(body), delay_s=args.model_delay_s)

        BackgroundServer(ModelEmulator(slow_turn).asgi_app(), port=args.model_port, name="model").start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
