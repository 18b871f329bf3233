"""The desk's post order and headlines: ``posts.rank`` and the ``headlines`` table.

``posts.rank`` is a post's place in its section as editors ordered it; ``headlines`` holds
editors' subject and preheader of a list's coming issue, for the whole issue or one segment.
A database that the code before Alembic already gave the column (it added nullable columns on
open) keeps it: the column is added only where it is missing.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("posts")}
    if "rank" not in have:
        op.add_column("posts", sa.Column("rank", sa.Integer(), nullable=True))
    op.create_table(
        "headlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("segment", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("preheader", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_name", "period_start", "segment", name="uq_headline"),
    )


def downgrade() -> None:
    op.drop_table("headlines")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("rank")
