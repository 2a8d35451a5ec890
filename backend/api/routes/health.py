from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend import __version__
from backend.api.deps import CtxDep, RuntimeDep
from backend.api.schemas import HealthOut

router = APIRouter(tags=["health"])
# An absolute file path (not the "//" of a URL): /health answers anyone, and where the server
# keeps its files is nobody's business.
_PATH = re.compile(r"(?<![\w:/.~-])/[^\s'\"`;,]+")


def _no_paths(text: str | None) -> str | None:
    return _PATH.sub("(a folder on the server)", text) if text else text


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(ctx: CtxDep, runtime: RuntimeDep) -> HealthOut | JSONResponse:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        database = "unavailable"
    broker = "ok" if ctx.jobs.reachable() else "unavailable"
    out = HealthOut(
        status="ok" if database == "ok" and broker == "ok" else "degraded",
        database=database,
        worker=runtime.mode,
        broker=broker,
        version=__version__,
        models={k: _no_paths(v) for k, v in ctx.ml.describe().items()},
        vector_index=ctx.vectors.name,
        google_photos=(
            "on"
            if ctx.settings.google_enabled
            else "off (set DUPFINDER_GOOGLE_CLIENT_ID and DUPFINDER_GOOGLE_CLIENT_SECRET)"
        ),
    )
    if database != "ok":
        return JSONResponse(out.model_dump(), status_code=503)
    return out
