#!/bin/sh
# sanitize.sh - the sanitizer runs: unit tests under ASan+UBSan, the mailbox
# tests under TSan, the whole e2e suite against an ASan+UBSan tracker
# (LeakSanitizer on: every tracker the suite starts is stopped with SIGTERM and
# must exit with zero leaks), the e2e protocol, TLS and stats-page suites
# against a TSan tracker (TLS: the workers' SSL_CTXs and main's reload; the
# stats page reads other workers' counters, history ring and top rooms),
# and a loadgen run (bench/smoke.sh: 2 workers, 200 connections announcing,
# offering and answering across workers, then all closing with frames in
# flight) against each.
# Prints "sanitize <part>: ok" or "sanitize <part>: FAILED" per part; exits
# non-zero if any part failed. Sanitizer reports are kept in build-*/reports/.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
status=0

build() { # dir sanitizer
    cmake -B "$1" -DWSTRACKER_SANITIZE="$2" -DCMAKE_BUILD_TYPE=Debug -DWSTRACKER_WERROR=ON \
        >"$1.log" 2>&1 && cmake --build "$1" -j >>"$1.log" 2>&1
}

result() { # part ok?
    if [ "$2" -eq 0 ]; then echo "sanitize $1: ok"; else echo "sanitize $1: FAILED"; status=1; fi
}

reports_clean() { # dir
    if [ -n "$(ls -A "$1" 2>/dev/null)" ]; then
        head -60 "$1"/*
        return 1
    fi
    return 0
}

# A part: CMD's output goes to DIR/NAME.log; it fails if CMD fails or the
# sanitizer wrote a report to DIR/reports.
part() { # label dir name cmd...
    label=$1 dir=$2 name=$3
    shift 3
    "$@" >"$dir/$name.log" 2>&1
    r=$?
    reports_clean "$dir/reports" || r=1
    if [ $r -ne 0 ]; then
        grep -E "^not ok|^# (pass|fail)" "$dir/$name.log" | head -20
        # Each failing test's diagnostic block (TAP YAML: error, stack, the
        # test's own diagnostics), which the tail below would not show.
        awk '/^ *not ok/ && !/# TODO/ {p = 1} p {print} p && /^ *\.\.\.$/ {p = 0}' \
            "$dir/$name.log" | head -120
        tail -30 "$dir/$name.log"
    fi
    result "$label" $r
}

e2e() { # binary [test files...]; TAP on stdout
    bin=$1
    shift
    tap=$(mktemp)
    WSTRACKER_BIN="$bin" WSTRACKER_TIME_SCALE=3 E2E_TIMEOUT=1200 sh tests/e2e/run.sh "$@" >"$tap" 2>&1
    cat "$tap"
    grep -q '^# fail 0$' "$tap" && grep -q '^# pass [1-9]' "$tap"
    rc=$?
    rm -f "$tap"
    return $rc
}

# Cross-worker announce/offer/answer traffic, then every connection closing
# while frames are in flight; the tracker is stopped with SIGTERM at the end.
load() { # binary
    WSTRACKER="$1" SMOKE_DURATION=8 SMOKE_CONNECTIONS=200 sh bench/smoke.sh
}

# --- ASan + UBSan ---
if build build-asan address,undefined; then
    mkdir -p build-asan/reports && rm -f build-asan/reports/*
    export ASAN_OPTIONS="detect_leaks=1:log_path=$ROOT/build-asan/reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$ROOT/build-asan/reports/ubsan"
    part "unit (asan+ubsan)" build-asan unit \
        ctest --test-dir build-asan --output-on-failure --timeout 600
    part "e2e suite (asan+ubsan, leak check at exit)" build-asan e2e e2e "$ROOT/build-asan/wstracker"
    part "load, 2 workers (asan+ubsan, leak check at exit)" build-asan load \
        load "$ROOT/build-asan/wstracker"
    unset ASAN_OPTIONS UBSAN_OPTIONS
else
    tail -30 build-asan.log
    result "build (asan+ubsan)" 1
fi

# --- TSan ---
if build build-tsan thread; then
    mkdir -p build-tsan/reports && rm -f build-tsan/reports/*
    export TSAN_OPTIONS="log_path=$ROOT/build-tsan/reports/tsan"
    part "mailbox threads (tsan)" build-tsan mailbox ./build-tsan/tests/unit/test_mailbox
    part "e2e protocol, tls and stats page, 2 workers (tsan)" build-tsan e2e \
        e2e "$ROOT/build-tsan/wstracker" ./protocol.test.mjs ./tls.test.mjs ./statspage.test.mjs
    part "load, 2 workers (tsan)" build-tsan load load "$ROOT/build-tsan/wstracker"
    unset TSAN_OPTIONS
else
    tail -30 build-tsan.log
    result "build (tsan)" 1
fi
exit $status
