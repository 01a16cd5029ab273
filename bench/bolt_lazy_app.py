"""The comparison for bench/throughput.py: a Bolt app as Slack's samples write one, in one process.

`/acme summary <customer>` is acked by an `ack` function and summarized by a lazy listener, which Bolt
runs in a thread of the same process after the ack: the same CRM calls, summary and message as
`acme worker`'s job, with none of its queue, runs, breaker or pacing. Served by uvicorn through
Bolt's Starlette adapter, as `acme serve` is. Settings from the environment, as the benchmark gives them.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import uvicorn
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain.customers import Customer, Matched, Ticket, resolve_customer
from app.domain.summary import summarize
from app.messages.customers import customer_summary


def build_app() -> Starlette:
    bolt = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
               client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
               process_before_response=True, token_verification_enabled=False)
    crm = httpx.Client(base_url=os.environ["CRM_BASE_URL"], timeout=10)

    def acknowledge(ack: Ack) -> None:
        ack("Working on it...")

    def summarize_customer(body: dict[str, Any], client: WebClient) -> None:
        query = body["text"].removeprefix("summary").strip()
        found = crm.get("/customers", params={"q": query, "limit": 6}).json()["customers"]
        resolution = resolve_customer(query, [Customer.from_crm(record) for record in found])
        if not isinstance(resolution, Matched):
            return
        tickets = crm.get(f"/customers/{resolution.customer.id}/tickets").json()["tickets"]
        message = customer_summary(summarize(resolution.customer, [Ticket.from_crm(t) for t in tickets]))
        client.chat_postMessage(channel=body["channel_id"], text=message.text, blocks=message.blocks)

    bolt.command("/acme")(ack=acknowledge, lazy=[summarize_customer])
    handler = SlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/healthz", lambda request: Response("ok"))])


if __name__ == "__main__":
    uvicorn.run(build_app(), host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None, access_log=False)
