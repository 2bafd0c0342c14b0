#!/bin/sh
# install-deps.sh - every package wstracker needs, from Debian 12's archive.
#
#   deploy/install-deps.sh            build dependencies (compiler, cmake, libraries)
#   deploy/install-deps.sh --test     plus what the test suites need (cmocka, coturn, node,
#                                     npm, chromium, clang for fuzzing, clang-format, iproute2,
#                                     openssl for test certificates, prometheus for promtool,
#                                     podman + mmdebstrap + runc for the container test,
#                                     python3-yaml to parse deploy/docker-compose.yml,
#                                     systemd for systemd-analyze verify of the unit,
#                                     linux-perf for the benchmarks' syscall counts)
#   deploy/install-deps.sh --runtime  only the shared libraries the binary loads
#                                     (the Dockerfile's final stage)
#
# Run as root. Installs only what is missing, so a second run is quick. The one
# place the project installs anything: README, .ci/run and the Dockerfile use it.
set -eu

mode=build
case "${1:-}" in
--test) mode=test ;;
--runtime) mode=runtime ;;
"") ;;
*) echo "usage: $0 [--test|--runtime]" >&2; exit 2 ;;
esac

runtime="libwebsockets17 libwebsockets-evlib-ev libev4 libsodium23 libjemalloc2 libck0 libinih1 ca-certificates"
build="build-essential cmake pkg-config libssl-dev libwebsockets-dev libwebsockets-evlib-ev libev-dev uthash-dev libsodium-dev libjemalloc-dev libck-dev libinih-dev"
test="libcmocka-dev coturn clang-14 libclang-rt-14-dev clang-format iproute2 util-linux curl procps chromium openssl prometheus podman mmdebstrap runc python3-yaml systemd linux-perf"

case "$mode" in
runtime) want="$runtime" ;;
build) want="$build" ;;
test) want="$build $test" ;;
esac

# Node.js and npm: any Node >= 18 already installed is used as it is (Debian 12
# ships 18 as nodejs + npm).
if [ "$mode" = test ] && ! command -v node >/dev/null 2>&1; then
    want="$want nodejs npm"
fi
if [ "$mode" = test ] && command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    want="$want npm"
fi

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "install-deps: everything for '$mode' is installed"
fi
