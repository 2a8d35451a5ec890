"""source metadata

What the source of a photo says about it (Google Photos' picker, a Takeout sidecar, a scraped
page): ``source_url`` (the link back), ``albums``, ``description``, ``latitude`` and
``longitude``. EXIF read from the file wins where both say something.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy on SQLite, so a DBA's offline SQL script works too).
    op.add_column("image", sa.Column("source_url", sa.String(length=2048), nullable=True))
    op.add_column(
        "image", sa.Column("albums", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column("image", sa.Column("description", sa.String(length=2000), nullable=True))
    op.add_column("image", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("image", sa.Column("longitude", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        for column in ("longitude", "latitude", "description", "albums", "source_url"):
            batch_op.drop_column(column)
