#!/usr/bin/env bash
# The unit, HTTP-server and conformance tests on every other supported Python
# (3.12 and 3.13; scripts/test.sh runs the whole suite on .venv's python3).
# Each gets its own virtualenv, .venv-3.X, made by pyenv's interpreter (or
# python3.X on PATH). An interpreter that is missing is skipped with a line,
# unless --require is given (CI gives it). Extra arguments go to pytest.
# The versions run at the same time, each in two processes (pytest-xdist;
# -n 0 among the arguments: in one); their outputs follow in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
require=0
if [ "${1:-}" = "--require" ]; then require=1; shift; fi
bash scripts/bootstrap.sh >/dev/null
. scripts/venv.sh

find_python() {
  local version=$1 candidate
  for candidate in "$(command -v "python$version" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

. scripts/xdist.sh
xdist_processes "$@"

status=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=() versions=()
for version in 3.12 3.13; do
  if ! python=$(find_python "$version"); then
    echo "test-pythons: no Python $version found (install it with pyenv)"
    [ "$require" = 1 ] && status=1
    continue
  fi
  (
    ensure_venv ".venv-$version" "$python" requirements-test.txt
    echo "test-pythons: Python $version"
    exec ".venv-$version/bin/python" -m pytest -p no:cacheprovider "${processes[@]}" tests/unit tests/http tests/conformance "$@"
  ) >"$logs/$version" 2>&1 &
  pids+=($!) versions+=("$version")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  cat "$logs/${versions[$i]}"
done
exit $status
