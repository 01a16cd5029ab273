"""The built-in workflows: Slack's work recorded as runs, beside the runs the API starts.

Their rows come with the schema (migration 0002); they cannot be changed or run through the API.
"""

from __future__ import annotations

from dataclasses import dataclass

BUILTIN_PREFIX = "wf_builtin_"


@dataclass(frozen=True)
class BuiltinWorkflow:
    id: str
    name: str
    description: str
    step: str


SLACK_SUMMARY = BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_summary", "Slack: customer summary",
                                "/acme summary, @acme summarize, or a Summarize button", "slack.summary")
SLACK_REPORT = BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_report", "Slack: account report",
                               "/acme report or @acme report", "slack.report")
SLACK_HELP = BuiltinWorkflow(f"{BUILTIN_PREFIX}slack_help", "Slack: help", "@acme with no known verb", "slack.help")
CRM_NOTIFICATION = BuiltinWorkflow(f"{BUILTIN_PREFIX}crm_notification", "CRM: notification",
                                   "a CRM webhook posted as a notification", "slack.notify")
NOTIFICATION_DRAFT = BuiltinWorkflow(f"{BUILTIN_PREFIX}notification_draft", "Notification: draft response",
                                     "the Draft response button", "slack.draft_response")
NOTIFICATION_DISMISS = BuiltinWorkflow(f"{BUILTIN_PREFIX}notification_dismiss", "Notification: dismiss",
                                       "the Dismiss button", "slack.dismiss")


AGENT_TURN = BuiltinWorkflow(f"{BUILTIN_PREFIX}agent_turn", "Agent: a turn",
                             "a plain request to the agent, from Slack or POST /v1/agents/{id}/run", "agent.turn")


def is_builtin(workflow_id: str) -> bool:
    return workflow_id.startswith(BUILTIN_PREFIX)
