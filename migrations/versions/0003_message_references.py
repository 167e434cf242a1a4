"""references on messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:34:50.714804
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ombudsman", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("ombudsman_ref", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("council_ref", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_council_ref"), ["council_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_ombudsman_ref"), ["ombudsman_ref"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_ombudsman_ref"))
        batch_op.drop_index(batch_op.f("ix_messages_council_ref"))
        batch_op.drop_column("council_ref")
        batch_op.drop_column("ombudsman_ref")
        batch_op.drop_column("ombudsman")
