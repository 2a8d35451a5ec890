"""Dependencies shared by the routers: the runtime, a session per request, the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import contextmanager_in_threadpool, run_in_threadpool
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from sqlmodel import Session

from backend.models import SessionKind, User
from backend.runtime import Runtime
from backend.services import sessions
from backend.services.context import AppContext
from backend.services.errors import Forbidden, Unauthorized
from backend.services.security import csrf_token, read_access_token, same

SESSION_COOKIE = "dupfinder_session"
CSRF_COOKIE = "dupfinder_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The web UI's session (POST /api/v1/auth/login); unsafe methods also need "
    f"the {CSRF_HEADER} header",
)


# Trivial dependencies are ``async def``: FastAPI runs a plain ``def`` one on the thread pool,
# a hop that costs more CPU than the function itself on every request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_ctx(runtime: Annotated[Runtime, Depends(get_runtime)]) -> AppContext:
    return runtime.ctx


async def get_session(
    request: Request, ctx: Annotated[AppContext, Depends(get_ctx)]
) -> AsyncIterator[Session]:
    """One transaction per request; the jobs it queues are sent once it has committed.

    A read of a local SQLite file starts and ends here, on the event loop: it waits for no
    lock and takes microseconds, while each trip to the thread pool (one to start, one to
    end) cost about 0.7 ms of CPU per request. A write (it may wait for SQLite's write lock)
    and any PostgreSQL transaction (a round trip over the network) start and end on the
    thread pool, as the endpoint that uses them runs there."""
    write = request.method not in ("GET", "HEAD")
    if write or not ctx.local_database:
        async with contextmanager_in_threadpool(ctx.session(write=write)) as session:
            yield session
    else:
        with ctx.session() as session:
            yield session


CtxDep = Annotated[AppContext, Depends(get_ctx)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": the transaction commits before the response is sent. By default the code
# after ``yield`` runs once the response is out, so a client could be told "created" before
# the commit (or its failure), and a next request could miss the write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def _here_or_pool[T](here: bool, work: Callable[[], T]) -> T:
    return work() if here else await run_in_threadpool(work)


async def answer[T](ctx: AppContext, work: Callable[[], T]) -> T:
    """A read endpoint's work: on the event loop where all it touches is on this machine
    (embedded mode: a few milliseconds of Python, the GIL held either way, and no trip to the
    thread pool); on the thread pool where it waits on the network."""
    return await _here_or_pool(ctx.local_reads, work)


@dataclass(frozen=True)
class SignedIn:
    """Who sent the request, through which server-side session."""

    user: User
    session_id: int
    via_cookie: bool


async def signed_in(
    request: Request,
    ctx: CtxDep,
    token: Annotated[str | None, Depends(oauth2)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> SignedIn:
    # Looked up on the event loop where the database is a local SQLite file (a read by
    # primary key: no lock, microseconds); over the network, on the thread pool.
    return await _here_or_pool(ctx.local_database, lambda: _signed_in(request, ctx, token, cookie))


def _signed_in(
    request: Request, ctx: AppContext, token: str | None, cookie: str | None
) -> SignedIn:
    # Its own short read, so a request's write transaction starts only when it writes.
    with Session(ctx.engine, expire_on_commit=False) as session:
        if token:  # a bearer header wins: a page elsewhere cannot make a browser send one
            claims = read_access_token(token, ctx.settings.secret_key)
            found = sessions.by_id(session, claims.session_id, claims.user_id) if claims else None
            if claims is None or found is None:
                raise Unauthorized("the access token is invalid or has expired; sign in again")
            return SignedIn(found[1], claims.session_id, via_cookie=False)
        if cookie:
            found = sessions.by_secret(session, cookie, SessionKind.COOKIE)
            if found is None:
                raise Unauthorized("your session has ended; sign in again")
            if request.method not in SAFE_METHODS:
                check_csrf(request, ctx, cookie)
            assert found[0].id is not None
            return SignedIn(found[1], found[0].id, via_cookie=True)
    raise Unauthorized(
        "sign in first: send an Authorization: Bearer <token> header (or sign in at "
        "/api/v1/auth/login for a session cookie)"
    )


def check_csrf(request: Request, ctx: AppContext, session_secret: str) -> None:
    """A cookie comes along with any request the browser makes, even one a hostile page
    starts; the header proves the page could read our CSRF cookie, i.e. is ours."""
    sent = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token(ctx.settings.secret_key, session_secret)
    if not (sent and same(sent, request.cookies.get(CSRF_COOKIE, "")) and same(sent, expected)):
        raise Forbidden(
            f"missing or wrong {CSRF_HEADER} header: send the value of the {CSRF_COOKIE} "
            "cookie with every POST, PUT, PATCH and DELETE"
        )


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


async def current_user(who: SignedInDep) -> User:
    return who.user


CurrentUser = Annotated[User, Depends(current_user)]


def owner_id(user: User) -> int:
    assert user.id is not None
    return user.id


async def client_address(request: Request) -> str:
    """The peer address (behind a proxy: what the server was told to trust, e.g. uvicorn's
    --forwarded-allow-ips); never a header a client can set freely."""
    return request.client.host if request.client else "unknown"
