"""``ix_subscribers_list_id``: a list's readers in id order, read page by page without a sort.

Without it each page of ``SubscriberRepo.active`` (``id > last ORDER BY id LIMIT n``) found
the list's rows through another index and sorted all of them: quadratic, hours at 1,000,000
readers. Added only where missing, as with 0005.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NAME = "ix_subscribers_list_id"


def upgrade() -> None:
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("subscribers")}
    if NAME not in indexes:
        op.create_index(NAME, "subscribers", ["list_id", "id"])


def downgrade() -> None:
    op.drop_index(NAME, "subscribers")
