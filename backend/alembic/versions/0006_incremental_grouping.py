"""incremental grouping

``image.grouped_seq``: the owner's grouping run that made the image READY, so a worker's
in-memory hash index reads only what was grouped since it last looked. ``regroup_mark``: the
images whose groups must be rebuilt (after a deletion or a decision), drained by the owner's
next grouping run, which rebuilds only the connected components they touch.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grouped_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_image_owner_grouped_seq", "image", ["owner_id", "grouped_seq"])
    op.create_table(
        "regroup_mark",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image.id"],
            name=op.f("fk_regroup_mark_image_id_image"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user.id"],
            name=op.f("fk_regroup_mark_owner_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "image_id", name=op.f("pk_regroup_mark")),
    )
    # Images grouped before this revision: one run per owner, so every worker reads them once.
    op.execute("UPDATE image SET grouped_seq = 1 WHERE state = 'ready'")


def downgrade() -> None:
    op.drop_table("regroup_mark")
    op.drop_index("ix_image_owner_grouped_seq", table_name="image")
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.drop_column("grouped_seq")
