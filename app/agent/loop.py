"""One agent turn: the planner proposes tool calls, each is checked against its schema and run as a step of
the turn's run, results go back to the planner, until it answers, it needs the asker's approval, or the turn
has made AGENT_MAX_STEPS calls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.agent.approval_policy import effect_outside
from app.agent.conversation import AgentRequest, Answer, Planner, ToolCall, ToolResult, Usage
from app.integrations.errors import IntegrationError
from app.queueing.job_table import JOB_TIMEOUT_S
from app.runs.builtin_workflows import AGENT_TURN
from app.runs.steps import StepOutcome, StepRecorder
from app.tools.context import ToolContext
from app.tools.http_tools import HttpTool
from app.tools.registry import ToolArgumentsInvalid, ToolError
from app.tools.tool_catalog import ToolCatalog

log = logging.getLogger(__name__)
NOT_WITHOUT_APPROVAL = "this acts outside the conversation and needs a person's approval in Slack; not done"
# What a turn may spend asking a model: its job's time limit, less time for the rules to answer and to post it.
TURN_BUDGET_S = JOB_TIMEOUT_S - 30
FALLBACK_NOTE = "_The language model is unavailable right now, so my built-in rules answered._"


class TurnCancelled(Exception):
    """A cancel was asked for the turn's run: it stops before its next call, to the planner or to a tool."""


class TurnObserver(Protocol):
    """What a surface (Slack) shows while a turn goes on."""

    def calling(self, call: ToolCall) -> None: ...

    def called(self, call: ToolCall, result: ToolResult) -> None: ...


class _Unobserved:
    def calling(self, call: ToolCall) -> None:
        pass

    def called(self, call: ToolCall, result: ToolResult) -> None:
        pass


@dataclass(frozen=True)
class PendingCall:
    """A call that waits for the asker: `effect` says exactly what it would do."""

    call: ToolCall
    effect: str
    results: tuple[ToolResult, ...]
    step_id: str


@dataclass(frozen=True)
class TurnOutcome:
    answer: Answer | None
    planner: str
    usage: Usage
    results: tuple[ToolResult, ...]
    fallback_note: str | None = None
    pending: PendingCall | None = None

    @property
    def text(self) -> str:
        return self.answer.text if self.answer else ""


class AgentLoop:
    def __init__(self, tools: ToolCatalog, steps: StepRecorder, tool_context: ToolContext, max_steps: int) -> None:
        self._tools = tools
        self._steps = steps
        self._tool_context = tool_context
        self._max_steps = max_steps

    def run(self, run_id: str, request: AgentRequest, planner: Planner, fallback: Planner | None = None,
            observer: TurnObserver | None = None, approved_call: ToolCall | None = None,
            may_ask: bool = True, cancelled: Callable[[], bool] = lambda: False) -> TurnOutcome:
        """Plan and act until an answer. `approved_call`, which the asker has approved, is made first;
        without `may_ask` (nobody to ask, as through the API) a call that needs approval is refused to the
        planner. Raises TurnCancelled when `cancelled()` says so before a call."""
        observer = observer or _Unobserved()
        context = replace(self._tool_context, run_id=run_id, asker=request.asker)
        allowed = {tool.name for tool in request.tools}
        results = list(request.results)
        if approved_call is not None:
            observer.calling(approved_call)
            result = self.execute(run_id, f"call-{len(results) + 1}", approved_call, context, allowed)
            results.append(result)
            observer.called(approved_call, result)
        usage = Usage()
        note: str | None = None
        current = planner
        # The turn's job is stopped at its time limit: the model is given up for the rules before it.
        request = replace(request, deadline=time.monotonic() + TURN_BUDGET_S)
        while True:
            if cancelled():
                raise TurnCancelled(run_id)
            try:
                step = current.next_step(request.with_results(tuple(results)))
            except IntegrationError as exc:
                if fallback is None or current is fallback:
                    raise
                log.warning("the %s planner failed (%s); the %s planner answers", current.name, exc, fallback.name)
                current, note = fallback, FALLBACK_NOTE
                continue
            usage = usage + step.usage
            if isinstance(step, Answer):
                return TurnOutcome(step, current.name, usage, tuple(results), note)
            round_usage: dict[str, int] | None = step.usage.as_dict() if step.usage.as_dict()["total_tokens"] else None
            for call in step.calls:
                if cancelled():
                    raise TurnCancelled(run_id)
                if len(results) >= self._max_steps:
                    stop = Answer(f"I stopped after {len(results)} tool calls (AGENT_MAX_STEPS) without finishing. "
                                  f"Ask again more narrowly, or raise AGENT_MAX_STEPS.", mrkdwn=True)
                    return TurnOutcome(stop, current.name, usage, tuple(results), note)
                step_id = f"call-{len(results) + 1}"
                effect = self._effect(call, request.channel, request.thread_ts)
                if effect:
                    if may_ask:
                        return TurnOutcome(None, current.name, usage, tuple(results), note,
                                           PendingCall(call, f"{effect}\n{step.note}" if step.note else effect,
                                                       tuple(results), step_id))
                    results.append(ToolResult(call, error=NOT_WITHOUT_APPROVAL))
                    continue
                observer.calling(call)
                result = self.execute(run_id, step_id, call, context, allowed, round_usage)
                round_usage = None
                results.append(result)
                observer.called(call, result)

    def _effect(self, call: ToolCall, conversation: str | None, thread: str | None) -> str | None:
        if call.problem:
            return None
        tool = self._tools.get(call.tool)
        return effect_outside(call, conversation, tool.method if isinstance(tool, HttpTool) else None, thread)

    def execute(self, run_id: str, step_id: str, call: ToolCall, context: ToolContext, allowed: Collection[str],
                usage: dict[str, int] | None = None) -> ToolResult:
        """Run one call as a step of the run: a call the planner got wrong comes back to it as an error."""

        def work(args: dict[str, Any]) -> Any:
            args.update(call.args)
            if call.problem:
                raise _CallRefused(call.problem)
            tool = self._tools.get(call.tool) if not allowed or call.tool in allowed else None
            if tool is None:
                raise _CallRefused(f"there is no tool {call.tool!r} available here")
            try:
                valid = tool.validate(call.args)
            except ToolArgumentsInvalid as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['path'])) or 'arguments'}: {e['message']}"
                                     for e in exc.errors)
                raise _CallRefused(f"the arguments do not match the schema of {call.tool}: {problems}") from None
            return tool.run(context, valid)

        outcome: StepOutcome = self._steps.run(run_id, step_id, call.tool, work, usage, AGENT_TURN.id)
        return ToolResult(call, outcome.output, outcome.error)


class _CallRefused(ToolError):
    """The planner proposed a call that cannot be made; it hears why."""
