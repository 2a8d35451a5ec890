"""google integration

A person's Google Photos connection (``google_connection``: the refresh token and the access
token as Fernet ciphertexts, the account's email and scopes, whether Google still accepts the
grant), the OAuth states of connects in flight (``google_oauth_state``: single-use, expiring,
with the PKCE verifier) and the Picker sessions and their imports (``google_pick``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["user.id"], name=op.f(f"fk_{table}_owner_id_user"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "google_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_reconnect", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _owner("google_connection"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_connection")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_google_connection_owner_id")),
    )
    op.create_table(
        "google_oauth_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _owner("google_oauth_state"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_oauth_state")),
        sa.UniqueConstraint("state", name=op.f("uq_google_oauth_state_state")),
    )
    op.create_index("ix_google_oauth_state_owner_id", "google_oauth_state", ["owner_id"])
    op.create_table(
        "google_pick",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("google_session_id", sa.String(length=200), nullable=False),
        sa.Column("picker_uri", sa.String(length=2048), nullable=False),
        sa.Column("session_open", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "waiting",
                "importing",
                "done",
                "expired",
                "failed",
                name="pickstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("poll_seconds", sa.Float(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_google_pick_job_id_job"), ondelete="SET NULL"
        ),
        _owner("google_pick"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_pick")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_google_pick_owner_id", "google_pick", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_google_pick_owner_id", table_name="google_pick")
    op.drop_table("google_pick")
    op.drop_index("ix_google_oauth_state_owner_id", table_name="google_oauth_state")
    op.drop_table("google_oauth_state")
    op.drop_table("google_connection")
