#!/bin/sh
# Runs the end-to-end suite (real npm clients + headless Chromium) against the
# tracker, inside a fresh network namespace that only has `lo`: WebRTC and every
# socket stay on 127.0.0.1, nothing can leave the machine.
#
#   tests/e2e/run.sh [test files...]        default: every tests/e2e/*.test.mjs
#
# Environment:
#   WSTRACKER_BIN=path       tracker binary (default <repo>/build/wstracker)
#   WSTRACKER_REFERENCE=1    test npm bittorrent-tracker's Server instead (lib/reference-server.mjs)
#   CHROMIUM_BIN=path        Chromium (default /usr/bin/chromium, Debian package `chromium`)
#   E2E_TIMEOUT=seconds      limit for the whole run (default 900)
#   E2E_VERBOSE=1            copy the client processes' output to stderr
#   E2E_ARTIFACTS=dir        where screenshots go (default tests/e2e/artifacts)
# Needs: node >= 20, npm, unshare and ip (util-linux, iproute2), root or user
# namespaces. TAP goes to stdout; the exit status is non-zero on any failure.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

# Install the npm clients from package-lock.json (ignore-scripts is set in .npmrc)
# when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi

if [ "$#" -eq 0 ]; then
  set -- ./*.test.mjs
fi

# New network namespace (only `lo`) and new PID namespace: when the run ends (or
# hits E2E_TIMEOUT), its PID 1 exits and the kernel kills anything left over
# (trackers, client processes, Chromium).
if [ "$(id -u)" = 0 ]; then
  NS="unshare --net --pid --fork --kill-child --mount-proc"
else
  NS="unshare --map-root-user --net --pid --fork --kill-child --mount-proc"
fi

# shellcheck disable=SC2016
exec $NS -- sh -c '
  set -e
  ip link set lo up
  limit=$1; shift
  exec timeout -k 10 "$limit" node --test --test-reporter=tap "$@"
' run-e2e "${E2E_TIMEOUT:-900}" "$@"
