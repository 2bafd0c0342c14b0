#!/usr/bin/env bash
# bench/relay.sh - relay throughput of one wstracker worker, directed and broadcast.
#
#   bash bench/relay.sh [WSTRACKER]
#
# For ROUNDS rounds and each data size in SIZES, runs loadgen's two relay modes,
# each against a fresh `wstracker --threads 1 --relay-rate 1048576` (the
# maximum budget, so the budget does not limit throughput) pinned to SERVER_CPU,
# loadgen pinned to LOADGEN_CPU:
#   directed   DIRECTED_CONNECTIONS (1000) connections in rooms of 50, each
#              member relaying to the others of its room in turn, with
#              DIRECTED_WINDOW (16) relays in flight per member;
#   broadcast  one room of 50, each member broadcasting (49 frames a relay),
#              BROADCAST_WINDOW (4) in flight per member.
# Each run uses --check and --tracker-stats: loadgen checks every relayed frame
# (data, sender peer_id, room, recipient) and the tracker's counters. Prints one
# row per run; writes the table and the commands to RESULTS and every report
# beside it. Nothing is asserted about speed; every run stops by itself.
#
# Environment: ROUNDS (3), SIZES ("100 1000"), DURATION (10), WARMUP (3),
# DIRECTED_CONNECTIONS (1000), DIRECTED_WINDOW (16), BROADCAST_WINDOW (4),
# SERVER_CPU (0), LOADGEN_CPU (1), LOADGEN (build/bench/loadgen), OUT
# (bench/.scratch/relay-DATE), RESULTS ($OUT/table.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WSTRACKER=${1:-$ROOT/build/wstracker}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-100 1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
DIRECTED_CONNECTIONS=${DIRECTED_CONNECTIONS:-1000}
DIRECTED_WINDOW=${DIRECTED_WINDOW:-16}
BROADCAST_WINDOW=${BROADCAST_WINDOW:-4}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
LOADGEN=${LOADGEN:-$ROOT/build/bench/loadgen}
OUT=${OUT:-$ROOT/bench/.scratch/relay-$(date +%F)}
RESULTS=${RESULTS:-$OUT/table.md}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for f in "$WSTRACKER" "$LOADGEN"; do [ -x "$f" ] || { echo "relay: $f is not executable" >&2; exit 2; }; done
mkdir -p "$OUT"

trap 'stop_server' EXIT

# run NAME LOADGEN-ARGS...: a fresh tracker, one loadgen run: NAME.txt, NAME.json
run() {
    local name=$1
    shift
    start_server "$OUT/$name.srv" env WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0 \
        taskset -c "$SERVER_CPU" "$WSTRACKER" --threads 1 \
        --relay-rate 1048576 --listen 127.0.0.1:0 ||
        { cat "$OUT/$name.srv"; echo "relay: $WSTRACKER did not start" >&2; exit 1; }
    # --check exits 1 on a failed check: the row says so, the rounds go on.
    taskset -c "$LOADGEN_CPU" "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --duration "$DURATION" \
        --warmup "$WARMUP" --seed 7 --server-pid "$SRV_PID" --tracker-stats --check \
        --label "$name" --json "$OUT/$name.json" "$@" >"$OUT/$name.txt" 2>&1 || true
    stop_server
    [ -s "$OUT/$name.json" ] || { cat "$OUT/$name.txt"; echo "relay: loadgen wrote no report" >&2; exit 1; }
}

row() {
    js_file "$OUT/$1.json" "[
        '', $2, r.mode.replace('relay-', ''), r.data_bytes, r.connections, r.window,
        r.measured.relays_accepted_per_s.toFixed(0), r.measured.frames_per_s.toFixed(0),
        (r.measured.data_bytes_per_s / 1e6).toFixed(1),
        r.measured.relay_latency_ms.p50.toFixed(1) + ' / ' + r.measured.relay_latency_ms.p99.toFixed(1),
        r.total.relays_refused + ' / ' + r.total.relays_expired + ' / ' + r.total.frames_bad,
        (100 * r.server.cpu_s / r.measured_s).toFixed(0),
        (1e6 * r.server.cpu_s / r.measured.relays_out).toFixed(2),
        r.loadgen_cpu_pct.toFixed(0), (100 * r.server.runq_wait_s / r.measured_s).toFixed(1),
        r.check.ok ? 'ok' : 'FAILED: ' + r.check.why, ''].join(' | ').trim()"
}

rows=()
for r in $(seq "$ROUNDS"); do
    for d in $SIZES; do
        run "r$r-directed-$d" --mode relay-directed --connections "$DIRECTED_CONNECTIONS" \
            --window "$DIRECTED_WINDOW" --data-bytes "$d"
        rows+=("$(row "r$r-directed-$d" "$r")")
        echo "${rows[-1]}"
        run "r$r-broadcast-$d" --mode relay-broadcast --connections 50 \
            --window "$BROADCAST_WINDOW" --data-bytes "$d"
        rows+=("$(row "r$r-broadcast-$d" "$r")")
        echo "${rows[-1]}"
    done
done

{
    echo "Tracker: \`$WSTRACKER --threads 1 --relay-rate 1048576 --listen 127.0.0.1:0\` on CPU $SERVER_CPU;"
    echo "loadgen on CPU $LOADGEN_CPU: \`loadgen --duration $DURATION --warmup $WARMUP --seed 7 --server-pid PID --tracker-stats --check\`"
    echo "plus \`--mode relay-directed --connections $DIRECTED_CONNECTIONS --window $DIRECTED_WINDOW --data-bytes N\`"
    echo "or \`--mode relay-broadcast --connections 50 --window $BROADCAST_WINDOW --data-bytes N\`."
    echo
    echo "| round | mode | data bytes | connections | window | relays/s accepted | frames/s delivered | data MB/s delivered | latency p50 / p99 (ms) | refused / expired / bad frames (run) | server CPU % | server us/relay | loadgen CPU % | server waited % | check |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$RESULTS"
echo "relay: wrote $RESULTS (reports in $OUT)"
