"""``deliveries.wave`` in whole seconds since the epoch, and one index of the waves' rows.

The freeze of a list sent in waves wrote every reader's row into two indexes keyed by wave
(``ix_deliveries_wave`` and ``ix_deliveries_waiting``), each with a 26-byte timestamp on
SQLite, and each took its rows at as many places as there were waves. One index of the rows
that have a wave (``issue_id, wave, segment, subscriber_id``) now serves a wave's claims and
its counts, and a send without waves writes nothing to it. A row the freeze has not placed
yet (its reader's zone unknown to the plan) holds the epoch, 0, not NULL: the index finds it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WAVE_ROWS = "wave IS NOT NULL"
WAITING_ROWS = "status = 'waiting'"
TO_SECONDS = {
    "sqlite": "CAST(strftime('%s', wave) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM wave) AS BIGINT)",
}
"""A naive UTC timestamp (as ``UTCDateTime`` stores one) in seconds since the epoch."""
TO_STAMP = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S.000000', wave, 'unixepoch')",
    "postgresql": "CAST(to_timestamp(wave) AT TIME ZONE 'UTC' AS TIMESTAMP)",
}
"""Seconds since the epoch as a naive UTC timestamp, for the downgrade."""


def _drop_indexes(*names: str) -> None:
    present = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("deliveries")}
    for name in names:
        if name in present:
            op.drop_index(name, "deliveries")


def _retype(column: sa.Column[object], value: str) -> None:
    """Replace ``deliveries.wave`` by ``column``, holding ``value`` (an SQL expression of the
    old ``wave``) where ``wave`` is set.

    A new column filled and renamed, not an ALTER of the type: SQLite has none, and Alembic's
    copy of the whole table in its place would have to carry the partial indexes over too.
    """
    op.add_column("deliveries", column)
    op.execute(f"UPDATE deliveries SET {column.name} = {value} WHERE wave IS NOT NULL")
    op.drop_column("deliveries", "wave")
    op.alter_column("deliveries", column.name, new_column_name="wave")


def _index_waves(name: str, where: str) -> None:
    """A partial index of ``deliveries`` by (issue, wave, segment, reader): a wave's rows in
    id order, as its claims read them."""
    op.create_index(
        name,
        "deliveries",
        ["issue_id", "wave", "segment", "subscriber_id"],
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_indexes("ix_deliveries_wave", "ix_deliveries_waiting")
    _retype(sa.Column("wave_seconds", sa.BigInteger(), nullable=True), TO_SECONDS[dialect])
    # rows the freeze had not placed yet: only a list sent in waves has rows waiting
    op.execute("UPDATE deliveries SET wave = 0 WHERE wave IS NULL AND status = 'waiting'")
    _index_waves("ix_deliveries_wave", WAVE_ROWS)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_indexes("ix_deliveries_wave")
    op.execute("UPDATE deliveries SET wave = NULL WHERE wave = 0")
    _retype(sa.Column("wave_stamp", sa.DateTime(), nullable=True), TO_STAMP[dialect])
    op.create_index("ix_deliveries_wave", "deliveries", ["issue_id", "wave"])
    _index_waves("ix_deliveries_waiting", WAITING_ROWS)
