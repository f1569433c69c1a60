#!/usr/bin/env bash
# The first ticket after a cold start: a server started on a generation of the bundled KB
# (its classifier not trained yet, no kept training vectors) gets one ticket as soon as it
# is ready. Timed: the ticket's response, and how long until the ticket is classified.
# Two variants alternated in one run (A B A B): the ticket held until the classifier is
# trained (DEVICEKB_CLASSIFY_WAIT_MS=600000, the behaviour before 2026-12-07) and not held
# (the default, 2 s: answered, then classified in the background). Prints one line a run
# and the medians.
#
#   benches/load/cold_start_ticket.sh            # target/release/devicekb over kb/
#
# ROUNDS (default 2). Needs DATA (default target/eval-data) holding a generation of the
# bundled KB; each run starts from a copy of it without its kept training vectors and with
# an empty store. Loopback only.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
data=${DATA:-target/eval-data}
rounds=${ROUNDS:-2}
bin=${BIN:-target/release/devicekb}

[[ -f $data/CURRENT ]] || { echo "error: no generation in $data (devicekb reindex --data $data)" >&2; exit 1; }

work=$(mktemp -d)
trap '[[ -n ${server:-} ]] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; }; rm -rf "$work"' EXIT

now() { date +%s.%N; }  # the same clock as Python's time.time()

# run VARIANT WAIT_MS: prints "VARIANT response_s classified_s status"
run() {
  local variant=$1 wait_ms=$2 port copy
  port=$(free_port)
  copy="$work/data-$variant"
  rm -rf "$copy"
  mkdir -p "$copy"
  cp "$data/CURRENT" "$copy/"
  cp -r "$data/generations" "$copy/"
  env -u DEVICEKB_ADMIN_KEY -u DATABASE_URL DEVICEKB_ADDR=127.0.0.1:$port \
    DEVICEKB_CLASSIFY_WAIT_MS="$wait_ms" \
    "$bin" serve --kb kb --data "$copy" >"$work/server-$variant.log" 2>&1 &
  server=$!
  wait_ready "$port" "$work/server-$variant.log"
  local base="http://127.0.0.1:$port" customer started created ticket answered classified
  customer=$(curl -fs -X POST "$base/customers" -H 'Content-Type: application/json' \
    -d '{"name": "Cabinet Arnaud"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  started=$(now)
  created=$(curl -s -w '\n%{http_code}' -X POST "$base/tickets" -H 'Content-Type: application/json' \
    -d "{\"customer_id\": $customer, \"subject\": \"C750\", \"description\": \"Bonjour, bourrage papier dans le bac 2 de notre C750, ça bloque tout le service.\", \"channel\": \"email\"}")
  answered=$(now)
  local code=${created##*$'\n'}
  ticket=$(echo "${created%$'\n'*}" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("ticket_id", ""))')
  classified=""
  if [[ -n $ticket ]]; then
    # One process polling (every 0.1 s, 120 s at most): a process started per poll would
    # take CPU from the training it waits for.
    classified=$(python3 - "$base/tickets/$ticket" <<'PY'
import json, sys, time, urllib.request
for _ in range(1200):
    try:
        with urllib.request.urlopen(sys.argv[1]) as r:
            if json.load(r)["ticket"]["category"]:
                print(f"{time.time():.3f}")
                break
    except OSError:
        pass  # a 503 while busy: asked again
    time.sleep(0.1)
PY
) || classified=""
  fi
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
  python3 -c "import sys; s,a,c=map(lambda x: float(x) if x else float('nan'), sys.argv[2:5]); print(f'{sys.argv[1]:10s} response {a-s:6.2f} s  classified after {c-s:6.2f} s  status {sys.argv[5]}')" \
    "$variant" "$started" "$answered" "$classified" "$code"
}

# Not in a pipe: a run failing in a subshell would leave its server behind the trap's back.
for _ in $(seq 1 "$rounds"); do
  run held 600000 >>"$work/runs"
  tail -n 1 "$work/runs"
  run not_held 2000 >>"$work/runs"
  tail -n 1 "$work/runs"
done

python3 - "$work/runs" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    v, r, c = re.match(r"(\S+)\s+response\s+(\S+) s\s+classified after\s+(\S+) s", line).groups()
    rows.setdefault(v, []).append((float(r), float(c)))
for v, xs in rows.items():
    # A run that got no ticket or was never classified shows nan above and counts here.
    ok = [(r, c) for r, c in xs if r == r and c == c]
    if not ok:
        print(f"median {v:10s} no complete run of {len(xs)}")
        continue
    print(f"median {v:10s} response {statistics.median(r for r, _ in ok):6.2f} s  classified after {statistics.median(c for _, c in ok):6.2f} s ({len(xs) - len(ok)} of {len(xs)} runs incomplete)")
PY
