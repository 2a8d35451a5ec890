"""image blank share

``image.blank_share``: the share of the canvas that is blank (a copy turned by a few degrees on an
enlarged canvas, a border added). The keeper rules count detail, not canvas: such a copy has more
pixels than its original but no more detail. NULL for images analysed before: counted as none.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("image", sa.Column("blank_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.drop_column("blank_share")
