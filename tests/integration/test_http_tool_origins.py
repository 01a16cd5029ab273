"""Registered HTTP tools stay inside their origins: through the REST API, against real servers on 127.0.0.1.

Two echoing servers on ports of their own stand in for a legacy system (A) and a neighbour on the same
host (B); the mock CRM is a third. The allow-list names A's `/echo`, B and the CRM's `/customers`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.http_server import BackgroundServer
from app.http_tool_origins import HttpToolAllowList, parse_origin
from app.integrations.http_tool_addresses import NameNotResolvedNow
from app.integrations.http_tool_client import HttpToolClient
from app.integrations.http_tool_errors import AddressNotAllowed
from app.integrations.resilience import Downstream, RetryPolicy, SharedBreaker
from app.integrations.shared_throttle import SharedThrottle
from app.store.models import HttpToolRegistration
from tests.conftest import MockCrm, Stack
from tests.integration.test_api import wait_for_run

SECRET = "s3cr3t-legacy-token-4711"


@dataclass
class Reflector:
    """Answers every request with what it saw (raw path, query, headers); `/redirect` answers 302."""

    redirect_to: str = "http://127.0.0.1:9/"
    hits: list[dict] = field(default_factory=list)
    server: BackgroundServer | None = None

    async def _answer(self, request: Request) -> Response:
        seen = {"path": request.scope["raw_path"].decode(), "query": request.url.query,
                "headers": dict(request.headers)}
        self.hits.append(seen)
        if request.url.path.endswith("/redirect"):
            return Response(status_code=302, headers={"Location": self.redirect_to})
        return JSONResponse(seen)

    def start(self) -> Reflector:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", self._answer, methods=methods)])
        self.server = BackgroundServer(app, name="reflector").start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


@pytest.fixture()
def reflectors() -> Iterator[tuple[Reflector, Reflector]]:
    a, b = Reflector().start(), Reflector().start()
    yield a, b
    for reflector in (a, b):
        assert reflector.server is not None
        reflector.server.stop()


@pytest.fixture()
def api(stack_factory, mock_crm: MockCrm, reflectors: tuple[Reflector, Reflector]) -> Stack:
    a, b = reflectors
    return stack_factory(acme_api_rate="1000/s",
                         acme_http_tool_hosts=f"{a.url}/echo,{b.url},{mock_crm.url}/customers",
                         acme_http_tool_secret_origins=f"TOOL_LEGACY_TOKEN={a.url}",
                         http_tool_secrets={"TOOL_LEGACY_TOKEN": SECRET, "TOOL_UNBOUND": "unbound-value"})


def register(api: Stack, name: str, url_template: str, **extra: object):
    return api.http.post("/v1/tools", json={"name": name, "url_template": url_template, **extra})


def invoke(api: Stack, name: str, args: dict) -> dict:
    started = api.http.post(f"/v1/tools/{name}/invoke", json=args)
    assert started.status_code == 202, started.text
    return wait_for_run(api, started.json()["run_id"])


def add_legacy_row(api: Stack, name: str, url_template: str, secret_headers: dict | None = None) -> None:
    """A tool registered before the rules it now breaks: the rows outlive the settings."""
    with api.collaborators.db.session() as session:
        session.add(HttpToolRegistration(name=name, description="", method="GET", url_template=url_template,
                                         secret_headers=secret_headers or {}, parameters={"type": "object"}))


def test_another_port_or_path_on_an_allowed_host_is_refused(api: Stack, mock_crm: MockCrm, redis_url: str,
                                                            reflectors: tuple[Reflector, Reflector]) -> None:
    a, b = reflectors
    redis_port = urlsplit(redis_url).port
    for name, template in [("legacy.redis", f"http://127.0.0.1:{redis_port}/"),
                           ("legacy.faults", f"{mock_crm.url}/admin/faults"),
                           ("legacy.beside", f"{mock_crm.url}/customersx"),
                           ("legacy.api", f"http://127.0.0.1:{api.app.port}/v1/tools"),
                           ("legacy.https", f"{b.url.replace('http://', 'https://')}/x"),
                           ("legacy.root", f"{a.url}/"),
                           ("legacy.bare", "https://127.0.0.1/x")]:
        refused = register(api, name, template)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "host_not_allowed"), template
    for template in [f"{mock_crm.url}/customers/../admin/faults", f"{mock_crm.url}/customers/%2e%2e/admin/faults",
                     f"{mock_crm.url}/customers/..%2fadmin", f"{a.url}/echo/a\\..\\b"]:
        refused = register(api, "legacy.climb", template)
        assert refused.status_code in (403, 422) and refused.json()["error"]["code"] in (
            "bad_url_template", "host_not_allowed"), template
    # A row written when the allow-list was wider does not reach the CRM's admin path either.
    add_legacy_row(api, "legacy.old", f"{mock_crm.url}/admin/faults")
    run = invoke(api, "legacy.old", {})
    assert run["status"] == "failed" and "ACME_HTTP_TOOL_HOSTS" in run["steps"][0]["error"]

    ok = register(api, "legacy.customer", f"{mock_crm.url}/customers/{{customer_id}}")
    assert ok.status_code == 201
    assert invoke(api, "legacy.customer", {"customer_id": "cus_012"})["output"]["name"] == "Hooli"
    assert register(api, "legacy.neighbour", f"{b.url}/anything").status_code == 201


BAD_PATH_ARGUMENTS = ["..", ".", "", "../admin/faults", "a/b", "/admin", "a\\b", "%2f", "%2F", "%2e%2e",
                      "%2e%2e%2fadmin", "%252f", "%5c", "..%2fadmin", "\uff0e\uff0e\uff0fadmin"]


def test_arguments_cannot_add_path_segments(api: Stack, mock_crm: MockCrm,
                                            reflectors: tuple[Reflector, Reflector]) -> None:
    a, _ = reflectors
    assert register(api, "legacy.echo", f"{a.url}/echo/{{name}}/tail").status_code == 201
    assert register(api, "legacy.customer", f"{mock_crm.url}/customers/{{customer_id}}").status_code == 201
    for value in BAD_PATH_ARGUMENTS:
        for tool, argument in (("legacy.echo", "name"), ("legacy.customer", "customer_id")):
            refused = api.http.post(f"/v1/tools/{tool}/invoke", json={argument: value})
            assert refused.status_code == 422, (tool, value)
            assert refused.json()["error"]["details"][0]["path"] == [argument]
    # Arguments that come from a workflow's inputs are checked when the step runs.
    workflow = api.http.post("/v1/workflows", json={"name": "climb", "steps": [
        {"id": "get", "tool": "legacy.customer", "args": {"customer_id": "{{ inputs.id }}"}}]}).json()
    started = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"id": "../admin/faults"}})
    run = wait_for_run(api, started.json()["run_id"])
    assert run["status"] == "failed" and "may not hold" in run["steps"][0]["error"]
    assert a.hits == []

    # What is allowed arrives quoted: one segment, and query values that cannot add parameters.
    seen = invoke(api, "legacy.echo", {"name": "a b?c#d;e", "q": "x&admin=1", "n": 3})["output"]
    assert seen["path"] == "/echo/a%20b%3Fc%23d%3Be/tail"
    assert parse_qs(seen["query"]) == {"q": ["x&admin=1"], "n": ["3"]}


def test_a_secret_goes_only_to_its_origin_and_its_echo_is_redacted(
        api: Stack, reflectors: tuple[Reflector, Reflector]) -> None:
    a, b = reflectors
    with_secret = {"secret_headers": {"X-Token": "TOOL_LEGACY_TOKEN"}}
    refused = register(api, "legacy.elsewhere", f"{b.url}/echo", **with_secret)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "secret_not_allowed")
    assert "may only be sent to" in refused.json()["error"]["message"]
    unbound = register(api, "legacy.unbound", f"{a.url}/echo", secret_headers={"X-Token": "TOOL_UNBOUND"})
    assert unbound.status_code == 403 and "ACME_HTTP_TOOL_SECRET_ORIGINS" in unbound.json()["error"]["message"]

    assert register(api, "legacy.echo", f"{a.url}/echo", **with_secret).status_code == 201
    started = api.http.post("/v1/tools/legacy.echo/invoke", json={})
    run = wait_for_run(api, started.json()["run_id"])
    assert run["status"] == "succeeded"
    assert a.hits[-1]["headers"]["x-token"] == SECRET  # sent where it belongs...
    assert run["output"]["headers"]["x-token"] == "[redacted]"  # ...and not given back
    for page in (f"/v1/runs/{run['id']}", f"/v1/runs/{run['id']}/events", "/v1/tools"):
        assert SECRET not in api.http.get(page).text, page

    # A row written before the secret was bound to A does not send it to B.
    add_legacy_row(api, "legacy.old", f"{b.url}/echo", {"X-Token": "TOOL_LEGACY_TOKEN"})
    run = invoke(api, "legacy.old", {})
    assert run["status"] == "failed" and "may only be sent to" in run["steps"][0]["error"]
    assert b.hits == []


def test_a_template_with_credentials_is_refused_and_never_shown(
        api: Stack, reflectors: tuple[Reflector, Reflector]) -> None:
    a, _ = reflectors
    host = a.url.removeprefix("http://")
    for template in [f"http://admin:hunter2@{host}/echo", f"http://admin@{host}/echo",
                     f"{a.url}/echo?api_key=sk-live-123", f"{a.url}/echo?q=1&access_token=abc",
                     f"{a.url}/echo?Authorization=Bearer%20abc"]:
        refused = register(api, "legacy.creds", template)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "credentials_in_template"), template
        assert "hunter2" not in refused.text and "sk-live-123" not in refused.text
    literal_header = register(api, "legacy.header", f"{a.url}/echo", secret_headers={"Authorization": "Bearer abc"})
    assert literal_header.status_code == 422
    assert register(api, "legacy.param", f"{a.url}/echo?token={{token}}").status_code == 201

    add_legacy_row(api, "legacy.old", f"http://admin:hunter2@{host}/echo?api_key=sk-live-123&q=1")
    for page in ("/v1/tools", "/v1/tools/legacy.old"):
        shown = api.http.get(page)
        assert shown.status_code == 200 and "hunter2" not in shown.text and "sk-live-123" not in shown.text
    assert api.http.get("/v1/tools/legacy.old").json()["url_template"].endswith("/echo?api_key=[redacted]&q=1")
    assert invoke(api, "legacy.old", {})["status"] == "failed"
    assert a.hits == []


def test_a_redirect_to_another_origin_is_not_followed(api: Stack, reflectors: tuple[Reflector, Reflector]) -> None:
    a, b = reflectors
    a.redirect_to = f"{b.url}/stolen"
    assert register(api, "legacy.moved", f"{a.url}/echo/redirect").status_code == 201
    run = invoke(api, "legacy.moved", {})
    assert run["status"] == "failed" and "redirects are not followed" in run["steps"][0]["error"]
    assert len(a.hits) == 1 and b.hits == []


# --- the client alone: addresses resolved once, checked, and connected to -----------------------------

def _client(redis_conn: redis.Redis, origin: str, addresses: list[str]) -> HttpToolClient:
    downstream = Downstream("HTTP tools", SharedBreaker("HTTP-tools-test", redis_conn, 5, 60),
                            RetryPolicy(attempts=1), SharedThrottle(redis_conn, "HTTP-tools-test", 0), 2.0)
    return HttpToolClient(downstream=downstream, allowed_hosts=HttpToolAllowList((parse_origin(origin),)),
                          secrets={}, resolver=lambda host, port: addresses)


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
        redis_conn: redis.Redis, reflectors: tuple[Reflector, Reflector]) -> None:
    a, _ = reflectors
    port = a.server.port if a.server else 0
    client = _client(redis_conn, f"http://crm.localhost:{port}", ["127.0.0.1"])
    answer = client.call("GET", f"http://crm.localhost:{port}/echo/{{x}}", {"x": "1"}, secret_headers={})
    client.close()
    assert answer.status_code == 200 and json.loads(answer.text)["headers"]["host"] == f"crm.localhost:{port}"

    for name, addresses in [("api.example.com", ["127.0.0.1"]), ("api.example.com", ["93.184.216.34", "10.0.0.8"]),
                            ("legacy.internal", ["127.0.0.1"]), ("legacy.internal", ["169.254.169.254"]),
                            ("legacy.internal", ["::ffff:127.0.0.1"])]:
        client = _client(redis_conn, f"http://{name}:{port}", addresses)
        with pytest.raises(AddressNotAllowed):
            client.call("GET", f"http://{name}:{port}/echo", {}, secret_headers={})
        client.close()
    assert len(a.hits) == 1


def _resolving(redis_conn: redis.Redis, origin: str, answers: list) -> HttpToolClient:
    """A client whose resolver gives `answers` in turn (an exception is raised), with three quick attempts."""
    downstream = Downstream("HTTP tools", SharedBreaker("HTTP-tools-dns-test", redis_conn, 5, 60),
                            RetryPolicy(attempts=3, sleep=lambda _: None),
                            SharedThrottle(redis_conn, "HTTP-tools-dns-test", 0), 2.0)

    def resolver(host: str, port: int) -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return HttpToolClient(downstream=downstream, allowed_hosts=HttpToolAllowList((parse_origin(origin),)),
                          secrets={}, resolver=resolver)


def test_a_resolver_that_cannot_answer_now_is_tried_again_and_a_name_that_does_not_exist_is_not(
        redis_conn: redis.Redis, reflectors: tuple[Reflector, Reflector]) -> None:
    a, _ = reflectors
    port = a.server.port if a.server else 0
    origin = f"http://crm.localhost:{port}"
    answers: list = [NameNotResolvedNow("crm.localhost cannot be resolved now"), ["127.0.0.1"]]
    client = _resolving(redis_conn, origin, answers)
    assert client.call("GET", f"{origin}/echo", {}, secret_headers={}).status_code == 200
    assert answers == [] and len(a.hits) == 1

    answers = [AddressNotAllowed("crm.localhost does not resolve"), ["127.0.0.1"]]
    client = _resolving(redis_conn, origin, answers)
    with pytest.raises(AddressNotAllowed):
        client.call("GET", f"{origin}/echo", {}, secret_headers={})
    assert len(answers) == 1 and len(a.hits) == 1
