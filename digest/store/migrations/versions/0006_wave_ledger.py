"""The ledger planned whole at the freeze of a list sent in waves.

``deliveries.wave`` (the wave each row goes out with) and ``issues.planned_at`` (when every
reader got a row); the partial indexes ``ix_deliveries_planned`` and ``ix_deliveries_in_hand``
(so a wave's chunks, claims and records read only their own rows, not every wave's rows in
their id range) and ``ix_deliveries_wave`` (one wave's rows). Added only where missing, as
with 0005.

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
PLANNED_ROWS = "status = 'planned'"
IN_HAND_ROWS = "status IN ('claimed', 'submitted')"
INDEXES: tuple[tuple[str, list[str], str | None], ...] = (
    ("ix_deliveries_planned", ["issue_id", "segment", "subscriber_id"], PLANNED_ROWS),
    ("ix_deliveries_in_hand", ["issue_id", "chunk"], IN_HAND_ROWS),
    ("ix_deliveries_wave", ["issue_id", "wave"], None),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        if column.name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, column)
    indexes = {i["name"] for i in inspector.get_indexes("deliveries")}
    for name, columns, where in INDEXES:
        if name not in indexes:
            clause = None if where is None else sa.text(where)
            op.create_index(
                name, "deliveries", columns, sqlite_where=clause, postgresql_where=clause
            )


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, "deliveries")
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
