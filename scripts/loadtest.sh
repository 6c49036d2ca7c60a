#!/usr/bin/env bash
# Headless locust capacity test of this server (installs what it needs first).
#
#   scripts/loadtest.sh [USERS [DURATION [SPAWN_RATE]]] [-- extra locust arguments]
#   scripts/loadtest.sh 200 60s 50 -- WebSocketUser --broadcast-interval 0
#
# USERS (default 100) simulated clients split evenly over websocket,
# xhr-streaming, eventsource and xhr-polling (name User classes after -- to
# choose), each echoing one message a second on /echo and broadcasting one
# every 5 s on /broadcast (see loadtests/sockjs_users.py for the options).
# Starts `python -m sockjs_gevent.testserver` on a free loopback port, runs
# locust for DURATION (default 30s), stops the server, and writes
#   loadtests/results/<stamp>_stats.csv, _failures.csv, _stats_history.csv,
#   loadtests/results/<stamp>.html and <stamp>_server.log
# With 2+ cores and `taskset` available, the server is pinned to CPU 0 and
# locust to CPU 1 so they do not fight over a core (PIN=0 turns that off).
# TARGET=http://host:port points it at a server already running instead
# (any SockJS server with /echo and /broadcast services, or set
# LOCUST_ECHO_PATH / LOCUST_BROADCAST_PATH).
# Exit status: locust's (1 when any request failed).
set -euo pipefail
cd "$(dirname "$0")/.."

users=100 duration=30s rate=""
[ $# -gt 0 ] && [ "$1" != "--" ] && { users=$1; shift; }
[ $# -gt 0 ] && [ "$1" != "--" ] && { duration=$1; shift; }
[ $# -gt 0 ] && [ "$1" != "--" ] && { rate=$1; shift; }
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
rate=${rate:-$(( users < 50 ? users : 50 ))}

bash scripts/bootstrap.sh

server_pin=() locust_pin=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c 0) locust_pin=(taskset -c 1)
fi

results=loadtests/results
mkdir -p "$results"
stamp=$results/$(date +%Y%m%d-%H%M%S)
server_log=${stamp}_server.log

url=${TARGET:-}
if [ -z "$url" ]; then
  PYTHONUNBUFFERED=1 "${server_pin[@]}" .venv/bin/python -m sockjs_gevent.testserver \
    --host 127.0.0.1 --port 0 >"$server_log" 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT

  # Wait for the server's ready line ("... listening on http://HOST:PORT").
  for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$server_log" | head -1 | cut -d' ' -f3) || true
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$server_log"; echo "loadtest: the server did not start" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$server_log"; echo "loadtest: no ready line from the server" >&2; exit 1; }
fi

echo "loadtest: $users users (spawn $rate/s) for $duration against $url; results in $stamp*"
status=0
"${locust_pin[@]}" .venv/bin/locust -f loadtests/locustfile.py --host "$url" \
  --headless -u "$users" -r "$rate" -t "$duration" --stop-timeout 5 \
  --csv "$stamp" --csv-full-history --html "$stamp.html" --only-summary "$@" || status=$?
echo "loadtest: report $stamp.html, statistics ${stamp}_stats.csv (exit $status)"
exit $status
