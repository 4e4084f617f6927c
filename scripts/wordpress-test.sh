#!/usr/bin/env bash
# A throw-away WordPress site for tests, on loopback only, everything under one folder:
#   * a private MariaDB instance (own datadir, socket, pid file) on 127.0.0.1:$SITEKEEPER_WP_DB_PORT — a
#     system MariaDB on 3306 is never touched;
#   * WordPress copied from the Debian package (/usr/share/wordpress) to an ordinary standalone layout with
#     a plain wp-config.php (offline-safe: external HTTP blocked, auto-updates and WP-Cron off);
#   * served by `php -S 127.0.0.1:$SITEKEEPER_WP_PORT`;
#   * installed non-interactively by POSTing to wp-admin/install.php?step=2.
#
#   scripts/wordpress-test.sh up            # idempotent: starts/installs only what is missing
#   scripts/wordpress-test.sh down [--purge] # stops what `up` started (by its pid files); --purge deletes DIR
#
# Environment (defaults in brackets):
#   SITEKEEPER_WP_DIR      base folder [/tmp/sitekeeper-wp]: mysql/ site/ run/ log/
#   SITEKEEPER_WP_PORT     HTTP port [8081]          SITEKEEPER_WP_DB_PORT  MariaDB port [3307]
#   SITEKEEPER_WP_TITLE    site title [Sitekeeper WordPress Test]
#   SITEKEEPER_WP_ADMIN / SITEKEEPER_WP_PASSWORD   admin login [admin / admin-test-password]
#   SITEKEEPER_WP_SOURCE   WordPress tree to copy [/usr/share/wordpress]
#
# The processes run as the current user (as root: mariadbd --user=root), so DIR may be any private folder.
# php -S is started in its own session: run/php.pid is its process-group id (workers included).
# Every wait for a server polls up to SITEKEEPER_TEST_READY_SECONDS [60] and names what it waited for; with
# SITEKEEPER_TEST_OWNER_PID set (the test process), a watcher runs `down` once that process is gone
# (scripts/test-servers.sh).
# Exit status 3: a needed Debian package is missing (named on stderr; nothing is installed here —
# scripts/bootstrap.sh does that).
set -euo pipefail

