#!/usr/bin/env bash
# Run the core-slice benchmark from the repository root with the project's venv.
# usage: bench/run.sh [run_benchmark.py options]   (e.g. --shared DIR, --seed N, --rounds N)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/run_benchmark.py "$@"
