"""The ASGI app `acme serve` runs: Slack's Request URL, health, readiness and metrics."""

from __future__ import annotations

import logging

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from app.crm_webhook import crm_webhook_endpoint
from app.metrics import HttpMetrics, SharedStateCollector
from app.services import Services
from app.slack.listeners import build_bolt_app
from app.status import read_status

log = logging.getLogger(__name__)


def create_web_app(services: Services) -> Starlette:
    settings = services.settings
    settings.require("slack_bot_token", "slack_signing_secret", command="serve")
    assert settings.slack_bot_token and settings.slack_signing_secret
    signing_secret = settings.slack_signing_secret.get_secret_value()
    bolt = build_bolt_app(
        signing_secret=signing_secret,
        bot_token=settings.slack_bot_token.get_secret_value(),
        jobs=services.jobs,
        notifications=services.notifications,
        system_status=lambda: read_status(services.breakers, services.jobs.queues),
    )
    verifier = SignatureVerifier(signing_secret)
    registry = CollectorRegistry()
    registry.register(SharedStateCollector(services.breakers, services.jobs))

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
            status = read_status(services.breakers, services.jobs.queues)
            report = {
                "redis": "ok",
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

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/webhooks/crm", crm_webhook_endpoint(settings, services.jobs), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[Middleware(HttpMetrics, registry=registry)],
    )
