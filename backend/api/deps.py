"""Dependencies shared by the routers: the runtime, a session per request, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from backend.models import User
from backend.runtime import Runtime
from backend.services.context import AppContext
from backend.services.errors import Unauthorized
from backend.services.security import read_access_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_ctx(runtime: Annotated[Runtime, Depends(get_runtime)]) -> AppContext:
    return runtime.ctx


def get_session(
    request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]
) -> Iterator[Session]:
    """One transaction per request; the jobs it queues are sent once it has committed."""
    with ctx.session(write=request.method not in ("GET", "HEAD")) as session:
        yield session


CtxDep = Annotated[AppContext, Depends(get_ctx)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": the transaction commits before the response is sent. By default the code
# after ``yield`` runs once the response is out, so a client could be told "created" before
# the commit (or its failure), and a next request could miss the write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(ctx: Annotated[AppContext, Depends(get_ctx)]) -> Iterator[Session]:
    """A session that only reads: it never takes SQLite's write lock."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def current_user(ctx: CtxDep, token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        raise Unauthorized("sign in first: send an Authorization: Bearer <token> header")
    user_id = read_access_token(token, ctx.settings.secret_key)
    # Its own short read, so a request's write transaction starts only when it writes.
    with Session(ctx.engine, expire_on_commit=False) as session:
        user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise Unauthorized("the access token is invalid or has expired; sign in again")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def owner_id(user: User) -> int:
    assert user.id is not None
    return user.id
