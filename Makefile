# Duplicate Image Finder. `make help` lists the targets.
# Every target that needs Python first runs scripts/bootstrap.sh, which creates .venv with
# Python 3.12 and installs the project (quickly skipped when nothing changed).
# The distributed-mode targets (build, up, down, restart, logs; DOCKER=1 on migrate, shell and
# reset-db) drive docker-compose.yml and need Docker with Compose.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := .venv/bin
CODE := backend backend_scraper $(wildcard tests) $(wildcard bench) scripts
DIR ?=
ARGS ?=
m ?=
# DOCKER=1: migrate, shell and reset-db act on the compose services instead of the local settings.
DOCKER ?=
IF_DOCKER := $(if $(filter 1,$(DOCKER)),docker-check)
# YES=1: reset-db does not ask.
YES ?=
# logs: only these services, e.g. SERVICE="worker worker-model".
SERVICE ?=
# health: the API's address.
API_URL ?= http://127.0.0.1:8000
# celery: the local Celery worker's queues and processes.
QUEUES ?= ingest,cpu,model,grouping
CONCURRENCY ?= 2
# repomix: OFFLINE=1 skips npx and uses scripts/repomix.py.
OFFLINE ?=

# Containers, volumes and networks are named dupfinder_* whatever the checkout's folder is.
export COMPOSE_PROJECT_NAME ?= dupfinder
# "docker compose" (the plugin) or "docker-compose" (standalone); worked out once, when needed.
COMPOSE = $(eval COMPOSE := $(shell if docker compose version >/dev/null 2>&1; then \
    echo 'docker compose'; elif command -v docker-compose >/dev/null 2>&1; then \
    echo docker-compose; fi))$(COMPOSE)
