# Shared by the load scripts (sourced): a free loopback port, and waiting for a server.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_ready PORT LOG: until /readyz answers (60 s at most); on failure print LOG and exit.
wait_ready() {
  local port=$1 log=$2
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: the server did not get ready; its log:" >&2
  cat "$log" >&2
  exit 1
}

# WRK_THREAD_IDS: Lua for a wrk script, giving each wrk thread its own `thread_id` (1, 2, ...).
# Every thread runs its own copy of the script, so without it two threads count the same
# queries and half of the "new" ones are repeats answered from the query cache.
WRK_THREAD_IDS='
local threads_made = 0
function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_id", threads_made)
end
'

# new_queries_lua FILE: writes a wrk script whose every request is a search no one sent
# before (so each needs a new query embedding). Give each wrk run its own tag after `--`
# (`wrk ... -s FILE URL -- TAG`): wrk's Lua random numbers repeat from run to run, so a tag
# drawn in the script would make a later run send an earlier run's queries, answered from
# the query cache.
new_queries_lua() {
  echo "$WRK_THREAD_IDS" > "$1"
  cat >> "$1" <<'LUA'
local counter = 0
local tag = ""
function init(args)
  tag = args[1] or ""
end
request = function()
  counter = counter + 1
  local body = '{"query": "bourrage papier tiroir ticket ' .. tag .. ' ' .. thread_id .. ' ' .. counter .. '", "limit": 5}'
  return wrk.format("POST", "/knowledge/search", {["Content-Type"] = "application/json"}, body)
end
LUA
}

# wrk_figures: wrk --latency output -> "req/s p50 p99 non-2xx"
wrk_figures() {
  awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$NF}
       END {print r, p50, p99, e+0}'
}

# require_wrk_and_data DATA: exits with a message when wrk or DATA's generation is missing.
require_wrk_and_data() {
  command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
  [[ -f $1/CURRENT ]] || { echo "error: no generation in $1 (devicekb reindex --data $1)" >&2; exit 1; }
}
