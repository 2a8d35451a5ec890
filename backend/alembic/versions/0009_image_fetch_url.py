"""image fetch url

SCRAPE mode: an image sent as a URL waits in the new ``fetching`` state (a VARCHAR value, no
type change) with the address of its bytes in ``fetch_url`` until the ingest queue downloads it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("image", sa.Column("fetch_url", sa.String(length=4096), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.drop_column("fetch_url")
