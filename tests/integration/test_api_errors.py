import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.middleware import Middleware

from app.api.errors import install_error_handlers
from app.http_server import BackgroundServer
from app.web.observed_requests import ObservedRequests


def test_an_unexpected_error_is_answered_in_the_error_envelope_with_the_request_id_not_a_traceback() -> None:
    app = FastAPI(middleware=[Middleware(ObservedRequests, registry=CollectorRegistry())])
    install_error_handlers(app)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    server = BackgroundServer(app).start()
    try:
        answer = httpx.get(f"{server.url}/v1/boom", headers={"X-Request-ID": "trace-9"})
    finally:
        server.stop()
    assert answer.status_code == 500 and answer.headers["x-request-id"] == "trace-9"
    assert answer.json()["error"] == {"code": "internal", "details": {"request_id": "trace-9"},
                                      "message": "internal error: quote the request id to whoever runs this service"}
    assert "secret detail" not in answer.text and "Traceback" not in answer.text
