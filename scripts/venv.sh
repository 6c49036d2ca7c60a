# Sourced by the scripts: ensure_venv DIR PYTHON REQUIREMENTS... makes the
# virtualenv DIR with PYTHON if it is missing, and installs the requirement
# files and this project (editable) unless an identical install is stamped.
ensure_venv() {
  local dir=$1 python=$2; shift 2
  if [ ! -x "$dir/bin/python" ]; then
    echo "bootstrap: creating $dir ($("$python" --version 2>&1))"
    "$python" -m venv "$dir"
  fi
  local stamp
  stamp=$dir/.installed-$(cat requirements.txt "$@" setup.py pyproject.toml | sha1sum | cut -c1-12)
  [ -f "$stamp" ] && return 0
  echo "bootstrap: installing Python packages into $dir"
  local log args=()
  for req in "$@"; do args+=(-r "$req"); done
  log=$(mktemp)
  if ! { "$dir/bin/pip" install -q --disable-pip-version-check "${args[@]}" &&
         "$dir/bin/pip" install -q --disable-pip-version-check --no-deps -e .; } >"$log" 2>&1; then
    cat "$log"; echo "bootstrap: pip install into $dir failed" >&2; return 1
  fi
  rm -f "$log"
  "$dir/bin/python" -c "import gevent, websockets, werkzeug, pytest" # fail loudly if an install failed
  rm -f "$dir"/.installed-*
  touch "$stamp"
}
