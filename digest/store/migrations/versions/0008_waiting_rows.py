"""``ix_deliveries_waiting``: a wave's waiting rows in id order, claimed from there directly.

A wave's run no longer makes its rows ``planned`` first (an update of every row of every
wave, a third more ledger writes than a send without waves): its chunks read and claim the
rows still ``waiting`` on its waves. Added only where missing, as with 0005.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = "ix_deliveries_waiting"
WAITING_ROWS = "status = 'waiting'"


def upgrade() -> None:
    if NAME not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("deliveries")}:
        where = sa.text(WAITING_ROWS)
        op.create_index(
            NAME,
            "deliveries",
            ["issue_id", "wave", "segment", "subscriber_id"],
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    op.drop_index(NAME, "deliveries")
