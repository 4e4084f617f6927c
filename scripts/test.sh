#!/usr/bin/env bash
# The whole suite: lint, migrations check, then two passes of pytest on every core (pytest-xdist):
#   * SQLite: only the tests that use the database (SITEKEEPER_TEST_DB_ONLY=1, tests/conftest.py), without
#     the end-to-end (`slow`) and browser tests;
#   * PostgreSQL — the production database: every test, so the ones that do not touch the database (core,
#     parsers, the crawler, pure functions) run once, here, and so do the end-to-end tests with real
#     components (restic, WordPress, Lighthouse, probes, the demo) and the browser tests.
# Both passes run even when the first fails (one CI run tells about both). Each pass prints its ten slowest
# tests and its wall time; the summary at the end repeats them. The rule that keeps this under 45 minutes on
# 2 cores as the suite grows is in docs/testing.md.
#
# SITEKEEPER_REQUIRE_ALL=1 (CI) turns any missing component into a failure instead of a skip.
# SITEKEEPER_TEST_WORKERS: pytest-xdist workers per pass [auto: one per core]; 0 runs in this process.
# SITEKEEPER_TEST_READY_SECONDS: how long any test server may take to come up [60].
# Arguments are passed to both pytest runs (e.g. a path or -k EXPRESSION).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
require_all=${SITEKEEPER_REQUIRE_ALL:-0}
workers=${SITEKEEPER_TEST_WORKERS:-auto}
# loadgroup (carried out by tests/parallel.py's scheduler): a module whose tests share a module- or
# session-scoped fixture (a WordPress site, sshd, Dovecot) stays on one worker, so the fixture is set up
# once; every other test goes to whichever worker is free, the expensive ones first.
parallel=(-n "$workers" --dist loadgroup)
[ "$workers" = 0 ] && parallel=()

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SITEKEEPER_HOME="$work/home"  # the workers each get their own beside pytest's temporary folders
summary=()
failed=0

# minutes:seconds since $1 (a value of $SECONDS)
took() {
  local seconds=$((SECONDS - $1))
  printf '%dm%02ds' $((seconds / 60)) $((seconds % 60))
}

# run_pass NAME PYTEST-ARGS...: pytest with its output kept, then NAME's result line and wall time.
run_pass() {
  local name=$1 start=$SECONDS log="$work/$1.log" status=0
  shift
  pytest -q --durations=10 "${parallel[@]}" "$@" 2>&1 | tee "$log" || status=$?
  local result
  result=$(grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)' "$log" | tail -n 1 | sed 's/^=* *//; s/ *=*$//')
  local left
  left=$(grep -oE '[0-9]+ tests that use no database left out' "$log" | tail -n 1 | cut -d' ' -f1)
  [ -z "$left" ] || result="$result; $left left to PostgreSQL (no database)"
  summary+=("$(printf '%-11s %s — wall %s' "$name:" "${result:-no result line}" "$(took "$start")")")
  echo "== $name pass: wall $(took "$start")"
  return "$status"
}

print_summary() {
  echo "== summary (workers per pass: $workers)"
  printf '%s\n' "${summary[@]}"
  echo "total wall: $(took "$started")"
  [ "$failed" = 0 ] || echo "FAILED: see the pass(es) above"
}

echo "== lint"
ruff check src tests bench
ruff format --check src tests bench

echo "== migrations are complete"
sitekeeper makemigrations --check --dry-run
summary+=("bootstrap, lint, migrations: wall $(took "$started")")

echo "== tests on SQLite: the tests that use the database (the others, the end-to-end and the browser tests" \
     "run once, on PostgreSQL below)"
unset SITEKEEPER_DATABASE_URL
SITEKEEPER_TEST_DB_ONLY=1 run_pass SQLite -m "not slow and not browser" "$@" || failed=1

echo "== tests on PostgreSQL: every test"
pg_url=${SITEKEEPER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/sitekeeper}
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ready && command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "PostgreSQL is installed but not running: starting it"
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  limit=${SITEKEEPER_TEST_READY_SECONDS:-60}
  deadline=$((SECONDS + ${limit%%.*}))
  until pg_ready || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done
  pg_ready || echo "PostgreSQL did not accept connections on 127.0.0.1:5432 within $limit s" >&2
fi
if pg_ready; then
  # pytest-django gives each worker its own test database: test_<name>_gw0, test_<name>_gw1, …
  SITEKEEPER_DATABASE_URL=$pg_url run_pass PostgreSQL -p no:cacheprovider "$@" || failed=1
elif [ "$require_all" = 1 ]; then
  echo "FAIL: PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started" \
       "(install the Debian package 'postgresql'); SITEKEEPER_REQUIRE_ALL=1 forbids skipping it" >&2
  summary+=("PostgreSQL: FAILED, not reachable on 127.0.0.1:5432")
  failed=1
else
  echo "SKIPPED: PostgreSQL run — nothing listens on 127.0.0.1:5432 (install 'postgresql' to include it)"
  summary+=("PostgreSQL: skipped (nothing listens on 127.0.0.1:5432)")
fi
print_summary
exit "$failed"
