# shellcheck shell=bash
# The frame shared by the cluster suites (tests/e2e/pacemaker.sh, two_node.sh), sourced by
# them and not a suite of its own (not executable): check lines and counters, a bounded
# poll, and the uninstall of what a suite installed.
#
#   pass/fail MESSAGE      one "ok" / "FAIL" line, counted in PASS / FAIL
#   check NAME COMMAND...  one check line from a command's exit status
#   fatal MESSAGE          a precondition failed: counted as a failure, then exit (the suite's
#                          EXIT trap cleans up)
#   note MESSAGE           an indented line that is not a check
#   wait_until S CMD...    polls CMD every 0.1 s for at most S seconds
#   uninstall_recorded     `BINARY uninstall --dir DIR` for each "BINARY DIR" in UNINSTALL
ms() { date +%s%3N; }
PASS=0
FAIL=0
UNINSTALL=()
pass() {
  PASS=$((PASS + 1))
  printf 'ok    %s\n' "$*"
}
fail() {
  FAIL=$((FAIL + 1))
  printf 'FAIL  %s\n' "$*"
}
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
fatal() {
  fail "$*"
  exit 1
}
note() { printf '      %s\n' "$*"; }
wait_until() {
  local limit=$(($1 * 1000)) t
  t=$(ms)
  shift
  until "$@" > /dev/null 2>&1; do
    (($(ms) - t < limit)) || return 1
    sleep 0.1
  done
}
uninstall_recorded() {
  local p out
  for p in "${UNINSTALL[@]}"; do
    # shellcheck disable=SC2086 # "BINARY DIR"
    set -- $p
    out=$("$1" uninstall --dir "$2" 2>&1) || fail "$1 uninstall --dir $2: $out"
  done
}
