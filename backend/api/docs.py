"""/docs (Swagger UI) and /redoc served with their scripts from this service, not a CDN.

FastAPI's own pages load swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and a
favicon from the internet: without it they are blank. The files come from the
``fastapi-offline`` package (its ``static`` folder: Swagger UI 5, ReDoc 2); only those files
are used, mounted at ``ASSETS``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from backend.api.security_headers import allow_own_inline_scripts

ASSETS = "/docs-assets"
DOCS = "/docs"
REDOC = "/redoc"


def install_docs(app: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect page, /redoc and the ``ASSETS`` mount to ``app``.

    ``app`` must be created with ``docs_url=None, redoc_url=None``, and this called before
    anything is mounted at "/" (a mount there would shadow ``ASSETS``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS}/oauth2-redirect"
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    def root(request: Request) -> str:  # behind a proxy that strips a path prefix
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=base + oauth2_redirect_url,
            swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return allow_own_inline_scripts(page)

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return allow_own_inline_scripts(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's script shows a "Redocly" logo from its CDN: the policy allows images from
        # here only.
        return allow_own_inline_scripts(page)
