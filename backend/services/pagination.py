"""One way to cut a list into pages: two statements, whatever the page size."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar


def paginate[T](
    session: Session, stmt: SelectOfScalar[T], page: int, size: int
) -> tuple[list[T], int]:
    """Rows ``(page - 1) * size`` up to ``page * size`` of ``stmt`` (ordered by the caller:
    without a total order a row could show on two pages), and how many rows it has in all."""
    total = session.exec(select(sa.func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.offset((page - 1) * size).limit(size)).all()
    return list(rows), total
