"""The ASGI app `acme serve` runs, assembled from its collaborators: Slack, CRM webhooks, the REST API, health."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from starlette.middleware import Middleware
from starlette.routing import Route

from app.api import agents, context, runs, tasks, tools, workflows
from app.api.backend import ApiBackend
from app.api.errors import install_error_handlers
from app.api.gateway import ApiGate, Idempotency
from app.api.live import LiveEvents, live_events_endpoint
from app.api.schemas import ERROR_RESPONSES
from app.composition import Collaborators
from app.domain.system_status import SystemStatus
from app.queueing.job_queue import JobQueue
from app.slack.bolt_app import build_bolt_app
from app.state.approvals import ApprovalStore
from app.state.notification_store import NotificationStore
from app.state.response_urls import ResponseUrls
from app.state.thread_memory import ThreadMemory
from app.status import read_status
from app.web.body_limit import BodyLimit
from app.web.crm_webhook import crm_webhook_endpoint
from app.web.health import health_routes
from app.web.loop_first import LoopFirst
from app.web.metrics import SharedStateCollector
from app.web.observed_requests import ObservedRequests
from app.web.slack_events import slack_events_endpoint
from app.web.thread_lanes import ThreadLanes

API_DESCRIPTION = """Drive ACME Assistant without Slack: workflows of tools, their runs, agents, tasks and
context. Every path also answers without `/v1`, as the newest version."""


def create_web_app(collaborators: Collaborators) -> FastAPI:
    settings = collaborators.settings
    settings.require("slack_bot_token", "slack_signing_secret", command="serve")
    assert settings.slack_bot_token and settings.slack_signing_secret
    signing_secret = settings.slack_signing_secret.get_secret_value()

    # What a request waits on before its ack talks to Redis with the short timeout (ack_redis): past
    # it, the user hears that the queue is unavailable while Slack still listens.
    ack_redis = collaborators.ack_redis
    ack_jobs = JobQueue(ack_redis, ResponseUrls(ack_redis))
    breakers = collaborators.breakers

    def read_status_for_ack() -> SystemStatus:
        return read_status(breakers, ack_jobs.queues)

    bolt = build_bolt_app(signing_secret=signing_secret, bot_token=settings.slack_bot_token.get_secret_value(),
                          jobs=ack_jobs, notifications=NotificationStore(ack_redis),
                          read_system_status=read_status_for_ack, approvals=ApprovalStore(ack_redis),
                          memory=ThreadMemory(ack_redis, settings.agent_memory_turns))
    lanes = ThreadLanes()
    registry = CollectorRegistry()
    registry.register(SharedStateCollector(collaborators.breakers, collaborators.jobs.queues, collaborators.db,
                                           collaborators.agent_counters))
    # /docs loads Swagger UI from the app (/docs/assets/...), not from a CDN: it works offline and behind a firewall.
    app = FastAPIOffline(
        static_url="/docs/assets",
        title="ACME Assistant API",
        version="1.0",
        description=API_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        middleware=[
            Middleware(ObservedRequests, registry=registry),
            Middleware(BodyLimit, api_max_bytes=settings.acme_api_max_body_bytes),
            # The gateway's Redis calls come before any API answer: the short timeout, like the acks'.
            Middleware(ApiGate, keys=settings.api_keys, rate_per_s=settings.api_rate_per_s, connection=ack_redis),
            Middleware(Idempotency, connection=ack_redis),
        ],
    )
    app.state.backend = ApiBackend(db=collaborators.db, runs=collaborators.runs, tools=collaborators.tools,
                                   http_tool_hosts=settings.http_tool_allow_list)
    install_error_handlers(app)
    # Socket Mode (app/web/socket_mode.py) hands its envelopes to this same Bolt app.
    app.state.slack_bolt = bolt
    for module in (workflows, runs, context, agents, tasks, tools):
        app.include_router(module.router, prefix="/v1", responses=ERROR_RESPONSES)
        # The unversioned paths answer as the newest version; the schema lists each path once.
        app.include_router(module.router, include_in_schema=False)
    live = live_events_endpoint(LiveEvents(settings.redis_url, settings.acme_api_max_sockets_per_key,
                                           settings.acme_api_max_sockets))
    app.add_api_websocket_route("/v1/ws", live)
    app.add_api_websocket_route("/ws", live)
    webhook_secret = settings.crm_webhook_secret.get_secret_value() if settings.crm_webhook_secret else None
    # First in the routing table: Slack's acks should not be matched against every API path first.
    app.router.routes[:0] = [
        Route("/slack/events", slack_events_endpoint(bolt, signing_secret, LoopFirst(lanes.slack)), methods=["POST"],
              include_in_schema=False),
        Route("/webhooks/crm", crm_webhook_endpoint(webhook_secret, settings.notify_priority_set, ack_jobs,
                                                    lanes.webhooks),
              methods=["POST"], include_in_schema=False),
        *health_routes(collaborators.db, read_status_for_ack, registry, lanes.probes),
    ]
    return app
