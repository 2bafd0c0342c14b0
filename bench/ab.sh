#!/usr/bin/env bash
# bench/ab.sh - two wstracker binaries side by side, runs alternating, same core.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [LABEL]
#
# For ROUNDS rounds, runs each binary (order A, B, then B, A, ...) with
# --threads 1 pinned to SERVER_CPU, once in a closed loop (CONNECTIONS
# connections, OFFERS offers: the maximum) and once at a fixed RATE announces/s
# (CPU per cycle and latency when not saturated); loadgen is pinned to
# LOADGEN_CPU. Every run starts a fresh tracker and stops by itself. Prints one
# table with every run and writes it, with the machine and the commands, to
# bench/results/YYYY-MM-DD-ab-LABEL.md. With perf installed (and root), each run
# also counts the tracker's system calls over DURATION-2 s inside the measured
# phase (starting WARMUP+1 s after loadgen starts) and reports them per announce
# cycle: all of them, and sendto. Speeds are never asserted: alternating
# runs and the spread are what make a difference between two trees visible on a
# shared machine.
#
# Environment: ROUNDS (3), DURATION (8), WARMUP (2), CONNECTIONS (1000),
# OFFERS (5), RATE (4000), SERVER_CPU (0), LOADGEN_CPU (1), LOADGEN
# (build/bench/loadgen), RESULTS (the .md path), THREADS_A and THREADS_B (1:
# --threads of each binary; all of its threads share SERVER_CPU, so
# `THREADS_B=2 bash bench/ab.sh BIN BIN threads` measures what a second worker
# costs per cycle at the same rate).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [LABEL]" >&2; exit 2; }
A=$1
B=$2
LABEL=${3:-ab}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-1000}
OFFERS=${OFFERS:-5}
RATE=${RATE:-4000}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
LOADGEN=${LOADGEN:-$ROOT/build/bench/loadgen}
RESULTS=${RESULTS:-$ROOT/bench/results/$(date +%F)-ab-$LABEL.md}
THREADS_A=${THREADS_A:-1}
THREADS_B=${THREADS_B:-1}
RUNS=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
[ "$DURATION" -ge 4 ] || { echo "ab: DURATION must be at least 4 s" >&2; exit 2; }
WINDOW=$((DURATION - 2))
for f in "$A" "$B" "$LOADGEN"; do [ -x "$f" ] || { echo "ab: $f is not executable" >&2; exit 2; }; done

trap 'stop_server; rm -rf "$RUNS"' EXIT

# run NAME BINARY THREADS LOADGEN-ARGS...: a fresh tracker, one loadgen run, NAME.json
run() {
    local name=$1 bin=$2 threads=$3
    shift 3
    start_server "$RUNS/$name.srv" env WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0 taskset -c "$SERVER_CPU" "$bin" --threads "$threads" --listen 127.0.0.1:0 ||
        { cat "$RUNS/$name.srv"; echo "ab: $bin did not start" >&2; exit 1; }
    syscalls_start "$SRV_PID" $((WARMUP + 1)) "$WINDOW" "$RUNS/$name.perf"
    taskset -c "$LOADGEN_CPU" "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --connections "$CONNECTIONS" \
        --offers "$OFFERS" --duration "$DURATION" --warmup "$WARMUP" --seed 7 \
        --server-pid "$SRV_PID" --label "$name" --json "$RUNS/$name.json" "$@" >"$RUNS/$name.txt" 2>&1 ||
        { cat "$RUNS/$name.txt"; echo "ab: loadgen failed" >&2; exit 1; }
    [ -z "$PERF_PID" ] || wait "$PERF_PID" || true
    stop_server
}

js() { js_file "$RUNS/$1.json" "$2"; }
# sc NAME EVENT: EVENT per announce cycle in run NAME's perf window
sc() { syscalls_per "$RUNS/$1.perf" "$2" "$(js "$1" "r.measured.announces_per_s * $WINDOW")"; }

rows=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
    for who in $order; do
        bin=$A threads=$THREADS_A
        [ "$who" = B ] && bin=$B threads=$THREADS_B
        run "r$r-$who-closed" "$bin" "$threads"
        run "r$r-$who-rate" "$bin" "$threads" --rate "$RATE"
        rows+=("| $r | $who | $(js "r$r-$who-closed" 'r.measured.announces_per_s.toFixed(0)') | $(js "r$r-$who-closed" 'r.server.us_per_announce_cycle.toFixed(1)') | $(js "r$r-$who-rate" 'r.server.us_per_announce_cycle.toFixed(1)') | $(js "r$r-$who-rate" 'r.measured.latency_ms.p50.toFixed(2)+" / "+r.measured.latency_ms.p99.toFixed(2)') | $(js "r$r-$who-rate" '(100 * r.server.runq_wait_s / r.measured_s).toFixed(1)') | $(sc "r$r-$who-closed" sys_enter) / $(sc "r$r-$who-closed" sendto) | $(sc "r$r-$who-rate" sys_enter) / $(sc "r$r-$who-rate" sendto) |")
        echo "${rows[-1]}"
    done
done

{
    echo "# A/B: $LABEL ($(date +%F))"
    echo
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)."
    echo "A = \`$A\` (\`--threads $THREADS_A\`), B = \`$B\` (\`--threads $THREADS_B\`), every tracker thread on CPU $SERVER_CPU, loadgen on CPU $LOADGEN_CPU."
    echo
    echo "Command: \`ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS OFFERS=$OFFERS RATE=$RATE THREADS_A=$THREADS_A THREADS_B=$THREADS_B bash bench/ab.sh $A $B $LABEL\`"
    echo "(each run: \`loadgen --connections $CONNECTIONS --offers $OFFERS --duration $DURATION --warmup $WARMUP --seed 7 [--rate $RATE] --server-pid PID\`)."
    echo
    echo "Syscalls: \`perf stat -e raw_syscalls:sys_enter -e syscalls:sys_enter_sendto -p PID -- sleep $WINDOW\` from $((WARMUP + 1)) s after loadgen starts, divided by announces/s x $WINDOW s (\"-\": perf not available)."
    echo
    echo "| round | binary | closed loop announces/s | closed loop CPU/cycle (us) | $RATE/s CPU/cycle (us) | $RATE/s p50 / p99 (ms) | $RATE/s server waited (%) | closed loop syscalls / sendto per cycle | $RATE/s syscalls / sendto per cycle |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$RESULTS"
echo "ab: wrote $RESULTS"
