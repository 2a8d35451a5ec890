from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend import __version__
from backend.api.deps import CtxDep
from backend.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(ctx: CtxDep) -> HealthOut | JSONResponse:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        database = "unavailable"
    out = HealthOut(
        status="ok" if database == "ok" else "degraded",
        database=database,
        worker="embedded",
        version=__version__,
    )
    if database != "ok":
        return JSONResponse(out.model_dump(), status_code=503)
    return out
