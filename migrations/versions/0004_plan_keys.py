"""task plan keys and transport ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:40:41.049514
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport_id", sa.Text(), nullable=True))

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_key", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_tasks_plan_key"), ["plan_key"])


def downgrade() -> None:

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tasks_plan_key"), type_="unique")
        batch_op.drop_column("plan_key")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("transport_id")
