"""The ledger planned whole at the freeze of a list sent in waves.

``deliveries.wave`` (the wave each row goes out with) and ``issues.planned_at`` (when every
reader got a row); ``ix_deliveries_state`` (a status's rows in id order, so a wave's chunks and
counts read only its own rows) and ``ix_deliveries_wave`` (one wave's rows). Added only where
missing, as with 0005.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS: tuple[tuple[str, sa.Column[object]], ...] = (
    ("deliveries", sa.Column("wave", sa.DateTime(), nullable=True)),
    ("issues", sa.Column("planned_at", sa.DateTime(), nullable=True)),
)
INDEXES = (
    ("ix_deliveries_state", ["issue_id", "status", "segment", "subscriber_id"]),
    ("ix_deliveries_wave", ["issue_id", "wave"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        if column.name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, column)
    indexes = {i["name"] for i in inspector.get_indexes("deliveries")}
    for name, columns in INDEXES:
        if name not in indexes:
            op.create_index(name, "deliveries", columns)


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, "deliveries")
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
