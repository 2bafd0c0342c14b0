#!/usr/bin/env bash
# bench/smoke.sh - CI smoke of the load generator against wstracker.
#
# Builds bench/loadgen, runs its self-test, starts build/wstracker on a free
# loopback port, loads it for 10 s with 200 connections and checks that the run
# was correct (no thresholds): announces > 0, every announce answered (within the
# ones in flight at the end), offers and answers received, no failure reason, no
# unexpected close, and loadgen's counts equal the tracker's /stats.json counts.
# Then the floor (bench/floor, compare.sh's third server): 2 s, 50 connections,
# judged the same way (loadgen --check, no /stats.json), about 3 s.
# The last line is "bench smoke: ok" or "bench smoke: FAILED: <reason>".
#
# Environment: WSTRACKER (binary, default build/wstracker), BENCH_BUILD (loadgen
# build dir, default build-bench), SMOKE_DURATION (s, default 10),
# SMOKE_CONNECTIONS (default 200).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WSTRACKER=${WSTRACKER:-$ROOT/build/wstracker}
BENCH_BUILD=${BENCH_BUILD:-$ROOT/build-bench}
DURATION=${SMOKE_DURATION:-10}
CONNECTIONS=${SMOKE_CONNECTIONS:-200}
TMP=$(mktemp -d)
SRV_PID=
FLOOR_PID=

fail() {
    echo "bench smoke: FAILED: $*"
    exit 1
}

stop_pid() {
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
}

cleanup() {
    stop_pid "$SRV_PID"
    stop_pid "$FLOOR_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

cmake -S "$ROOT/bench" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release -DLOADGEN_WERROR=ON \
    >"$TMP/cmake.log" 2>&1 &&
    cmake --build "$BENCH_BUILD" -j >>"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log"; fail "loadgen does not build"; }
LOADGEN=$BENCH_BUILD/loadgen
"$LOADGEN" --self-test || fail "loadgen self-test"

[ -x "$WSTRACKER" ] || fail "$WSTRACKER not found (build the tracker first)"
# port_of LOG PID: the port of LOG's "listening on ws://127.0.0.1:PORT" line, waiting
# up to 10 s; empty when PID exits first or the time is up.
port_of() {
    local p
    for _ in $(seq 100); do
        p=$(sed -n 's|^listening on ws://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$1" | head -1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        kill -0 "$2" 2>/dev/null || return 0
        sleep 0.1
    done
}

# WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0: the smoke checks counts;
# loadgen connections send faster than the default message budget, and all
# 200 come from 127.0.0.1 (older binaries ignore the variables).
WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0 "$WSTRACKER" --threads 2 --listen 127.0.0.1:0 2>"$TMP/tracker.err" &
SRV_PID=$!
PORT=$(port_of "$TMP/tracker.err" "$SRV_PID")
[ -n "$PORT" ] || { cat "$TMP/tracker.err"; fail "wstracker did not start"; }

# Bounded twice: loadgen stops by itself; timeout is the backstop.
timeout $((DURATION + 60)) "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --connections "$CONNECTIONS" \
    --duration "$DURATION" --warmup 0 --offers 5 --server-pid "$SRV_PID" --tracker-stats \
    --check --label smoke >"$TMP/loadgen.out" 2>&1
RC=$?
cat "$TMP/loadgen.out"
kill -0 "$SRV_PID" 2>/dev/null || fail "wstracker died during the run"

if [ $RC -ne 0 ] || ! grep -q '^check: ok' "$TMP/loadgen.out"; then
    WHY=$(sed -n 's/^check: FAILED: //p' "$TMP/loadgen.out" | head -1)
    [ -n "$WHY" ] || WHY="loadgen exited with status $RC"
    fail "$WHY"
fi

# The floor: does it still serve the workload (compare.sh measures against it)?
FLOOR=$BENCH_BUILD/floor
[ -x "$FLOOR" ] || fail "$FLOOR not built"
"$FLOOR" 0 2>"$TMP/floor.err" &
FLOOR_PID=$!
FPORT=$(port_of "$TMP/floor.err" "$FLOOR_PID")
[ -n "$FPORT" ] || { cat "$TMP/floor.err"; fail "the floor did not start"; }
timeout 60 "$LOADGEN" --url "ws://127.0.0.1:$FPORT/" --connections 50 --duration 2 --warmup 0 \
    --offers 5 --check --label smoke-floor >"$TMP/floor.out" 2>&1
RC=$?
if [ $RC -ne 0 ] || ! grep -q '^check: ok' "$TMP/floor.out"; then
    cat "$TMP/floor.out"
    WHY=$(sed -n 's/^check: FAILED: //p' "$TMP/floor.out" | head -1)
    fail "floor: ${WHY:-loadgen exited with status $RC}"
fi
grep '^check:' "$TMP/floor.out" | sed 's/^/floor: /'
echo "bench smoke: ok"
exit 0
