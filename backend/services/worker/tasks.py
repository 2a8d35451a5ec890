"""The Celery application the workers run: ``celery -A backend.services.worker.tasks worker``.

Built from the environment's settings because Celery's command line imports it by name; the
tasks themselves are the registry's plain functions (see celery_app.py). ``dupfinder worker``
starts the same application with the sweep that re-sends lost work.
"""

from __future__ import annotations

from backend.config import Settings
from backend.services.worker.celery_app import make_celery

app = make_celery(Settings())
