"""The built-in workflows that Slack's work is recorded under

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Kept here as they were at this revision: a migration must not change when the code does.
BUILTINS = [
    ("wf_builtin_slack_summary", "Slack: customer summary", "/acme summary, @acme summarize, or a Summarize button",
     "slack.summary"),
    ("wf_builtin_slack_report", "Slack: account report", "/acme report or @acme report", "slack.report"),
    ("wf_builtin_slack_help", "Slack: help", "@acme with no known verb", "slack.help"),
    ("wf_builtin_crm_notification", "CRM: notification", "a CRM webhook posted as a notification", "slack.notify"),
    ("wf_builtin_notification_draft", "Notification: draft response", "the Draft response button",
     "slack.draft_response"),
    ("wf_builtin_notification_dismiss", "Notification: dismiss", "the Dismiss button", "slack.dismiss"),
]


def upgrade() -> None:
    workflows = sa.table("workflows", sa.column("id", sa.String), sa.column("name", sa.String),
                         sa.column("description", sa.Text), sa.column("version", sa.Integer),
                         sa.column("steps", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
                         sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    op.bulk_insert(workflows, [
        {"id": wid, "name": name, "description": description, "version": 1,
         "steps": [{"id": "slack", "tool": step}], "created_at": now, "updated_at": now}
        for wid, name, description, step in BUILTINS])


def downgrade() -> None:
    op.execute("DELETE FROM workflows WHERE id LIKE 'wf_builtin_%'")
