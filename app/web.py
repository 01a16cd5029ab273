"""The ASGI app `acme serve` runs: Slack's Request URL, CRM webhooks, the REST API, health and metrics."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.api import catalog, workflows
from app.api.errors import install_error_handlers
from app.api.gateway import ApiGate, Idempotency
from app.api.live import live_events_endpoint
from app.crm_webhook import crm_webhook_endpoint
from app.metrics import SharedStateCollector
from app.observed_requests import ObservedRequests
from app.services import Services
from app.slack.listeners import build_bolt_app
from app.status import read_status
from app.store.models import Run

log = logging.getLogger(__name__)


API_DESCRIPTION = """Drive ACME Assistant without Slack: workflows of tools, their runs, agents, tasks and
context. Every path also answers without `/v1`, as the newest version."""


def create_web_app(services: Services) -> FastAPI:
    settings = services.settings
    settings.require("slack_bot_token", "slack_signing_secret", command="serve")
    assert settings.slack_bot_token and settings.slack_signing_secret
    signing_secret = settings.slack_signing_secret.get_secret_value()
    bolt = build_bolt_app(
        signing_secret=signing_secret,
        bot_token=settings.slack_bot_token.get_secret_value(),
        jobs=services.jobs,
        notifications=services.notifications,
        read_system_status=lambda: read_status(services.breakers, services.jobs.queues),
    )
    verifier = SignatureVerifier(signing_secret)
    registry = CollectorRegistry()

    def run_counts() -> dict[str, int]:
        with services.db.session() as session:
            return dict(session.execute(select(Run.status, func.count()).group_by(Run.status)).all())  # type: ignore[arg-type]

    registry.register(SharedStateCollector(services.breakers, services.jobs, run_counts))

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, UnicodeDecodeError):
            # Bolt parses before it verifies; a body it cannot parse is still refused 401 unless signed.
            if not verifier.is_valid_request(body, dict(request.headers)):
                return PlainTextResponse("invalid signature", status_code=401)
            return PlainTextResponse("malformed Slack payload: not JSON or form data", status_code=400)
        return to_starlette_response(bolt.dispatch(bolt_request))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            with services.db.session() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("not ready: the database does not answer: %s", exc)
            return JSONResponse({"database": "unavailable"}, status_code=503)
        try:
            status = read_status(services.breakers, services.jobs.queues)
            report = {
                "redis": "ok",
                "database": "ok",
                "circuit_breakers": {b.name: b.state for b in status.breakers},
                "queues": {q.name: q.depth for q in status.queues},
                "oldest_waiting_job_s": {q.name: q.oldest_wait_s for q in status.queues},
            }
        except redis.RedisError as exc:
            log.warning("not ready: Redis does not answer: %s", exc)
            return JSONResponse({"redis": "unavailable"}, status_code=503)
        return JSONResponse(report)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app = FastAPI(
        title="ACME Assistant API",
        version="1.0",
        description=API_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        middleware=[
            Middleware(ObservedRequests, registry=registry),
            Middleware(ApiGate, keys=settings.api_keys, rate_per_s=settings.api_rate_per_s,
                       connection=services.redis),
            Middleware(Idempotency, connection=services.redis),
        ],
    )
    app.state.services = services
    install_error_handlers(app)
    for router in (workflows.router, catalog.router):
        app.include_router(router, prefix="/v1")
        # The unversioned paths answer as the newest version; the schema lists each path once.
        app.include_router(router, include_in_schema=False)
    live = live_events_endpoint(settings.redis_url)
    app.add_api_websocket_route("/v1/ws", live)
    app.add_api_websocket_route("/ws", live)
    # First in the routing table: Slack's acks should not be matched against every API path first.
    app.router.routes[:0] = [
        Route("/slack/events", slack_events, methods=["POST"], include_in_schema=False),
        Route("/webhooks/crm", crm_webhook_endpoint(settings, services.jobs), methods=["POST"],
              include_in_schema=False),
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
    ]
    return app
