#!/usr/bin/env bash
# The optional compiled build's tests: the unit, HTTP-server, conformance and
# hostile-input tests with the modules of sockjs_gevent/buildinfo.py compiled
# by mypyc (what SOCKJS_GEVENT_COMPILE=1 pip install builds), on .venv's Python.
#
# They run in a copy of this working tree (.build/compiled/tree), compiled in
# place, so that this tree stays interpreted for every other run. The compiled
# modules are kept (.build/compiled/cache) and reused while their sources, the
# compiler and the Python are the same. Extra arguments go to pytest; the tests
# run in two processes (pytest-xdist) unless they say otherwise.
#
#   scripts/test-compiled.sh --build-only   # make the compiled copy, run nothing
#                                           # (then, for instance: cd .build/compiled/tree &&
#                                           #  ../../../.venv/bin/python bench/inprocess.py)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
root=$(pwd)
bash scripts/bootstrap.sh >/dev/null
py=$root/.venv/bin/python
work=$root/.build/compiled
tree=$work/tree

rm -rf "$tree"
mkdir -p "$tree" "$work/cache"
# The working tree as it is (edits included), less what is installed, built or cached in it.
tar -cf - --exclude=./.git --exclude=./.venv --exclude='./.venv-*' --exclude=./node_modules --exclude=./.build \
  --exclude=./bench/.peers --exclude=./bench/node/node_modules --exclude=./build --exclude=./dist --exclude=./site \
  --exclude='*.egg-info' --exclude='__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache \
  --exclude=./.pytest_cache --exclude=./.hypothesis --exclude=./bench-results --exclude=./loadtests/results . |
  tar -xf - -C "$tree"
ln -s "$root/node_modules" "$tree/node_modules"
for installed in bench/node/node_modules bench/.peers; do  # (the bench's peers, when installed here)
  if [ -e "$installed" ]; then ln -s "$root/$installed" "$tree/$installed"; fi
done

mapfile -t sources < <(cd "$tree" && "$py" -c '
from sockjs_gevent.buildinfo import COMPILED_MODULES, source_path
for name in COMPILED_MODULES:
    print(source_path(".", name))')
key=$( (cd "$tree" && cat setup.py sockjs_gevent/buildinfo.py "${sources[@]}" && "$py" -m mypy --version && "$py" -VV) |
  sha1sum | cut -c1-16)
cache=$work/cache/$key
if [ ! -d "$cache" ]; then
  # As a user's `SOCKJS_GEVENT_COMPILE=1 pip install .` builds it (the build backend, setup.py,
  # mypyc), offline: .venv has mypy and the dependencies that pip's isolated build would fetch.
  echo "test-compiled: compiling ${#sources[@]} modules with mypyc"
  log=$(mktemp)
  rm -rf "$work"/cache/*
  if ! (cd "$tree" && SOCKJS_GEVENT_COMPILE=1 "$py" -m pip wheel --no-build-isolation --no-deps --no-index \
          --disable-pip-version-check -w "$cache.new" .) >"$log" 2>&1; then
    cat "$log"; echo "test-compiled: the compiled build failed" >&2; exit 1
  fi
  rm -f "$log"
  mv "$cache.new" "$cache"
fi
# The wheel's compiled modules (and mypyc's runtime beside them), put in place in the copy.
"$py" - "$cache"/sockjs_gevent-*.whl "$tree" <<'PY'
import sys, zipfile
wheel, tree = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    compiled = [name for name in archive.namelist() if name.endswith(".so")]
    archive.extractall(tree, compiled)
print(f"test-compiled: {len(compiled)} compiled files from {wheel.rsplit('/', 1)[-1]}")
PY

if [ "$build_only" = 1 ]; then
  echo "test-compiled: the compiled copy is in $tree"
  exit 0
fi
. scripts/xdist.sh
xdist_processes "$@"
cd "$tree"
SOCKJS_GEVENT_EXPECT_COMPILED=1 exec "$py" -m pytest -p no:cacheprovider "${processes[@]}" \
  tests/unit tests/http tests/conformance tests/hostile "$@"
