"""Two stacks in one process, each with its own worker thread and settings, never share a downstream."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app.embedded_redis import EmbeddedRedis
from app.http_server import BackgroundServer
from app.slack_emulator import SlackEmulator
from app.store.db import upgrade
from mock_crm.server import CrmState, create_crm_app
from tests.conftest import FakeSlack, MockCrm, Stack, build_stack

OWNER_IN_B = "Owner Known Only To CRM B"


@pytest.fixture()
def other_stack(tmp_path, stack_factory) -> Iterator[Stack]:
    """A second deployment: its own Redis, CRM (which wants a token), Slack and database, in this process."""
    state = CrmState()
    next(c for c in state.customers if c["name"] == "Globex")["owner"] = OWNER_IN_B
    crm = MockCrm(state, BackgroundServer(create_crm_app(state, token="token-for-b"), name="crm-b").start())
    slack_api = SlackEmulator()
    slack = FakeSlack(slack_api, BackgroundServer(slack_api.asgi_app(), name="slack-b").start())
    redis_server = EmbeddedRedis().start()
    database_url = f"sqlite:///{tmp_path}/b.db"
    upgrade(database_url)
    stack = build_stack(crm, slack, redis_server.url, database_url=database_url, crm_api_token="token-for-b",
                        acme_api_rate="1000/s")
    stack.start_worker()
    yield stack
    assert stack.worker is not None
    stack.worker.stop()
    stack.app.stop()
    stack.http.close()
    stack.collaborators.close()
    redis_server.stop()
    slack.server.stop()
    crm.server.stop()


def _summary_owner(stack: Stack) -> str:
    calls = stack.slack.wait_for(lambda calls: any("Summary of Globex" in c.text for c in calls))
    summary = next(c for c in calls if "Summary of Globex" in c.text)
    return "B" if OWNER_IN_B in summary.visible_text else "A"


def _tool_output(stack: Stack) -> dict:
    run_id = stack.http.post("/v1/tools/crm.get_customer/invoke", json={"customer": "Globex"}).json()["run_id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = stack.http.get(f"/v1/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.05)
    raise TimeoutError(run_id)


def test_each_worker_thread_uses_its_own_crm_slack_and_database(stack_factory, other_stack: Stack) -> None:
    stack = stack_factory(acme_api_rate="1000/s")

    assert stack.slash("summary Globex").status_code == 200
    assert other_stack.slash("summary Globex").status_code == 200

    assert _summary_owner(stack) == "A"
    assert _summary_owner(other_stack) == "B"
    time.sleep(0.3)  # room for a stray summary in the wrong workspace, were one coming
    assert len([c for c in stack.slack.calls if "Summary of Globex" in c.text]) == 1
    assert len([c for c in other_stack.slack.calls if "Summary of Globex" in c.text]) == 1

    # The API's runs too: each worker's step engine calls its own CRM, with its own token.
    mine, theirs = _tool_output(stack), _tool_output(other_stack)
    assert mine["status"] == theirs["status"] == "succeeded"
    assert mine["output"]["owner"] == "Dana Whitfield"
    assert theirs["output"]["owner"] == OWNER_IN_B
    assert stack.crm.state.api_requests > 0 and other_stack.crm.state.api_requests > 0
