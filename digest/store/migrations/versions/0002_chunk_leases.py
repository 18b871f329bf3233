"""Chunk leases: who holds a ledger chunk in hand, and until when.

A send resumed on one host leaves alone the chunks another host's worker still holds a live
lease on; only rows of chunks without one are counted as interrupted.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_leases",
        sa.Column("chunk", sa.String(length=64), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"]),
        sa.PrimaryKeyConstraint("chunk"),
    )
    op.create_index(op.f("ix_chunk_leases_issue_id"), "chunk_leases", ["issue_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_chunk_leases_issue_id"), table_name="chunk_leases")
    op.drop_table("chunk_leases")
