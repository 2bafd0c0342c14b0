#!/bin/sh
# capture.sh - seed the fuzz corpus from real client traffic.
#
# Builds a tracker with -DWSTRACKER_CAPTURE=ON, runs the e2e suite against it
# (bittorrent-tracker and webtorrent clients, p2pt in Chromium, the conformance
# suite), then turns what the clients sent into seeds:
#   corpus/handle: windows of 40 consecutive records ("<d><message>", "x<d>")
#                  of one tracker process, as fuzz_handle reads them;
#   corpus/scan:   each distinct message.
# Both are minimised against the existing corpus with libFuzzer's -merge=1, so
# only inputs that add coverage are kept. Run by hand, not by CI; commit the
# corpus it leaves.
#   sh tests/fuzz/capture.sh [e2e test files...]   (default: the whole suite)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
CAP=$ROOT/build-capture
OUT=$CAP/captured
rm -rf "$OUT"
mkdir -p "$OUT/raw" "$OUT/handle" "$OUT/scan"
cmake -B "$CAP" -DWSTRACKER_CAPTURE=ON -DWSTRACKER_TESTS=OFF -DWSTRACKER_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$CAP.log" 2>&1
cmake --build "$CAP" -j >>"$CAP.log" 2>&1
sh tests/fuzz/run.sh --build-only
# The e2e suite runs in its own namespaces; the capture directory is on the
# shared file system, so the files land here.
WSTRACKER_BIN=$CAP/wstracker WSTRACKER_CAPTURE_DIR=$OUT/raw sh tests/e2e/run.sh "$@" \
    >"$OUT/e2e.tap" 2>&1 || echo "capture: e2e suite reported failures (see $OUT/e2e.tap); using what was captured"
python3 - "$OUT" <<'PY'
import hashlib, os, sys
out = sys.argv[1]
seen = set()
n_handle = n_scan = 0
for name in sorted(os.listdir(os.path.join(out, 'raw'))):
    lines = open(os.path.join(out, 'raw', name), 'rb').read().split(b'\n')
    lines = [l for l in lines if l]
    for k in range(0, len(lines), 40):
        chunk = b'\n'.join(lines[k:k + 40]) + b'\n'
        h = hashlib.sha1(chunk).hexdigest()
        open(os.path.join(out, 'handle', h), 'wb').write(chunk)
        n_handle += 1
    for l in lines:
        if l[:1] == b'x':
            continue
        msg = l[1:]
        h = hashlib.sha1(msg).hexdigest()
        if h not in seen:
            seen.add(h)
            open(os.path.join(out, 'scan', h), 'wb').write(msg)
            n_scan += 1
print(f'capture: {n_handle} handle windows, {n_scan} distinct messages')
PY
for t in handle scan; do
    mkdir -p tests/fuzz/corpus/$t
    ./build-fuzz/fuzz_$t -merge=1 -max_len=65536 tests/fuzz/corpus/$t "$OUT/$t" >"$OUT/merge-$t.log" 2>&1
    grep -E "MERGE-OUTER: [0-9]+ new files" "$OUT/merge-$t.log" | sed "s/^/capture $t: /"
done
