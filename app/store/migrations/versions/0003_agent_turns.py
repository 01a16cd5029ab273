"""Agent turns: token usage on runs and steps, feedback on runs, and the built-in workflow they run under

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AGENT_TURN = ("wf_builtin_agent_turn", "Agent: a turn",
              "a plain request to the agent, from Slack or POST /v1/agents/{id}/run", "agent.turn")


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("usage", sa.JSON(), nullable=True))
        runs.add_column(sa.Column("feedback", sa.JSON(), nullable=True))
    with op.batch_alter_table("step_runs") as steps:
        steps.add_column(sa.Column("usage", sa.JSON(), nullable=True))
    workflows = sa.table("workflows", sa.column("id", sa.String), sa.column("name", sa.String),
                         sa.column("description", sa.Text), sa.column("version", sa.Integer),
                         sa.column("steps", sa.JSON), sa.column("created_at", sa.DateTime(timezone=True)),
                         sa.column("updated_at", sa.DateTime(timezone=True)))
    now = datetime.now(UTC)
    workflow_id, name, description, step = AGENT_TURN
    op.bulk_insert(workflows, [{"id": workflow_id, "name": name, "description": description, "version": 1,
                                "steps": [{"id": "agent", "tool": step}], "created_at": now, "updated_at": now}])


def downgrade() -> None:
    op.execute(f"DELETE FROM workflows WHERE id = '{AGENT_TURN[0]}'")
    with op.batch_alter_table("step_runs") as steps:
        steps.drop_column("usage")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("feedback")
        runs.drop_column("usage")
