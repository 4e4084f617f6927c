# Sourced by the scripts that start servers for tests (wordpress-test.sh, sshd-test.sh, dovecot-test.sh,
# s3-test.sh): one readiness wait and one owner watch for all of them.
#
#   SITEKEEPER_TEST_READY_SECONDS   how long a server may take to come up [60]: a busy machine (the suite on
#                                   every core, other work beside it) makes start-up slow, never wrong.
#   SITEKEEPER_TEST_OWNER_PID       the test process that asked for the server (tests/conftest.py sets it):
#                                   once it is gone — even killed with SIGKILL, when no finaliser runs — a
#                                   watcher stops the server with the script's own `down`/`stop`.
# Callers define say() before sourcing this file.

ready_seconds() {
  local seconds=${SITEKEEPER_TEST_READY_SECONDS:-60}
  seconds=${seconds%%.*}  # whole seconds are enough here
  [[ $seconds =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || seconds=60
  echo "$seconds"
}

# The last lines of a log, to stderr, for a failure message.
log_tail() {
  local file=$1 lines=${2:-30}
  if [ -s "$file" ]; then
    say "last $lines lines of $file:"
    tail -n "$lines" "$file" >&2
  else
    say "($file is empty or missing)"
  fi
}

# await_ready WHAT LOG ALIVE_COMMAND READY_COMMAND...
#   Polls READY_COMMAND until it succeeds, within SITEKEEPER_TEST_READY_SECONDS; returns 1 at once if
#   ALIVE_COMMAND fails (the program died), or after the deadline, saying WHAT (program and address) and
#   printing the end of LOG.
await_ready() {
  local what=$1 log=$2 alive_check=$3
  shift 3
  local limit deadline
  limit=$(ready_seconds)
  deadline=$((SECONDS + limit))
  until "$@"; do
    if ! $alive_check; then
      say "$what: the program exited before it was ready"
      log_tail "$log"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$what: not ready after $limit s (SITEKEEPER_TEST_READY_SECONDS sets the deadline)"
      log_tail "$log"
      return 1
    fi
    sleep 0.2
  done
}

# Does anything accept TCP connections on 127.0.0.1:$1? (bash's /dev/tcp: no program started per poll;
# on loopback a connection is accepted or refused at once.)
tcp_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The start time of process $1 (field 22 of /proc/PID/stat), so a recycled pid is not taken for the owner.
started_at() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # after the command name, which may hold spaces and parentheses
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# watch_owner WATCHER_PIDFILE SERVER_PIDFILE STOP_COMMAND...
#   When SITEKEEPER_TEST_OWNER_PID is set: a watcher in its own session (it survives a killed process group)
#   checks every second that the owner lives and the server of SERVER_PIDFILE still runs. Once the owner is
#   gone it waits for the script that started it (an `up` killed half-way goes on starting what is left),
#   then runs STOP_COMMAND (the script's own stop, which checks each pid is still its server's). Once the
#   server is stopped otherwise it just ends. One watcher per WATCHER_PIDFILE.
watch_owner() {
  local watcher=$1 server=$2
  shift 2
  local owner=${SITEKEEPER_TEST_OWNER_PID:-} born script_born
  [[ $owner =~ ^[0-9]+$ ]] || return 0
  born=$(started_at "$owner") || return 0
  script_born=$(started_at "$$") || return 0
  if [ -s "$watcher" ] && kill -0 "$(cat "$watcher")" 2>/dev/null; then
    return 0
  fi
  setsid bash -c '
    source "$0"
    watcher=$1 server=$2 owner=$3 born=$4 script=$5 script_born=$6
    shift 6
    lives() { [ "$(started_at "$1")" = "$2" ]; }
    server_runs() { [ -s "$server" ] && kill -0 "$(cat "$server")" 2>/dev/null; }
    while lives "$owner" "$born" && server_runs; do sleep 1; done
    if ! lives "$owner" "$born"; then
      while lives "$script" "$script_born"; do sleep 1; done
      "$@"
    fi
    rm -f "$watcher"
  ' "${BASH_SOURCE[0]}" "$watcher" "$server" "$owner" "$born" "$$" "$script_born" "$@" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$watcher"
}
