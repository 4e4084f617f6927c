#!/usr/bin/env bash
# What `make demo` needs, and only that, so a fresh clone serves its first page quickly:
# - the Debian programs the demo runs (restic for its backups, php-cli for its shop front), installed when
#   run as root and missing — otherwise named, and the demo runs without those parts;
# - the virtualenv with sitekeeper's runtime packages plus time-machine (it dates the demo's past: releases
#   in their maintenance windows, nightly backups at night — src/sitekeeper/demo/clock.py).
# Not the development tools (pytest, Playwright, moto, …) nor Node's Lighthouse: `make bootstrap` (and
# `make test`, `make lint`) add those later — its own stamp tells it they are not installed yet.
# Idempotent: nothing is installed when the environment already has what the demo needs.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_PACKAGES=(restic php-cli)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for pkg in "${DEMO_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "demo: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "demo: missing Debian packages (install them as root, or run make bootstrap): ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Up to date when bootstrap's stamp (everything) or ours (runtime) holds the hash of this pyproject.toml.
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
full=$(cat .venv/.sitekeeper-stamp 2>/dev/null || true)
mine=$(cat .venv/.sitekeeper-demo-stamp 2>/dev/null || true)
if [ "$full" != "$want" ] && [ "$mine" != "$want" ]; then
  echo "demo: installing sitekeeper's runtime packages into .venv (make bootstrap adds the development tools)"
  .venv/bin/pip install -q --disable-pip-version-check -e . "time-machine>=2.15"
  echo "$want" > .venv/.sitekeeper-demo-stamp
fi
