# bench/lib.sh - what bench/compare.sh and bench/ab.sh share; sourced, not run.
#
#   start_server LOG CMD...   start CMD in the background (stderr to LOG), wait up to
#                             10 s for its "listening on ws://127.0.0.1:PORT" line;
#                             sets SRV_PID and PORT, or returns 1 (LOG holds why)
#   stop_server               SIGTERM, up to 5 s, then SIGKILL; clears SRV_PID
#   js FILE EXPR              EXPR over the JSON in FILE as `r` (node)
#   syscalls_start PID DELAY WINDOW OUT
#                             in the background: after DELAY s, count PID's system
#                             calls for WINDOW s with perf stat (all of them, sendto,
#                             recvfrom, epoll_wait) into OUT; sets PERF_PID (wait on
#                             it). Without a working perf OUT stays empty.
#   syscalls_per OUT EVENT N  EVENT's count in OUT (sys_enter: all, or sendto, ...)
#                             divided by N, two decimals; "-" when not counted
SRV_PID=
PORT=

start_server() {
    local log=$1
    shift
    "$@" 2>"$log" &
    SRV_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's|^listening on ws://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

stop_server() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill "$SRV_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SRV_PID" 2>/dev/null || true
    fi
    [ -n "$SRV_PID" ] && wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}

js_file() {
    node -e "const r=require('$1'); console.log($2)"
}

PERF_PID=

syscalls_start() {
    local pid=$1 delay=$2 window=$3 out=$4
    : >"$out"
    if ! command -v perf >/dev/null; then
        PERF_PID=
        return 0
    fi
    (
        sleep "$delay"
        perf stat -x, -o "$out" -e raw_syscalls:sys_enter -e syscalls:sys_enter_sendto \
            -e syscalls:sys_enter_recvfrom -e syscalls:sys_enter_epoll_wait -p "$pid" -- sleep "$window"
    ) >/dev/null 2>&1 &
    PERF_PID=$!
}

syscalls_per() {
    awk -F, -v ev="$2" -v n="$3" '
        $3 == "raw_syscalls:" ev || $3 == "syscalls:sys_enter_" ev { if ($1 ~ /^[0-9]+$/ && n > 0) v = $1 / n }
        END { if (v == "") print "-"; else printf "%.2f\n", v }' "$1"
}
