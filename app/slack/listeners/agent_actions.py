"""Clicks on the agent's buttons: Approve or Cancel on an approval it asked for, and feedback on an answer.

A click is queued only when it is on an approval the bot recorded in that channel; who clicked is checked
by the worker, which tells anyone but the asker that the decision is not theirs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from slack_bolt import App, BoltResponse

from app.messages.agent import AGENT_APPROVE, AGENT_CANCEL, AGENT_FEEDBACK
from app.queueing.job_queue import JobQueue, QueueUnavailable, new_request_id
from app.queueing.job_table import APPROVAL, FEEDBACK
from app.slack.listeners.redelivery import deliver_again_later
from app.state.approvals import ApprovalStore

log = logging.getLogger(__name__)
_FEEDBACK_VALUE = re.compile(r"^(good|bad):(run_[0-9a-f]{16,40})$")
DECISIONS = {AGENT_APPROVE: "approved", AGENT_CANCEL: "cancelled"}


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    channel = (body.get("channel") or {}).get("id", "")
    ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts", "")
    return channel, ts, (body.get("user") or {}).get("id", "")


def register(app: App, *, jobs: JobQueue, approvals: ApprovalStore) -> None:
    def on_decision(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> BoltResponse | None:
        channel, ts, user = _where(body)
        approval_id = str(action.get("value", ""))
        try:
            record = approvals.get(approval_id)
            # The message's ts is recorded just after Slack answers the post: a click in between is on a
            # message that can only be the approval's (its id is a secret of that message alone).
            if record is None or record["asked"].get("channel") != channel or record.get("message_ts") not in (
                    None, ts):
                log.warning("refused %s from %s on %s/%s: no such approval", action["action_id"], user, channel, ts)
                return BoltResponse(status=403, body="not an approval of this app")
            jobs.enqueue(APPROVAL, {"approval_id": approval_id, "user": user,
                                    "decision": DECISIONS[action["action_id"]]},
                         job_id=f"approval-{new_request_id()}", description=f"approval {approval_id} by {user}")
        except (QueueUnavailable, redis.RedisError) as exc:
            return deliver_again_later(exc)
        ack()
        return None

    def on_feedback(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> BoltResponse | None:
        channel, ts, user = _where(body)
        value = action.get("value") or (action.get("selected_option") or {}).get("value", "")
        found = _FEEDBACK_VALUE.match(str(value))
        if not found:
            return BoltResponse(status=400, body="not a feedback of this app")
        try:
            jobs.enqueue(FEEDBACK, {"run_id": found.group(2), "user": user, "verdict": found.group(1),
                                    "channel": channel},
                         job_id=f"feedback-{new_request_id()}", description=f"feedback on {found.group(2)}")
        except QueueUnavailable as exc:
            return deliver_again_later(exc)
        ack()
        return None

    for action_id in DECISIONS:
        app.action(action_id)(on_decision)
    app.action(AGENT_FEEDBACK)(on_feedback)
