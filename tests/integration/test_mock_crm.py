"""The mock CRM as a client sees it: search, faults, token, and signed webhooks on creation."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.http_server import BackgroundServer
from mock_crm.server import CrmState, create_crm_app
from mock_crm.webhooks import WebhookSender
from tests.conftest import MockCrm


def test_seeded_data_is_varied_and_searchable(mock_crm: MockCrm) -> None:
    everyone = httpx.get(f"{mock_crm.url}/customers", params={"limit": 100}).json()["customers"]
    assert len(everyone) >= 20
    assert len({c["company"] for c in everyone}) >= 10
    assert {c["plan"] for c in everyone} == {"free", "starter", "pro", "enterprise"}
    assert len({c["status"] for c in everyone}) >= 4
    priorities = {t["priority"] for t in mock_crm.state.tickets}
    assert priorities == {"low", "normal", "high", "urgent"}
    names = [c["name"] for c in httpx.get(f"{mock_crm.url}/customers", params={"q": "initech"}).json()["customers"]]
    assert names == ["Initech", "Initech Labs"]
    assert httpx.get(f"{mock_crm.url}/customers/cus_999").status_code == 404
    assert httpx.get(f"{mock_crm.url}/customers", params={"limit": "many"}).status_code == 400


def test_faults_down_and_flaky(mock_crm: MockCrm) -> None:
    mock_crm.faults("down")
    assert httpx.get(f"{mock_crm.url}/customers").status_code == 503
    mock_crm.faults("flaky", error_rate=0.5)
    statuses = [httpx.get(f"{mock_crm.url}/customers/cus_001").status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35 and statuses.count(200) + statuses.count(500) == 40
    assert httpx.post(f"{mock_crm.url}/admin/faults", json={"mode": "on fire"}).status_code == 400


def test_token_is_required_when_configured() -> None:
    server = BackgroundServer(create_crm_app(CrmState(), token="t0ken"), name="crm").start()
    try:
        assert httpx.get(f"{server.url}/customers").status_code == 401
        assert httpx.get(f"{server.url}/customers", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    finally:
        server.stop()


def test_creating_customers_and_tickets_sends_signed_webhooks() -> None:
    received: list[tuple[dict, dict]] = []
    arrived = threading.Event()

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), json.loads(await request.body())))
        raw = await request.body()
        expected = hmac.new(b"whsec", request.headers["x-crm-timestamp"].encode() + b"." + raw,
                            hashlib.sha256).hexdigest()
        assert request.headers["x-crm-signature"] == f"sha256={expected}"
        if len(received) == 2:
            arrived.set()
        return Response(status_code=202)

    receiver = BackgroundServer(Starlette(routes=[Route("/webhooks/crm", hook, methods=["POST"])])).start()
    sender = WebhookSender(f"{receiver.url}/webhooks/crm", "whsec")
    crm = BackgroundServer(create_crm_app(CrmState(), webhooks=sender), name="crm").start()
    try:
        customer = httpx.post(f"{crm.url}/customers", json={"name": "Newco", "plan": "pro"}).json()
        assert httpx.post(f"{crm.url}/tickets", json={"customer_id": customer["id"], "subject": "Help",
                                                      "priority": "urgent"}).status_code == 201
        assert httpx.post(f"{crm.url}/tickets", json={"customer_id": customer["id"]}).status_code == 400
        assert arrived.wait(10)
        assert [event["type"] for _, event in received] == ["customer.created", "ticket.created"]
        assert received[1][1]["data"]["customer_id"] == customer["id"]
        assert received[0][1]["id"].startswith("evt_")
    finally:
        crm.stop()
        sender.close()
        receiver.stop()
