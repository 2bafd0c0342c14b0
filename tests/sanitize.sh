#!/bin/sh
# sanitize.sh - the sanitizer runs: unit tests under ASan+UBSan, the mailbox
# tests under TSan, and the e2e protocol suite against an ASan+UBSan tracker
# (LeakSanitizer on: every tracker the suite starts is stopped with SIGTERM and
# must exit with zero leaks) and against a TSan tracker (cross-worker traffic).
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

e2e_protocol() { # binary reportdir envname
    WSTRACKER_BIN="$1" E2E_TIMEOUT=900 sh tests/e2e/run.sh ./protocol.test.mjs >"$2.tap" 2>&1
    grep -q '^# fail 0$' "$2.tap" && grep -q '^# pass [1-9]' "$2.tap"
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
    e2e_protocol "$ROOT/build-asan/wstracker" build-asan/e2e
    r=$?
    reports_clean build-asan/reports || r=1
    [ $r -ne 0 ] && grep -E "^not ok|^# (pass|fail)" build-asan/e2e.tap | head -20
    result "e2e protocol (asan+ubsan, leak check at exit)" $r
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
    e2e_protocol "$ROOT/build-tsan/wstracker" build-tsan/e2e
    r=$?
    reports_clean build-tsan/reports || r=1
    [ $r -ne 0 ] && grep -E "^not ok|^# (pass|fail)" build-tsan/e2e.tap | head -20
    result "e2e protocol, 2 workers (tsan)" $r
    unset TSAN_OPTIONS
else
    tail -30 build-tsan.log
    result "build (tsan)" 1
fi
exit $status
