#!/usr/bin/env bash
# What skipping the query embedding saves when BM25 alone is decisive, in one run: new
# searches (no one sent them before, so none is answered from the query cache) that name a
# model and an error code only one entry carries for it (decisive: no embedding), beside
# searches of the same shape naming the same model and no code (embedded). One connection
# each, then 16 for the decisive ones. Prints req/s, p50, p99 and the ratios.
#
#   benches/load/decisive_queries.sh            # target/release/devicekb over kb/
#
# SECONDS_PER_RUN (default 10). Needs wrk and DATA (default target/eval-data) holding a
# generation of the bundled KB. Loopback only; the load generator shares the cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
data=${DATA:-target/eval-data}
seconds=${SECONDS_PER_RUN:-10}
bin=${BIN:-target/release/devicekb}

require_wrk_and_data "$data"

work=$(mktemp -d)
trap '[[ -n ${server:-} ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

# Entries with one model and a numeric code no other entry carries: "model;code" per line.
python3 - >"$work/pairs" <<'PY'
import collections, pathlib, tomllib
entries = [tomllib.loads(p.read_text()) for p in sorted(pathlib.Path("kb/entries").rglob("*.toml"))]
count = collections.Counter(c for e in entries for c in e.get("error_codes", []))
for e in entries:
    codes, models = e.get("error_codes", []), e.get("models", [])
    if models and len(codes) == 1 and codes[0].isdigit() and count[codes[0]] == 1:
        print(f"{models[0]};{codes[0]}")
PY
[[ -s $work/pairs ]] || { echo "error: no entry with a code of its own in kb/entries" >&2; exit 1; }

# Every request: one of the pairs, a text, and a word made of letters only from the run's
# tag and a counter (digits would be read as codes). WITH_CODE=0 leaves the code out.
echo "$WRK_THREAD_IDS" >"$work/queries.lua"
cat >>"$work/queries.lua" <<LUA
local pairs_ = {}
for line in io.lines("$work/pairs") do
  local model, code = line:match("^(.-);(.*)$")
  pairs_[#pairs_ + 1] = {model, code}
end
local counter, tag, with_code = 0, "", true
local function letters(n)
  local s = ""
  repeat
    s = string.char(97 + n % 26) .. s
    n = math.floor(n / 26)
  until n == 0
  return s
end
function init(args)
  tag = args[1] or ""
  with_code = args[2] ~= "nocode"
end
request = function()
  counter = counter + 1
  local p = pairs_[counter % #pairs_ + 1]
  local code = with_code and (" affiche le code " .. p[2]) or " ne marche plus"
  local body = '{"query": "notre ' .. p[1] .. code .. ' dossier ' .. tag .. letters(thread_id) .. 'x' .. letters(counter) .. '", "limit": 5}'
  return wrk.format("POST", "/knowledge/search", {["Content-Type"] = "application/json"}, body)
end
LUA

port=$(free_port)
env -u DEVICEKB_ADMIN_KEY -u DATABASE_URL DEVICEKB_ADDR=127.0.0.1:$port \
  "$bin" serve --kb kb --data "$data" >"$work/server.log" 2>&1 &
server=$!
wait_ready "$port" "$work/server.log"
base="http://127.0.0.1:$port"
tag=$(python3 -c 'import random, string; print("".join(random.choices(string.ascii_lowercase, k=6)))')
skipped() {
  curl -fs "$base/knowledge/search" -H 'Content-Type: application/json' \
    -d "{\"query\": \"notre $1 dossier test\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["vector_skipped"])'
}
# Only the pairs the server finds decisive (a code shared in practice, or not read as a code,
# would be embedded); the same model without its code must not be.
total=$(wc -l <"$work/pairs")
while IFS=';' read -r model code; do
  [[ $(skipped "$model affiche le code $code") == True && $(skipped "$model ne marche plus") == False ]] &&
    echo "$model;$code"
done <"$work/pairs" >"$work/decisive"
mv "$work/decisive" "$work/pairs"
[[ -s $work/pairs ]] || { echo "error: no search was decisive" >&2; exit 1; }
echo "$(wc -l <"$work/pairs") of $total model/code pairs decisive (their searches skip the query vector)"
wrk -t1 -c2 -d2s -s "$work/queries.lua" "$base" -- "warm$tag" >/dev/null
echo "new searches naming a model, ${seconds} s each; $(date -u +%FT%TZ)"
declare -A figures
for kind in code nocode codemany nocodemany; do
  conns=1 threads=1 arg=${kind%many}
  [[ $kind == *many ]] && conns=16 threads=2
  figures[$kind]=$(wrk -t$threads -c$conns "-d${seconds}s" --latency -s "$work/queries.lua" "$base" -- "$kind$tag" "$arg" | wrk_figures)
done
kill "$server"; wait "$server" 2>/dev/null || true
server=
python3 - "${figures[code]}" "${figures[nocode]}" "${figures[codemany]}" "${figures[nocodemany]}" <<'PY'
import sys
def ms(v):
    return float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-2]) if v.endswith("ms") else float(v[:-1]) * 1000
rows = [s.split() for s in sys.argv[1:]]
names = ["model + own code (decisive, 1 conn)", "model, no code (embedded, 1 conn)",
         "model + own code (decisive, 16 conn)", "model, no code (embedded, 16 conn)"]
for name, (r, p50, p99, bad) in zip(names, rows):
    print(f"{name:<38} {float(r):8.1f} req/s  p50 {ms(p50):7.2f} ms  p99 {ms(p99):7.2f} ms  non-2xx {bad}")
for conns, (a, b) in [(1, (rows[0], rows[1])), (16, (rows[2], rows[3]))]:
    print(f"{conns:>2} conn: decisive/embedded throughput {float(a[0]) / float(b[0]):.1f}x, p50 {ms(b[1]) / ms(a[1]):.1f}x lower")
PY
