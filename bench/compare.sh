#!/usr/bin/env bash
# bench/compare.sh - wstracker next to bittorrent-tracker and the floor: same core, same load.
#
# Installs bittorrent-tracker@11 from npm into bench/.scratch (ignored by git),
# runs its Server as a ws-only tracker, then wstracker --threads 1, then the floor
# (bench/floor/floor.c: the least a server does for this workload, plain epoll), each
# pinned to one core (SERVER_CPU) while loadgen runs on another (LOADGEN_CPU):
#   1. closed loop, CONNECTIONS connections, OFFERS offers, DURATION s: each server's max;
#   2. open loop at half of wstracker's max: all three (latency at a fixed rate);
#   3. open loop at half of bittorrent-tracker's own max (its latency when not overloaded).
# Every run starts a fresh server. With perf (PERF=1, the default when perf is there and
# may trace), each run also counts the server's syscalls over the measured phase:
# perf stat -e raw_syscalls:sys_enter and the send family (sendto, write, writev,
# sendmsg), started disabled and switched on and off by loadgen --perf-control.
# Prints one table and writes it, with the machine, the versions and the exact
# commands, to bench/results/YYYY-MM-DD-compare.md.
#
# Environment: DURATION (15), WARMUP (3), CONNECTIONS (1000), OFFERS (5),
# SERVER_CPU (0), LOADGEN_CPU (1), WSTRACKER (build/wstracker), RESULTS (the .md path),
# LOADGEN_EXTRA (more loadgen flags for every run, e.g. --busy-poll), PERF (1/0).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
SCRATCH=$BENCH/.scratch
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-1000}
OFFERS=${OFFERS:-5}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
LOADGEN_EXTRA=${LOADGEN_EXTRA:-}
WSTRACKER=${WSTRACKER:-$ROOT/build/wstracker}
BENCH_BUILD=${BENCH_BUILD:-$ROOT/build-bench}
RESULTS=${RESULTS:-$BENCH/results/$(date +%F)-compare.md}
RUNS=$SCRATCH/runs

die() {
    echo "compare: $*" >&2
    exit 1
}

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap stop_server EXIT

for tool in node npm taskset cmake; do
    command -v $tool >/dev/null || die "$tool not found (apt-get install nodejs npm util-linux cmake)"
done
NCPU=$(nproc)
[ "$SERVER_CPU" -lt "$NCPU" ] && [ "$LOADGEN_CPU" -lt "$NCPU" ] ||
    die "SERVER_CPU=$SERVER_CPU / LOADGEN_CPU=$LOADGEN_CPU: this machine has $NCPU cores"

# ---- build and install ----
cmake -S "$BENCH" -B "$BENCH_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BENCH_BUILD" -j >/dev/null
LOADGEN=$BENCH_BUILD/loadgen
[ -x "$BENCH_BUILD/floor" ] || die "$BENCH_BUILD/floor not built"
if [ ! -x "$WSTRACKER" ]; then
    (cd "$ROOT" && cmake -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j >/dev/null)
fi
[ -x "$WSTRACKER" ] || die "$WSTRACKER not found"
# Other jobs may rebuild build/ meanwhile: every run uses this one copy.
mkdir -p "$SCRATCH"
cp "$WSTRACKER" "$SCRATCH/wstracker"
WST_SRC=$WSTRACKER
WSTRACKER=$SCRATCH/wstracker
cp "$BENCH_BUILD/floor" "$SCRATCH/floor"
FLOOR=$SCRATCH/floor
# perf: counting tracepoints costs the server about 0.3 us per cycle (the first floor,
# 2026-12-03: 30.2, 29.8 us without, 30.4, 30.3 with), so it runs in the measured runs.
PERF_EVENTS="raw_syscalls:sys_enter syscalls:sys_enter_sendto syscalls:sys_enter_write syscalls:sys_enter_writev syscalls:sys_enter_sendmsg"
if [ -z "${PERF:-}" ]; then
    PERF=0
    if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true 2>/dev/null; then PERF=1; fi
