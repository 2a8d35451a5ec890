"""verified pairs

Geometric verification of the pairs that would be near-duplicates, stored on the pair so it is
done once: ``verdict`` ("copy", "other_shot", "undecided"), ``explained`` (the share of the
picture one transform explains), ``inlier_ratio`` and ``decided_by`` (the check that decided,
in words). And the EXIF facts that tell two shots apart: ``taken_subsec`` (milliseconds of
the capture time), ``unique_id`` (ImageUniqueID) and ``shutter_count`` (ImageNumber).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy on SQLite).
    op.add_column("image_pair", sa.Column("verdict", sa.String(length=16), nullable=True))
    op.add_column("image_pair", sa.Column("explained", sa.Float(), nullable=True))
    op.add_column("image_pair", sa.Column("inlier_ratio", sa.Float(), nullable=True))
    op.add_column("image_pair", sa.Column("decided_by", sa.String(length=200), nullable=True))
    op.add_column("image", sa.Column("taken_subsec", sa.Integer(), nullable=True))
    op.add_column("image", sa.Column("unique_id", sa.String(length=64), nullable=True))
    op.add_column("image", sa.Column("shutter_count", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        for column in ("shutter_count", "unique_id", "taken_subsec"):
            batch_op.drop_column(column)
    with op.batch_alter_table("image_pair", schema=None) as batch_op:
        for column in ("decided_by", "inlier_ratio", "explained", "verdict"):
            batch_op.drop_column(column)
