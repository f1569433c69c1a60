#!/usr/bin/env bash
# One entry edited on a large KB: how long until a running server serves the edit.
#
#   benches/load/edit_one_entry.sh [BIN]      (ENTRIES=10000 ROUNDS=3 WORK=target/edit-bench)
#
# Builds (once, kept in WORK) a KB of ENTRIES entries: the Service-Public FAQ of the
# transfer sets, each entry repeated with its own id and a numbered sentence so that no
# two texts are the same (the texts are cut to about 300 characters, so the first build
# embeds ENTRIES passages in minutes, not an hour). Then a server is started on it and,
# ROUNDS times, one entry's file is changed, `POST /admin/reindex?wait=true` is sent, and
# the time from the request to a search that finds the new text is printed, with the
# reindex report's own split (embedding, calibration). Loopback only, no key.
set -euo pipefail
cd "$(dirname "$0")/../.."
source benches/load/common.sh

BIN=${1:-target/release/devicekb}
ENTRIES=${ENTRIES:-10000}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-target/edit-bench}
SOURCE=tests/data/transfer/service-public/kb.jsonl
KB=$WORK/kb-$ENTRIES
DATA=$WORK/data-$ENTRIES

[[ -x $BIN ]] || { echo "error: $BIN is missing (cargo build --release)" >&2; exit 1; }
mkdir -p "$WORK"

if [[ ! -f $DATA/CURRENT ]]; then
  python3 - "$SOURCE" "$ENTRIES" "$WORK/kb-$ENTRIES.jsonl" <<'PY'
import json, sys
source, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = [json.loads(l) for l in open(source, encoding="utf-8") if l.strip()]
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        e = dict(base[i % len(base)])
        copy = i // len(base)
        e["id"] = f"{e['id'][:60]}-{copy}"
        text = e["text"][:300].rsplit(" ", 1)[0]
        e["text"] = f"{text} (fiche {i}, révision {copy})"
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
PY
  rm -rf "$KB"
  "$BIN" import jsonl "$WORK/kb-$ENTRIES.jsonl" --out "$KB" >/dev/null
  echo "first build of $ENTRIES entries (once; kept in $DATA)..."
  /usr/bin/time -f "first build: %e s, peak RSS %M KB" "$BIN" reindex --kb "$KB" --data "$DATA" >/dev/null
fi

PORT=$(free_port)
LOG=$WORK/serve.log
DEVICEKB_KB_DIR=$KB DEVICEKB_DATA_DIR=$DATA DEVICEKB_ADDR=127.0.0.1:$PORT \
  "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
wait_ready "$PORT" "$LOG"

FILE=$(find "$KB/entries" -name '*.toml' | sort | sed -n 1p)
printf '%-6s %-10s %-10s %-12s %-12s\n' round live_s reindex_s embedded calibration
for round in $(seq 1 "$ROUNDS"); do
  WORD="quetzal$round$RANDOM"
  python3 - "$FILE" "$WORD" <<'PY'
import re, sys
path, word = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
text = re.sub(r'^title = "(.*?)( quetzal\d+)?"$', lambda m: f'title = "{m.group(1)} {word}"', text, count=1, flags=re.M)
open(path, "w", encoding="utf-8").write(text)
PY
  START=$(date +%s.%N)
  REPORT=$(curl -fsS -X POST "http://127.0.0.1:$PORT/admin/reindex?wait=true")
  until curl -fsS -X POST "http://127.0.0.1:$PORT/knowledge/search" \
      -H 'Content-Type: application/json' \
      -d "{\"query\": \"$WORD\", \"mode\": \"bm25\", \"limit\": 1}" | grep -q "$WORD"; do
    sleep 0.02
  done
  END=$(date +%s.%N)
  python3 - "$START" "$END" "$round" <<PY
import json, sys
start, end, rnd = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
r = json.loads('''$REPORT''')
r = r.get("report", r)
cal = r.get("calibration", {})
print(f"{rnd:<6} {end - start:<10.2f} {r.get('seconds', 0):<10.2f} {r.get('embedded_chunks', '?'):<12} {cal.get('source', '?')} {cal.get('seconds', 0):.2f} s")
PY
done
echo "server RSS after the rounds: $(( $(ps -o rss= -p "$SERVER") / 1024 )) MiB"
