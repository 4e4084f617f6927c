#!/usr/bin/env bash
# The whole suite: lint, migrations check, tests on SQLite, then again on PostgreSQL.
# SITEKEEPER_REQUIRE_ALL=1 (CI) turns any missing component into a failure instead of a skip.
# The end-to-end tests with real components (marked `slow`: restic, WordPress, Lighthouse, probes, the demo)
# and the browser tests run once, on PostgreSQL — the production database; every other test runs on both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
require_all=${SITEKEEPER_REQUIRE_ALL:-0}

echo "== lint"
ruff check src tests bench
ruff format --check src tests bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SITEKEEPER_HOME="$work/home"

echo "== migrations are complete"
sitekeeper makemigrations --check --dry-run

echo "== tests on SQLite (end-to-end and browser tests run once, on PostgreSQL below)"
unset SITEKEEPER_DATABASE_URL
pytest -q --durations=10 -m "not slow and not browser" "$@"

echo "== tests on PostgreSQL"
pg_url=${SITEKEEPER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/sitekeeper}
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ready && command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "PostgreSQL is installed but not running: starting it"
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 20); do pg_ready && break; sleep 0.5; done
fi
if pg_ready; then
  SITEKEEPER_DATABASE_URL=$pg_url pytest -q --durations=10 -p no:cacheprovider "$@"
elif [ "$require_all" = 1 ]; then
  echo "FAIL: PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started" \
       "(install the Debian package 'postgresql'); SITEKEEPER_REQUIRE_ALL=1 forbids skipping it" >&2
  exit 1
else
  echo "SKIPPED: PostgreSQL run — nothing listens on 127.0.0.1:5432 (install 'postgresql' to include it)"
fi
