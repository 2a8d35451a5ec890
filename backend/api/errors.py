"""Every error leaves as JSON ``{"detail": "..."}`` with a status and words a person understands."""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.services.errors import AppError

log = logging.getLogger(__name__)

AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Not signed in, or the token is invalid or expired"},
    403: {"description": "Signed in with the session cookie, without the X-CSRF-Token header"},
    503: {"description": "The database is unavailable; retry shortly"},
}


# What a 422 from request validation carries (``detail`` in words; ``errors`` where each is).
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                },
            },
        },
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorOut",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "title": "Detail"}},
}
BODY_ERRORS = {
    "400": "The body could not be parsed (not JSON, or broken form data)",
    "413": "The body is larger than this server accepts",
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\\{[^/]+?\\}")


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

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched the path only; a
            # path with GET and DELETE routes would advertise GET alone.
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

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


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI description lists for ``path`` (HEAD wherever GET is); a
    literal path (``/images/tags``) is not also an instance of ``/images/{image_id}``."""
    matches: list[tuple[int, set[str]]] = []
    for template, operations in app.openapi().get("paths", {}).items():
        pattern = _PARAM.sub("[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods = {m.upper() for m in operations if m in HTTP_METHODS}
            matches.append((len(_PARAM.findall(re.escape(template))), methods))
    fewest = min((n for n, _ in matches), default=0)
    found = set().union(*(m for n, m in matches if n == fewest))
    if "GET" in found:
        found.add("HEAD")
    return sorted(found)


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI description say what errors really carry: a 422's ``detail`` is a
    sentence (FastAPI's default schema says a list) with the ``errors`` list beside it; any
    operation with a body may answer 400 (a body that does not parse) and 413 (too large)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
                schemas.pop("ValidationError", None)
            schemas.setdefault("ErrorOut", ERROR_SCHEMA)
            error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" not in operation:
                        continue
                    responses = operation.setdefault("responses", {})
                    for status, why in BODY_ERRORS.items():
                        responses.setdefault(status, {"description": why, "content": error})
        return app.openapi_schema or plain()

    app.openapi = openapi  # type: ignore[method-assign]


def api_fallback(static: ASGIApp | None, api_prefix: str = "/api/") -> ASGIApp:
    """What answers a path no route matches: JSON 404 under the API, else the web UI's files.

    Used as the router's default rather than a mount at "/": a mount matches every path, so a
    known API path with a wrong method was answered by the file server (404 or a 405 naming
    GET) instead of the API's 405."""

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if static is None or scope["type"] != "http" or scope["path"].startswith(api_prefix):
            response = JSONResponse({"detail": "Not Found"}, 404)
            await response(scope, receive, send)
            return
        await static(scope, receive, send)

    return fallback
