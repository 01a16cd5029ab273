"""Fixtures: a real redis-server, real HTTP servers on 127.0.0.1, real Slack signatures.

Nothing here patches the product's own functions; fakes sit at the network boundary.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import redis

from app.composition import Collaborators, build_collaborators
from app.config import Settings, load_settings
from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.integrations.slack_socket_mode import SocketModeConnection
from app.model_emulator import ModelEmulator
from app.runs.builtin_workflows import BUILTIN_PREFIX
from app.slack_emulator import SlackEmulator
from app.slack_request_signer import SlackRequestSigner
from app.store.db import make_engine, upgrade
from app.store.models import Base
from app.web.app import create_web_app
from app.web.socket_mode import start_socket_mode
from app.worker.runner import WorkerThread
from mock_crm.server import CrmState, create_crm_app

CHANNEL = "C0TEST"
DM = "D0TESTER"
USER = "U0TESTER"


# --- no test, handler or job reaches beyond this machine -------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _require_loopback(address: object) -> None:
    if not isinstance(address, tuple):
        return  # a Unix socket
    host = str(address[0])
    try:
        loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"tests may only connect to 127.0.0.1, not {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _require_loopback(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _require_loopback(address)
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


# --- Redis --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when set (its database is flushed between tests), else a redis-server of our own."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = EmbeddedRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture()
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


# --- the database ---------------------------------------------------------------------------------

def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "workflows":
                # The built-in workflows come with the schema (migration 0002), as in production.
                connection.execute(table.delete().where(~table.c.id.startswith(BUILTIN_PREFIX)))
            else:
                connection.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db')}/acme.db"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """TEST_DATABASE_URL (a database the tests may empty), migrated from nothing once per session."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    engine = make_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    upgrade(url)
    return url


