"""pgvector extension

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:50:00.000000

PostgreSQL only: install the ``vector`` extension (pgvector), which the distributed mode's
similarity search needs. The columns stay as they are here; moving embeddings to the
``vector`` type is a later migration.

- The extension is created only when the server offers it (``pg_available_extensions``).
  A server without pgvector still migrates: this revision logs a warning and carries on, so
  development and test servers without the package (e.g. Debian's PostgreSQL 15 without
  ``postgresql-15-pgvector``) keep working. Installing pgvector afterwards does not re-run
  this revision (it is recorded as applied): run ``CREATE EXTENSION vector`` in the database
  by hand, or ``alembic downgrade 0001`` then ``alembic upgrade head``.
- When the extension is already installed (e.g. a DBA created it because the application's
  role may not: pgvector is not a trusted extension, so creating it needs a superuser or the
  database owner with the right grants) nothing is done, so no privilege is needed.
- Offline (``alembic upgrade --sql``) the statement is written out unconditionally: the
  DBA running the script is expected to have pgvector.
- SQLite: nothing to do.

Downgrade drops the extension if it exists (PostgreSQL only); it fails, deliberately, while
any column or index still uses the ``vector`` type (no CASCADE).
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not under "alembic": alembic gives that logger a NullHandler, which would hide the warning
# from an application that configures no logging (Python then prints warnings to stderr).
log = logging.getLogger("backend.migrations.0002_pgvector")


def _scalar(sql: str) -> object:
    return op.get_bind().execute(sa.text(sql)).scalar()


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    if context.is_offline_mode():
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return
    if _scalar("SELECT 1 FROM pg_extension WHERE extname = 'vector'"):
        return
    if not _scalar("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"):
        version = _scalar("SHOW server_version")
        log.warning(
            "pgvector is not available on this PostgreSQL server (%s): the 'vector' extension "
            "was NOT created. The schema works without it, but vector similarity search "
            "needs it: install pgvector for this server version and run "
            "'CREATE EXTENSION vector' in this database.",
            version,
        )
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP EXTENSION IF EXISTS vector")
