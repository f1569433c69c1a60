#!/usr/bin/env bash
# How fast the staff workspace's pages are served, each beside the bare `GET /health`
# (JSON, no template, no store read) measured in the same run.
#
#   benches/load/ui_pages.sh [BIN]      (ROUNDS=40 WORK=target/ui-bench)
#
# A server on the repository's KB (the index under WORK is built once), open on loopback
# (no key), with a few tickets sent through the pipeline first. Each page is fetched ROUNDS
# times, one request at a time, by curl; the figures are the time to the last byte:
# p50 and p95 in milliseconds. Searches are new queries each time (a ticket reference
# makes each one unique, so every one needs a query embedding; none is served from the
# cache). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/load/common.sh

BIN=${1:-target/release/devicekb}
ROUNDS=${ROUNDS:-40}
WORK=${WORK:-target/ui-bench}
[[ -x $BIN ]] || { echo "error: $BIN is missing (cargo build --release)" >&2; exit 1; }
mkdir -p "$WORK"
rm -f "$WORK"/devicekb.db*

"$BIN" reindex --data "$WORK" >"$WORK/reindex.log" 2>&1
PORT=$(free_port)
LOG=$WORK/serve.log
DEVICEKB_DATA_DIR=$WORK DEVICEKB_ADDR=127.0.0.1:$PORT "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
wait_ready "$PORT" "$LOG"
BASE=http://127.0.0.1:$PORT

CUSTOMER=$(curl -fs -X POST "$BASE/customers" -H 'content-type: application/json' \
  -d '{"name": "Banc d essai"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for text in "Bonjour, la C750 affiche 88 Toner cyan bas." \
            "Bourrage papier dans le bac 2 de la HP M404dn, code 13.A2.D2" \
            "Depuis hier l'imprimante fait un bruit bizarre, que faire ?"; do
  curl -fs -X POST "$BASE/tickets" -H 'content-type: application/json' \
    -d "{\"customer_id\": $CUSTOMER, \"subject\": \"Imprimante\", \"description\": \"$text\"}" >/dev/null
done
TICKET=$(curl -fs "$BASE/tickets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tickets"][0]["id"])')

# times NAME URL...: fetch each URL in turn; print p50 and p95 of the total times.
times() {
  local name=$1; shift
  local samples=()
  for url in "$@"; do
    samples+=("$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$url")")
  done
  printf '%s\n' "${samples[@]}" | python3 -c '
import sys
name = sys.argv[1]
rows = [l.split() for l in sys.stdin if l.strip()]
bad = [c for c, _ in rows if c != "200"]
ms = sorted(float(t) * 1000 for _, t in rows)
pick = lambda p: ms[min(len(ms) - 1, int(round(p / 100 * len(ms) + 0.5)) - 1)]
print(f"{name:<28} {pick(50):8.1f} {pick(95):8.1f} {len(ms):6d} {len(bad):5d}")
' "$name"
}

repeat() { for _ in $(seq 1 "$ROUNDS"); do echo "$1"; done; }
printf '%-28s %8s %8s %6s %5s\n' page p50_ms p95_ms n non200
times "GET /health (reference)" $(repeat "$BASE/health")
times "/ui/queue" $(repeat "$BASE/ui/queue")
times "/ui/tickets/$TICKET" $(repeat "$BASE/ui/tickets/$TICKET")
times "/ui/kpis" $(repeat "$BASE/ui/kpis")
times "/ui/kb" $(repeat "$BASE/ui/kb")
times "/ui/search (same query)" $(repeat "$BASE/ui/search?q=bourrage+papier+bac+2")
times "/ui/search (new queries)" $(for i in $(seq 1 "$ROUNDS"); do echo "$BASE/ui/search?q=bourrage+papier+bac+2+ref+$RANDOM$i"; done)
