# wstracker: multi-stage build, non-root runtime. Every package comes through
# deploy/install-deps.sh, the project's one installer.
FROM debian:12-slim AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN sh deploy/install-deps.sh
COPY CMakeLists.txt ./
COPY proto proto
COPY tracker tracker
COPY tests/unit tests/unit
COPY cmake cmake
COPY web web
RUN cmake -B build -DCMAKE_BUILD_TYPE=Release -DWSTRACKER_TESTS=OFF -DWSTRACKER_BENCH=OFF \
 && cmake --build build -j \
 && strip build/wstracker

FROM debian:12-slim
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN sh /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --no-create-home --shell /usr/sbin/nologin wstracker
COPY --from=build /src/build/wstracker /usr/local/bin/wstracker
USER wstracker
ENV WSTRACKER_LISTEN=0.0.0.0:8000
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/wstracker"]
