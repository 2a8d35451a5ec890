"""A job queue that records what it is sent, and a person to own a test's rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from backend.models import Image, User
from backend.services.context import AppContext


class Recorder:
    """A job queue that records what it is sent, and whether the rows each job names were
    already committed when it was sent (read through a connection of its own)."""

    def __init__(self, engine: sa.Engine | None = None) -> None:
        self.engine = engine
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.later: list[tuple[float, str, dict[str, Any]]] = []  # (delay, name, kwargs)
        self.visible: list[bool] = []

    def enqueue(self, name: str, **kwargs: Any) -> None:
        self.sent.append((name, kwargs))
        if self.engine is not None and "image_id" in kwargs:
            with Session(self.engine) as other:
                self.visible.append(other.get(Image, kwargs["image_id"]) is not None)

    def enqueue_later(self, delay: float, name: str, **kwargs: Any) -> None:
        self.later.append((delay, name, kwargs))

    def reachable(self) -> bool:
        return True


def new_owner(ctx: AppContext, email: str = "someone@example.com") -> int:
    with ctx.session(write=True) as session:
        user = User(email=email, hashed_password="!")
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id
