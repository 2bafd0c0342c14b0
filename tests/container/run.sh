#!/bin/bash
# tests/container/run.sh - the container suite: builds the Dockerfile for real
# with podman and runs the image. Prints one line per part,
# `container <part>: ok|FAILED ...` (counted by tests/run-all.sh).
#
#   bash tests/container/run.sh
#
# No image registry is reachable, Debian's mirror is: the base image
# docker.io/library/debian:12-slim is made here with mmdebstrap and kept in
# $WSTRACKER_CONTAINER_CACHE (default /var/cache/wstracker-test/debian12.tar,
# remade when older than 7 days); podman's layer cache (/var/lib/containers)
# keeps the apt layers, and the image is kept after the run (tagged
# localhost/wstracker, its build stage localhost/wstracker-build; images of
# earlier builds are pruned). The build (apt in
# the build stage) is the only part that uses the network; the running
# container and the clients are in a fresh network namespace that only has lo
# (the script re-runs itself there with --inside): the container's
# --network=host is that namespace.
#
# Parts: base, build, image (user, ports, healthcheck, runtime libraries only),
# config (a mounted --config file and the image's ENV in --check-config; a bad
# file exits 2), health (HEALTHCHECK passes), health-fails (the same command
# fails when nothing listens), ws (raw announce + npm bittorrent-tracker Client
# over ws://, the interval from the mounted config file), wss (the same over
# wss:// with a mounted certificate from a test CA; refused without the CA), metrics (Prometheus scrapes it with
# deploy/prometheus.yml), nonroot, sighup, sigterm.
# Needs root, podman, runc, mmdebstrap, node (deploy/install-deps.sh --test).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
CACHE=${WSTRACKER_CONTAINER_CACHE:-/var/cache/wstracker-test}
IMAGE=localhost/wstracker
BASE=docker.io/library/debian:12-slim
NAME=wstracker-test-$$
# The interval in the mounted config file, checked in the clients' replies.
INTERVAL=77
export CONTAINERS_CONF=$CACHE/containers.conf
# crun refuses this machine's hybrid cgroups (v1 + v2); runc works.
PODMAN=(podman --runtime runc)

part() { # name ok|FAILED detail
    echo "container $1: $2${3:+ ($3)}"
}

# Poll cmd until it succeeds or deadline seconds pass.
poll() { # deadline cmd...
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.2
    done
}

