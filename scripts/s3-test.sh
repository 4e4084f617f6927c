#!/usr/bin/env bash
# A throwaway S3 endpoint for tests: moto's server (from the project's venv) on 127.0.0.1 only, its pid
# file and log under one folder. Everything is kept in memory: `down` forgets every bucket.
#
#   scripts/s3-test.sh up     # idempotent: starts it unless it is already running; prints the port
#   scripts/s3-test.sh down   # stops what `up` started, by its pid file only
#
# Environment (defaults in brackets):
#   SITEKEEPER_S3_DIR      base folder [/tmp/sitekeeper-s3]: moto.pid, moto.log
#   SITEKEEPER_S3_PORT     port on 127.0.0.1 [9199]
#   MOTO_SERVER            the program [.venv/bin/moto_server of this checkout]
#
# Any access key / secret key works (moto does not check signatures); use region us-east-1.
# Exit status 3: moto_server is missing (PyPI package moto[server], installed by scripts/bootstrap.sh).
# The wait for moto polls up to SITEKEEPER_TEST_READY_SECONDS [60]; with SITEKEEPER_TEST_OWNER_PID set (the
# test process), a watcher runs `down` once that process is gone (scripts/test-servers.sh).
set -euo pipefail

usage() { echo "usage: $0 up | down" >&2; exit 2; }
[ $# -ge 1 ] || usage
action=$1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${SITEKEEPER_S3_DIR:-/tmp/sitekeeper-s3}
PORT=${SITEKEEPER_S3_PORT:-9199}
MOTO=${MOTO_SERVER:-$ROOT/.venv/bin/moto_server}
PIDFILE= # set once BASE exists

say() { printf '[s3-test] %s\n' "$*" >&2; }
SELF=$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/test-servers.sh
source "$ROOT/scripts/test-servers.sh"

# Is the pid file naming a live moto_server (ours, not a recycled pid)?
alive() {
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "moto_server"
}

# Does something answer HTTP on the port (any status)?
answers() {
  python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1).close()
except urllib.error.HTTPError:
    pass
except OSError:
    sys.exit(1)
EOF
}

up() {
  if [ ! -x "$MOTO" ]; then
    say "$MOTO is missing (PyPI package moto[server]: .venv/bin/pip install 'moto[server]')"
    exit 3
  fi
  if alive; then
    say "already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
    echo "$PORT"
    return 0
  fi
  if answers "$PORT"; then
    say "127.0.0.1:$PORT is taken by another program; choose SITEKEEPER_S3_PORT"
    exit 1
  fi
  # Its own session, detached from our stdout/stderr: a caller reading them to the end must not wait for it.
  setsid "$MOTO" -H 127.0.0.1 -p "$PORT" </dev/null >"$BASE/moto.log" 2>&1 &
  echo $! > "$PIDFILE"
  # First the port (cheap, no program per poll), then one HTTP answer.
  if ! await_ready "moto_server (S3) on 127.0.0.1:$PORT" "$BASE/moto.log" alive tcp_open "$PORT" \
      || ! await_ready "moto_server (S3) answering HTTP on 127.0.0.1:$PORT" "$BASE/moto.log" alive \
        answers "$PORT"; then
    down
    exit 1
  fi
  watch_owner "$BASE/watch.pid" "$PIDFILE" "$SELF" down
  say "moto S3 on http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
  echo "$PORT"
}

down() {
  local pid
  if alive; then
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    say "stopped moto_server (pid $pid)"
  fi
  rm -f "$PIDFILE"
  return 0
}

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
PIDFILE=$BASE/moto.pid

case $action in
  up) up ;;
  down) down ;;
  *) usage ;;
esac
