#!/usr/bin/env bash
# Soak and fault tests of issue 5 (see tests/soak/RESULTS.md).
#
#   bash tests/soak/run.sh [--full] [TEST...]     TEST: churn slowloris slowconsumer flood restart
#                                                 hostile-{sockets,upgrade,scrape,takeover,sybil,caps,relay}
#
# Runs each test (a Node script next to this file) against build/wstracker (or
# $WSTRACKER_BIN) on 127.0.0.1 only; each prints its figures and one line
# `soak NAME: ok` or `soak NAME: FAILED: reason`. Every test is bounded (its own
# loops and deadlines, plus `timeout` here) and stops its tracker itself.
# CI mode: about 10-25 s per test; --full: the long versions (churn 1,000,000 cycles,
# slowloris 5,000 connections, 60 s floods, restart with the library's real back-off).
# Exit status: 0 when every test passed.
set -u
cd "$(dirname "$0")/../.." || exit 2
HERE=tests/soak

FULL=
TESTS=()
for a in "$@"; do
  case "$a" in
    --full) FULL=--full ;;
    churn|slowloris|slowconsumer|flood|restart|hostile-*) TESTS+=("$a") ;;
    *) echo "usage: $0 [--full] [churn|slowloris|slowconsumer|flood|restart]..." >&2; exit 2 ;;
  esac
done
[ ${#TESTS[@]} -eq 0 ] && TESTS=(churn slowloris slowconsumer flood restart hostile-sockets hostile-upgrade
  hostile-scrape hostile-takeover hostile-sybil hostile-caps hostile-relay)

BIN=${WSTRACKER_BIN:-build/wstracker}
if [ ! -x "$BIN" ]; then
  echo "soak: $BIN missing; build it: cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j" >&2
  exit 2
fi
if [ ! -d tests/e2e/node_modules/ws ] || [ ! -d tests/e2e/node_modules/bittorrent-tracker ]; then
  echo "soak: tests/e2e/node_modules missing (cd tests/e2e && npm ci)" >&2
  exit 2
fi
# the tests open up to ~5,200 sockets (--full slowloris)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

failed=0
start_all=$(date +%s)
for t in "${TESTS[@]}"; do
  if [ -n "$FULL" ]; then limit=$((5 * 3600)); else limit=150; fi
  t0=$(date +%s)
  out=$(mktemp)
  timeout -k 5 "$limit" node "$HERE/$t.mjs" $FULL 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  secs=$(( $(date +%s) - t0 ))
  if ! grep -q "^soak $t: " "$out"; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "soak $t: FAILED: did not finish within $limit s"
    else
      echo "soak $t: FAILED: exited with status $rc without a result"
    fi
    failed=$((failed + 1))
  elif [ "$rc" -ne 0 ] || ! grep -q "^soak $t: ok" "$out"; then
    failed=$((failed + 1))
  fi
  echo "soak $t: ${secs} s"
  rm -f "$out"
done
echo "soak: ${#TESTS[@]} tests, $failed failed, $(( $(date +%s) - start_all )) s"
[ "$failed" -eq 0 ]
