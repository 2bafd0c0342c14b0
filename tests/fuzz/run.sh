#!/bin/sh
# run.sh - build the libFuzzer targets (clang-14, ASan+UBSan) and run each for
# FUZZ_SECONDS (default 60) from the seed corpus (--build-only: just build). Prints "fuzz <name>: ok" or
# "fuzz <name>: FAILED" per target; exits non-zero if any target failed.
# A crash leaves its input in build-fuzz/artifacts/; turn it into a unit test.
set -u
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
B=build-fuzz
if ! { cmake -B $B -DWSTRACKER_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 -DWSTRACKER_TESTS=OFF \
    -DWSTRACKER_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >$B.log 2>&1 &&
    cmake --build $B -j >>$B.log 2>&1; }; then
    cat $B.log
    echo "fuzz build: FAILED"
    exit 1
fi
# every seed of fuzz_jwt is a token its keys accept (make_jwt_seeds.mjs)
if ! FUZZ_JWT_EXPECT_OK=1 ./$B/fuzz_jwt tests/fuzz/corpus/jwt/* >$B/fuzz-jwt-seeds.log 2>&1; then
    cat $B/fuzz-jwt-seeds.log
    echo "fuzz jwt seeds: FAILED (a seed does not verify)"
    exit 1
fi
[ "${1:-}" = "--build-only" ] && exit 0
mkdir -p $B/artifacts
status=0
for t in scan id gate jws jwt handle rate realip lists turn config; do
    work=$B/corpus-$t
    mkdir -p "$work"
    dict=""
    [ -f tests/fuzz/$t.dict ] && dict="-dict=tests/fuzz/$t.dict"
    if ./$B/fuzz_$t -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 \
        -artifact_prefix=$B/artifacts/$t- $dict "$work" tests/fuzz/corpus/$t >$B/fuzz-$t.log 2>&1; then
        echo "fuzz $t: ok ($(grep -o 'Done [0-9]* runs' $B/fuzz-$t.log))"
    else
        tail -40 $B/fuzz-$t.log
        echo "fuzz $t: FAILED"
        status=1
    fi
done
exit $status
