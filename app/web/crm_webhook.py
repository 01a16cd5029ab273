"""POST /webhooks/crm: verify, check, deduplicate and queue; the worker does the rest.

The body's size is capped while it streams in (app/web/body_limit.py); the HMAC is checked on the raw
bytes before they are parsed; the Redis calls run in the webhooks lane's threads, never on the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.domain.crm_events import CrmEvent, MalformedEvent, event_to_job_args, notification_for, parse_event
from app.logs import NowAndThen
from app.queueing.job_queue import CRM_EVENT_MEMORY_S, Delivery, JobQueue, QueueUnavailable
from app.queueing.job_table import NOTIFY
from app.web.thread_lanes import ThreadLane
from app.webhook_signature import crm_signature_is_valid

log = logging.getLogger(__name__)


def _answer(http_status: int, **body: str) -> JSONResponse:
    return JSONResponse(body, status_code=http_status)


def crm_webhook_endpoint(secret: str | None, notify_priorities: frozenset[str], jobs: JobQueue,
                        lane: ThreadLane) -> Callable[[Request], Awaitable[Response]]:

    def queue_once(event: CrmEvent) -> JSONResponse:
        try:
            queued = jobs.enqueue_once(Delivery("crm-event", event.id, CRM_EVENT_MEMORY_S), NOTIFY,
                                       {"event": event_to_job_args(event)}, job_id=event.job_id,
                                       description=f"notify {event.type} {event.id}")
        except QueueUnavailable as exc:
            # Not marked seen either: the CRM's next delivery of this event is acted on.
            log.error("could not queue CRM event %s: %s", event.id, exc)
            return _answer(503, error="the job queue is unavailable; deliver the event again later")
        if queued is None:
            log.info("CRM event %s delivered again; already acted on", event.id)
            return _answer(200, status="duplicate")
        return _answer(202, status="queued")

    refused = NowAndThen(log)

    async def receive(request: Request) -> Response:
        if not secret:
            return _answer(503, error="CRM webhooks are off: CRM_WEBHOOK_SECRET is not set")
        body = await request.body()
        if not crm_signature_is_valid(secret, request.headers.get("x-crm-timestamp"),
                                      request.headers.get("x-crm-signature"), body):
            refused.warning("refused a CRM webhook with a bad or stale signature: if every one is refused, "
                            "CRM_WEBHOOK_SECRET is not the CRM's")
            return _answer(401, error="bad or missing signature, or a timestamp more than 300 s away")
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            log.warning("refused a CRM webhook: %s", exc)
            return _answer(400, error=str(exc))
        except RecursionError:
            log.warning("refused a CRM webhook: its JSON is nested too deep")
            return _answer(400, error="the body is nested too deep")
        decision = notification_for(event, notify_priorities)
        if isinstance(decision, str):
            log.info("CRM event %s (%s) ignored: %s", event.id, event.type, decision)
            return _answer(202, status="ignored", reason=decision)
        return await lane.run(queue_once, event)

    return receive
