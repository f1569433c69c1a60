#!/usr/bin/env bash
# What the request log line and the metrics cost, measured from outside: one release server
# per run on a free loopback port, loaded by wrk, the variants alternated (A B C D A B C D)
# in one session, each round starting one variant later, so a noisy machine moves them all
# alike.
#
#   benches/load/observability_ab.sh [livez|search] [ROUNDS] [SECONDS]
#
# `livez` is the cheapest route (the overhead is as large as it gets); `search` a cached
# hybrid search (a repeated query: no embedding). Needs wrk (Debian package `wrk`) and a data
# directory with a generation: DATA (default target/eval-data, built by
# `devicekb reindex --data target/eval-data`).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
scenario=${1:-livez}
rounds=${2:-2}
seconds=${3:-8}
data=${DATA:-target/eval-data}
bin=${DEVICEKB_BIN:-target/release/devicekb}

command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
[[ -x $bin ]] || { echo "error: $bin is missing (cargo build --release)" >&2; exit 1; }
[[ -f $data/CURRENT ]] || { echo "error: no generation in $data (devicekb reindex --data $data)" >&2; exit 1; }

variants=(
  "log+metrics|RUST_LOG=info"
  "no-request-log|RUST_LOG=info,devicekb::request=warn"
  "no-metrics|RUST_LOG=info DEVICEKB_METRICS=false"
  "neither|RUST_LOG=info,devicekb::request=warn DEVICEKB_METRICS=false"
)

work=$(mktemp -d)
trap '[[ -n ${server:-} ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/search.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query": "88 toner cyan bas", "limit": 5}'
LUA


run_variant() {
  local name=$1 env=$2 port
  port=$(free_port)
  # shellcheck disable=SC2086
  env -u DEVICEKB_METRICS -u DEVICEKB_LOG_FORMAT -u RUST_LOG $env DEVICEKB_ADDR=127.0.0.1:$port "$bin" serve --data "$data" >"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" "$work/server.log"
  local url="http://127.0.0.1:$port/livez" script=()
  if [[ $scenario == search ]]; then
    url="http://127.0.0.1:$port/knowledge/search"
    script=(-s "$work/search.lua")
    curl -fs -X POST -H 'Content-Type: application/json' \
      -d '{"query": "88 toner cyan bas", "limit": 5}' "$url" >/dev/null
  fi
  wrk -t2 -c8 -d1s ${script[@]+"${script[@]}"} "$url" >/dev/null # warm-up
  local out
  out=$(wrk -t2 -c8 "-d${seconds}s" --latency ${script[@]+"${script[@]}"} "$url")
  kill "$server"; wait "$server" 2>/dev/null || true
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-16s %10s %10s %10s\n' "$name" "$rps" "$p50" "$p99"
}

echo "scenario: $scenario, wrk -t2 -c8 -d${seconds}s, $rounds rounds, $(date -u +%FT%TZ)"
printf '%-16s %10s %10s %10s\n' variant req/s p50 p99
# Each round starts one variant later (A B C D, B C D A, ...), so none always runs first.
n=${#variants[@]}
for ((round = 0; round < rounds; round++)); do
  for ((i = 0; i < n; i++)); do
    variant=${variants[$(((round + i) % n))]}
    run_variant "${variant%%|*}" "${variant#*|}"
  done
done
