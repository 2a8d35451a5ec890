"""`make shell`: a Python prompt with the service's settings and database at hand.

Run as ``python -i scripts/shell_init.py`` (locally, from the repository) or with its text as
``python -i -c`` (in the API container, `make shell DOCKER=1`). Nothing is written until you do.
"""

from sqlmodel import Session, select

from backend import models
from backend.config import Settings
from backend.db.engine import make_engine

settings = Settings()
engine = make_engine(settings.database_url)
session = Session(engine)

print(
    f"dupfinder shell ({settings.environment}); database: {engine.url!r}\n"
    "  settings  the Settings in force (environment and .env)\n"
    "  engine    SQLAlchemy engine; session: an open sqlmodel Session (session.commit() to save)\n"
    "  models    the tables, e.g. session.exec(select(models.User)).all()\n"
    "  select    sqlmodel.select"
)
__all__ = ["models", "select", "session", "settings"]
