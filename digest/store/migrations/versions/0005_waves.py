"""Delivery in each reader's time zone: readers' zones, wave claims, an issue's waves.

``subscribers.timezone`` and ``timezone_chosen_at`` (with a zone index and an updated-at
index), ``issues.waves`` (the wave instants frozen with the issue), ``runs.wave`` and the
``wave_claims`` table (one run per (list, period, wave)). Columns and indexes are added only
where missing, as with 0003.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS: tuple[tuple[str, sa.Column[object]], ...] = (
    ("subscribers", sa.Column("timezone", sa.String(64), nullable=True)),
    ("subscribers", sa.Column("timezone_chosen_at", sa.DateTime(), nullable=True)),
    ("issues", sa.Column("waves", sa.JSON(), nullable=True)),
    ("runs", sa.Column("wave", sa.DateTime(), nullable=True)),
)
INDEXES = (
    ("ix_subscribers_list_zone", ["list_id", "timezone", "status", "in_roster"]),
    ("ix_subscribers_list_updated", ["list_id", "updated_at"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        if column.name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, column)
    indexes = {i["name"] for i in inspector.get_indexes("subscribers")}
    for name, columns in INDEXES:
        if name not in indexes:
            op.create_index(name, "subscribers", columns)
    if not inspector.has_table("wave_claims"):
        op.create_table(
            "wave_claims",
            sa.Column("list_name", sa.String(200), nullable=False),
            sa.Column("period_start", sa.DateTime(), nullable=False),
            sa.Column("period_end", sa.DateTime(), nullable=False),
            sa.Column("wave", sa.DateTime(), nullable=False),
            sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=False),
            sa.Column("outcome", sa.String(20), nullable=False),
            sa.Column("owner", sa.String(200)),
            sa.Column("lease_until", sa.DateTime()),
            sa.UniqueConstraint("list_name", "period_start", "wave", name="uq_one_run_per_wave"),
        )


def downgrade() -> None:
    op.drop_table("wave_claims")
    for name, _ in INDEXES:
        op.drop_index(name, "subscribers")
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