fi
WST_SHA=$(sha256sum "$WSTRACKER" | cut -c1-12)
# The tree the binary was built in (WSTRACKER may be another worktree's build).
WST_ROOT=$(git -C "$(dirname "$WST_SRC")" rev-parse --show-toplevel 2>/dev/null || echo "$ROOT")
WST_TREE=$(git -C "$WST_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
WST_DIRTY=$(git -C "$WST_ROOT" status --short -- tracker proto CMakeLists.txt 2>/dev/null | awk '{print $2}' | paste -sd' ')

mkdir -p "$SCRATCH" "$RUNS" "$(dirname "$RESULTS")"
BT_PKG=$SCRATCH/node_modules/bittorrent-tracker/package.json
if [ ! -f "$BT_PKG" ] || ! grep -q '"version": "11\.' "$BT_PKG"; then
    [ -f "$SCRATCH/package.json" ] || echo '{"name":"wstracker-bench-scratch","private":true}' >"$SCRATCH/package.json"
    (cd "$SCRATCH" && npm install --ignore-scripts --no-audit --no-fund bittorrent-tracker@11 >/dev/null)
fi
BT_VERSION=$(node -p "require('$BT_PKG').version")
cat >"$SCRATCH/bt-server.mjs" <<'EOF'
// bittorrent-tracker's Server as a ws-only tracker on 127.0.0.1 (written by bench/compare.sh).
// usage: node bt-server.mjs PORT (0 = any free port); prints "listening on ws://127.0.0.1:PORT".
// Imports the server module only: the package index also loads the WebRTC client.
import Server from 'bittorrent-tracker/server'
const server = new Server({ udp: false, http: false, ws: true, stats: false })
let warnings = 0
server.on('warning', () => { warnings++ })
server.on('error', err => { console.error('bittorrent-tracker error:', err.message) })
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.error(`listening on ws://127.0.0.1:${server.ws.address().port}`)
})
const stop = () => {
  console.error(`bittorrent-tracker: ${warnings} warnings`)
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
EOF

# ---- other sessions' load: wait (bounded) for the two cores to be quiet ----
# busy_pct CPU: that CPU's busy % over one second, from /proc/stat
busy_pct() {
    local a b
    a=$(awk -v c="cpu$1" '$1==c{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 1
    b=$(awk -v c="cpu$1" '$1==c{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    echo "$a $b" | awk '{d=$4-$2; print (d>0 ? int(100*($3-$1)/d) : 0)}'
}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-30}
# wait_quiet NAME: up to QUIET_WAIT s until both cores are below QUIET_PCT % busy
wait_quiet() {
    local t=0 s l
    while :; do
        s=$(busy_pct "$SERVER_CPU")
        l=$(busy_pct "$LOADGEN_CPU")
        if [ "$s" -le "$QUIET_PCT" ] && [ "$l" -le "$QUIET_PCT" ]; then
            echo "before $1: cpu$SERVER_CPU ${s}% busy, cpu$LOADGEN_CPU ${l}% busy (quiet)"
            return
        fi
        t=$((t + 2))
        if [ $t -ge "$QUIET_WAIT" ]; then
            echo "before $1: cpu$SERVER_CPU ${s}% busy, cpu$LOADGEN_CPU ${l}% busy: NOT QUIET after ${QUIET_WAIT} s, ran anyway"
            return
        fi
    done
}

# ---- one run: start a server, load it, stop it ----
declare -A SRV_CMD LG_CMD
# run NAME SERVER(bt|wst) LOADGEN-ARGS...; writes $RUNS/NAME.json and NAME.txt.
# A run whose server spent more than NOISY_PCT % of it waiting for its core (other
# processes ran there) is repeated, up to RETRIES times; the quietest try is kept.
NOISY_PCT=${NOISY_PCT:-10}
RETRIES=${RETRIES:-2}
run() {
    local name=$1 try=0 wait_pct best=999 best_try=0
    shift
    : >"$RUNS/$name.load"
    while :; do
        run_once "$name" "$@"
        wait_pct=$(js "$name" '(100 * r.server.runq_wait_s / r.measured_s).toFixed(0)')
        echo "$name try $((try + 1)): the server waited for its core ${wait_pct}% of the run" >>"$RUNS/$name.load"
        cp "$RUNS/$name.json" "$RUNS/$name.try$try.json"
        cp "$RUNS/$name.txt" "$RUNS/$name.try$try.txt"
        rm -f "$RUNS/$name.try$try.perf"
        if [ -f "$RUNS/$name.perf" ]; then cp "$RUNS/$name.perf" "$RUNS/$name.try$try.perf"; fi
        if [ "$wait_pct" -lt "$best" ]; then best=$wait_pct best_try=$try; fi
        [ "$wait_pct" -le "$NOISY_PCT" ] && break
        try=$((try + 1))
        [ $try -gt "$RETRIES" ] && break
        echo "compare: $name was noisy (${wait_pct}% run-queue wait), again" >&2
    done
    cp "$RUNS/$name.try$best_try.json" "$RUNS/$name.json"
    cp "$RUNS/$name.try$best_try.txt" "$RUNS/$name.txt"
    rm -f "$RUNS/$name.perf"
    if [ -f "$RUNS/$name.try$best_try.perf" ]; then cp "$RUNS/$name.try$best_try.perf" "$RUNS/$name.perf"; fi
    echo "$name: kept try $((best_try + 1)) (${best}% run-queue wait)" >>"$RUNS/$name.load"
}

run_once() {
    local name=$1 srv=$2
    shift 2
    local err=$RUNS/$name.server.err srv_cmd
    wait_quiet "$name" >>"$RUNS/$name.load"
    echo "compare: $name: $(tail -1 "$RUNS/$name.load")" >&2
    if [ "$srv" = bt ]; then
        srv_cmd="taskset -c $SERVER_CPU node $SCRATCH/bt-server.mjs 0"
    elif [ "$srv" = floor ]; then
        srv_cmd="taskset -c $SERVER_CPU $FLOOR 0"
    else
        srv_cmd="env WSTRACKER_MSG_RATE=0 WSTRACKER_ANNOUNCE_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0 taskset -c $SERVER_CPU $WSTRACKER --threads 1 --listen 127.0.0.1:0"
    fi
    # shellcheck disable=SC2086 # srv_cmd is words
    start_server "$err" sh -c "cd '$SCRATCH' && exec $srv_cmd" || { cat "$err" >&2; die "$srv did not start"; }
    local lg_cmd="taskset -c $LOADGEN_CPU $LOADGEN --url ws://127.0.0.1:$PORT/ --threads 1 --connections $CONNECTIONS --offers $OFFERS --duration $DURATION --warmup $WARMUP --server-pid $SRV_PID --label $name --json $RUNS/$name.json $LOADGEN_EXTRA $*"
    local perf_pid='' ctl=$RUNS/$name.ctl ev
    SRV_CMD[$name]=$srv_cmd
    LG_CMD[$name]=$lg_cmd
    uptime >>"$RUNS/$name.load"
    ps -eo pcpu,args --sort=-pcpu | head -4 | cut -c1-100 >>"$RUNS/$name.load"
    rm -f "$RUNS/$name.perf" "$ctl"
    if [ "$PERF" = 1 ]; then
        # Counting starts disabled (-D -1); loadgen enables it for the measured phase.
        mkfifo "$ctl"
        # shellcheck disable=SC2046 # one -e per event
        perf stat -D -1 --control "fifo:$ctl" -x, -o "$RUNS/$name.perf" $(for ev in $PERF_EVENTS; do echo "-e $ev"; done) \
            -p "$SRV_PID" 2>"$RUNS/$name.perf.err" &
        perf_pid=$!
        # Ready once perf holds the FIFO open (up to 5 s); loadgen then opens it to write.
        for _ in $(seq 50); do
            for ev in /proc/"$perf_pid"/fd/*; do [ "$(readlink "$ev")" = "$ctl" ] && break 2; done 2>/dev/null
            sleep 0.1
        done
        lg_cmd="$lg_cmd --perf-control $ctl"
    fi
    timeout $((DURATION + WARMUP + 120)) $lg_cmd >"$RUNS/$name.txt" 2>&1 ||
        { cat "$RUNS/$name.txt" >&2; die "loadgen failed in $name"; }
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    stop_server
}

# sys NAME: "syscalls / send family" per announce cycle over NAME's measured phase, or "-"
sys() {
    local f=$RUNS/$1.perf
    [ -s "$f" ] || { echo "-"; return; }
    node -e "
const r = require('$RUNS/$1.json'), n = {}
for (const l of require('fs').readFileSync('$f', 'utf8').split('\n')) {
  const c = l.split(','); if (c.length > 2 && /^[0-9]+$/.test(c[0])) n[c[2]] = Number(c[0])
}
const a = r.measured.announces, all = n['raw_syscalls:sys_enter']
if (!a || all === undefined) { console.log('-'); process.exit(0) }
const send = ['sendto', 'write', 'writev', 'sendmsg'].map(k => n['syscalls:sys_enter_' + k] || 0)
const parts = ['sendto', 'write', 'writev', 'sendmsg'].map((k, i) => send[i] ? k + ' ' + (send[i] / a).toFixed(2) : '').filter(Boolean)
console.log((all / a).toFixed(1) + ' / ' + (send.reduce((x, y) => x + y, 0) / a).toFixed(2) + (parts.length ? ' (' + parts.join(', ') + ')' : ''))"
}

# js EXPR over run NAME's JSON as `r`
js() {
    node -e "const r=require('$RUNS/$1.json'); const v=($2); console.log(v)"
}

run bt-closed bt
run wst-closed wst
run floor-closed floor
WST_MAX=$(js wst-closed 'r.measured.announces_per_s')
BT_MAX=$(js bt-closed 'r.measured.announces_per_s')
FLOOR_MAX=$(js floor-closed 'r.measured.announces_per_s')
RATE=$(node -p "Math.max(1, Math.round($WST_MAX / 2))")
BT_RATE=$(node -p "Math.max(1, Math.round($BT_MAX / 2))")
run wst-fixed wst --rate "$RATE"
run floor-fixed floor --rate "$RATE"
run bt-fixed bt --rate "$RATE"
run bt-fixed-own bt --rate "$BT_RATE"
RUN_NAMES="bt-closed wst-closed floor-closed wst-fixed floor-fixed bt-fixed bt-fixed-own"

# ---- the table ----
row() { # row LABEL EXPR [SUFFIX (closed)]: EXPR over bt-SUFFIX, wst-SUFFIX, floor-SUFFIX
    local sfx=${3:-closed}
    printf '| %s | %s | %s | %s |\n' "$1" "$(js "bt-$sfx" "$2")" "$(js "wst-$sfx" "$2")" "$(js "floor-$sfx" "$2")"
}
sys_row() { # sys_row LABEL SUFFIX
    printf '| %s | %s | %s | %s |\n' "$1" "$(sys "bt-$2")" "$(sys "wst-$2")" "$(sys "floor-$2")"
}
TABLE=$(
    echo "| | bittorrent-tracker $BT_VERSION | wstracker --threads 1 | floor |"
    echo "|---|---|---|---|"
    row "closed loop: announces/s" 'r.measured.announces_per_s.toFixed(0)'
    row "closed loop: messages received/s (aquatic's responses/s)" 'r.measured.messages_in_per_s.toFixed(0)'
    row "closed loop: offers / answers received per s" 'r.measured.offers_in_per_s.toFixed(0)+" / "+r.measured.answers_in_per_s.toFixed(0)'
    row "closed loop: server CPU, % of its core" '(100*r.server.cpu_s/r.measured_s).toFixed(0)'
    row "closed loop: announces per second of server CPU (noise-robust throughput)" '(r.measured.announces/r.server.cpu_s).toFixed(0)'
    row "closed loop: server CPU per announce cycle (us)" 'r.server.us_per_announce_cycle.toFixed(1)'
    sys_row "closed loop: syscalls / send family (sendto+write+writev+sendmsg) per cycle" closed
    row "closed loop: latency p50 / p99 (ms)" 'r.measured.latency_ms.p50.toFixed(1)+" / "+r.measured.latency_ms.p99.toFixed(1)'
    row "fixed $RATE/s: announces/s achieved (slots missed)" 'r.measured.announces_per_s.toFixed(0)+" ("+r.measured.rate_missed+")"' fixed
    row "fixed $RATE/s: server CPU per announce cycle (us)" 'r.server.us_per_announce_cycle.toFixed(1)' fixed
    sys_row "fixed $RATE/s: syscalls / send family per cycle" fixed
    row "fixed $RATE/s: latency p50 / p99 / p999 (ms)" '[r.measured.latency_ms.p50,r.measured.latency_ms.p99,r.measured.latency_ms.p999].map(x=>x.toFixed(2)).join(" / ")' fixed
    printf '| %s | %s | - | - |\n' "fixed $BT_RATE/s (half of BT's max): latency p50 / p99 (ms), CPU/cycle (us)" \
        "$(js bt-fixed-own '[r.measured.latency_ms.p50,r.measured.latency_ms.p99].map(x=>x.toFixed(2)).join(" / ")+", "+r.server.us_per_announce_cycle.toFixed(1)')"
    noise='(100*r.server.runq_wait_s/r.measured_s).toFixed(0)+" / "+r.cpu_busy_pct['$SERVER_CPU'].toFixed(0)+" / "+(100*r.server.cpu_s/r.measured_s).toFixed(0)'
    row "noise, closed loop: server waited for its core % / core busy % / server's own %" "$noise"
    row "noise, fixed $RATE/s: server waited for its core % / core busy % / server's own %" "$noise" fixed
    row "peak RSS, VmHWM (MiB), closed loop" '(r.server.hwm_kb/1024).toFixed(1)'
    b=0 w=0 f=0
    for n in bt-closed bt-fixed bt-fixed-own; do b=$((b + $(js $n 'r.total.errors.total'))); done
    for n in wst-closed wst-fixed; do w=$((w + $(js $n 'r.total.errors.total'))); done
    for n in floor-closed floor-fixed; do f=$((f + $(js $n 'r.total.errors.total'))); done
    printf '| errors (every run: failures, closes, connect, protocol) | %s | %s | %s |\n' "$b" "$w" "$f"
    row "loadgen CPU, % of its thread (closed loop)" 'r.loadgen_cpu_pct.toFixed(0)'
)
RATIO=$(node -p "($WST_MAX / $BT_MAX).toFixed(1)")
CPU_RATIO=$(node -p "($(js bt-closed 'r.server.us_per_announce_cycle') / $(js wst-closed 'r.server.us_per_announce_cycle')).toFixed(1)")
FLOOR_RATIO=$(node -p "($(js wst-closed 'r.server.us_per_announce_cycle') / $(js floor-closed 'r.server.us_per_announce_cycle')).toFixed(2)")
FLOOR_FIXED_RATIO=$(node -p "($(js wst-fixed 'r.server.us_per_announce_cycle') / $(js floor-fixed 'r.server.us_per_announce_cycle')).toFixed(2)")
FLOOR_SPEED=$(node -p "($FLOOR_MAX / $WST_MAX).toFixed(1)")
met() { node -p "$1 ? 'met' : 'not met'"; }
T1=$(met "$WST_MAX / $BT_MAX >= 6")
T2=$(met "$FLOOR_RATIO <= 1.5")
echo
echo "$TABLE"
echo
echo "wstracker / bittorrent-tracker, closed loop: ${RATIO}x the announces/s, ${CPU_RATIO}x fewer server CPU us per announce cycle"
echo "target 1, wstracker / bittorrent-tracker announces/s >= 6x: ${RATIO}x ($T1)"
echo "target 2, wstracker / floor server CPU per cycle <= 1.5x: ${FLOOR_RATIO}x closed loop ($T2), ${FLOOR_FIXED_RATIO}x at $RATE/s"

# ---- the results file ----
{
    echo "# wstracker vs bittorrent-tracker and the floor, $(date +%F)"
    echo
    echo "Same load on the same pinned core (server on CPU $SERVER_CPU, loadgen on CPU $LOADGEN_CPU):"
    echo "$CONNECTIONS connections, $OFFERS offers per announce, aquatic_ws_load_test mix (10000"
    echo "info hashes by the Gamma(0.2, 100) rule, 25 % seeders, every offer answered),"
    echo "$DURATION s measured after $WARMUP s warmup, a fresh server for every run."
    if [ -n "$LOADGEN_EXTRA" ]; then echo "Every loadgen run also had: \`$LOADGEN_EXTRA\` (bench/README.md)."; fi
    echo "An announce cycle is one announce, the offers it carries and their answers;"
    echo "server CPU per cycle = the server's CPU time (/proc/PID/stat) / announces."
    echo "Noise rows: the time the server was runnable but waiting for its core"
    echo "(/proc/PID/task/*/schedstat; other processes on its core), that core's busy %,"
    echo "and the server's own CPU %. A run with more than $NOISY_PCT % waiting was repeated"
    echo "(up to $RETRIES times); the tries are listed under \"Load on the machine\"."
    echo "The floor is bench/floor/floor.c: the least a server does for this workload (plain"
    echo "epoll, one recv per readable connection and one send per connection per pass)."
    if [ "$PERF" = 1 ]; then
        echo "Syscall rows: perf stat -e raw_syscalls:sys_enter (every syscall) and the send family"
        echo "(syscalls:sys_enter_sendto, _write, _writev, _sendmsg; the parts in brackets) of the"
        echo "server's threads over the measured phase only (loadgen --perf-control), / announces."
    else
        echo "Syscall rows: not measured (PERF=0: no perf, or it may not trace here)."
    fi
    echo
    echo "$TABLE"
    echo
    echo "wstracker / bittorrent-tracker, closed loop: **${RATIO}x** the announces/s;"
    echo "**${CPU_RATIO}x** fewer server CPU microseconds per announce cycle (the figure that"
    echo "does not depend on how much of its core each server got; see the noise rows)."
    echo
    echo "- target 1, wstracker / bittorrent-tracker announces/s >= 6x: **${RATIO}x** ($T1)"
    echo "- target 2, wstracker / floor server CPU per cycle <= 1.5x: **${FLOOR_RATIO}x** in the closed"
    echo "  loop ($T2), ${FLOOR_FIXED_RATIO}x at $RATE/s; the floor carries ${FLOOR_SPEED}x wstracker's announces/s"
    echo
    echo "## Machine"
    echo
    echo '```'
    lscpu | grep -E '^(Architecture|CPU\(s\)|Model name|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|CPU max MHz|Hypervisor vendor|L2 cache|L3 cache)' || true
    echo "kernel $(uname -r)"
    grep MemTotal /proc/meminfo
    echo '```'
    echo
    echo "## Versions"
    echo
    echo "- node $(node --version), bittorrent-tracker $BT_VERSION (npm, --ignore-scripts)"
    echo "- $("$WSTRACKER" --version 2>&1 | head -1): ${WST_SRC#$ROOT/} (sha256 $WST_SHA, built $(date -r "$WST_SRC" '+%F %T' 2>/dev/null)), tree at $WST_TREE${WST_DIRTY:+ with local changes in $WST_DIRTY}"
    echo "- loadgen and the floor: bench/loadgen, bench/floor at the same tree"
    if [ "$PERF" = 1 ]; then echo "- $(perf version)"; fi
    echo
    echo "## Commands"
    echo
    echo '```'
    echo "DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS OFFERS=$OFFERS${LOADGEN_EXTRA:+ LOADGEN_EXTRA=\"$LOADGEN_EXTRA\"} bench/compare.sh"
    for n in $RUN_NAMES; do
        echo "# $n"
        echo "${SRV_CMD[$n]} &" | sed "s|$ROOT/||g"
        echo "${LG_CMD[$n]}" | sed "s|$ROOT/||g; s|--server-pid [0-9]*|--server-pid \$!|; s|127.0.0.1:[0-9]*/|127.0.0.1:PORT/|"
    done
    if [ "$PERF" = 1 ]; then
        echo "# every run: started before loadgen (after the server), stopped with SIGINT after it;"
        echo "# loadgen gets --perf-control bench/.scratch/runs/NAME.ctl"
        echo "mkfifo bench/.scratch/runs/NAME.ctl"
        echo "perf stat -D -1 --control fifo:bench/.scratch/runs/NAME.ctl -x, -o bench/.scratch/runs/NAME.perf$(for ev in $PERF_EVENTS; do printf ' -e %s' "$ev"; done) -p \$! &"
    fi
    echo '```'
    echo
    echo "## Load on the machine before each run (uptime, top processes)"
    echo
    echo '```'
    for n in $RUN_NAMES; do echo "[$n]"; cat "$RUNS/$n.load"; done
    echo '```'
    echo
    echo "## loadgen reports"
    for n in $RUN_NAMES; do
        echo
        echo "### $n"
        echo
        echo '```'
        cat "$RUNS/$n.txt"
        echo '```'
    done
} >"$RESULTS"
echo "compare: wrote ${RESULTS#$ROOT/}"
