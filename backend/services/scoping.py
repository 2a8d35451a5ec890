"""Owner scoping in one place: another user's row is indistinguishable from a missing one."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from backend.services.errors import NotFound


def owned_query[M: SQLModel](model: type[M], owner_id: int) -> SelectOfScalar[M]:
    column: Any = model.owner_id  # type: ignore[attr-defined]
    return select(model).where(column == owner_id)


def get_owned[M: SQLModel](
    session: Session, model: type[M], owner_id: int, row_id: int, what: str
) -> M:
    column: Any = model.id  # type: ignore[attr-defined]
    row = session.exec(owned_query(model, owner_id).where(column == row_id)).first()
    if row is None:
        raise NotFound(f"{what} {row_id} was not found")
    return row