# repomix 1.15+ needs Node.js 22; older Node.js gets the last release that runs on it.
REPOMIX_PKG = $(shell [[ "$$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 22 ]] \
    && echo repomix || echo repomix@1.14.0)

.PHONY: scrape
.PHONY: help run serve scan test tests lint typecheck format migrate alembic bench bench-distributed bench-models bench-quality bench-vectors bench-scale bench-speed bench-serve ci \
        install-deps install-dev-deps requirements clean distclean \
        build up down restart logs health reset-db shell celery compose-config repomix \
        docker-check secret-key

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install-deps: ## create .venv and install dupfinder with its runtime dependencies
	@scripts/bootstrap.sh

install-dev-deps: ## the same plus the test, lint and type-check tools
	@scripts/bootstrap.sh --dev

run: install-deps ## run the service (API + embedded worker) on http://127.0.0.1:8000
	$(BIN)/dupfinder serve $(ARGS)

serve: run

scan: install-deps ## find duplicates in a folder: make scan DIR=~/Pictures [ARGS=--json]
	@if [[ -z '$(DIR)' ]]; then echo 'usage: make scan DIR=/path/to/photos [ARGS=--json]' >&2; exit 2; fi
	@dir='$(DIR)'; $(BIN)/dupfinder scan "$${dir/#\~/$$HOME}" $(ARGS)

scrape: install-deps ## SCRAPE mode: make scrape ARGS="--profile DIR --email you@example.com" (first: ARGS="login --profile DIR")
	@$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/python -m pip install -q -e '.[scrape]'
	$(BIN)/dupfinder scrape $(ARGS)

test: ## lint, type check, migration and deployment checks, tests with coverage (the CI command)
	@scripts/test.sh $(ARGS)

tests: test ## the same as make test

lint: install-dev-deps ## ruff and black --check
	$(BIN)/ruff check $(CODE)
	$(BIN)/black --check $(CODE)

typecheck: install-dev-deps ## mypy (strict)
	$(BIN)/mypy

format: install-dev-deps ## fix what ruff can (imports, upgrades), then black
	$(BIN)/ruff check --fix-only $(CODE)
	$(BIN)/black $(CODE)

migrate: $(IF_DOCKER) ## apply the database migrations: DATABASE_URL (default SQLite), or DOCKER=1 in compose
ifeq ($(DOCKER),1)
	$(COMPOSE) run --rm migrate
else
	@scripts/bootstrap.sh
	@$(BIN)/python -c 'from backend.config import Settings; s = Settings(); s.is_sqlite and s.data_dir.mkdir(parents=True, exist_ok=True)'
	$(BIN)/dupfinder migrate
endif

alembic: migrate ## new migration from the models: make alembic m="add album table"
	@if [[ -z '$(m)' ]]; then echo 'usage: make alembic m="what changed"' >&2; exit 2; fi
	@last=$$(ls backend/alembic/versions | grep -Eo '^[0-9]{4}' | sort | tail -n1 || true); \
	rev=$$(printf '%04d' $$((10#$${last:-0} + 1))); \
	$(BIN)/alembic revision --autogenerate --rev-id "$$rev" -m '$(m)'

bench: install-dev-deps ## run the benchmark (results in bench/RESULTS.md)
	$(BIN)/python bench/run_benchmark.py $(ARGS)

bench-distributed: install-dev-deps ## 1 vs 2 Celery workers, distributed vs embedded (needs PostgreSQL, redis-server)
	$(BIN)/python bench/distributed_benchmark.py $(ARGS)

bench-models: install-dev-deps ## SSCD throughput vs a bare ONNX Runtime session, YOLO images/s
	$(BIN)/python bench/model_throughput.py $(ARGS)

bench-quality: install-dev-deps ## near/similar tiers per model, vs immaculate (pdq, sscd), threshold sweep
	$(BIN)/python bench/quality_benchmark.py $(ARGS)

bench-vectors: install-dev-deps ## vector search at 100k and 1M vectors: numpy, usearch, pgvector
	$(BIN)/python bench/vector_benchmark.py $(ARGS)

bench-scale: install-dev-deps ## one person's 10k-1M photos: grouping cost and page reads (SQLite, pgvector)
	$(BIN)/python bench/scale_benchmark.py $(ARGS)

bench-speed: install-dev-deps ## dupfinder scan vs immaculate, whole processes: empty folder, hashes only, default tiers
	$(BIN)/python bench/speed_benchmark.py $(ARGS)

bench-serve: install-dev-deps ## dupfinder serve under 50 clients: read/upload p99 while analysis runs
	$(BIN)/python bench/serve_load_benchmark.py $(ARGS)

ci: ## what CI runs: services, system packages, then make test
	bash .ci/run

requirements: ## regenerate requirements*.txt from .venv (UPGRADE=1: newest allowed first)
	@scripts/bootstrap.sh --dev
	@if [[ -n '$(UPGRADE)' ]]; then $(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'; fi
	$(BIN)/python scripts/requirements.py

# ---- distributed mode: docker-compose.yml ---------------------------------------------------

WHAT = $(or $(MAKECMDGOALS),docker-check)
docker-check:
	@command -v docker >/dev/null 2>&1 || { echo "make $(WHAT): \
	needs Docker, and 'docker' is not installed (https://docs.docker.com/engine/install/)." >&2; exit 1; }
	@[[ -n '$(COMPOSE)' ]] || { echo "make $(WHAT): needs Docker Compose: neither \
	'docker compose' nor 'docker-compose' works (install the compose plugin)." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make $(WHAT): no Docker engine answers \
	(is the daemon running, and may this user use it?). Without Docker, 'make run' serves the \
	embedded mode." >&2; exit 1; }

secret-key:
	@if [[ -z "$${DUPFINDER_SECRET_KEY:-}" ]] && ! grep -qs '^DUPFINDER_SECRET_KEY=' .env; then \
	    key=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))'); \
	    printf '\n# Written by `make up`: signs access tokens (the compose services need one).\nDUPFINDER_SECRET_KEY=%s\n' "$$key" >>.env; \
	    echo "make: wrote a new random DUPFINDER_SECRET_KEY to .env"; \
	fi

build: docker-check ## build the images (API/workers and the web UI) with docker compose
	$(COMPOSE) build $(ARGS)

up: docker-check secret-key ## start everything in the background (ARGS="--scale worker=3")
	$(COMPOSE) up -d $(ARGS)
	@echo "web UI: http://localhost:3000  API: http://localhost:8000/docs  (make health, make logs)"

down: docker-check ## stop and remove the containers (ARGS=-v also deletes the data volumes)
	$(COMPOSE) down $(ARGS)

restart: docker-check secret-key ## stop, then start again (picks up new images and settings)
	$(COMPOSE) down
	$(COMPOSE) up -d $(ARGS)

logs: docker-check ## follow the services' logs (SERVICE="app worker" for some only)
	$(COMPOSE) logs -f --tail=200 $(SERVICE)

health: $(IF_DOCKER) ## API /health and a ping of the Celery workers (API_URL=...; DOCKER=1 forces compose)
	@COMPOSE='$(COMPOSE)' API_URL='$(API_URL)' DOCKER='$(DOCKER)' scripts/health.sh

reset-db: $(IF_DOCKER) ## empty the database and migrate it again (asks first; YES=1 does not; DOCKER=1)
ifeq ($(DOCKER),1)
	@if [[ '$(YES)' != 1 ]]; then \
	    read -r -p "This will DROP and re-create the compose PostgreSQL database. Continue? [y/N] " answer \
	        || { echo; echo "reset-db: no answer; run with YES=1 to go ahead" >&2; exit 1; }; \
	    [[ "$$answer" == [yY]* ]] || { echo "reset-db: nothing done"; exit 1; }; \
	fi
	$(COMPOSE) up -d db
	@for i in $$(seq 60); do $(COMPOSE) exec -T db sh -c 'pg_isready -q -U "$$POSTGRES_USER"' && exit 0; sleep 1; done; \
	    echo "reset-db: the db service is not ready after 60 s" >&2; exit 1
	$(COMPOSE) exec -T db sh -c 'dropdb -U "$$POSTGRES_USER" --if-exists --force "$$POSTGRES_DB" && createdb -U "$$POSTGRES_USER" "$$POSTGRES_DB"'
	$(COMPOSE) run --rm migrate
else
	@scripts/bootstrap.sh
	$(BIN)/python scripts/reset_db.py $(if $(filter 1,$(YES)),--yes)
	$(BIN)/dupfinder migrate
endif

shell: $(IF_DOCKER) ## a Python prompt with the settings and database loaded (DOCKER=1: in the app container)
ifeq ($(DOCKER),1)
	$(COMPOSE) exec app python -i -c "$$(cat scripts/shell_init.py)"
else
	@scripts/bootstrap.sh
	@$(BIN)/python -i scripts/shell_init.py
endif

celery: install-deps ## a local Celery worker on CELERY_BROKER_URL (QUEUES=..., CONCURRENCY=...)
	@broker=$$($(BIN)/python -c 'from backend.config import Settings; print(Settings().celery_broker_url)'); \
	if [[ -z "$$broker" ]]; then echo "make celery: no CELERY_BROKER_URL (set it in the \
	environment or .env, e.g. redis://127.0.0.1:6379/0). Without it the service runs its \
	embedded worker and needs no Celery." >&2; exit 2; fi
	$(BIN)/dupfinder worker --queues $(QUEUES) --concurrency $(CONCURRENCY) $(ARGS)

compose-config: ## check docker-compose.yml (docker compose config), the Dockerfiles and nginx
	@python3 scripts/check_deploy.py

repomix: ## pack the repository into repomix-output.txt for review (npx repomix; OFFLINE=1)
	@if [[ -z '$(OFFLINE)' ]] && command -v npx >/dev/null 2>&1 \
	    && npx --yes $(REPOMIX_PKG) --output repomix-output.txt $(ARGS); then :; \
	else \
	    [[ -n '$(OFFLINE)' ]] || echo "make repomix: npx repomix unavailable or failed; using scripts/repomix.py" >&2; \
	    python3 scripts/repomix.py --output repomix-output.txt; \
	fi

clean: ## remove caches, coverage and build output (keeps .venv and your data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* coverage.xml htmlcov \
	       build dist *.egg-info repomix-output.txt
	find . -path ./.venv -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean ## clean, and remove .venv too
	rm -rf .venv
