#!/usr/bin/env bash
# bench/wss.sh - announces over wss:// next to ws:// on one tracker binary, one worker.
#
#   bash bench/wss.sh [BINARY]
#
# Makes a throwaway self-signed certificate (openssl, P-256) in a temp dir. For
# ROUNDS rounds, starts a fresh tracker (--threads 1, pinned to SERVER_CPU,
# --listen and --listen-tls) per run and drives one of its two listeners with
# loadgen (pinned to LOADGEN_CPU; order ws, wss, then wss, ws, ...): once in a
# closed loop (CONNECTIONS connections, OFFERS offers) and once at RATE
# announces/s (CPU per cycle when not saturated). The TLS handshakes happen in
# the connect phase, before the measured one: the figures are the cost of TLS
# records on established connections. Prints one table and writes it, with the
# machine and the commands, to bench/results/YYYY-MM-DD-wss-vs-ws.md. Never
# asserts a speed.
#
# Environment: ROUNDS (3), DURATION (6), WARMUP (2), CONNECTIONS (1000),
# OFFERS (5), RATE (3000), SERVER_CPU (0), LOADGEN_CPU (1), LOADGEN
# (build/bench/loadgen), RESULTS (the .md path).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/wstracker}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-1000}
OFFERS=${OFFERS:-5}
RATE=${RATE:-3000}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
LOADGEN=${LOADGEN:-$ROOT/build/bench/loadgen}
RESULTS=${RESULTS:-$ROOT/bench/results/$(date +%F)-wss-vs-ws.md}
RUNS=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
for f in "$BIN" "$LOADGEN"; do [ -x "$f" ] || { echo "wss: $f is not executable" >&2; exit 2; }; done
trap 'stop_server; rm -rf "$RUNS"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$RUNS/key.pem" -out "$RUNS/cert.pem" 2>/dev/null

# run NAME ws|wss LOADGEN-ARGS...: a fresh tracker, one loadgen run, NAME.json
run() {
    local name=$1 scheme=$2 port
    shift 2
    start_server "$RUNS/$name.srv" env WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 \
        WSTRACKER_MAX_CONNS_PER_IP=0 taskset -c "$SERVER_CPU" "$BIN" --threads 1 \
        --listen 127.0.0.1:0 --listen-tls 127.0.0.1:0 \
        --tls-cert "$RUNS/cert.pem" --tls-key "$RUNS/key.pem" ||
        { cat "$RUNS/$name.srv"; echo "wss: $BIN did not start" >&2; exit 1; }
    port=$PORT
    if [ "$scheme" = wss ]; then
        for _ in $(seq 50); do
            port=$(sed -n 's|^listening on wss://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$RUNS/$name.srv" | head -1)
            [ -n "$port" ] && break
            sleep 0.1
        done
    fi
    taskset -c "$LOADGEN_CPU" "$LOADGEN" --url "$scheme://127.0.0.1:$port/" --connections "$CONNECTIONS" \
        --offers "$OFFERS" --duration "$DURATION" --warmup "$WARMUP" --seed 7 \
        --server-pid "$SRV_PID" --label "$name" --json "$RUNS/$name.json" "$@" >"$RUNS/$name.txt" 2>&1 ||
        { cat "$RUNS/$name.txt"; echo "wss: loadgen failed" >&2; exit 1; }
    stop_server
}

js() { js_file "$RUNS/$1.json" "$2"; }

rows=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="ws wss"; else order="wss ws"; fi
    for s in $order; do
        run "r$r-$s-closed" "$s"
        run "r$r-$s-rate" "$s" --rate "$RATE"
        rows+=("| $r | $s | $(js "r$r-$s-closed" 'r.measured.announces_per_s.toFixed(0)') | $(js "r$r-$s-closed" 'r.server.us_per_announce_cycle.toFixed(1)') | $(js "r$r-$s-closed" 'r.measured.latency_ms.p50.toFixed(2)+" / "+r.measured.latency_ms.p99.toFixed(2)') | $(js "r$r-$s-rate" 'r.server.us_per_announce_cycle.toFixed(1)') | $(js "r$r-$s-rate" 'r.measured.latency_ms.p50.toFixed(2)+" / "+r.measured.latency_ms.p99.toFixed(2)') | $(js "r$r-$s-rate" '(100 * r.server.runq_wait_s / r.measured_s).toFixed(1)') | $(js "r$r-$s-closed" '(r.server.rss_kb/1024).toFixed(0)') |")
        echo "${rows[-1]}"
    done
done

{
    echo "# wss:// vs ws://, one worker ($(date +%F))"
    echo
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(openssl version | cut -d' ' -f1-2)."
    echo "Tracker \`$BIN\`, \`--threads 1\` on CPU $SERVER_CPU (\`--listen\` and \`--listen-tls\`, a P-256 certificate), loadgen on CPU $LOADGEN_CPU; a fresh tracker per run."
    echo
    echo "Command: \`ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS OFFERS=$OFFERS RATE=$RATE bash bench/wss.sh $BIN\`"
    echo "(each run: \`loadgen --url ws[s]://127.0.0.1:PORT/ --connections $CONNECTIONS --offers $OFFERS --duration $DURATION --warmup $WARMUP --seed 7 [--rate $RATE] --server-pid PID\`)."
    echo
    echo "| round | scheme | closed loop announces/s | closed loop CPU/cycle (us) | closed loop p50 / p99 (ms) | $RATE/s CPU/cycle (us) | $RATE/s p50 / p99 (ms) | $RATE/s server waited (%) | RSS (MiB) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$RESULTS"
echo "wss: wrote $RESULTS"