if [ "${1:-}" = --inside ]; then
    # ---- inside the network namespace (only lo) ----
    ip link set lo up
    cleanup() { "${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1; }
    trap cleanup EXIT
    # Every port is free in a new namespace; take one from the kernel anyway.
    PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    TPORT=$((PORT + 2))
    # The image's HEALTHCHECK command, as podman stored it (["CMD", argv...]).
    mapfile -t HC < <("${PODMAN[@]}" image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE" |
        node -e 'const a=JSON.parse(require("fs").readFileSync(0,"utf8")); a.slice(1).forEach(x=>console.log(x))')

    # A test CA and a certificate for 127.0.0.1 signed by it (openssl), mounted
    # read-only at /tls; the key readable by group 10001 only (the image's user).
    TLS=$LOGDIR/tls
    rm -rf "$TLS" && mkdir -p "$TLS"
    if ! {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj /CN=wstracker-test-ca -keyout "$TLS/ca.key" -out "$TLS/ca.pem" &&
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -subj /CN=localhost -keyout "$TLS/key.pem" -out "$TLS/cert.csr" &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TLS/ext" &&
            openssl x509 -req -in "$TLS/cert.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
                -CAcreateserial -days 2 -extfile "$TLS/ext" -out "$TLS/cert.pem"
    } >"$LOGDIR/openssl.log" 2>&1; then
        part wss FAILED "openssl: $(tail -2 "$LOGDIR/openssl.log" | tr '\n' ' ')"
    fi
    chmod 0755 "$TLS" && chmod 0644 "$TLS/cert.pem" && chgrp 10001 "$TLS/key.pem" && chmod 0640 "$TLS/key.pem"

    # The systemd timer podman would add for the healthcheck does not exist
    # here (no systemd): interval disabled, the test runs the check itself
    # (podman 4.3 still logs "unable to get systemd connection" to run.out).
    if ! "${PODMAN[@]}" run -d --name "$NAME" --network=host --health-interval=disable \
        -e WSTRACKER_LISTEN="127.0.0.1:$PORT" -e WSTRACKER_THREADS=2 \
        -v "$TLS:/tls:ro" -e WSTRACKER_LISTEN_TLS="127.0.0.1:$TPORT" \
        -e WSTRACKER_TLS_CERT=/tls/cert.pem -e WSTRACKER_TLS_KEY=/tls/key.pem \
        -v "$CONF:/etc/wstracker/wstracker.conf:ro" -e WSTRACKER_CONFIG=/etc/wstracker/wstracker.conf \
        "$IMAGE" >"$LOGDIR/run.out" 2>&1; then
        part health FAILED "podman run: $(tail -3 "$LOGDIR/run.out" | tr '\n' ' ')"
        exit 1
    fi
    logs() { "${PODMAN[@]}" logs "$NAME" 2>&1; }

    # health: the HEALTHCHECK passes within 30 s of the start (the tracker is
    # ready in well under a second; 30 s covers a loaded 2-core machine).
    t0=$SECONDS
    if poll 30 "${PODMAN[@]}" healthcheck run "$NAME"; then
        part health ok "podman healthcheck run: 0 after $((SECONDS - t0)) s"
    else
        part health FAILED "not healthy within 30 s; log: $(logs | tail -5 | tr '\n' ' ')"
    fi

    # health-fails: the same command, pointed at a port where nothing listens
    # (PORT+1 in this namespace), must fail: the check can tell.
    if "${PODMAN[@]}" exec -e WSTRACKER_LISTEN="127.0.0.1:$((PORT + 1))" "$NAME" "${HC[@]}" >/dev/null 2>&1; then
        part health-fails FAILED "the healthcheck passed with nothing listening on $((PORT + 1))"
    else
        part health-fails ok "nothing on $((PORT + 1)): exit non-zero"
    fi

    # ws: a raw announce (interval from WSTRACKER_INTERVAL) and the npm Client.
    if out=$(EXPECT_INTERVAL=$INTERVAL node tests/container/client.mjs "ws://127.0.0.1:$PORT" 2>&1); then
        part ws ok "$(echo "$out" | tr '\n' ';')"
    else
        part ws FAILED "$(echo "$out" | tr '\n' ';')"
    fi

    # wss: the same two clients over wss:// on the mounted certificate, trusting
    # the test CA (NODE_EXTRA_CA_CERTS); without it the handshake must fail (the
    # certificate really is the test CA's, not anything the system trusts).
    if out=$(NODE_EXTRA_CA_CERTS="$TLS/ca.pem" EXPECT_INTERVAL=$INTERVAL node tests/container/client.mjs "wss://127.0.0.1:$TPORT" 2>&1); then
        if node tests/container/client.mjs "wss://127.0.0.1:$TPORT" >"$LOGDIR/wss-untrusted.log" 2>&1 ||
            ! grep -q 'unable to verify the first certificate' "$LOGDIR/wss-untrusted.log"; then
            part wss FAILED "without the test CA: not refused for the certificate: $(head -2 "$LOGDIR/wss-untrusted.log" | tr '\n' ' ')"
        else
            part wss ok "$(echo "$out" | tr '\n' ';') without the CA: refused"
        fi
    else
        part wss FAILED "$(echo "$out" | tr '\n' ';') log: $(logs | tail -3 | tr '\n' ' ')"
    fi

    # metrics: Debian's Prometheus with deploy/prometheus.yml (the target
    # rewritten from the compose service to this port, the interval to 1 s)
    # scrapes the container's /metrics: up == 1 and wstracker_build_info == 1
    # within 30 s (the first scrape comes within one interval of the start).
    PPORT=$((PORT + 3))
    sed -e "s/wstracker:8000/127.0.0.1:$PORT/" -e 's/scrape_interval: 15s/scrape_interval: 1s/' \
        deploy/prometheus.yml >"$LOGDIR/prometheus.yml"
    rm -rf "$LOGDIR/prometheus-data"
    prometheus --config.file="$LOGDIR/prometheus.yml" --storage.tsdb.path="$LOGDIR/prometheus-data" \
        --web.listen-address="127.0.0.1:$PPORT" >"$LOGDIR/prometheus.log" 2>&1 &
    prom=$!
    trap 'kill $prom 2>/dev/null; cleanup' EXIT
    q() { curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
    if poll 30 sh -c "curl -sf 'http://127.0.0.1:$PPORT/api/v1/query?query=up' | grep -q '\"job\":\"wstracker\".*\"value\":\[[0-9.]*,\"1\"\]'" &&
        q 'wstracker_build_info' | grep -q '"value":\[[0-9.]*,"1"\]'; then
        part metrics ok "Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}') scraped /metrics with deploy/prometheus.yml: up 1, wstracker_build_info 1"
    else
        part metrics FAILED "up: $(q up 2>&1 | head -c 300); prometheus log: $(tail -3 "$LOGDIR/prometheus.log" | tr '\n' ' ')"
    fi
    kill $prom 2>/dev/null
    wait $prom 2>/dev/null

    # nonroot: the tracker (PID 1 of the container) runs as uid 10001, seen
    # from inside (id -u) and from the host (/proc/PID/status, all four uids).
    uid=$("${PODMAN[@]}" exec "$NAME" id -u 2>&1)
    pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$NAME")
    huid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status" 2>/dev/null)
    comm=$(cat "/proc/$pid/comm" 2>/dev/null)
    if [ "$uid" = 10001 ] && [ "$huid" = "10001 10001 10001 10001" ] && [ "$comm" = wstracker ]; then
        part nonroot ok "id -u $uid; host pid $pid ($comm) Uid $huid"
    else
        part nonroot FAILED "id -u '$uid'; host pid $pid ($comm) Uid '$huid'"
    fi

    # sighup: the tracker logs one more reload line ("SIGHUP: nothing to
    # reload", or the certificate's "TLS certificate reloaded") and keeps
    # running (healthy again).
    reloads() { logs | grep -c -E 'SIGHUP|certificate reloaded'; }
    before=$(reloads)
    "${PODMAN[@]}" kill -s HUP "$NAME" >/dev/null
    if poll 10 sh -c "[ \$(${PODMAN[*]} logs $NAME 2>&1 | grep -c -E 'SIGHUP|certificate reloaded') -gt $before ]" &&
        [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$NAME")" = true ] &&
        "${PODMAN[@]}" healthcheck run "$NAME" >/dev/null 2>&1; then
        part sighup ok "logged '$(logs | grep -E 'SIGHUP|certificate reloaded' | tail -1)', still running and healthy"
    else
        part sighup FAILED "state $("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$NAME" 2>&1); log: $(logs | tail -3 | tr '\n' ' ')"
    fi

    # sigterm: podman stop sends the image's STOPSIGNAL (SIGTERM) and SIGKILL
    # only after 10 s: exit code 0 (137 would be the kill) and the closing line.
    t0=$SECONDS
    "${PODMAN[@]}" stop -t 10 "$NAME" >/dev/null 2>&1
    took=$((SECONDS - t0))
    code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$NAME" 2>&1)
    if [ "$code" = 0 ] && logs | grep -q 'wstracker: signal 15, closing connections'; then
        part sigterm ok "exit 0 after $took s, logged 'signal 15, closing connections'"
    else
        part sigterm FAILED "exit code '$code' after $took s; log: $(logs | tail -3 | tr '\n' ' ')"
    fi
    logs >"$LOGDIR/tracker.log"
    exit 0
fi

# ---- outside: base image and build (the network is needed for apt) ----
# The npm clients, as tests/e2e/run.sh installs them (package-lock.json).
if [ "${1:-}" != --inside ] && { [ ! -f tests/e2e/node_modules/.package-lock.json ] ||
    [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
    (cd tests/e2e && npm ci --no-audit --no-fund) >&2
fi
start=$SECONDS
LOGDIR=${WSTRACKER_TEST_LOG:-$ROOT/build/test-logs}/container
mkdir -p "$LOGDIR" "$CACHE"
export LOGDIR
if [ "$(id -u)" != 0 ]; then
    part base FAILED "needs root (podman with the system store, mmdebstrap, unshare)"
    exit 1
fi
for tool in podman runc mmdebstrap node unshare ip curl prometheus openssl; do
    if ! command -v $tool >/dev/null 2>&1; then
        part base FAILED "$tool not installed (deploy/install-deps.sh --test)"
        exit 1
    fi
done
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n' >"$CONTAINERS_CONF"

# base: debian12.tar (made when missing or older than 7 days), imported as
# debian:12-slim when the image is missing or older than the tar.
tar=$CACHE/debian12.tar
how="reused $tar"
if [ ! -f "$tar" ] || [ -n "$(find "$tar" -mtime +7)" ]; then
    t0=$SECONDS
    if mmdebstrap --format=tar --variant=minbase --include=ca-certificates bookworm "$tar.tmp" \
        >"$LOGDIR/mmdebstrap.log" 2>&1 && mv "$tar.tmp" "$tar"; then
        how="made $tar with mmdebstrap in $((SECONDS - t0)) s"
        rm -f "$CACHE/imported"
    else
        part base FAILED "mmdebstrap: $(tail -3 "$LOGDIR/mmdebstrap.log" | tr '\n' ' ')"
        exit 1
    fi
fi
if ! podman image exists "$BASE" || [ ! -f "$CACHE/imported" ] || [ "$tar" -nt "$CACHE/imported" ]; then
    if podman import "$tar" "$BASE" >"$LOGDIR/import.log" 2>&1; then
        touch "$CACHE/imported"
        how="$how, imported"
    else
        part base FAILED "podman import: $(tail -3 "$LOGDIR/import.log" | tr '\n' ' ')"
        exit 1
    fi
fi
part base ok "$how"

# build: the Dockerfile, Docker format (OCI images drop HEALTHCHECK).
t0=$SECONDS
if podman build --format docker --pull=never --isolation=chroot --network=host -t "$IMAGE" . \
    >"$LOGDIR/build.log" 2>&1; then
    # The build stage tagged too (from the cache, about a second), so that
    # pruning dangling images (earlier builds) keeps both stages' layers.
    podman build --format docker --pull=never --isolation=chroot --network=host --target build \
        -t "$IMAGE-build" . >>"$LOGDIR/build.log" 2>&1
    podman image prune -f >>"$LOGDIR/build.log" 2>&1
    part build ok "$((SECONDS - t0)) s; log $LOGDIR/build.log"
else
    part build FAILED "$(tail -5 "$LOGDIR/build.log" | tr '\n' ' ')"
    exit 1
fi

# image: what the runtime stage holds: uid 10001, ports 8000 and 8443, a
# HEALTHCHECK, the binary's libraries all found, no compiler or cmake.
meta=$(podman image inspect --format '{{.Config.User}}|{{.Config.ExposedPorts}}|{{len .Config.Healthcheck.Test}}' "$IMAGE" 2>&1)
inner=$("${PODMAN[@]}" run --rm --network=none --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c \
    'ldd /usr/local/bin/wstracker | grep -c "not found"; command -v cc gcc cmake | wc -l; /usr/local/bin/wstracker --version' 2>&1 | tr '\n' ' ')
if [[ $meta == "10001:10001|map[8000/tcp:{} 8443/tcp:{}]|"[1-9]* ]] && [[ $inner == "0 0 wstracker "* ]]; then
    part image ok "user, ports, healthcheck: $meta; missing libs, compilers, version: $inner"
else
    part image FAILED "user|ports|healthcheck: '$meta'; missing libs, compilers, version: '$inner'"
fi

# config: a mounted file read with --config (the image's WSTRACKER_LISTEN from
# its ENV, the interval from the file), checked by --check-config in the image;
# a file with an unknown key exits 2 naming the file, line and key.
CONF=$LOGDIR/wstracker.conf
printf '# the container suite'"'"'s config file\ninterval = %s\n' "$INTERVAL" >"$CONF"
printf 'intervall = 5\n' >"$LOGDIR/bad.conf"
chmod 0644 "$CONF" "$LOGDIR/bad.conf"
export CONF
out=$("${PODMAN[@]}" run --rm --network=none --no-healthcheck -v "$CONF:/etc/wstracker/wstracker.conf:ro" \
    "$IMAGE" --config /etc/wstracker/wstracker.conf --check-config 2>&1)
rc=$?
bad=$("${PODMAN[@]}" run --rm --network=none --no-healthcheck -v "$LOGDIR/bad.conf:/etc/wstracker/wstracker.conf:ro" \
    -e WSTRACKER_CONFIG=/etc/wstracker/wstracker.conf "$IMAGE" --check-config 2>&1)
badrc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^interval = $INTERVAL  # from file /etc/wstracker/wstracker.conf:2\$" &&
    echo "$out" | grep -q '^listen = 0.0.0.0:8000  # from environment WSTRACKER_LISTEN$' &&
    [ $badrc = 2 ] && echo "$bad" | grep -q 'wstracker.conf:1.*intervall'; then
    part config ok "--check-config: interval from the file, listen from the image's ENV; bad key: exit 2, '$(echo "$bad" | head -1)'"
else
    part config FAILED "exit $rc: $(echo "$out" | grep -E '^(interval|listen) ' | tr '\n' ' '); bad file: exit $badrc: $(echo "$bad" | head -2 | tr '\n' ' ')"
fi

# The running parts, in a network namespace with only lo.
unshare --net -- bash "$ROOT/tests/container/run.sh" --inside
echo "container suite: $((SECONDS - start)) s"
