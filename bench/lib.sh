# bench/lib.sh - what bench/compare.sh and bench/ab.sh share; sourced, not run.
#
#   start_server LOG CMD...   start CMD in the background (stderr to LOG), wait up to
#                             10 s for its "listening on ws://127.0.0.1:PORT" line;
#                             sets SRV_PID and PORT, or returns 1 (LOG holds why)
#   stop_server               SIGTERM, up to 5 s, then SIGKILL; clears SRV_PID
#   js FILE EXPR              EXPR over the JSON in FILE as `r` (node)
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
