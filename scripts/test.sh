#!/usr/bin/env bash
# Run the whole test suite (installs what it needs first). Extra args go to pytest.
# The tests run in two processes (pytest-xdist), unless the arguments say how
# many: -n 0 runs them in this one (as --pdb needs), -n 4 in four.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. scripts/xdist.sh
xdist_processes "$@"
exec .venv/bin/python -m pytest "${processes[@]}" "$@"
