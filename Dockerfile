# Dockerfile - the wstracker image: a build stage and a runtime stage, both on
# Debian 12 slim. Every package comes through deploy/install-deps.sh (build
# mode in the first stage, --runtime in the second: shared libraries only, no
# compiler, no shell tools beyond slim's own). The tracker runs as uid 10001 as
# PID 1 (it handles SIGTERM and SIGHUP itself: sigwait on a blocked mask).
# Built and run for real by tests/container/run.sh; README "Docker".
FROM debian:12-slim AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN sh deploy/install-deps.sh
COPY CMakeLists.txt ./
COPY cmake cmake
COPY proto proto
COPY tracker tracker
COPY web web
# The README's build command; the unit tests and the load generator are left
# out (cmocka is not installed in build mode, bench/ is not copied).
RUN cmake -B build -DCMAKE_BUILD_TYPE=Release -DWSTRACKER_TESTS=OFF -DWSTRACKER_BENCH=OFF \
 && cmake --build build -j \
 && strip build/wstracker

FROM debian:12-slim
COPY deploy/install-deps.sh /tmp/install-deps.sh
# A fixed uid/gid (10001) so a mounted certificate or config file can be made
# readable to it from the host: chown 10001 or chgrp 10001 + chmod g+r.
RUN sh /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && groupadd --system --gid 10001 wstracker \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin wstracker \
 && mkdir -p /etc/wstracker
COPY --from=build /src/build/wstracker /usr/local/bin/wstracker
USER 10001:10001
# Every option reads a WSTRACKER_* variable (README "Running"); the image only
# sets the listener to all interfaces, so it starts with no file mounted.
# wss:// (8443) is on when certificates are mounted and WSTRACKER_LISTEN_TLS,
# WSTRACKER_TLS_CERT and WSTRACKER_TLS_KEY are set; a config file is mounted
# and named with WSTRACKER_CONFIG or --config (README "Docker").
ENV WSTRACKER_LISTEN=0.0.0.0:8000
EXPOSE 8000 8443
# No curl or wget in the image: bash (part of slim) speaks HTTP/1.0 to /health
# over /dev/tcp. The port is the first listener of WSTRACKER_LISTEN (default
# 8000), so the check follows a changed listen address.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/bin/bash", "-c", "a=${WSTRACKER_LISTEN%%,*}; p=${a##*:}; h=${a%:*}; case $h in 0.0.0.0|'') h=127.0.0.1;; '[::]') h=::1;; esac; h=${h#[}; h=${h%]}; exec 3<>/dev/tcp/$h/$p && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '^ok' <&3"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/wstracker"]
