#!/usr/bin/env bash
# Bring a fresh machine to the point where `make demo` and `make test` work:
# Debian packages (when run as root), the virtualenv and the Python packages.
# Idempotent and quick when nothing changed (a stamp holds the hash of pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests, PDFs, the PostgreSQL client, the IMAP test server, the WordPress test site (MariaDB + PHP),
# the backup engine (restic) and an SSH/SFTP server for the "remote site" and SFTP repository tests.
APT_PACKAGES=(chromium fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 postgresql-client dovecot-imapd
  mariadb-server mariadb-client php-cli php-mysql wordpress restic openssh-server openssh-client wordpress-theme-twentytwentythree)

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
# Node.js + npm for Lighthouse: a machine that has its own Node (nvm, NodeSource) keeps it; otherwise Debian's.
if ! command -v npm >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    # Nothing we install may start a service on this machine (wordpress pulls in apache2): a policy that
    # refuses every start, in force for the install only, then the machine's own policy (if any) is back.
    policy=/usr/sbin/policy-rc.d
    saved=""
    if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
  else
    echo "bootstrap: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
stamp=.venv/.sitekeeper-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi

# Node tools run as programs (Lighthouse for the performance audits), into ./node_modules from the lock file.
# Same stamp idea as the Python packages: reinstalled only when package.json or package-lock.json changed.
node_stamp=node_modules/.sitekeeper-stamp
node_want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if ! command -v npm >/dev/null 2>&1; then
  echo "bootstrap: npm is missing (Debian package 'npm'): Lighthouse performance audits will not run" >&2
elif [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ] || [ ! -x node_modules/.bin/lighthouse ]; then
  echo "bootstrap: installing Node packages (lighthouse) into node_modules"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$node_want" > "$node_stamp"
fi
