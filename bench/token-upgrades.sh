#!/bin/sh
# token-upgrades.sh - WebSocket upgrades per second with access tokens, per
# algorithm (none, EdDSA, HS256, ES256, RS256), side by side in one run.
#
# Makes keys (openssl) and tokens (mint-tokens.mjs, node's crypto) in
# bench/.scratch/tokens, starts two release trackers with one worker pinned to
# core 0 (127.0.0.1:8100 tokens off, :8101 with the JWK Set and the HS256
# secret), and runs build-bench/upgrades pinned to core 1 against each:
# ROUNDS (2) rounds of SECONDS (5) s per algorithm, at most COUNT (200000)
# upgrades each, PARALLEL (16) in flight. Loopback only; every run bounded.
set -eu
cd "$(dirname "$0")/.."
S=bench/.scratch/tokens
ROUNDS=${ROUNDS:-2} SECS=${SECONDS_EACH:-5} COUNT=${COUNT:-200000} PAR=${PARALLEL:-16}
mkdir -p $S
[ -f $S/ed25519.pem ] || openssl genpkey -algorithm ed25519 -out $S/ed25519.pem
[ -f $S/es256.pem ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $S/es256.pem
[ -f $S/rs256.pem ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $S/rs256.pem 2>/dev/null
[ -f $S/hs256.secret ] || openssl rand -hex 32 >$S/hs256.secret
node bench/mint-tokens.mjs $S
export WSTRACKER_MSG_RATE=0 WSTRACKER_MAX_CONNS_PER_IP=0
taskset -c 0 ./build/wstracker --threads 1 --listen 127.0.0.1:8100 2>$S/off.log &
OFF=$!
taskset -c 0 ./build/wstracker --threads 1 --listen 127.0.0.1:8101 --auth-jwks $S/jwks.json \
    --auth-hs256-secret-file $S/hs256.secret 2>$S/on.log &
ON=$!
trap 'kill $OFF $ON 2>/dev/null || true' EXIT
sleep 1
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"
for r in $(seq "$ROUNDS"); do
    taskset -c 1 ./build-bench/upgrades --url ws://127.0.0.1:8100/ --parallel "$PAR" --count "$COUNT" \
        --duration "$SECS" --server-pid $OFF --label "round $r none"
    for a in eddsa hs256 es256 rs256; do
        taskset -c 1 ./build-bench/upgrades --url ws://127.0.0.1:8101/ --token-file $S/$a.tok \
            --parallel "$PAR" --count "$COUNT" --duration "$SECS" --server-pid $ON --label "round $r $a"
    done
done
