#!/bin/sh
# sanitize.sh - the sanitizer runs: unit tests under ASan+UBSan, the mailbox
# tests under TSan, the whole e2e suite against an ASan+UBSan tracker
# (LeakSanitizer on: every tracker the suite starts is stopped with SIGTERM and
# must exit with zero leaks), the e2e protocol suite against a TSan tracker,
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

e2e() { # binary tapfile [test files...]
    bin=$1 tap=$2
    shift 2
    WSTRACKER_BIN="$bin" E2E_TIMEOUT=1200 sh tests/e2e/run.sh "$@" >"$tap.tap" 2>&1
    grep -q '^# fail 0$' "$tap.tap" && grep -q '^# pass [1-9]' "$tap.tap"
}

# Cross-worker announce/offer/answer traffic, then every connection closing
# while frames are in flight; the tracker is stopped with SIGTERM at the end.
load() { # binary log
    WSTRACKER="$1" SMOKE_DURATION=8 SMOKE_CONNECTIONS=200 sh bench/smoke.sh >"$2" 2>&1
}

# --- ASan + UBSan ---
if build build-asan address,undefined; then
    mkdir -p build-asan/reports && rm -f build-asan/reports/*
    export ASAN_OPTIONS="detect_leaks=1:log_path=$ROOT/build-asan/reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:log_path=$ROOT/build-asan/reports/ubsan"
    ctest --test-dir build-asan --output-on-failure --timeout 600 >build-asan/unit.log 2>&1
    r=$?
    reports_clean build-asan/reports || r=1
    [ $r -ne 0 ] && tail -30 build-asan/unit.log
    result "unit (asan+ubsan)" $r
    e2e "$ROOT/build-asan/wstracker" build-asan/e2e
    r=$?
    reports_clean build-asan/reports || r=1
    [ $r -ne 0 ] && grep -E "^not ok|^# (pass|fail)" build-asan/e2e.tap | head -20
    result "e2e suite (asan+ubsan, leak check at exit)" $r
    load "$ROOT/build-asan/wstracker" build-asan/load.log
    r=$?
    reports_clean build-asan/reports || r=1
    [ $r -ne 0 ] && tail -20 build-asan/load.log
    result "load, 2 workers (asan+ubsan, leak check at exit)" $r
    unset ASAN_OPTIONS UBSAN_OPTIONS
else
    tail -30 build-asan.log
    result "build (asan+ubsan)" 1
fi

# --- TSan ---
if build build-tsan thread; then
    mkdir -p build-tsan/reports && rm -f build-tsan/reports/*
    export TSAN_OPTIONS="log_path=$ROOT/build-tsan/reports/tsan"
    ./build-tsan/tests/unit/test_mailbox >build-tsan/mailbox.log 2>&1
    r=$?
    reports_clean build-tsan/reports || r=1
    [ $r -ne 0 ] && tail -30 build-tsan/mailbox.log
    result "mailbox threads (tsan)" $r
    e2e "$ROOT/build-tsan/wstracker" build-tsan/e2e ./protocol.test.mjs
    r=$?
    reports_clean build-tsan/reports || r=1
    [ $r -ne 0 ] && grep -E "^not ok|^# (pass|fail)" build-tsan/e2e.tap | head -20
    result "e2e protocol, 2 workers (tsan)" $r
    load "$ROOT/build-tsan/wstracker" build-tsan/load.log
    r=$?
    reports_clean build-tsan/reports || r=1
    [ $r -ne 0 ] && tail -20 build-tsan/load.log
    result "load, 2 workers (tsan)" $r
    unset TSAN_OPTIONS
else
    tail -30 build-tsan.log
    result "build (tsan)" 1
fi
exit $status
