"""pair moved share

``image_pair.moved``: the share of the picture that verification found moved on its own where one
transform explains the rest (cells at first; pixels since verification looks pixel by pixel, a
later change of the code, not of the schema: pairs keep what their own run measured). An
"other_shot" verdict with it set is positive evidence of two captures: such pictures never share
a near group, not even through copies.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("image_pair", sa.Column("moved", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image_pair", schema=None) as batch_op:
        batch_op.drop_column("moved")
