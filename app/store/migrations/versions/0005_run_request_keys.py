"""Runs started with an Idempotency-Key keep it, so a retry finds its run even after the key's record is gone

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("request_key", sa.String(64), nullable=True))
        runs.create_index("ix_runs_request_key", ["request_key"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.drop_index("ix_runs_request_key")
        runs.drop_column("request_key")