usage() { echo "usage: $0 up | down [--purge]" >&2; exit 2; }
[ $# -ge 1 ] || usage
action=$1

BASE=${SITEKEEPER_WP_DIR:-/tmp/sitekeeper-wp}
WP_PORT=${SITEKEEPER_WP_PORT:-8081}
DB_PORT=${SITEKEEPER_WP_DB_PORT:-3307}
DB_NAME=wordpress
DB_USER=wordpress
DB_PASS=wordpress-test-password
TITLE=${SITEKEEPER_WP_TITLE:-Sitekeeper WordPress Test}
ADMIN=${SITEKEEPER_WP_ADMIN:-admin}
ADMIN_PASS=${SITEKEEPER_WP_PASSWORD:-admin-test-password}
SOURCE=${SITEKEEPER_WP_SOURCE:-/usr/share/wordpress}
URL="http://127.0.0.1:$WP_PORT"

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
DATADIR=$BASE/mysql; DOCROOT=$BASE/site; RUN=$BASE/run; LOG=$BASE/log
SOCK=$RUN/mysqld.sock; DB_PID=$RUN/mysqld.pid; PHP_PID=$RUN/php.pid
PATH=$PATH:/usr/sbin:/sbin

say() { printf '[wordpress-test] %s\n' "$*" >&2; }
# shellcheck source=scripts/test-servers.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
source "$HERE/test-servers.sh"

# Is pid file $1 naming a live process whose command line contains $2 (ours, not a recycled pid)?
alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

db() { mariadb --no-defaults --socket="$SOCK" -uroot "$@"; }
db_ping() { mariadb-admin --no-defaults --socket="$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

# HTTP without curl: php-cli is needed anyway. Prints the status code; the body goes to file $2.
# POST fields come as NAME=VALUE arguments after the file.
http() {
  php -d display_errors=stderr -r '
    $url = $argv[1]; $out = $argv[2]; $fields = [];
    foreach (array_slice($argv, 3) as $pair) { [$k, $v] = explode("=", $pair, 2); $fields[$k] = $v; }
    $opts = ["ignore_errors" => true, "timeout" => 60, "follow_location" => 0];
    if ($fields) {
      $opts += ["method" => "POST", "content" => http_build_query($fields),
                "header" => "Content-Type: application/x-www-form-urlencoded"];
    }
    $body = @file_get_contents($url, false, stream_context_create(["http" => $opts]));
    if ($body === false) { echo "000"; exit(1); }
    file_put_contents($out, $body);
    preg_match("{^HTTP/\S+ (\d+)}", $http_response_header[0] ?? "", $m);
    echo $m[1] ?? "000";' -- "$@"
}

check_packages() {
  local missing=()
  { command -v mariadbd && command -v mariadb-install-db; } >/dev/null 2>&1 || missing+=(mariadb-server)
  { command -v mariadb && command -v mariadb-admin; } >/dev/null 2>&1 || missing+=(mariadb-client)
  if command -v php >/dev/null 2>&1; then
    php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' 2>/dev/null || missing+=(php-mysql)
  else
    missing+=(php-cli php-mysql)
  fi
  [ -f "$SOURCE/wp-includes/version.php" ] || missing+=(wordpress)
  if ((${#missing[@]})); then
    say "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]})"
    exit 3
  fi
}

start_db() {
  local user
  user=$(id -un)
  if [ ! -d "$DATADIR/mysql" ]; then
    say "initialising MariaDB in $DATADIR"
    rm -rf "$DATADIR"; mkdir -p "$DATADIR"
    # root@localhost authenticates by the socket's peer: the user running this script, no password.
    mariadb-install-db --no-defaults --user="$user" --datadir="$DATADIR" --skip-test-db \
      --auth-root-authentication-method=socket --auth-root-socket-user="$user" \
      >"$LOG/mariadb-install-db.log" 2>&1 || { say "mariadb-install-db failed; see $LOG/mariadb-install-db.log"; exit 1; }
  fi
  if alive "$DB_PID" "$DATADIR" && db_ping; then
    say "MariaDB already running (pid $(cat "$DB_PID"))"
    return
  fi
  if [ ${#SOCK} -gt 100 ]; then say "socket path too long for Unix sockets: $SOCK"; exit 1; fi
  say "starting MariaDB on 127.0.0.1:$DB_PORT"
  rm -f "$SOCK" "$DB_PID"
  setsid mariadbd --no-defaults --user="$user" --datadir="$DATADIR" --socket="$SOCK" \
    --pid-file="$DB_PID" --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --log-error="$LOG/mariadb.err" --innodb-buffer-pool-size=32M --performance-schema=OFF \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$DB_PID"  # mariadbd writes the same pid once it is up
  db_alive() { alive "$DB_PID" "$DATADIR"; }
  await_ready "MariaDB (mariadbd) on 127.0.0.1:$DB_PORT, socket $SOCK" "$LOG/mariadb.err" db_alive db_ping \
    || exit 1
  db <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
SQL
}

write_site() {
  if [ ! -f "$DOCROOT/wp-includes/version.php" ]; then
    say "copying $SOURCE to $DOCROOT"
    rm -rf "$DOCROOT"; mkdir -p "$DOCROOT"
    # -L: the Debian tree links into /usr/share/javascript etc.; a real site has plain files.
    cp -rL "$SOURCE/." "$DOCROOT/"
    rm -f "$DOCROOT/wp-config.php"  # Debian's reads /etc/wordpress/config-HOST.php
  fi
  mkdir -p "$DOCROOT/wp-content/uploads"
  local i
  salt() { head -c 48 /dev/urandom | base64 | tr -d '\n/+='; }
  # Rewritten on every `up`: the ports may differ from the previous run.
  {
    echo "<?php"
    echo "// Written by scripts/wordpress-test.sh: a throw-away test site."
    echo "define( 'DB_NAME', '$DB_NAME' );"
    echo "define( 'DB_USER', '$DB_USER' );"
    echo "define( 'DB_PASSWORD', '$DB_PASS' );"
    echo "define( 'DB_HOST', '127.0.0.1:$DB_PORT' );"
    echo "define( 'DB_CHARSET', 'utf8mb4' );"
    echo "define( 'DB_COLLATE', '' );"
    for i in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
      echo "define( '$i', '$(salt)' );"
    done
    echo "\$table_prefix = 'wp_';"
    echo "define( 'WP_HOME', '$URL' );"
    echo "define( 'WP_SITEURL', '$URL' );"
    echo "define( 'WP_DEBUG', false );"
    echo "define( 'WP_HTTP_BLOCK_EXTERNAL', true );  // offline: no calls to wordpress.org"
    echo "define( 'AUTOMATIC_UPDATER_DISABLED', true );"
    echo "define( 'WP_AUTO_UPDATE_CORE', false );"
    echo "define( 'DISABLE_WP_CRON', true );"
    echo "if ( ! defined( 'ABSPATH' ) ) { define( 'ABSPATH', __DIR__ . '/' ); }"
    echo "require_once ABSPATH . 'wp-settings.php';"
  } >"$DOCROOT/wp-config.php.new"
  mv "$DOCROOT/wp-config.php.new" "$DOCROOT/wp-config.php"
}

start_web() {
  if alive "$PHP_PID" "$DOCROOT"; then
    say "php -S already running (pid $(cat "$PHP_PID"))"
    return
  fi
  say "starting php -S 127.0.0.1:$WP_PORT"
  PHP_CLI_SERVER_WORKERS=4 setsid php -S "127.0.0.1:$WP_PORT" -t "$DOCROOT" \
    >>"$LOG/php-server.log" 2>&1 </dev/null &
  echo $! >"$PHP_PID"
  # It used to get a fixed 8 s (80 × 0.1 s): on a loaded machine php -S had started but was not yet
  # listening, and three WordPress fixtures failed at once.
  php_alive() { alive "$PHP_PID" "$DOCROOT"; }
  await_ready "php -S on 127.0.0.1:$WP_PORT (document root $DOCROOT)" "$LOG/php-server.log" php_alive \
    tcp_open "$WP_PORT" || exit 1
}

install_site() {
  local installed code
  installed=$(db -N -e "SELECT COUNT(*) FROM information_schema.tables
                        WHERE table_schema='$DB_NAME' AND table_name='wp_options'")
  if [ "$installed" != 0 ]; then
    say "WordPress already installed"
    return
  fi
  say "installing WordPress (wp-admin/install.php?step=2)"
  code=$(http "$URL/wp-admin/install.php?step=2" "$LOG/install.html" \
    "weblog_title=$TITLE" "user_name=$ADMIN" "admin_password=$ADMIN_PASS" "admin_password2=$ADMIN_PASS" \
    "pw_weak=1" "admin_email=admin@example.test" "blog_public=0" "language=") || true
  grep -q 'Success!' "$LOG/install.html" 2>/dev/null || {
    say "install failed (HTTP $code); see $LOG/install.html"; exit 1; }
}

up() {
  check_packages
  mkdir -p "$RUN" "$LOG"
  start_db
  watch_owner "$RUN/watch.pid" "$DB_PID" "$SELF" down
  write_site
  start_web
  install_site
  local code
  code=$(http "$URL/" "$LOG/home.html") || true
  if [ "$code" != 200 ] || ! grep -qF "$TITLE" "$LOG/home.html"; then
    say "home page check failed (HTTP $code); see $LOG/home.html"; exit 1
  fi
  say "up: $URL/ ($(sed -n "s/^\$wp_version = '\(.*\)';/WordPress \1/p" "$DOCROOT/wp-includes/version.php"))," \
      "MariaDB 127.0.0.1:$DB_PORT, admin $ADMIN / $ADMIN_PASS"
  echo "$URL/"
}

# Stop the process of pid file $1 (checked against $2): command $3 if given (a clean shutdown), else
# SIGTERM to its process group; SIGKILL after 10 s. Returns 1 if it was not running.
stop() {
  local pid
  if ! alive "$1" "$2"; then
    rm -f "$1"
    return 1
  fi
  pid=$(cat "$1")
  if [ -n "${3:-}" ]; then
    $3 >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  else
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop in 10 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

db_shutdown() { mariadb-admin --no-defaults --socket="$SOCK" -uroot shutdown; }

down() {
  if stop "$PHP_PID" "$DOCROOT"; then say "stopped php -S"; fi
  if stop "$DB_PID" "$DATADIR" db_shutdown; then say "stopped MariaDB"; fi
  if [ "${1:-}" = --purge ]; then
    rm -rf "$BASE"
    say "removed $BASE"
  fi
}

case $action in
  up) up ;;
  down) down "${2:-}" ;;
  *) usage ;;
esac
