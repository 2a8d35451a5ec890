# syntax=docker/dockerfile:1
# Duplicate Image Finder: one image for the API, the migrations and the Celery workers.
#
#   docker build -t dupfinder .
#   docker run -p 8000:8000 -e DUPFINDER_SECRET_KEY=... dupfinder          # API (default CMD)
#   docker run ... dupfinder dupfinder migrate                               # migrations only
#   docker run ... dupfinder dupfinder worker --queues ingest,cpu,grouping --concurrency 2
#
# docker-compose.yml wires it to PostgreSQL, Redis and the frontend (nginx) container.

# ---- build: a virtual environment with the pinned dependencies and the project --------------
FROM python:3.12-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first (their own layer: rebuilt only when the pins change).
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt
# Then the project itself, without touching the pinned dependencies.
COPY pyproject.toml README.md ./
COPY backend ./backend
RUN pip install --no-deps . \
    && python -c "import backend.cli, backend.main" \
    && dupfinder --help >/dev/null

# ---- runtime ------------------------------------------------------------------------------
FROM python:3.12-slim AS runtime

LABEL org.opencontainers.image.title="dupfinder" \
      org.opencontainers.image.description="Duplicate Image Finder: API, migrations and Celery workers"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    DUPFINDER_DATA_DIR=/data \
    DUPFINDER_FRONTEND_DIR=/app/frontend

# A fixed, unprivileged user. /data (the embedded mode's database, the blobs) belongs to it, and
# a new named volume mounted there or under it starts with that ownership, so it is writable.
RUN groupadd --system --gid 10001 dupfinder \
    && useradd --system --uid 10001 --gid dupfinder --home-dir /app --shell /usr/sbin/nologin dupfinder \
    && mkdir -p /app /data/blobs \
    && chown -R dupfinder:dupfinder /data

COPY --from=build /opt/venv /opt/venv
# The web UI, so that the image alone serves it at / (compose sets DUPFINDER_FRONTEND_DIR= and
# lets the frontend container serve it instead).
COPY frontend /app/frontend

WORKDIR /app
USER dupfinder:dupfinder
EXPOSE 8000

# The API's health: 200 when it and its database answer, 503 (a failure here) otherwise.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["dupfinder", "serve", "--host", "0.0.0.0", "--port", "8000"]
