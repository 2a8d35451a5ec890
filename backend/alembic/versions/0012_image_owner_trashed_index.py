"""image owner/trashed index

Counting and paging a person's photos (``GET /images``: in the trash or not) reads an index
only, instead of every row of the person's library.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_image_owner_trashed", "image", ["owner_id", "trashed_at"])


def downgrade() -> None:
    op.drop_index("ix_image_owner_trashed", table_name="image")
