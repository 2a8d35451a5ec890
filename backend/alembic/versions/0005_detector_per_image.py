"""detector per image

``image.objects_model``: which detector looked at the image, even when it found nothing, so
an image without objects counts 0 people only when a detector really ran, and a detector
change re-detects every image.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 01:41:36.088624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.add_column(sa.Column("objects_model", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.drop_column("objects_model")
