"""Runs know their RQ job and when a cancel was asked, so that orphaned runs and unanswered cancels can be ended

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("job_id", sa.String(200), nullable=True))
        runs.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("cancel_requested_at")
        runs.drop_column("job_id")
