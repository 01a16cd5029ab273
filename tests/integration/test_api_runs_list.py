"""GET /v1/runs: every run, whoever started it, oldest first, paged, and filtered by status or workflow."""

from __future__ import annotations

import time

from tests.conftest import Stack

SUMMARY_FLOW = "wf_builtin_slack_summary"


def _all_runs(stack: Stack, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        answer = stack.http.get("/v1/runs", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return items


def test_every_run_is_listed_oldest_first_in_pages_and_by_status(stack_factory) -> None:
    stack: Stack = stack_factory(acme_api_rate="1000/s")
    for customer in ("Globex", "Initech", "Zzyzx Nonexistent"):
        assert stack.slash(f"summary {customer}").text == "Working on it..."
    deadline = time.monotonic() + 20
    while len([r for r in _all_runs(stack) if r["status"] in ("succeeded", "failed")]) < 3:
        assert time.monotonic() < deadline, "the runs did not end"
        time.sleep(0.1)
    runs = _all_runs(stack)
    assert [r["id"] for r in runs] == sorted(r["id"] for r in runs)
    assert {r["workflow_id"] for r in runs} == {SUMMARY_FLOW}
    assert [r["status"] for r in _all_runs(stack, status="failed")] == ["failed"]
    assert len(_all_runs(stack, status="succeeded", workflow_id=SUMMARY_FLOW)) == 2
    assert _all_runs(stack, workflow_id="wf_none") == []
    after_first = stack.http.get("/v1/runs", params={"cursor": runs[0]["id"]}).json()["items"]
    assert [r["id"] for r in after_first] == [r["id"] for r in runs[1:]]
    assert stack.http.get("/v1/runs", params={"status": "exploded"}).status_code == 422
