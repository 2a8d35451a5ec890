"""The Celery application for Celery's own command line (``celery -A backend.worker_app
inspect ping``): Celery imports an app by module name, so this module builds one from the
environment's settings. ``dupfinder worker`` runs the same app (with the sweep that re-sends
lost work); both get their tasks' context from the runtime.
"""

from __future__ import annotations

from backend.config import Settings
from backend.runtime import celery_worker_app

app = celery_worker_app(Settings())