@pytest.fixture()
def sqlite_db(sqlite_url: str) -> str:
    _empty_tables(sqlite_url)
    return sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on SQLite and on PostgreSQL (where TEST_DATABASE_URL names one)."""
    url = request.getfixturevalue(f"{request.param}_url")
    _empty_tables(url)
    return url


# --- HTTP servers -------------------------------------------------------------------------------------

@dataclass
class MockCrm:
    state: CrmState
    server: BackgroundServer

    @property
    def url(self) -> str:
        return self.server.url

    def faults(self, mode: str, **kwargs: float) -> None:
        httpx.post(f"{self.url}/admin/faults", json={"mode": mode, **kwargs}).raise_for_status()


@pytest.fixture()
def mock_crm() -> Iterator[MockCrm]:
    state = CrmState()
    server = BackgroundServer(create_crm_app(state), name="mock-crm").start()
    yield MockCrm(state, server)
    server.stop()


@dataclass
class FakeSlack:
    api: SlackEmulator
    server: BackgroundServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture()
def fake_slack() -> Iterator[FakeSlack]:
    api = SlackEmulator()
    server = BackgroundServer(api.asgi_app(), name="fake-slack").start()
    yield FakeSlack(api, server)
    server.stop()


@dataclass
class FakeModel:
    api: ModelEmulator
    server: BackgroundServer

    @property
    def url(self) -> str:
        return f"{self.server.url}/v1"


@pytest.fixture()
def fake_model() -> Iterator[FakeModel]:
    """An OpenAI-compatible server answering as each test scripts it."""
    api = ModelEmulator()
    server = BackgroundServer(api.asgi_app(), name="fake-model").start()
    yield FakeModel(api, server)
    server.stop()


class RecordedSleeps(list[float]):
    """Stands in for time.sleep in retries and throttles: records each wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_settings(redis_url: str, crm_url: str, slack_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "redis_url": redis_url,
        "crm_base_url": crm_url,
        "slack_api_url": f"{slack_url}/api/",
        "slack_bot_token": f"xoxb-test-{secrets.token_hex(12)}",
        "slack_signing_secret": secrets.token_hex(16),
        "crm_timeout_s": 2.0,
        # Tests that need the database pass theirs; the rest never touch this one.
        "database_url": "sqlite://",
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Stack:
    """The product as deployed: `acme serve`'s app under uvicorn and a worker, on real Redis."""

    settings: Settings
    collaborators: Collaborators
    app: BackgroundServer
    slack: SlackEmulator
    crm: MockCrm
    signer: SlackRequestSigner
    http: httpx.Client
    sleeps: RecordedSleeps
    worker: WorkerThread | None = None
    # Connected when the settings have SLACK_APP_TOKEN, as `acme serve` does.
    socket_mode: SocketModeConnection | None = None
    _extra: list[object] = field(default_factory=list)

    def slash(self, text: str, **kwargs: object) -> httpx.Response:
        body, headers = self.signer.slash_command(text, channel=CHANNEL, user=USER, **kwargs)  # type: ignore[arg-type]
        return self.http.post("/slack/events", content=body, headers=headers)

    def mention(self, text: str, **kwargs: object) -> httpx.Response:
        body, headers = self.signer.app_mention(text, channel=CHANNEL, user=USER, **kwargs)  # type: ignore[arg-type]
        return self.http.post("/slack/events", content=body, headers=headers)

    def dm(self, text: str, user: str = USER, **kwargs: object) -> httpx.Response:
        body, headers = self.signer.message_event(text, channel=DM, user=user, channel_type="im", **kwargs)  # type: ignore[arg-type]
        return self.http.post("/slack/events", content=body, headers=headers)

    def reply_in_thread(self, text: str, thread_ts: str, user: str = USER, **kwargs: object) -> httpx.Response:
        body, headers = self.signer.message_event(text, channel=CHANNEL, user=user, channel_type="channel",
                                                  thread_ts=thread_ts, **kwargs)  # type: ignore[arg-type]
        return self.http.post("/slack/events", content=body, headers=headers)

    def click(self, action_id: str, message: dict, value: str, user: str = USER,
              channel: str = CHANNEL) -> httpx.Response:
        body, headers = self.signer.block_action(action_id, channel=channel, user=user, message=message, value=value)
        return self.http.post("/slack/events", content=body, headers=headers)

    def start_worker(self) -> None:
        self.worker = WorkerThread(self.collaborators).start()


def build_stack(mock_crm: MockCrm, fake_slack: FakeSlack, redis_url: str, **overrides: object) -> Stack:
    settings = make_settings(redis_url, mock_crm.url, fake_slack.url, **overrides)
    sleeps = RecordedSleeps()
    collaborators = build_collaborators(settings, sleep=sleeps)
    web_app = create_web_app(collaborators)
    app = BackgroundServer(web_app, name="acme-serve").start()
    signing_secret = settings.slack_signing_secret.get_secret_value()  # type: ignore[union-attr]
    return Stack(settings, collaborators, app, fake_slack.api, mock_crm,
                 SlackRequestSigner(signing_secret, response_base_url=fake_slack.url),
                 httpx.Client(base_url=app.url, timeout=10), sleeps,
                 socket_mode=start_socket_mode(web_app.state.slack_bolt, settings))


@pytest.fixture()
def stack_factory(redis_conn: redis.Redis, redis_url: str, mock_crm: MockCrm, fake_slack: FakeSlack, sqlite_db: str):
    """Build a Stack with setting overrides; everything it started is stopped after the test."""
    built: list[Stack] = []

    def factory(worker: bool = True, **overrides: object) -> Stack:
        overrides.setdefault("redis_url", redis_url)
        overrides.setdefault("database_url", sqlite_db)
        stack = build_stack(mock_crm, fake_slack, **overrides)  # type: ignore[arg-type]
        if worker:
            stack.start_worker()
        built.append(stack)
        return stack

    yield factory
    for stack in built:
        if stack.worker:
            stack.worker.stop()
        if stack.socket_mode:
            stack.socket_mode.stop()
        stack.app.stop()
        stack.http.close()
        stack.collaborators.close()


@pytest.fixture()
def stack(stack_factory) -> Stack:
    return stack_factory()
