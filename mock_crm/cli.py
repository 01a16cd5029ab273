"""`mock-crm`: serve the mock CRM on a port."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from mock_crm.server import create_crm_app
from mock_crm.webhooks import WebhookSender


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mock-crm", description="The mock CRM HTTP service, with fault injection.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token", default=os.environ.get("CRM_API_TOKEN"),
                        help="require this bearer token (default: CRM_API_TOKEN)")
    parser.add_argument("--webhook-url", default=os.environ.get("CRM_WEBHOOK_URL"),
                        help="where to POST webhooks (default: CRM_WEBHOOK_URL)")
    parser.add_argument("--webhook-secret", default=os.environ.get("CRM_WEBHOOK_SECRET"),
                        help="signs webhooks (default: CRM_WEBHOOK_SECRET)")
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret (or CRM_WEBHOOK_SECRET) to sign the webhooks")
    logging.basicConfig(level=logging.INFO)
    webhooks = WebhookSender(args.webhook_url, args.webhook_secret) if args.webhook_url else None
    uvicorn.run(create_crm_app(token=args.token, webhooks=webhooks), host=args.host, port=args.port,
                log_level="info")
