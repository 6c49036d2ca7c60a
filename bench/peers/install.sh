#!/usr/bin/env bash
# Install the peer SockJS servers that bench/bench.py compares against, into a
# scratch folder (default bench/.peers/, gitignored):
#
#   <dir>/node/node_modules/sockjs   npm sockjs@0.3.24 (sockjs-node)
#   <dir>/venv-tornado               PyPI sockjs-tornado 1.0.7 + tornado
#   <dir>/venv-aiohttp               PyPI sockjs 0.13.0 (aiohttp-sockjs) + aiohttp
#
# and what drives them: the load generator's npm packages (bench/node/package.json:
# ws, into bench/node/node_modules) and wrk (Debian package, apt-get as root).
#
#   bench/peers/install.sh [DIR]     (or PEERS_DIR=DIR; PYTHON=python3.x to pick the interpreter)
#
# The two Python peers get a venv each: both packages install into
# site-packages/sockjs/. Idempotent: a second run only checks. Needs node/npm
# and python3 (3.10+, for aiohttp-sockjs) with the venv module; reaches the npm
# registry, PyPI and (when wrk is missing) Debian's archive. bench/bench.py finds the peers in the same folder
# (its --peers-dir, default bench/.peers).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
DIR="${1:-${PEERS_DIR:-$BENCH/.peers}}"
PYTHON="${PYTHON:-python3}"

mkdir -p "$DIR/node"
DIR="$(cd "$DIR" && pwd)"

echo "== sockjs-node (npm sockjs@0.3.24) into $DIR/node"
if ! grep -qs '"version": "0.3.24"' "$DIR/node/node_modules/sockjs/package.json"; then
    [ -f "$DIR/node/package.json" ] || echo '{"name": "sockjs-bench-peers", "private": true}' > "$DIR/node/package.json"
    npm install --prefix "$DIR/node" --no-audit --no-fund --save-exact sockjs@0.3.24
fi

echo "== load generator (bench/node: npm ws) into $BENCH/node/node_modules"
WS_PINNED="$(node -p "require('$BENCH/node/package.json').dependencies.ws")"
if ! grep -qs "\"version\": \"$WS_PINNED\"" "$BENCH/node/node_modules/ws/package.json"; then
    npm ci --prefix "$BENCH/node" --no-audit --no-fund
fi

echo "== wrk (the plain-HTTP row)"
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "wrk is missing and installing it needs root: apt-get install wrk" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

for peer in tornado aiohttp; do
    echo "== $peer peer into $DIR/venv-$peer"
    [ -x "$DIR/venv-$peer/bin/python" ] || "$PYTHON" -m venv "$DIR/venv-$peer"
    "$DIR/venv-$peer/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements-$peer.txt"
done

echo "== installed"
node -e "console.log('sockjs-node', require(process.argv[1]).version)" "$DIR/node/node_modules/sockjs/package.json"
for peer in tornado aiohttp; do
    "$DIR/venv-$peer/bin/python" -c "
import sys
from importlib.metadata import version
print(*(f'{n} {version(n)}' for n in sys.argv[1:]), sep='; ')" \
        $( [ $peer = tornado ] && echo sockjs-tornado tornado || echo sockjs aiohttp )
done
node -e "console.log('load generator: ws', require(process.argv[1]).version)" "$BENCH/node/node_modules/ws/package.json"
wrk --version 2>&1 | head -1 || true
echo "peers installed in $DIR"
