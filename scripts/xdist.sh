# Sourced by the test scripts: xdist_processes ARGS... sets the array
# `processes` to pytest-xdist's "-n 2" (two processes), or to nothing when
# the arguments already say how to run (-n N, --numprocesses, -p no:xdist,
# --pdb, --trace).
xdist_processes() {
  processes=(-n 2)
  local arg
  for arg in "$@"; do
    case $arg in
      -n* | --numprocesses* | *no:xdist | --pdb | --trace) processes=() ;;
    esac
  done
}
