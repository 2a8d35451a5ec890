"""model outputs: objects and pair similarities

Objects found by the detector (one row per object, with its box), and on each matched pair
the SSCD and CLIP similarities that the group's explanation shows. Embeddings keep their
table (image_embedding); the pgvector column for them is revision 0004.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:36:53.297009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_object",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("x0", sa.Float(), nullable=False),
        sa.Column("y0", sa.Float(), nullable=False),
        sa.Column("x1", sa.Float(), nullable=False),
        sa.Column("y1", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image.id"],
            name=op.f("fk_image_object_image_id_image"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user.id"],
            name=op.f("fk_image_object_owner_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_object")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("image_object", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_object_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_image_object_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_image_object_owner_label", ["owner_id", "label"], unique=False)

    with op.batch_alter_table("image_pair", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copy_similarity", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("semantic_similarity", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image_pair", schema=None) as batch_op:
        batch_op.drop_column("semantic_similarity")
        batch_op.drop_column("copy_similarity")

    with op.batch_alter_table("image_object", schema=None) as batch_op:
        batch_op.drop_index("ix_image_object_owner_label")
        batch_op.drop_index(batch_op.f("ix_image_object_owner_id"))
        batch_op.drop_index(batch_op.f("ix_image_object_image_id"))

    op.drop_table("image_object")
