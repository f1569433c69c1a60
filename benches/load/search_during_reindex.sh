#!/usr/bin/env bash
# New-query search latency while the server reindexes, against the same server idle: every
# request carries a query no one sent before (so each needs a new embedding), first with
# nothing else running, then while `POST /admin/reindex` re-embeds the whole KB (every
# entry's title is edited first, so no vector can be reused).
#
#   benches/load/search_during_reindex.sh [BIN ...]     # default: target/release/devicekb
#
# Several binaries are alternated (A B A B) for a before/after comparison. Needs wrk and a
# data directory with a generation of the bundled KB: DATA (default target/eval-data).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
data=${DATA:-target/eval-data}
rounds=${ROUNDS:-2}
connections=${CONNECTIONS:-4}
bins=("$@")
((${#bins[@]})) || bins=(target/release/devicekb)

require_wrk_and_data "$data"

work=$(mktemp -d)
trap '[[ -n ${server:-} ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
new_queries_lua "$work/new_queries.lua"

run() {
  local bin=$1 port
  rm -rf "$work/kb" "$work/data"
  cp -r kb "$work/kb"
  cp -r "$data" "$work/data"
  port=$(free_port)
  env -u DEVICEKB_ADMIN_KEY DEVICEKB_ADDR=127.0.0.1:$port "$bin" serve --kb "$work/kb" --data "$work/data" >"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" "$work/server.log"
  local base="http://127.0.0.1:$port" idle during
  local run_tag="$$-$RANDOM-$(basename "$bin")"
  wrk -t1 "-c$connections" -d2s -s "$work/new_queries.lua" "$base" -- "warm-$run_tag" >/dev/null
  idle=$(wrk -t1 "-c$connections" -d10s --latency -s "$work/new_queries.lua" "$base" -- "idle-$run_tag" | wrk_figures)
  # Every title edited: the reindex embeds every entry again.
  find "$work/kb/entries" -name '*.toml' -exec sed -i 's/^title = "/title = "Note. /' {} +
  local started task status
  started=$(date +%s.%N)
  task=$(curl -fs -X POST "$base/admin/reindex" | python3 -c 'import sys,json; print(json.load(sys.stdin)["id"])')
  during=$(wrk -t1 "-c$connections" -d10s --latency -s "$work/new_queries.lua" "$base" -- "during-$run_tag" | wrk_figures)
  while :; do
    status=$(curl -fs "$base/admin/tasks/$task" | python3 -c 'import sys,json; t=json.load(sys.stdin); print(t["status"], t.get("report",{}).get("embedded_chunks","-"), t.get("error",""))')
    [[ $status == running* ]] || break
    sleep 0.5
  done
  local took
  took=$(python3 -c "import time; print(round(time.time() - $started, 1))")
  kill "$server"; wait "$server" 2>/dev/null || true
  printf '%-18s idle %-30s during reindex %-30s reindex %s s (%s)\n' \
    "$(basename "$bin")" "$idle" "$during" "$took" "$status"
}

echo "new-query search, wrk -t1 -c$connections -d10s; reindex of the whole bundled KB; $(date -u +%FT%TZ)"
echo "columns: req/s p50 p99 non-2xx"
for ((round = 1; round <= rounds; round++)); do
  for bin in "${bins[@]}"; do
    run "$bin"
  done
done
