#!/usr/bin/env bash
# Redis + 3 chat workers + HAProxy, for a person to try: open http://127.0.0.1:8080/
# in two browsers; messages cross workers through Redis. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/bootstrap.sh
REDIS_PORT=${REDIS_PORT:-6380}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/tmp/sockjs-cluster-redis.log 2>&1 &
redis_pid=$!
.venv/bin/python -m sockjs_gevent.cluster examples.chat.server:build_app --workers 3 --base-port 9001 \
    --redis "redis://127.0.0.1:$REDIS_PORT/0" &
cluster_pid=$!
haproxy -f examples/haproxy.cfg &
haproxy_pid=$!
trap 'kill $haproxy_pid $cluster_pid $redis_pid 2>/dev/null; wait' INT TERM EXIT
echo "chat on http://127.0.0.1:8080/ (HAProxy -> workers :9001-9003, Redis :$REDIS_PORT)"
wait
