"""Alembic environment: the URL comes from the caller's config or DATABASE_URL/Settings."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import engine_from_config, pool
from sqlalchemy.exc import SAWarning
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import backend.models  # noqa: F401  (registers every table)
from backend.config import Settings
from backend.models.base import UTCDateTime
from backend.services.similarity.pgvector import include_object

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write plain SQLAlchemy types into migrations, so they never import our code."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    section = dict(config.get_section(config.config_ini_section) or {})
    section["sqlalchemy.url"] = url
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
            compare_type=True,
            render_item=render_item,
            include_object=include_object,  # the pgvector column of revision 0004
        )
        with context.begin_transaction(), warnings.catch_warnings():
            # Reflection does not know pgvector's type; include_object leaves that column out.
            warnings.filterwarnings("ignore", "Did not recognize type 'vector'", SAWarning)
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
