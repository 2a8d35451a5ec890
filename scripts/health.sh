#!/usr/bin/env bash
# `make health`: is the API up (GET /health), and do the Celery workers answer a ping?
#
#   API_URL   the API's address (default http://127.0.0.1:8000; compose publishes it there)
#   DOCKER=1  ping the workers inside the compose project (the default when it has a running
#             `worker` container); otherwise the broker of the local settings (CELERY_BROKER_URL)
#   COMPOSE   the compose command (set by the Makefile: "docker compose" or "docker-compose")
# Exits 1 when the API or a worker does not answer.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
API_URL="${API_URL:-http://127.0.0.1:8000}"
read -r -a compose <<<"${COMPOSE:-}"
PING=(celery -A backend.worker_app inspect ping --timeout 10)
rc=0

api_url_hint() {
    echo "  Is the API at another address? Set API_URL, e.g." \
        "make health API_URL=http://127.0.0.1:8001 (or API_URL=... scripts/health.sh)" >&2
}

echo "API: $API_URL/health"
if ! command -v curl >/dev/null; then
    echo "  curl is not installed" >&2
    rc=1
elif out="$(curl -sS --max-time 10 -w $'\n%{http_code}' "$API_URL/health" 2>&1)"; then
    code="${out##*$'\n'}"
    echo "  HTTP $code ${out%$'\n'*}"
    [[ "$code" == 200 ]] || rc=1
    # 503: the API answered, its database did not; anything else may be another program.
    [[ "$code" == 200 || "$code" == 503 ]] || api_url_hint
else
    echo "  not answering: ${out%$'\n'*}" >&2
    api_url_hint
    rc=1
fi

compose_worker_running() {
    [[ ${#compose[@]} -gt 0 ]] && docker info >/dev/null 2>&1 \
        && [[ -n "$("${compose[@]}" ps -q worker 2>/dev/null)" ]]
}

echo "Celery workers:"
if [[ "${DOCKER:-}" == 1 ]] || { [[ -z "${DOCKER:-}" ]] && compose_worker_running; }; then
    # Broadcast from inside a worker container: every worker on the broker answers, the
    # scaled `worker` replicas and `worker-model` alike.
    "${compose[@]}" exec -T worker "${PING[@]}" || rc=1
else
    broker="$(.venv/bin/python -c 'from backend.config import Settings; print(Settings().celery_broker_url)' 2>/dev/null || true)"
    if [[ -z "$broker" ]]; then
        echo "  no CELERY_BROKER_URL: embedded mode, the worker runs inside the API (see \"worker\" above)"
    else
        ".venv/bin/${PING[0]}" "${PING[@]:1}" || rc=1
    fi
fi

[[ $rc -eq 0 ]] && echo "healthy" || echo "NOT healthy" >&2
exit $rc
