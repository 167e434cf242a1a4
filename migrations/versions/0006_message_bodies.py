"""raw bytes in a table of their own

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:00:00.000000

SQLite rewrites a whole row on every update that changes its length, large value and
all, and a message's row is updated at every step (classified, registered, filed):
with the raw bytes in it, a backfill wrote each message three times over. The bytes
move to ``message_bodies``, which is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _drop_raw_from_messages() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's own DROP COLUMN (3.35 and later): a batch copy of the table would drop and
        # re-create it, and with foreign keys on, dropping it empties what refers to it.
        op.execute("ALTER TABLE messages DROP COLUMN raw")
    else:
        op.drop_column("messages", "raw")


def upgrade() -> None:
    op.create_table(
        "message_bodies",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_bodies_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_bodies")),
    )
    op.execute("INSERT INTO message_bodies (message_id, raw) SELECT id, raw FROM messages")
    _drop_raw_from_messages()


def downgrade() -> None:
    # The column comes back nullable: making it NOT NULL again would, on SQLite, mean copying
    # the messages table, which with foreign keys on clears every reference to a message.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE messages SET raw = "
        "(SELECT raw FROM message_bodies WHERE message_bodies.message_id = messages.id)"
    )
    op.drop_table("message_bodies")
