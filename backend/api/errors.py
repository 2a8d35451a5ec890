"""Every error leaves as JSON ``{"detail": "..."}`` with a status and words a person understands."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.services.errors import AppError

log = logging.getLogger(__name__)

AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Not signed in, or the token is invalid or expired"},
    503: {"description": "The database is unavailable; retry shortly"},
}


def _where(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"detail": exc.message}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may be a password.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        problems = [f"{_where(tuple(e['loc']))}: {e['msg']}" for e in errors]
        return JSONResponse({"detail": "; ".join(problems), "errors": errors}, 422)

    @app.exception_handler(sa.exc.OperationalError)
    async def _db_down(_request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        text = str(exc.orig)
        if "no such" in text or "no column" in text or "does not exist" in text:
            log.error("database schema error: %s", text)  # a bug or a missed migration
            return JSONResponse({"detail": "internal error"}, 500)
        log.warning("database unavailable: %s", text)
        return JSONResponse(
            {"detail": "the database is unavailable right now; please retry shortly"},
            503,
            headers={"Retry-After": "5"},
        )
