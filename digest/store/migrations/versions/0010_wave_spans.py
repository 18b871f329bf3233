"""``deliveries.span``, the span of subscriber ids a row lies in, leads the index of the waves.

The freeze of a list sent in waves writes a batch of readers at a time in wave order, so the
index of the waves, led by the wave, took each batch's rows at as many places as there were
waves; SQLite seeks each such row from the root of the index. Led by the span
(``subscriber_id / 50000``, computed by the database) and written a span at a time, the rows
go in at the end of the index instead. Queries of a wave's rows name the issue's spans.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SPAN = 50_000
"""``schema.SPAN`` as this revision wrote it (a revision keeps its own values)."""
WAVE_ROWS = "wave IS NOT NULL"


def _index_waves(columns: list[str]) -> None:
    op.create_index(
        "ix_deliveries_wave",
        "deliveries",
        columns,
        sqlite_where=sa.text(WAVE_ROWS),
        postgresql_where=sa.text(WAVE_ROWS),
    )


def upgrade() -> None:
    # SQLite adds only a VIRTUAL generated column to a table (computed as it is read, and
    # stored in the index); PostgreSQL 15 has only STORED ones (its table is rewritten)
    stored = op.get_bind().dialect.name != "sqlite"
    op.drop_index("ix_deliveries_wave", "deliveries")
    op.add_column(
        "deliveries",
        sa.Column("span", sa.Integer(), sa.Computed(f"subscriber_id / {SPAN}", persisted=stored)),
    )
    _index_waves(["issue_id", "span", "wave", "segment", "subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_wave", "deliveries")
    op.drop_column("deliveries", "span")
    _index_waves(["issue_id", "wave", "segment", "subscriber_id"])
