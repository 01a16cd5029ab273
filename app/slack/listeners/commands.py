"""`/acme ...`: help, status and a missing customer answered in the ack; the rest queued, once per delivery.

A command Slack signed once and that comes again (a replay, within the signature's 300 s either way) queues
nothing; what is answered in the ack is answered again, as it does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import redis
from slack_bolt import App, BoltContext

from app.domain.system_status import SystemStatus
from app.messages.bot import WORKING, help_text, queue_unavailable, status_unavailable, system_status
from app.messages.customers import needs_customer
from app.queueing.job_queue import Delivery, JobQueue, QueueUnavailable, new_request_id
from app.queueing.slack_request import SlackRequest
from app.slack.intents import Ask, Help, MissingCustomer, Status, job_for, parse_command

log = logging.getLogger(__name__)
# Where the web endpoint puts a slash command's delivery in Bolt's context (Socket Mode puts none).
COMMAND_DELIVERY = "acme_command_delivery"
# A signature verifies while its timestamp is within 300 s of the clock, either way: a replay can
# come up to 600 s after the first delivery.
COMMAND_REPLAY_MEMORY_S = 600


def command_delivery(timestamp: str, signature: str) -> Delivery:
    """One slash command delivery: Slack signs each command once, so the same pair is a replay."""
    fingerprint = hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()
    return Delivery("slack-command", fingerprint, COMMAND_REPLAY_MEMORY_S)


def register(app: App, *, jobs: JobQueue, read_system_status: Callable[[], SystemStatus]) -> None:
    @app.command("/acme")
    def on_acme_command(ack: Any, command: dict[str, Any], context: BoltContext) -> None:
        intent = parse_command(command.get("text", ""))
        if isinstance(intent, Help):
            help_message = help_text(intent.unknown)
            ack(text=help_message.text, blocks=help_message.blocks)
            return
        if isinstance(intent, MissingCustomer):
            ack(text=needs_customer(intent.verb, intent.too_long).text)
            return
        if isinstance(intent, Status):
            # Answered here, not queued: it is most wanted when the queue is stuck.
            try:
                status = system_status(read_system_status())
            except redis.RedisError as exc:
                log.error("could not read the status: %s", exc)
                ack(text=status_unavailable())
                return
            ack(text=status.text, blocks=status.blocks)
            return
        job, customer = job_for(intent)
        request = SlackRequest(
            request_id=new_request_id(),
            origin="command",
            team_id=command.get("team_id", ""),
            channel_id=command["channel_id"],
            user_id=command.get("user_id", ""),
            customer=customer,
            text=intent.text if isinstance(intent, Ask) else None,
        )
        try:
            queued = jobs.enqueue_slack(job, request, response_url=command.get("response_url"),
                                        once=context.get(COMMAND_DELIVERY))
        except QueueUnavailable as exc:
            log.error("could not queue /acme %s: %s", command.get("text", "").split(" ")[0], exc)
            ack(text=queue_unavailable(exc.maybe_queued))
            return
        if queued is None:
            log.warning("a slash command was delivered again with the same signature; not acted on")
            ack()
            return
        ack(text=WORKING)
