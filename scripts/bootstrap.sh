#!/usr/bin/env bash
# Install what the demo and the tests need; safe to run again (skips what is there).
#   apt packages listed in scripts/apt-packages.txt (needs root, as on CI)
#   .venv with requirements-test.txt, requirements-docs.txt (the docs site,
#   built by the tests) and this project in editable mode
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

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.txt requirements-test.txt requirements-docs.txt setup.py pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python packages"
  log=$(mktemp)
  if ! { .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt -r requirements-docs.txt &&
         .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .; } >"$log" 2>&1; then
    cat "$log"; echo "bootstrap: pip install failed" >&2; exit 1
  fi
  rm -f "$log"
  .venv/bin/python -c "import gevent, websockets, werkzeug, pytest, mkdocs, material, mkdocstrings_handlers.python" # fail loudly if an install failed
  touch "$stamp"
fi

if [ ! -f node_modules/sockjs-client/dist/sockjs.min.js ] ||
   [ ! -f node_modules/websocket-multiplex/multiplex_client.js ]; then
  echo "bootstrap: installing npm packages"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
