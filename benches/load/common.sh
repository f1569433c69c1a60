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
