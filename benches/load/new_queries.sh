#!/usr/bin/env bash
# New-query search throughput and latency at 1 and at 16 connections, in the same run: every
# request is a hybrid search no one sent before (so each needs a new query embedding) on a
# server over the bundled KB. Prints req/s, p50, p99 for each and the ratios the speed issue
# sets bars on (16-connection throughput over 1-connection, p99 over p50 at 16).
#
#   benches/load/new_queries.sh [BIN ...]     # default: target/release/devicekb
#
# ROUNDS (default 3) rounds; SECONDS_PER_RUN (default 10) per wrk run. Several binaries are
# alternated (A B A B). Needs wrk and a data directory with a generation of the bundled KB:
# DATA (default target/eval-data). Loopback only; the load generator shares the cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
data=${DATA:-target/eval-data}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-10}
bins=("$@")
((${#bins[@]})) || bins=(target/release/devicekb)

require_wrk_and_data "$data"

work=$(mktemp -d)
trap '[[ -n ${server:-} ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
new_queries_lua "$work/new_queries.lua"

run() {
  local bin=$1 port tag one sixteen
  port=$(free_port)
  env -u DEVICEKB_ADMIN_KEY -u DATABASE_URL DEVICEKB_ADDR=127.0.0.1:$port \
    "$bin" serve --kb kb --data "$data" >"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" "$work/server.log"
  local base="http://127.0.0.1:$port"
  tag="$$-$RANDOM-$(basename "$bin")"
  wrk -t1 -c4 -d2s -s "$work/new_queries.lua" "$base" -- "warm-$tag" >/dev/null
  one=$(wrk -t1 -c1 "-d${seconds}s" --latency -s "$work/new_queries.lua" "$base" -- "c1-$tag" | wrk_figures)
  sixteen=$(wrk -t2 -c16 "-d${seconds}s" --latency -s "$work/new_queries.lua" "$base" -- "c16-$tag" | wrk_figures)
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
  python3 - "$(basename "$bin")" "$one" "$sixteen" <<'PY'
import sys
def ms(v):
    return float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-2]) if v.endswith("ms") else float(v[:-1]) * 1000
name, one, sixteen = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
r1, r16 = float(one[0]), float(sixteen[0])
print(f"{name:<18} c1 {r1:7.1f} req/s p50 {one[1]:>8} p99 {one[2]:>8} | c16 {r16:7.1f} req/s p50 {sixteen[1]:>8} p99 {sixteen[2]:>8}"
      f" | c16/c1 {r16 / r1:.2f}x  c16 p99/p50 {ms(sixteen[2]) / ms(sixteen[1]):.2f}  non-2xx {int(one[3]) + int(sixteen[3])}")
PY
}

echo "new-query hybrid search, 1 connection (wrk -t1 -c1) then 16 (wrk -t2 -c16), ${seconds} s each; $(date -u +%FT%TZ)"
for ((round = 1; round <= rounds; round++)); do
  for bin in "${bins[@]}"; do
    run "$bin"
  done
done
