"""Evals of a planner's first move: JSON Lines of {"text", "channel"?, "tool", "args"}, `tool` a registry
name or "none". A case is right on the tool when the first call names it (or there is no call and the tool
is "none"), and right in full when the arguments match too: strings compared without regard to case or
spacing, since that is how the CRM matches them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from app.agent.conversation import AgentRequest, Calls, Planner, ToolSpec

NO_TOOL = "none"


@dataclass(frozen=True)
class EvalCase:
    text: str
    channel: str | None
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class EvalOutcome:
    case: EvalCase
    tool: str
    args: dict[str, Any]
    reply: str | None

    @property
    def tool_right(self) -> bool:
        return self.tool == self.case.tool

    @property
    def right(self) -> bool:
        return self.tool_right and (self.tool == NO_TOOL or _normal(self.args) == _normal(self.case.args))


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.casefold().split()).strip(" .!?")
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def default_cases_path() -> Path:
    return Path(str(resources.files("app.agent.eval_sets").joinpath("plain_requests.jsonl")))


def read_cases(lines: Iterable[str]) -> Iterator[EvalCase]:
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            raw = json.loads(line)
            yield EvalCase(str(raw["text"]), raw.get("channel"), str(raw["tool"]), dict(raw.get("args") or {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not an eval case: {exc}") from None


def first_move(planner: Planner, text: str, channel: str | None,
               tools: tuple[ToolSpec, ...] = ()) -> tuple[list[dict[str, Any]], str | None]:
    """The planner's first round: the calls it would make (none are made), or its reply."""
    step = planner.next_step(AgentRequest(text=text, channel=channel, tools=tools))
    if isinstance(step, Calls):
        return [{"tool": call.tool, "args": call.args} for call in step.calls], None
    return [], step.text


def evaluate(planner: Planner, cases: Iterable[EvalCase], tools: tuple[ToolSpec, ...] = ()) -> list[EvalOutcome]:
    outcomes = []
    for case in cases:
        calls, reply = first_move(planner, case.text, case.channel, tools)
        tool, args = (str(calls[0]["tool"]), dict(calls[0]["args"])) if calls else (NO_TOOL, {})
        outcomes.append(EvalOutcome(case, tool, args, reply))
    return outcomes
