"""The FastAPI application: ``create_app(settings)`` wires routers, errors and the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from backend import __version__
from backend.api.docs import install_docs
from backend.api.errors import (
    AUTH_RESPONSES,
    api_fallback,
    document_errors,
    install_error_handlers,
)
from backend.api.limits import BodySizeLimit
from backend.api.routes import (
    auth,
    decisions,
    duplicates,
    export,
    health,
    images,
    imports,
    jobs,
    scraped,
    trash,
)
from backend.api.routes import integrations as google_integration
from backend.api.security_headers import SecurityHeaders
from backend.config import Settings
from backend.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """``runtime`` lets a caller (tests, the CLI) own the runtime's lifetime."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        if owned:
            rt.start()
        try:
            yield
        finally:
            if owned:
                rt.close()

    app = FastAPI(
        title="Duplicate Image Finder",
        version=__version__,
        description="Finds exact duplicates and near-duplicates in each person's photos.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from install_docs, without a CDN
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        takeout_bytes=settings.max_takeout_bytes,
    )
    if settings.cors_origins:  # a web UI served from another origin (the frontend container)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)  # added last: outermost, so every answer carries them
    # Each router straight on the app, not under a "/api/v1" router: FastAPI matches a request
    # again at every level of nesting (a sixth of a small read's CPU).
    v1 = "/api/v1"
    # Every one of these needs a signed-in person. The reads a person's pages make most often
    # come first: routes are tried in order.
    for module in (duplicates, images, scraped, jobs, export, trash, decisions, imports):
        app.include_router(module.router, prefix=v1, responses=AUTH_RESPONSES)
    app.include_router(auth.router, prefix=v1)
    # Google Photos: its callback takes no bearer token (the OAuth state names the person).
    app.include_router(google_integration.router, prefix=v1)
    app.include_router(health.router)
    app.include_router(health.router, prefix=v1)
    install_docs(app)
    document_errors(app)
    frontend = settings.frontend_dir
    # The UI's files answer only paths no route knows (not a mount at "/", which would also
    # answer an API path called with a wrong method).
    app.router.default = api_fallback(
        StaticFiles(directory=frontend, html=True) if frontend and frontend.is_dir() else None
    )
    return app
