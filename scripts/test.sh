#!/usr/bin/env bash
# The project's test command (`make test`): bootstrap the dev environment, then lint, format
# check, type check, migration drift check, deployment files check (docker-compose.yml,
# Dockerfiles) and the test suite with coverage.
# Every step runs even when an earlier one fails; the exit status is non-zero if any failed.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k upload -x`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"

section() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[[ -t 1 ]] || section() { printf '\n==> %s\n' "$*"; }

section "bootstrap (.venv with dev tools)"
scripts/bootstrap.sh --dev

# Lint what exists: tests/ and bench/ may be absent in a checkout (git keeps no empty folders).
code=()
for d in backend backend_scraper tests bench scripts; do
    [[ -d "$d" ]] && code+=("$d")
done

failed=()
step() {  # step NAME COMMAND...: run, remember a failure, keep going
    local name="$1"; shift
    section "$name"
    local rc=0
    "$@" || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "FAILED: $name (exit $rc)" >&2
        failed+=("$name")
    fi
    return 0
}

drift_check() {
    # A fresh database at head must match the models: a model change without a migration fails.
    local tmp rc=0
    tmp="$(mktemp -d)"
    DATABASE_URL="sqlite:///$tmp/drift.sqlite3" "$BIN/alembic" -c alembic.ini upgrade head \
        && DATABASE_URL="sqlite:///$tmp/drift.sqlite3" "$BIN/alembic" -c alembic.ini check \
        || rc=$?
    rm -rf "$tmp"
    return $rc
}

deploy_check() {
    # docker-compose.yml as Compose resolves it, the Dockerfiles and the nginx config, checked
    # against the documented contract. Needs a Compose (not an engine); .ci/run installs one.
    local rc=0
    "$BIN/python" scripts/check_deploy.py || rc=$?
    if [[ $rc -eq 3 ]]; then
        if [[ -n "${CI:-}" ]]; then
            echo "no Compose in CI: .ci/run should have installed docker-compose" >&2
            return 1
        fi
        echo "docker-compose.yml not checked: no Compose here (apt-get install docker-compose)"
        return 0
    fi
    return $rc
}

run_pytest() {
    local rc=0
    if [[ ! -d tests ]]; then
        echo "no tests/ folder: nothing to run, and that is a failure here" >&2
        return 5
    fi
    "$BIN/pytest" --cov=backend --cov-report=term "$@" || rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "pytest collected no tests: that is a failure here" >&2
    fi
    return $rc
}

step "ruff check ${code[*]}" "$BIN/ruff" check "${code[@]}"
step "black --check ${code[*]}" "$BIN/black" --check "${code[@]}"
step "mypy" "$BIN/mypy"
step "migrations match the models (alembic check)" drift_check
step "deployment files (docker compose config)" deploy_check
step "pytest with coverage" run_pytest "$@"

section "summary"
if [[ ${#failed[@]} -gt 0 ]]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all checks passed"
