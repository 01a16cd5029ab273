"""The REST API against `acme serve`'s app under uvicorn, a worker, Redis, and SQLite or PostgreSQL."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import CHANNEL, Stack

SUMMARY_WORKFLOW = {
    "name": "Customer update",
    "description": "Fetch a customer, then post their summary",
    "steps": [
        {"id": "fetch", "tool": "crm.get_customer", "args": {"customer": "{{ inputs.customer }}"}},
        {"id": "post", "tool": "summarize_and_post_customer_update",
         "args": {"customer": "{{ steps.fetch.output.id }}", "channel": "{{ inputs.channel }}"}},
    ],
}


@pytest.fixture()
def api(stack_factory, mock_crm, any_db: str) -> Stack:
    return stack_factory(database_url=any_db, acme_api_rate="1000/s", acme_http_tool_hosts=mock_crm.url)


def wait_for_run(api: Stack, run_id: str, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = api.http.get(f"/v1/runs/{run_id}").json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} did not finish")


def test_the_products_own_example_runs_as_written(api: Stack) -> None:
    base = api.app.url
    response = httpx.post(f"{base}/workflows", json={"name": "My Workflow", "description": "Test workflow"})
    workflow_id = response.json()["id"]
    response = httpx.post(f"{base}/workflows/{workflow_id}/run")
    run_id = response.json()["run_id"]
    response = httpx.get(f"{base}/workflows/{workflow_id}/status")
    status = response.json()["status"]

    assert status in ("queued", "running", "succeeded")
    wait_for_run(api, run_id)
    assert httpx.get(f"{base}/workflows/{workflow_id}/status").json() == {"status": "succeeded", "run_id": run_id}


def test_a_workflow_run_posts_the_summary_and_the_websocket_sees_it_in_order(api: Stack) -> None:
    workflow = api.http.post("/v1/workflows", json=SUMMARY_WORKFLOW).json()
    ws_url = api.app.url.replace("http://", "ws://") + f"/v1/ws?workflow_id={workflow['id']}"
    with connect(ws_url, open_timeout=5) as socket:
        started = api.http.post(f"/v1/workflows/{workflow['id']}/run",
                                json={"inputs": {"customer": "Globex", "channel": CHANNEL}})
        assert started.status_code == 202 and started.json()["status"] == "queued"
        run_id = started.json()["run_id"]
        run_events = []
        while not run_events or run_events[-1] not in ("succeeded", "failed"):
            event = json.loads(socket.recv(timeout=20))
            assert event["run_id"] == run_id and event["workflow_id"] == workflow["id"]
            if event["type"] == "run.status":
                run_events.append(event["status"])
    assert run_events == ["queued", "running", "succeeded"]

    api.slack.wait_for(lambda calls: any("Summary of Globex" in c.text for c in calls))
    run = api.http.get(f"/v1/runs/{run_id}").json()
    assert [s["step_id"] for s in run["steps"]] == ["fetch", "post"]
    assert run["steps"][0]["output"]["id"] == "cus_001"
    assert run["steps"][1]["args"] == {"customer": "cus_001", "channel": CHANNEL}
    assert run["output"]["channel"] == CHANNEL and run["output"]["ts"]
    assert [(e["type"], e["step_id"], e["status"]) for e in run["events"]] == [
        ("run.status", None, "queued"), ("run.status", None, "running"),
        ("step.status", "fetch", "running"), ("step.status", "fetch", "succeeded"),
        ("step.status", "post", "running"), ("step.status", "post", "succeeded"),
        ("run.status", None, "succeeded")]


def test_a_failing_step_fails_the_run_with_the_reason(api: Stack) -> None:
    workflow = api.http.post("/workflows", json=SUMMARY_WORKFLOW).json()
    run_id = api.http.post(f"/workflows/{workflow['id']}/run",
                           json={"inputs": {"customer": "Nobody Such", "channel": CHANNEL}}).json()["run_id"]
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "step 'fetch' failed: no customer matches 'Nobody Such'"
    assert [s["status"] for s in run["steps"]] == ["failed"]


def test_workflow_crud_pagination_and_versions(api: Stack) -> None:
    ids = [api.http.post("/v1/workflows", json={"name": f"Flow {n}"}).json()["id"] for n in range(5)]
    first = api.http.get("/v1/workflows", params={"limit": 2}).json()
    assert [w["id"] for w in first["items"]] == ids[:2]
    rest = api.http.get("/v1/workflows", params={"limit": 20, "cursor": first["next_cursor"]}).json()
    assert [w["id"] for w in rest["items"] if not w["id"].startswith("wf_builtin_")] == ids[2:]
    assert rest["next_cursor"] is None
    assert [w["name"] for w in api.http.get("/v1/workflows", params={"name": "flow 3"}).json()["items"]] == ["Flow 3"]

    replaced = api.http.put(f"/v1/workflows/{ids[0]}", json=SUMMARY_WORKFLOW).json()
    assert replaced["version"] == 2 and replaced["name"] == "Customer update"
    patched = api.http.patch(f"/v1/workflows/{ids[0]}", json={"description": "new words"}).json()
    assert patched["version"] == 3 and patched["steps"] == replaced["steps"]
    assert api.http.delete(f"/v1/workflows/{ids[0]}").status_code == 204
    missing = api.http.get(f"/v1/workflows/{ids[0]}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("steps", "message"), [
    ([{"id": "a", "tool": "no.such.tool"}], "there is no tool 'no.such.tool'"),
    ([{"id": "a", "tool": "crm.get_customer", "args": {"customer": "Globex"}},
      {"id": "a", "tool": "crm.get_customer", "args": {"customer": "Globex"}}], "used twice"),
    ([{"id": "a", "tool": "crm.get_customer", "args": {"customer": "{{ steps.b.output.id }}"}},
      {"id": "b", "tool": "crm.get_customer", "args": {"customer": "Globex"}}], "does not come before it"),
    # Arguments written as they are must fit the tool: this one never could, and every run would fail there.
    ([{"id": "a", "tool": "crm.search_customers", "args": {"query": "x", "limit": "lots"}}],
     "arguments for crm.search_customers do not match its schema"),
    ([{"id": "a", "tool": "crm.search_customers", "args": {"query": "x", "bogus": 1}}],
     "arguments for crm.search_customers do not match its schema"),
    ([{"id": "a", "tool": "crm.get_customer"}], "arguments for crm.get_customer do not match its schema"),
    ([{"id": "a", "tool": "crm.get_customer", "args": {"customer": "{{ secrets.token }}"}}], "must start with"),
    ([{"id": "a"}], "either a tool or a workflow"),
])
def test_workflows_that_cannot_run_are_refused_with_422(api: Stack, steps: list, message: str) -> None:
    answer = api.http.post("/v1/workflows", json={"name": "Broken", "steps": steps})
    assert answer.status_code == 422
    assert message in answer.json()["error"]["message"]


def test_bad_input_gets_json_errors_never_a_500(api: Stack) -> None:
    # Not JSON at all is a bad request (400); JSON that breaks the schema, a 422.
    assert api.http.post("/v1/workflows", content=b"{nope", headers={"Content-Type": "application/json"}
                         ).status_code == 400
    assert api.http.post("/v1/workflows", json={"name": ""}).json()["error"]["code"] == "invalid"
    assert api.http.post("/v1/workflows", json={"name": "x", "surprise": 1}).status_code == 422
    assert api.http.get("/v1/runs/run_nope").status_code == 404
    assert api.http.get("/v1/nothing-here").json()["error"]["code"] == "not_found"
    assert api.http.delete("/v1/tools").status_code == 405
    assert api.http.get("/v1/workflows", params={"limit": 0}).status_code == 422


def test_cancel_a_queued_run_and_not_a_finished_one(stack_factory, sqlite_db: str) -> None:
    api = stack_factory(worker=False, database_url=sqlite_db)
    workflow = api.http.post("/v1/workflows", json={"name": "Later"}).json()
    run_id = api.http.post(f"/v1/workflows/{workflow['id']}/run").json()["run_id"]

    cancelled = api.http.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    api.start_worker()
    time.sleep(0.5)
    assert api.http.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"
    again = api.http.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert api.http.post("/v1/runs/run_nope/cancel").status_code == 404
    assert [r["id"] for r in api.http.get(f"/v1/workflows/{workflow['id']}/runs").json()["items"]] == [run_id]


def test_workflows_that_would_call_each_other_for_ever_are_refused(api: Stack) -> None:
    a = api.http.post("/v1/workflows", json={"name": "A", "steps": [
        {"id": "status", "tool": "system.status"}]}).json()
    b = api.http.post("/v1/workflows", json={"name": "B", "steps": [{"id": "a", "workflow": a["id"]}]}).json()
    circle = api.http.patch(f"/v1/workflows/{a['id']}", json={"steps": [{"id": "b", "workflow": b["id"]}]})
    assert circle.status_code == 422 and f"{a['id']} -> {b['id']} -> {a['id']}" in circle.json()["error"]["message"]
    # Nor is a workflow deleted while another calls it: every run of that one would fail at its step.
    in_use = api.http.delete(f"/v1/workflows/{a['id']}")
    assert in_use.status_code == 409 and in_use.json()["error"]["details"] == {"called_by": [b["id"]]}
    assert api.http.delete(f"/v1/workflows/{b['id']}").status_code == 204
    assert api.http.delete(f"/v1/workflows/{a['id']}").status_code == 204


def test_context_for_a_workflow_and_for_one_run_is_read_by_steps(api: Stack) -> None:
    workflow = api.http.post("/v1/workflows", json={"name": "Greeting", "steps": [
        {"id": "post", "tool": "slack.post_message",
         "args": {"channel": CHANNEL, "text": "{{ context.greeting }}, {{ inputs.name }}!"}}]}).json()
    put = api.http.post(f"/v1/workflows/{workflow['id']}/context", json={"key": "greeting", "value": "Hello"})
    assert put.status_code == 201
    api.http.post(f"/v1/workflows/{workflow['id']}/context", json={"key": "greeting", "value": "Good morning"})
    listed = api.http.get(f"/v1/workflows/{workflow['id']}/context").json()["items"]
    assert [(c["key"], c["value"]) for c in listed] == [("greeting", "Good morning")]

    run_id = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"name": "<!channel>"}}).json()[
        "run_id"]
    assert wait_for_run(api, run_id)["status"] == "succeeded"
    posted = next(c for c in api.slack.calls if c.method == "chat.postMessage")
    assert posted.text == "Good morning, &lt;!channel&gt;!"
    api.http.post(f"/v1/workflows/{workflow['id']}/runs/{run_id}/context", json={"key": "note", "value": [1, 2]})
    run_context = api.http.get(f"/v1/workflows/{workflow['id']}/runs/{run_id}/context").json()["items"]
    assert [(c["key"], c["value"]) for c in run_context] == [("note", [1, 2])]
    assert api.http.get(f"/v1/workflows/{workflow['id']}/runs/run_other/context").status_code == 404


def test_agents_and_tasks(api: Stack) -> None:
    agent = api.http.post("/v1/agents", json={"name": "Account helper", "instructions": "Be brief.",
                                              "tools": ["crm.get_customer"], "channels": [CHANNEL]})
    assert agent.status_code == 201
    agent_id = agent.json()["id"]
    assert api.http.post("/v1/agents", json={"name": "x", "tools": ["nope"]}).status_code == 422
    assert api.http.patch(f"/v1/agents/{agent_id}", json={"instructions": "Be kind."}).json()["instructions"] == \
        "Be kind."
    assert [a["id"] for a in api.http.get("/v1/agents").json()["items"]] == [agent_id]

    refused = api.http.post("/v1/tasks", json={"name": "post", "tool": "slack.post_message", "agent_id": agent_id})
    assert refused.status_code == 422 and "may not use" in refused.json()["error"]["message"]
    task = api.http.post("/v1/tasks", json={"name": "fetch", "tool": "crm.get_customer",
                                            "args": {"customer": "{{ inputs.who }}"}, "agent_id": agent_id}).json()
    assert api.http.get(f"/v1/tasks/{task['id']}").json()["tool"] == "crm.get_customer"
    run_id = api.http.post(f"/v1/tasks/{task['id']}/run", json={"inputs": {"who": "Hooli"}}).json()["run_id"]
    assert wait_for_run(api, run_id)["output"]["name"] == "Hooli"
    assert api.http.put(f"/v1/tasks/{task['id']}", json={"name": "f", "tool": "crm.list_tickets"}).json()["tool"] == \
        "crm.list_tickets"
    assert api.http.delete(f"/v1/tasks/{task['id']}").status_code == 204
    assert api.http.delete(f"/v1/agents/{agent_id}").status_code == 204
    assert api.http.get(f"/v1/agents/{agent_id}").status_code == 404


def test_tools_are_described_and_invoked_with_their_schema(api: Stack) -> None:
    tools = {t["name"]: t for t in api.http.get("/v1/tools").json()["items"]}
    assert {"crm.search_customers", "crm.get_customer", "crm.list_tickets", "summarize_customer",
            "slack.post_message", "summarize_and_post_customer_update", "report.build"} <= set(tools)
    schema = api.http.get("/v1/tools/crm.get_customer").json()["parameters"]
    assert schema["required"] == ["customer"] and schema["properties"]["customer"]["type"] == "string"

    bad = api.http.post("/v1/tools/crm.search_customers/invoke", json={"query": "a", "limit": 1000})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == ["limit"]
    assert api.http.post("/v1/tools/crm.search_customers/invoke", json={"qeury": "a"}).status_code == 422
    assert api.http.post("/v1/tools/no.such/invoke", json={}).status_code == 404
    run_id = api.http.post("/v1/tools/crm.search_customers/invoke", json={"query": "Initech"}).json()["run_id"]
    assert [c["name"] for c in wait_for_run(api, run_id)["output"]] == ["Initech", "Initech Labs"]


def test_http_tools_only_for_allowed_hosts(api: Stack) -> None:
    crm = api.crm.url
    refused = api.http.post("/v1/tools", json={"name": "legacy.lookup", "url_template": "https://example.com/x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "host_not_allowed"
    sneaky = api.http.post("/v1/tools", json={"name": "legacy.sneaky", "url_template": "http://{host}/x"})
    assert sneaky.status_code == 403
    stealing = api.http.post("/v1/tools", json={"name": "legacy.steal", "url_template": f"{crm}/x",
                                                "secret_headers": {"X-Token": "SLACK_BOT_TOKEN"}})
    assert stealing.status_code == 422  # only TOOL_* settings may be named
    created = api.http.post("/v1/tools", json={
        "name": "legacy.customer", "description": "A customer from the legacy CRM", "method": "GET",
        "url_template": f"{crm}/customers/{{customer_id}}",
        "parameters": {"type": "object", "required": ["customer_id"],
                       "properties": {"customer_id": {"type": "string"}}}})
    assert created.status_code == 201
    assert api.http.post("/v1/tools/legacy.customer/invoke", json={}).status_code == 422
    run_id = api.http.post("/v1/tools/legacy.customer/invoke", json={"customer_id": "cus_012"}).json()["run_id"]
    assert wait_for_run(api, run_id)["output"]["name"] == "Hooli"
    assert api.http.post("/v1/tools", json={"name": "crm.get_customer", "url_template": f"{crm}/x"}
                         ).status_code == 409
    assert api.http.delete("/v1/tools/legacy.customer").status_code == 204


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api: Stack) -> None:
    workflow = api.http.post("/v1/workflows", json={"name": "Once"}).json()
    headers = {"Idempotency-Key": "run-once-123"}
    first = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 1}}, headers=headers)
    again = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 1}}, headers=headers)
    other = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 2}}, headers=headers)

    respaced = api.http.post(f"/v1/workflows/{workflow['id']}/run", content=b'{ "inputs" : { "a" : 1 } }',
                             headers={**headers, "Content-Type": "application/json"})
    assert first.status_code == again.status_code == respaced.status_code == 202
    assert again.json() == first.json() == respaced.json() and again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(api.http.get(f"/v1/workflows/{workflow['id']}/runs").json()["items"]) == 1
    # A refused request is not remembered: mended, it may come again with the same key.
    mending = {"Idempotency-Key": "mend-me"}
    assert api.http.post("/v1/workflows", json={"name": ""}, headers=mending).status_code == 422
    assert api.http.post("/v1/workflows", json={"name": "Mended"}, headers=mending).status_code == 201


def test_a_run_started_with_an_idempotency_key_is_found_again_when_its_answer_was_never_remembered(api: Stack) -> None:
    # As when `acme serve` dies after starting the run and before remembering the answer: the claim lapses.
    workflow = api.http.post("/v1/workflows", json={"name": "Once more"}).json()
    headers = {"Idempotency-Key": "run-once-456"}
    first = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 1}}, headers=headers)
    lapse = lambda: [api.collaborators.redis.delete(r) for r in api.collaborators.redis.scan_iter("acme:idem:*")]  # noqa: E731
    lapse()
    again = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 1}}, headers=headers)
    lapse()
    other = api.http.post(f"/v1/workflows/{workflow['id']}/run", json={"inputs": {"a": 2}}, headers=headers)

    assert first.status_code == again.status_code == other.status_code == 202
    assert again.json()["run_id"] == first.json()["run_id"] != other.json()["run_id"]
    assert len(api.http.get(f"/v1/workflows/{workflow['id']}/runs").json()["items"]) == 2


def test_a_body_that_is_not_json_is_refused_415_with_what_was_sent(api: Stack) -> None:
    body = b'{"name": "Typed"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        refused = api.http.post("/v1/workflows", content=body, headers={"Content-Type": content_type})
        assert refused.status_code == 415, refused.text
        assert refused.json()["error"]["code"] == "unsupported_media_type" and content_type in refused.text
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        assert api.http.post("/v1/workflows", content=body, headers={"Content-Type": content_type}).status_code == 201
    untyped = api.http.post("/v1/workflows", content=body)
    assert untyped.status_code == 415 and "no Content-Type" in untyped.text
    workflow = api.http.get("/v1/workflows").json()["items"][0]
    assert api.http.post(f"/v1/workflows/{workflow['id']}/run", headers={"Content-Type": "text/plain"}).status_code \
        == 202  # no body, nothing to read


def test_request_ids_are_echoed_or_made(api: Stack) -> None:
    assert api.http.get("/v1/tools", headers={"X-Request-ID": "trace-abc.1"}).headers["x-request-id"] == "trace-abc.1"
    made = api.http.get("/healthz").headers["x-request-id"]
    assert len(made) == 32


def test_openapi_and_docs(api: Stack) -> None:
    schema = api.http.get("/openapi.json").json()
    assert "/v1/workflows/{workflow_id}/run" in schema["paths"]
    assert not any(p.startswith("/workflows") for p in schema["paths"])
    assert api.http.get("/docs").status_code == 200


def test_keys_are_required_when_configured(stack_factory, sqlite_db: str) -> None:
    api = stack_factory(worker=False, database_url=sqlite_db, acme_api_keys="key-one,key-two")
    anonymous = api.http.get("/v1/workflows")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert api.http.get("/v1/workflows", headers={"Authorization": "Bearer key-three"}).status_code == 401
    assert api.http.get("/workflows", headers={"Authorization": "Bearer key-two"}).status_code == 200
    for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert api.http.get(open_path).status_code == 200, open_path

    ws = api.app.url.replace("http://", "ws://") + "/v1/ws"
    with pytest.raises(Exception, match="403"):
        connect(ws, open_timeout=5).close()
    with connect(ws + "?api_key=key-one", open_timeout=5) as socket:
        socket.send(json.dumps({"subscribe": {"run_id": "run_x"}}))
        assert json.loads(socket.recv(timeout=5)) == {"subscribed": {"run_id": "run_x"}}
    # A message far larger than any subscription is not read: the socket closes with 1009 (too big).
    with connect(ws + "?api_key=key-one", open_timeout=5, max_size=None) as socket:
        socket.send(json.dumps({"subscribe": {"run_id": "r" * 2_000_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_rate_limit_per_key_answers_429_with_retry_after(stack_factory, sqlite_db: str) -> None:
    api = stack_factory(worker=False, database_url=sqlite_db, acme_api_keys="k1,k2", acme_api_rate="2/s")
    k1, k2 = {"Authorization": "Bearer k1"}, {"Authorization": "Bearer k2"}
    statuses: list[int] = []
    # Two at once, then one each half second: on a slow machine a third request may come after the next is due.
    while 429 not in statuses and len(statuses) < 20:
        statuses.append(api.http.get("/v1/tools", headers=k1).status_code)
    assert statuses[:2] == [200, 200] and statuses[-1] == 429
    limited = api.http.get("/v1/tools", headers=k1)
    assert limited.headers["retry-after"] == "1" and limited.json()["error"]["code"] == "rate_limited"
    assert api.http.get("/v1/tools", headers=k2).status_code == 200  # another key has its own allowance
    time.sleep(1.1)
    assert api.http.get("/v1/tools", headers=k1).status_code == 200


def test_slack_work_is_recorded_as_runs_of_built_in_workflows_and_streamed(api: Stack) -> None:
    summary_flow = "wf_builtin_slack_summary"
    assert api.http.get(f"/v1/workflows/{summary_flow}").json()["name"] == "Slack: customer summary"
    with connect(api.app.url.replace("http://", "ws://") + f"/v1/ws?workflow_id={summary_flow}",
                 open_timeout=5) as socket:
        assert api.slash("summary Globex").text == "Working on it..."
        statuses = []
        while not statuses or statuses[-1] not in ("succeeded", "failed"):
            event = json.loads(socket.recv(timeout=20))
            if event["type"] == "run.status":
                statuses.append(event["status"])
    assert statuses == ["queued", "running", "succeeded"]
    [run] = api.http.get(f"/v1/workflows/{summary_flow}/runs").json()["items"]
    detail = api.http.get(f"/v1/runs/{run['id']}").json()
    assert detail["inputs"]["request"]["customer"] == "Globex"
    assert detail["output"] == "summary of cus_001"

    api.slash("summary Nobody Such")
    deadline = time.monotonic() + 10
    runs = []
    while len(runs) < 2 and time.monotonic() < deadline:
        runs = api.http.get(f"/v1/workflows/{summary_flow}/runs").json()["items"]
        time.sleep(0.05)
    failed = wait_for_run(api, runs[1]["id"])
    assert failed["status"] == "failed" and failed["error"] == "no customer matches 'Nobody Such'"
    refused = api.http.post(f"/v1/workflows/{summary_flow}/run")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "builtin_workflow"
    assert api.http.delete(f"/v1/workflows/{summary_flow}").status_code == 409


def test_cancel_a_running_run_stops_it_between_steps(api: Stack) -> None:
    api.crm.faults("slow", delay_s=1.0)
    workflow = api.http.post("/v1/workflows", json={"name": "Two steps", "steps": [
        {"id": "first", "tool": "crm.search_customers", "args": {"query": "Globex"}},
        {"id": "second", "tool": "crm.search_customers", "args": {"query": "Initech"}}]}).json()
    run_id = api.http.post(f"/v1/workflows/{workflow['id']}/run").json()["run_id"]
    deadline = time.monotonic() + 10
    while api.http.get(f"/v1/runs/{run_id}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    answer = api.http.post(f"/v1/runs/{run_id}/cancel")
    assert answer.status_code == 202 and answer.json()["status"] == "cancelling"
    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert [s["step_id"] for s in run["steps"]] == ["first"]


def test_cancel_a_running_agent_turn_stops_it_before_its_next_call(api: Stack) -> None:
    api.crm.faults("slow", delay_s=1.0)
    agent_id = api.http.post("/v1/agents", json={"name": "Reader"}).json()["id"]
    run_id = api.http.post(f"/v1/agents/{agent_id}/run",
                           json={"input": "open tickets for Globex, Initech and Umbrella"}).json()["run_id"]
    deadline = time.monotonic() + 10
    while not api.http.get(f"/v1/runs/{run_id}").json()["steps"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.http.post(f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelling"
    assert api.http.post(f"/v1/runs/{run_id}/cancel").status_code == 202  # asked again: said once

    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert len(run["steps"]) == 1, run["steps"]
    assert [e["detail"].get("reason") for e in run["events"]].count("cancel requested") == 1, run["events"]


def test_an_agent_run_answers_the_api_in_text_as_written_not_escaped_for_slack(api: Stack) -> None:
    agent_id = api.http.post("/v1/agents", json={"name": "Reader"}).json()["id"]
    run_id = api.http.post(f"/v1/agents/{agent_id}/run", json={"input": "summarize Procter & Gamble"}).json()[
        "run_id"]
    answer = wait_for_run(api, run_id)["output"]["answer"]
    assert "Procter & Gamble" in answer and "&amp;" not in answer, answer


def test_updates_and_deletes_of_what_does_not_exist_are_404(api: Stack) -> None:
    for method, path, body in [("PUT", "/v1/workflows/wf_nope", {"name": "x"}),
                               ("PATCH", "/v1/workflows/wf_nope", {"name": "x"}),
                               ("DELETE", "/v1/workflows/wf_nope", None),
                               ("POST", "/v1/workflows/wf_nope/run", None),
                               ("GET", "/v1/workflows/wf_nope/status", None),
                               ("PUT", "/v1/agents/agt_nope", {"name": "x"}),
                               ("PATCH", "/v1/tasks/task_nope", {"name": "x"}),
                               ("POST", "/v1/tasks/task_nope/run", None),
                               ("GET", "/v1/tools/no.such", None),
                               ("DELETE", "/v1/tools/no.such", None),
                               ("POST", "/v1/workflows/wf_nope/context", {"key": "k", "value": 1})]:
        answer = api.http.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "not_found"


def test_agents_are_replaced_and_tasks_patched(api: Stack) -> None:
    agent_id = api.http.post("/v1/agents", json={"name": "a", "tools": ["crm.get_customer"]}).json()["id"]
    replaced = api.http.put(f"/v1/agents/{agent_id}", json={"name": "b", "tools": ["crm.list_tickets"]}).json()
    assert (replaced["name"], replaced["tools"], replaced["instructions"]) == ("b", ["crm.list_tickets"], "")
    task_id = api.http.post("/v1/tasks", json={"name": "t", "tool": "crm.list_tickets"}).json()["id"]
    assert api.http.patch(f"/v1/tasks/{task_id}", json={"agent_id": agent_id}).json()["agent_id"] == agent_id
    refused = api.http.patch(f"/v1/tasks/{task_id}", json={"tool": "crm.get_customer"})
    assert refused.status_code == 422  # the agent may not use it


def test_metrics_count_runs_by_status(api: Stack) -> None:
    workflow = api.http.post("/v1/workflows", json={"name": "Counted"}).json()
    wait_for_run(api, api.http.post(f"/v1/workflows/{workflow['id']}/run").json()["run_id"])
    metrics = api.http.get("/metrics").text
    assert 'acme_runs{status="succeeded"} 1.0' in metrics
    assert 'acme_http_requests_total{path="/v1/workflows/{workflow_id}/run",status="202"} 1.0' in metrics, [
        line for line in metrics.splitlines() if "requests_total{" in line]


def test_a_cursor_that_was_never_given_out_is_a_422(api: Stack) -> None:
    workflow = api.http.post("/v1/workflows", json={"name": "With context"}).json()
    answer = api.http.get(f"/v1/workflows/{workflow['id']}/context", params={"cursor": "not-a-number"})
    assert answer.status_code == 422


def test_arguments_known_only_when_the_step_runs_are_checked_then_not_when_the_workflow_is_made(api: Stack) -> None:
    made = api.http.post("/v1/workflows", json={"name": "Search", "steps": [
        {"id": "find", "tool": "crm.search_customers",
         "args": {"query": "{{ inputs.q }}", "limit": "{{ inputs.n }}"}}]})
    assert made.status_code == 201, made.text
