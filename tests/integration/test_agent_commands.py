"""`acme plan` and `acme eval` as a person runs them, with the rules and with a model over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.model_emulator import call
from tests.conftest import FakeModel


def acme(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=60,
                          input=stdin, env={**os.environ, **(env or {})}, cwd=cwd)


def test_plan_prints_the_first_calls_as_json_and_reads_lines(tmp_path: Path) -> None:
    one = acme("plan", "--json", "--channel", "C0GEN", "summarize Globex and post it in <#C0SALES|sales>",
               cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {"planner": "rules", "reply": None, "calls": [
        {"tool": "summarize_and_post_customer_update", "args": {"customer": "Globex", "channel": "C0SALES"}}]}
    lines = acme("plan", "-", stdin="hi\nstatus\n", cwd=tmp_path).stdout.splitlines()
    assert [json.loads(line)["calls"] for line in lines] == [[], [{"tool": "system.status", "args": {}}]]
    assert json.loads(lines[0])["reply"]


def test_eval_prints_each_case_and_fails_below_the_floor(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"text": "summarize Hooli", "tool": "summarize_customer",
                                 "args": {"customer": "hooli"}}) + "\n"
                     + json.dumps({"text": "delete all customers", "tool": "crm.get_customer",
                                   "args": {"customer": "x"}}) + "\n")
    result = acme("eval", str(cases), "--min-accuracy", "0.9", cwd=tmp_path)
    assert result.returncode == 1 and "tool and arguments right 50.0%" in result.stdout
    report = json.loads(acme("eval", str(cases), "--json", "--min-accuracy", "0.5", cwd=tmp_path).stdout)
    assert report["passed"] and report["cases"] == 2 and report["accuracy"] == 0.5
    assert acme("eval", "--planner", "rules", cwd=tmp_path).returncode == 0


def test_plan_with_a_model_maps_its_function_names_back(fake_model: FakeModel, redis_url: str,
                                                        tmp_path: Path) -> None:
    fake_model.api.then(call("crm_list_tickets", {"customer": "Initech"}))
    env = {"LLM_BASE_URL": fake_model.url, "LLM_MODEL": "fake-model", "REDIS_URL": redis_url}
    result = acme("plan", "--json", "any fires at Initech?", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"planner": "llm", "reply": None,
                                         "calls": [{"tool": "crm.list_tickets", "args": {"customer": "Initech"}}]}
    broken = acme("plan", "hi", env={"LLM_BASE_URL": fake_model.url}, cwd=tmp_path)
    assert broken.returncode == 2 and "LLM_MODEL" in broken.stderr
