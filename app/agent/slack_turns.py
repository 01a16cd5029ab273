"""A turn asked in Slack: shown as it goes, answered in the thread, and a call with an effect elsewhere asked
of the asker first. Approve and Cancel act once, for the asker only; an approval nobody decides expires."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from app.agent.conversation import ToolCall, ToolResult
from app.agent.loop import TurnCancelled, TurnOutcome
from app.agent.slack_surface import SlackSurface
from app.agent.turns import AgentTurns, Asked, RunSlot
from app.domain.outcome import Failed
from app.integrations.errors import DownstreamRejected, IntegrationError
from app.integrations.slack_poster import NOT_A_MEMBER, SlackPoster
from app.messages.agent import approval_request, approval_settled, asked_in_channel, safe_answer
from app.messages.message import Message
from app.messages.mrkdwn import mention
from app.state.approvals import ApprovalStore
from app.state.thread_memory import ThreadMemory

log = logging.getLogger(__name__)
ScheduleExpiry = Callable[[str, int], None]


class SlackTurns:
    def __init__(self, turns: AgentTurns, slack: SlackPoster, approvals: ApprovalStore, memory: ThreadMemory,
                 schedule_expiry: ScheduleExpiry, approval_ttl_s: int, stream: bool = True) -> None:
        self._turns = turns
        self._slack = slack
        self._approvals = approvals
        self._memory = memory
        self._schedule_expiry = schedule_expiry
        self._ttl_s = approval_ttl_s
        self._stream = stream

    def _surface(self, asked: Asked) -> SlackSurface:
        assert asked.channel and asked.thread_ts
        return SlackSurface(self._slack, asked.channel, asked.thread_ts, asked.user, asked.team, self._stream)

    def answer_in_channel(self, asked: Asked, queued_at: datetime | None,
                          tell_asker: Callable[[Message], None], slot: RunSlot | None = None) -> str:
        """`/acme ask`: the question is posted in the channel, and answered in its thread."""
        assert asked.channel
        try:
            ts = self._slack.post_message(asked.channel, asked_in_channel(asked.user, asked.text))
        except DownstreamRejected as exc:
            if not any(code in exc.detail for code in NOT_A_MEMBER):
                raise
            tell_asker(Message(text="I can answer `/acme ask` only in a channel I'm a member of: `/invite @acme`, "
                                    "or send me a direct message."))
            return Failed("the bot is not a member of the channel")
        return self.answer(replace(asked, thread_ts=ts), queued_at, slot=slot)

    def answer(self, asked: Asked, queued_at: datetime | None = None, say_working: bool = False,
               slot: RunSlot | None = None) -> str:
        """Answer `asked` in its thread (channel and thread_ts are set)."""
        assert asked.channel and asked.thread_ts
        self._memory.mark_answering(asked.channel, asked.thread_ts)
        with self._surface(asked) as surface:
            if say_working:
                surface.working()
            surface.status("Thinking...")
            run_id = self._turns.begin(asked, queued_at, slot)
            try:
                outcome = self._turns.play(run_id, self._turns.request_for(asked), surface)
                return self._conclude(run_id, asked, outcome, surface)
            except TurnCancelled:
                return self._cancelled(run_id, surface)
            except IntegrationError as exc:
                self._turns.stop(run_id, "failed", exc.user_message)
                surface.answer(safe_answer(exc.user_message, mrkdwn=False), None)
                return Failed(exc.user_message)
            except Exception as exc:
                self._turns.stop(run_id, "failed", f"internal error ({type(exc).__name__})")
                raise
            finally:
                surface.status("")

    def _cancelled(self, run_id: str, surface: SlackSurface) -> str:
        self._turns.stop(run_id, "cancelled", "cancelled while it ran")
        surface.answer(safe_answer("This was cancelled (through the API) before I finished.", mrkdwn=False), None)
        return "cancelled"

    def _conclude(self, run_id: str, asked: Asked, outcome: TurnOutcome, surface: SlackSurface) -> str:
        assert asked.channel and asked.thread_ts
        if outcome.pending:
            pending = outcome.pending
            approval_id = self._approvals.save({
                "asked": asdict(asked), "run_id": run_id, "effect": pending.effect,
                "call": asdict(pending.call), "results": [_result_record(r) for r in pending.results],
                "expires_at": time.time() + self._ttl_s})
            surface.pause("Waiting for approval: see below.")
            ts = self._slack.post_message(asked.channel, approval_request(asked.user, pending.effect, approval_id,
                                                                          max(1, self._ttl_s // 60)),
                                          thread_ts=asked.thread_ts)
            self._approvals.update(approval_id, message_ts=ts)
            self._schedule_expiry(approval_id, self._ttl_s)
            self._turns.end(run_id, asked, outcome, "")
            self._turns.counters.add(approvals_requested=1)
            return f"waiting for approval {approval_id}"
        assert outcome.answer is not None
        text = safe_answer(outcome.answer.text, outcome.answer.mrkdwn)
        if outcome.fallback_note:
            text = f"{text}\n{outcome.fallback_note}"
        surface.answer(text, run_id)
        self._turns.end(run_id, asked, outcome, text)
        return f"answered by the {outcome.planner} planner"

    def resolve(self, approval_id: str, user: str, decision: str) -> str:
        """A click on Approve or Cancel."""
        record = self._approvals.get(approval_id)
        if record is None:
            return Failed("no such approval")
        asked = Asked(**record["asked"])
        assert asked.channel and asked.thread_ts
        if user != asked.user:
            self._tell(asked.channel, user, f"Only {mention(asked.user)} can approve or cancel this.")
            return "refused: not the asker"
        if time.time() > float(record["expires_at"]):
            self.expire(approval_id)
            self._tell(asked.channel, user, "This request has expired: nothing was done. Ask me again.")
            return "refused: expired"
        if not self._approvals.decide(approval_id, decision):
            self._tell(asked.channel, user, f"This was already {self._approvals.decision(approval_id)}.")
            return "refused: already decided"
        if decision == "approved" and not self._turns.resume(record["run_id"]):
            # Cancelled through the API while it waited: the click finds nothing left to approve.
            self._settle(record, "This request was cancelled before it was approved: nothing was done.")
            self._turns.stop(record["run_id"], "cancelled", "cancelled while it waited for approval")
            return "refused: cancelled"
        self._settle(record, f"{'Approved' if decision == 'approved' else 'Cancelled'} by {mention(user)}."
                     + ("" if decision == "approved" else " Nothing was done."))
        self._turns.counters.add(**{f"approvals_{decision}": 1})
        if decision != "approved":
            self._turns.stop(record["run_id"], "cancelled", "cancelled by the asker")
            return "cancelled"
        return self._resume(record, asked)

    def _resume(self, record: dict[str, Any], asked: Asked) -> str:
        run_id = record["run_id"]
        with self._surface(asked) as surface:
            surface.status("Working on it...")
            try:
                results = tuple(_result_from(r) for r in record["results"])
                request = self._turns.request_for(asked).with_results(results)
                outcome = self._turns.play(run_id, request, surface, approved_call=ToolCall(**record["call"]))
                return self._conclude(run_id, asked, outcome, surface)
            except TurnCancelled:
                return self._cancelled(run_id, surface)
            except Exception as exc:
                self._turns.stop(run_id, "failed", f"internal error ({type(exc).__name__})")
                raise
            finally:
                surface.status("")

    def expire(self, approval_id: str) -> str:
        """The scheduled end of an approval nobody decided."""
        record = self._approvals.get(approval_id)
        if record is None or not self._approvals.decide(approval_id, "expired"):
            return "already decided"
        self._settle(record, f"This request expired after {max(1, self._ttl_s // 60)} min: nothing was done.")
        self._turns.stop(record["run_id"], "cancelled", "the approval expired")
        self._turns.counters.add(approvals_expired=1)
        return "expired"

    def _settle(self, record: dict[str, Any], outcome: str) -> None:
        """The request's message edited to say how it was decided: best effort, for the decision is recorded
        already and what it decides must be done (a message deleted, or Slack down, would leave the turn
        waiting for ever, every later click answered "already decided")."""
        channel, ts = record["asked"]["channel"], record.get("message_ts")
        if not ts:
            return
        try:
            self._slack.update_message(channel, ts, approval_settled(record["effect"], outcome))
        except IntegrationError as exc:
            log.warning("could not edit the approval request %s in %s (%s); going on with the decision", ts,
                        channel, exc)

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self._slack.post_ephemeral(channel, user, Message(text=text))
        except IntegrationError as exc:
            log.warning("could not tell %s in %s: %s", user, channel, exc)


def _result_record(result: ToolResult) -> dict[str, Any]:
    return {"call": asdict(result.call), "output": result.output, "error": result.error}


def _result_from(record: dict[str, Any]) -> ToolResult:
    return ToolResult(ToolCall(**record["call"]), record.get("output"), record.get("error"))
