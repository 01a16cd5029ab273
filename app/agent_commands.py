"""`acme plan` and `acme eval`: what a planner would do with plain requests, and how often it is right."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from app.agent.conversation import Planner, ToolSpec
from app.agent.evals import EvalOutcome, default_cases_path, evaluate, first_move, read_cases


def plan(planner: Planner, text: str, channel: str | None, as_json: bool, tools: tuple[ToolSpec, ...],
         out: TextIO = sys.stdout, lines: TextIO = sys.stdin) -> None:
    """Plan TEXT (or, with TEXT `-`, each line of standard input) and execute nothing."""
    texts = (line.rstrip("\n") for line in lines) if text == "-" else iter([text])
    for each in texts:
        calls, reply = first_move(planner, each, channel, tools)
        if as_json or text == "-":
            out.write(json.dumps({"planner": planner.name, "calls": calls, "reply": reply}) + "\n")
        else:
            for call in calls:
                out.write(f"{call['tool']} {json.dumps(call['args'])}\n")
            if reply is not None:
                out.write(f"{reply}\n")
        out.flush()


def _line(outcome: EvalOutcome) -> str:
    mark = "ok  " if outcome.right else ("tool" if outcome.tool_right else "FAIL")
    got = f"{outcome.tool} {json.dumps(outcome.args)}"
    wanted = "" if outcome.right else f"   wanted {outcome.case.tool} {json.dumps(outcome.case.args)}"
    return f"{mark}  {outcome.case.text!r} -> {got}{wanted}"


def run_eval(planner: Planner, path: str | None, min_accuracy: float, as_json: bool, tools: tuple[ToolSpec, ...],
             out: TextIO = sys.stdout) -> bool:
    """Run an eval set; answers whether its accuracy (tool and arguments right) reaches `min_accuracy`."""
    with open(path or default_cases_path(), encoding="utf-8") as lines:
        outcomes = evaluate(planner, read_cases(lines), tools)
    total = len(outcomes) or 1
    tool_accuracy = sum(o.tool_right for o in outcomes) / total
    accuracy = sum(o.right for o in outcomes) / total
    passed = accuracy >= min_accuracy
    if as_json:
        out.write(json.dumps({
            "planner": planner.name, "cases": len(outcomes), "tool_accuracy": round(tool_accuracy, 4),
            "accuracy": round(accuracy, 4), "min_accuracy": min_accuracy, "passed": passed,
            "results": [{"text": o.case.text, "channel": o.case.channel, "expected": {"tool": o.case.tool,
                         "args": o.case.args}, "got": {"tool": o.tool, "args": o.args}, "reply": o.reply,
                         "tool_right": o.tool_right, "right": o.right} for o in outcomes]}) + "\n")
    else:
        for outcome in outcomes:
            out.write(_line(outcome) + "\n")
        out.write(f"\n{planner.name} planner, {len(outcomes)} cases: tool right {tool_accuracy:.1%}, "
                  f"tool and arguments right {accuracy:.1%} (minimum {min_accuracy:.0%}): "
                  f"{'passed' if passed else 'FAILED'}\n")
    return passed
