#!/usr/bin/env bash
# A production install, as docs/operations.md describes it: build the wheel, install it
# WITHOUT extras into a clean virtualenv outside the source tree (so nothing from src/ or
# the dev dependencies can be imported), migrate a fresh PostgreSQL database, pass
# `bulwark check --deploy` with production settings, serve with gunicorn, and sign in as
# far as the second-factor page. Then a backup of that site and a check of its archive.
# Called by .ci/run after the two suites; exits non-zero on the first failure.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
PG_HOST=127.0.0.1
PG_PORT=5432
WORK="$(mktemp -d /tmp/bulwark-wheel.XXXXXX)"
DB="bulwark_wheel_$$"
SERVER_PID=""
started=$(date +%s)

log() { printf '\n== wheel install: %s (%ss) ==\n' "$*" "$(( $(date +%s) - started ))"; }
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "building the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$SOURCE"
wheel=$(ls "$WORK"/dist/bulwark-*.whl)

log "installing $(basename "$wheel") without extras into a clean virtualenv"
"$PYTHON" -m venv "$WORK/venv"
# --no-compile: no byte-compiling of every file of numpy, scipy, matplotlib and the rest;
# the modules the platform imports are compiled on first use.
"$WORK/venv/bin/pip" install --quiet --no-compile "$wheel"

cd "$WORK"  # nothing of the source tree on sys.path from here on
export PATH="$WORK/venv/bin:$PATH"
installed=$(python -c 'import bulwark, pathlib; print(pathlib.Path(bulwark.__file__).parent)')
case "$installed" in
  "$WORK"/venv/*) ;;
  *) echo "wheel install: bulwark was imported from $installed, not from the clean venv"; exit 1 ;;
esac
if python -c 'import pytest' 2>/dev/null; then
  echo "wheel install: a dev dependency (pytest) is importable: the venv is not clean"; exit 1
fi

psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -q -c "CREATE DATABASE $DB" >/dev/null
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Production settings as docs/operations.md lists them.
export DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/$DB"
export BULWARK_DATA_DIR="$WORK/data"
export BULWARK_MEDIA_DIR="$WORK/data/files"
export BULWARK_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
export BULWARK_AUDIT_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
export BULWARK_ALLOWED_HOSTS="127.0.0.1,localhost"
export BULWARK_CSRF_TRUSTED_ORIGINS="https://127.0.0.1:$port"
export BULWARK_SITE_URL="https://bulwark.cert.example"
export BULWARK_TLS=1
export BULWARK_EMAIL_HOST=127.0.0.1
unset BULWARK_DEBUG DJANGO_SETTINGS_MODULE
mkdir -p "$BULWARK_DATA_DIR"

log "bulwark migrate"
bulwark migrate --noinput -v 0
log "bulwark check --deploy"
bulwark check --deploy

password="$(python -c 'import secrets; print(secrets.token_urlsafe(18))')"
DJANGO_SUPERUSER_PASSWORD="$password" bulwark createsuperuser --noinput \
  --username ci-admin --email ci-admin@cert.example >/dev/null

log "gunicorn on 127.0.0.1:$port"
gunicorn bulwark.wsgi:application --bind "127.0.0.1:$port" --workers 2 \
  --worker-class gthread --threads 4 --log-level warning &
SERVER_PID=$!

log "health and sign-in"
python "$SOURCE/.ci/wheel_smoke.py" "http://127.0.0.1:$port" ci-admin "$password"

log "bulwark backup and restore --check"
bulwark backup "$WORK/backup.tar"
bulwark restore --check "$WORK/backup.tar"
bulwark audit verify

log "passed"
