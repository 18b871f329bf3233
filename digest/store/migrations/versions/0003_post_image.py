"""``posts.image``: a post's lead image (JSON: url, width, height).

A database that the code before Alembic already gave the column (it added nullable columns
on open) keeps it: the column is added only where it is missing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("posts")}
    if "image" not in have:
        op.add_column("posts", sa.Column("image", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("image")
