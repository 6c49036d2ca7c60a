#!/usr/bin/env bash
# Install what the demo and the tests need; safe to run again (skips what is there).
#   apt packages listed in scripts/apt-packages.txt (needs root, as on CI)
#   .venv with requirements-test.txt, requirements-docs.txt (the docs site,
#   built by the tests), requirements-check.txt (scripts/check's ruff and
#   mypy) and this project in editable mode
#   npm packages from package.json (sockjs-client and websocket-multiplex's
#   browser client for the pages)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

. scripts/venv.sh
ensure_venv .venv python3 requirements-test.txt requirements-docs.txt requirements-check.txt
.venv/bin/python -c "import mkdocs, material, mkdocstrings_handlers.python, ruff, mypy" # the docs and the gates

if [ ! -f node_modules/sockjs-client/dist/sockjs.min.js ] ||
   [ ! -f node_modules/websocket-multiplex/multiplex_client.js ]; then
  echo "bootstrap: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
