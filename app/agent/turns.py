"""Agent turns as runs: each turn is a run of the built-in agent workflow, with a step per tool call, its
answer, planner and token usage, whoever asked (Slack or the API)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert

from app.agent.conversation import AgentRequest, Planner, PlannerStep, ToolCall, ToolSpec, Turn, Usage
from app.agent.loop import AgentLoop, TurnCancelled, TurnObserver, TurnOutcome
from app.integrations.errors import IntegrationError
from app.messages.mrkdwn import unescape
from app.runs.builtin_workflows import AGENT_TURN
from app.runs.history import TERMINAL, RunHistory
from app.state.agent_counters import AgentCounters
from app.state.thread_memory import ThreadMemory
from app.store.models import Agent, Run, new_id, utcnow
from app.tools.tool_catalog import ToolCatalog

log = logging.getLogger(__name__)
_INSERT_RUN = insert(cast(Table, Run.__table__))


@dataclass(frozen=True)
class Asked:
    """Who asked the agent what, and where: what a turn's job carries (ids and words, never secrets)."""

    text: str
    channel: str | None = None
    user: str = ""
    team: str = ""
    thread_ts: str | None = None
    agent_id: str | None = None
    origin: str = "slack"

    def inputs(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class CountedPlanner:
    """A planner whose model calls, tokens and failures are tallied, for /metrics once the turn has played."""

    planner: Planner
    tally: Counter[str] = field(default_factory=Counter)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.planner.name

    def next_step(self, request: AgentRequest) -> PlannerStep:
        try:
            step = self.planner.next_step(request)
        except IntegrationError:
            self.tally["model_failures"] += 1
            raise
        self.tally.update(model_calls=1, prompt_tokens=step.usage.prompt_tokens,
                          completion_tokens=step.usage.completion_tokens)
        return step


@dataclass(frozen=True)
class RunSlot:
    """Where a turn's job keeps the run it records: its next run (the worker died) goes on with that run."""

    run_id: str | None = None
    keep: Callable[[str], None] = lambda run_id: None


class AgentTurns:
    def __init__(self, *, history: RunHistory, loop: AgentLoop, tools: ToolCatalog, memory: ThreadMemory,
                 counters: AgentCounters, planner: Planner, fallback: Planner | None,
                 counts_model_calls: bool = False) -> None:
        self._history = history
        self._loop = loop
        self._tools = tools
        self._memory = memory
        self.counters = counters
        self._planner = planner
        self._fallback = fallback
        self._counts_model_calls = counts_model_calls

    def begin(self, asked: Asked, queued_at: datetime | None = None, slot: RunSlot | None = None) -> str:
        """A run for the turn, running from now: one INSERT and its events, as every turn starts with it; or,
        for a job its dying worker left, the run it began (kept in `slot`)."""
        if slot is not None and slot.run_id and self._resumed(slot.run_id):
            return slot.run_id
        started = utcnow()
        queued = queued_at.replace(tzinfo=UTC) if queued_at and not queued_at.tzinfo else queued_at
        run_id = new_id("run")
        with self._history.writing() as history:
            history.session.connection().execute(_INSERT_RUN, {
                "id": run_id, "workflow_id": AGENT_TURN.id, "workflow_version": 1, "steps": [],
                "inputs": asked.inputs(), "status": "running", "created_at": queued or started,
                "started_at": started})
            history.emit_for(run_id, AGENT_TURN.id, "run.status", "queued", at=queued or started)
            history.emit_for(run_id, AGENT_TURN.id, "run.status", "running", at=started)
        if slot is not None:
            slot.keep(run_id)
        return run_id

    def _resumed(self, run_id: str) -> bool:
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:  # (waiting: as the failure callback left it)
                return False
            history.end_live_steps(run, "retried", "the turn runs again: its worker stopped")
            run.status = "running"
            history.emit(run, "run.status", "running", reason="its worker stopped; the turn runs again")
        return True

    def take_queued(self, run_id: str) -> Asked | None:
        """A run the API queued, now running; None when it is not waiting to run (cancelled, or gone)."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id)
            if run is None or run.status != "queued":
                return None
            run.status, run.started_at = "running", utcnow()
            history.emit(run, "run.status", "running")
            inputs = dict(run.inputs)
        return Asked(text=str(inputs.get("text", "")), channel=inputs.get("channel"),
                     agent_id=inputs.get("agent_id"), origin="api")

    def answer_queued(self, run_id: str) -> str:
        """A turn the API asked for: nobody to ask for approvals, so calls that need one are not made."""
        asked = self.take_queued(run_id)
        if asked is None:
            return f"run {run_id} is not waiting to run; nothing to do"
        try:
            outcome = self.play(run_id, self.request_for(asked), may_ask=False)
        except TurnCancelled:
            self.stop(run_id, "cancelled", "cancelled while it ran")
            return "cancelled"
        except IntegrationError as exc:
            self.stop(run_id, "failed", exc.user_message)
            return f"failed: {exc.user_message}"
        except Exception as exc:
            self.stop(run_id, "failed", f"internal error ({type(exc).__name__})")
            raise
        text = outcome.text + (f"\n{outcome.fallback_note}" if outcome.fallback_note else "")
        if outcome.answer is not None and outcome.answer.mrkdwn:
            # Escaped for Slack (`AT&amp;T`); an API caller reads the text as the CRM wrote it, as a model's is.
            text = unescape(text)
        self.end(run_id, asked, outcome, text)
        return f"answered by the {outcome.planner} planner"

    def request_for(self, asked: Asked) -> AgentRequest:
        """What the planner is given: the agent's instructions and allowed tools, and the thread's memory."""
        instructions, allowed = "", None
        if asked.agent_id:
            with self._history.db.session() as session:
                agent = session.get(Agent, asked.agent_id)
                if agent is not None:
                    instructions, allowed = agent.instructions, set(agent.tools) or None
        specs = tuple(ToolSpec(t.name, str(t.describe().get("description", "")), t.describe()["parameters"])
                      for t in self._tools.all() if allowed is None or t.name in allowed)
        history: tuple[Turn, ...] = ()
        if asked.channel and asked.thread_ts:
            history = tuple(Turn(t["role"], t["text"], t.get("customer"))
                            for t in self._memory.turns(asked.channel, asked.thread_ts)
                            if t.get("role") in ("user", "assistant"))
        return AgentRequest(text=asked.text, channel=asked.channel, thread_ts=asked.thread_ts, asker=asked.user,
                            instructions=instructions, history=history, tools=specs)

    def play(self, run_id: str, request: AgentRequest, observer: TurnObserver | None = None,
             approved_call: ToolCall | None = None, may_ask: bool = True) -> TurnOutcome:
        # The model's calls are counted once a turn, in one write, not once a call.
        planner = CountedPlanner(self._planner) if self._counts_model_calls else self._planner
        tally = planner.tally if isinstance(planner, CountedPlanner) else Counter[str]()
        try:
            outcome = self._loop.run(run_id, request, planner, self._fallback, observer, approved_call, may_ask,
                                     cancelled=lambda: self._history.cancel_requested(run_id))
            if outcome.fallback_note:
                tally["fallbacks"] += 1
            return outcome
        finally:
            self.counters.add(**tally)

    def end(self, run_id: str, asked: Asked, outcome: TurnOutcome, answer_text: str) -> None:
        """Record how the turn ended; a pending approval leaves the run waiting."""
        status = "waiting" if outcome.pending else "succeeded"
        output = {"answer": answer_text, "planner": outcome.planner, "fallback": bool(outcome.fallback_note),
                  "tool_calls": len(outcome.results)}
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.status in TERMINAL:
                return  # cancelled while it ran: it stays so
            usage = _added(run.usage, outcome.usage)
            if run.cancel_requested:
                # Asked while the last call or the answer was being made: the answer is kept, the cancel said.
                run.output, run.usage = output, usage
                history.end(run, "cancelled", "cancelled while it ran")
                return
            run.status, run.output, run.usage = status, output, usage
            if status != "waiting":
                run.finished_at = utcnow()
            if outcome.pending:
                history.emit(run, "run.status", status, approval=outcome.pending.effect)
            else:
                history.emit(run, "run.status", status)
        if outcome.answer and asked.channel and asked.thread_ts:
            customer = next((str(r.call.args["customer"]) for r in reversed(outcome.results)
                             if "customer" in r.call.args), None)
            self._memory.remember(asked.channel, asked.thread_ts, asked.text, answer_text, customer)

    def resume(self, run_id: str) -> bool:
        """A run that waited for an approval goes on; False when it was cancelled meanwhile (through the API)."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is not None and (run.status in TERMINAL or run.cancel_requested):
                return False
            if run is not None:
                run.status = "running"
                history.emit(run, "run.status", "running")
        return True

    def record_feedback(self, run_id: str, user: str, verdict: str, channel: str | None = None) -> bool:
        """Keep what `user` said of the answer (their latest word counts, each person once); False for a run
        that is no turn, a click from another channel than the answer's (a button copied elsewhere, or made
        up), or the same word again."""
        with self._history.writing() as history:
            run = history.session.get(Run, run_id, with_for_update=True)
            if run is None or run.workflow_id != AGENT_TURN.id:
                return False
            if channel is not None and (run.inputs or {}).get("channel") not in (None, channel):
                log.warning("feedback on %s from %s in %s, not where it was answered: ignored", run_id, user, channel)
                return False
            if (run.feedback or {}).get(user) == verdict:
                return False
            run.feedback = {**(run.feedback or {}), user: verdict}
            history.emit(run, "run.feedback", verdict, user=user)
        self.counters.add(**{f"feedback_{verdict}": 1})
        return True

    def stop(self, run_id: str, status: str, error: str) -> None:
        """A turn that ends without an answer: failed, or cancelled (an approval refused or expired)."""
        self._history.finish(run_id, status, error=error)


def _added(before: dict[str, Any] | None, usage: Usage) -> dict[str, int]:
    total = usage + Usage(int((before or {}).get("prompt_tokens", 0)), int((before or {}).get("completion_tokens", 0)))
    return total.as_dict()
