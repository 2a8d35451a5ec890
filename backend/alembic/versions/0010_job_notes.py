"""job notes

What a batch has to say beyond its counts: ``message`` (a summary, or why the whole batch
failed: a hostile Takeout archive) and ``skipped`` (``[{"name", "reason"}]``: files left out on
purpose, such as videos or photos in Google Photos' trash, which never become images).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy on SQLite).
    op.add_column("job", sa.Column("message", sa.String(length=2000), nullable=True))
    op.add_column(
        "job", sa.Column("skipped", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("skipped")
        batch_op.drop_column("message")
