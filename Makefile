# Duplicate Image Finder. `make help` lists the targets.
# Every target that needs Python first runs scripts/bootstrap.sh, which creates .venv with
# Python 3.12 and installs the project (quickly skipped when nothing changed).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := .venv/bin
CODE := backend $(wildcard tests) $(wildcard bench) scripts
DIR ?=
ARGS ?=
m ?=

.PHONY: help run serve scan test tests lint typecheck format migrate alembic bench ci \
        install-deps install-dev-deps requirements clean distclean

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

test: ## lint, type check, migration check and tests with coverage (the CI command)
	@scripts/test.sh $(ARGS)

tests: test

lint: install-dev-deps ## ruff and black --check
	$(BIN)/ruff check $(CODE)
	$(BIN)/black --check $(CODE)

typecheck: install-dev-deps ## mypy (strict)
	$(BIN)/mypy

format: install-dev-deps ## fix what ruff can (imports, upgrades), then black
	$(BIN)/ruff check --fix-only $(CODE)
	$(BIN)/black $(CODE)

migrate: install-deps ## apply the database migrations (DATABASE_URL, default SQLite in the data dir)
	@$(BIN)/python -c 'from backend.config import Settings; s = Settings(); s.is_sqlite and s.data_dir.mkdir(parents=True, exist_ok=True)'
	$(BIN)/alembic upgrade head

alembic: migrate ## new migration from the models: make alembic m="add album table"
	@if [[ -z '$(m)' ]]; then echo 'usage: make alembic m="what changed"' >&2; exit 2; fi
	@last=$$(ls backend/alembic/versions | grep -Eo '^[0-9]{4}' | sort | tail -n1 || true); \
	rev=$$(printf '%04d' $$((10#$${last:-0} + 1))); \
	$(BIN)/alembic revision --autogenerate --rev-id "$$rev" -m '$(m)'

bench: install-dev-deps ## run the benchmark (results in bench/RESULTS.md)
	$(BIN)/python bench/run_benchmark.py $(ARGS)

ci: ## what CI runs: services, system packages, then make test
	bash .ci/run

requirements: ## regenerate requirements*.txt from .venv (UPGRADE=1: newest allowed first)
	@scripts/bootstrap.sh --dev
	@if [[ -n '$(UPGRADE)' ]]; then $(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'; fi
	$(BIN)/python scripts/requirements.py

clean: ## remove caches, coverage and build output (keeps .venv and your data)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* coverage.xml htmlcov \
	       build dist *.egg-info
	find . -path ./.venv -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean ## clean, and remove .venv too
	rm -rf .venv
