#!/usr/bin/env bash
# Run the chat demo on http://127.0.0.1:${PORT:-8080}/ (installs what it needs first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python examples/chat/server.py --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}"
