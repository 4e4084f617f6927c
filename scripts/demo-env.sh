#!/usr/bin/env bash
# What `make demo` needs, and only that, so a fresh clone serves its first page quickly:
# - the Debian programs the demo runs (restic for its backups, php-cli for its shop front), installed when
#   run as root and missing — otherwise named, and the demo runs without those parts;
# - the virtualenv with sitekeeper's runtime packages plus time-machine (it dates the demo's past: releases
#   in their maintenance windows, nightly backups at night — src/sitekeeper/demo/clock.py).
# - Lighthouse (npm, into ./node_modules from the lock file, as `make bootstrap` does) for "Run Lighthouse",
#   installed in the background so the first page does not wait for it (npm ci took 9 s here, with an empty
#   npm cache as with a full one); until it is there, node_modules/.sitekeeper-installing (the installer's
#   pid) says so, and an audit asked for meanwhile fails saying Lighthouse is not installed yet. Chromium
#   (Debian's, /usr/bin/chromium) and npm itself are not installed here: without them the audit fails naming
#   what is missing, and `make bootstrap` installs them.
# Not the development tools (pytest, Playwright, moto, …): `make bootstrap` (and `make test`, `make lint`)
# add those later — its own stamp tells it they are not installed yet.
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

# Lighthouse, in the background: npm ci into a build folder, then swapped into ./node_modules whole (a
# half-done install is never what `Run Lighthouse` finds). Same stamp as bootstrap.sh, so neither redoes it.
node_stamp=node_modules/.sitekeeper-stamp
node_marker=node_modules/.sitekeeper-installing
node_want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
node_log=.venv/lighthouse-install.log
if ! command -v npm >/dev/null 2>&1; then
  echo "demo: npm is missing (Debian package 'npm'): 'Run Lighthouse' will fail and say so (make bootstrap installs it)" >&2
elif [ "$(cat "$node_stamp" 2>/dev/null)" = "$node_want" ] && [ -x node_modules/.bin/lighthouse ]; then
  :
elif [ -f "$node_marker" ] && kill -0 "$(cat "$node_marker")" 2>/dev/null; then
  echo "demo: Lighthouse is still being installed by an earlier start (log: $node_log)"
else
  echo "demo: installing Lighthouse in the background (log: $node_log); 'Run Lighthouse' works once it is done"
  mkdir -p node_modules
  build=.venv/lighthouse-build
  (
    echo "$BASHPID" > "$node_marker"
    trap 'rm -f "$node_marker"' EXIT
    rm -rf "$build" && mkdir -p "$build" && cp package.json package-lock.json "$build"/
    if (cd "$build" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "$node_want" > "$build/node_modules/.sitekeeper-stamp"
      rm -rf .venv/node_modules.old && mv node_modules .venv/node_modules.old
      mv "$build/node_modules" node_modules && rm -rf .venv/node_modules.old "$build"
      echo "demo: Lighthouse installed"
    else
      echo "demo: installing Lighthouse failed; see $node_log — make bootstrap tries again" >&2
    fi
  ) >"$node_log" 2>&1 </dev/null &
fi
