#!/bin/bash
# The whole test suite of fence-rs, as CI runs it (`bash .ci/run`) and as the README documents it:
#
#   sudo bash tests/run-all.sh
#
# Steps (all of them run, so one report shows every failure):
#   1. tests/scripts/install-deps.sh    Debian packages and the peers' Python venv; installs only
#                                       what is missing (root: apt, useradd, sshd)
#   2. cargo fmt --all -- --check
#   3. cargo clippy --workspace --all-targets --locked -- -D warnings, then
#      RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps (broken doc links fail),
#      then tests/scripts/check-crates.sh: license files, cargo package of every
#      publishable crate, their docs in dependency order and a link check of the HTML
#   4. cargo test --workspace --locked --no-fail-fast  against the third-party peers (tests/scripts/start-peers.sh;
#                                       their settings are exported from $PEERS_DIR/peers.env);
#                                       property tests use a fixed seed (FENCE_PROPTEST_SEED
#                                       unset), so every run draws the same cases
#   5. cargo build --release -p fence-cli -p fence-acme -p fence-sim (exported to the suites as
#      FENCE_AGENT_BIN, FENCE_ACME_BIN, FENCE_ACME_SIM and FENCE_SIM_BIN), then
#      the packages (packaging/build-rpm.sh, build-deb.sh; tests/scripts/package-check.sh):
#      the RPM inspected (rpm -qlp), the .deb installed with dpkg -i and checked (agents, man
#      pages, the alert agent, fence-rs-standard-names), then
#      every executable tests/e2e/*.sh, in name order (run with bash), with the peer settings
#      still exported, against the installed package (FENCE_E2E_INSTALLED=1,
#      FENCE_AGENT_BIN=/usr/sbin/fence-agent); last, dpkg -r must leave the machine as before.
#      Hook for further suites: add an executable script there (a file that a suite sources
#      stays non-executable). A suite must exit non-zero when anything failed,
#      and should end its output with a line "N passed, M failed".
# Prints the test counts and a summary; the exit status is non-zero when any step failed.
# Everything started here is stopped by PID at exit, also after a failure or an interrupt.
#
# Env: FENCE_SKIP_INSTALL=1  do not run install-deps.sh (dependencies are known to be present)
#      FENCE_E2E_PROFILE     release (default) or debug: the build of the CLI the e2e suites install
#      FENCE_PACKAGE=0       no packages: the e2e suites install the build themselves
#      FENCE_PEERS_VENV      the peers' venv (default ${XDG_CACHE_HOME:-$HOME/.cache}/fence-rs-peers-venv)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# CI draws the same property-test cases every run (fence_core::testkit::proptest_support).
unset FENCE_PROPTEST_SEED
LOGS=$(mktemp -d -t fence-rs-run-all.XXXXXX)
now() { date +%s; }
T_START=$(now)
SUMMARY=()
FAILED=0
TESTS_PASSED=0
TESTS_FAILED=0
TESTS_IGNORED=0
PEERS_DIR=

# package_installed: dpkg says the fence-rs package is installed
package_installed() {
  dpkg-query -W -f='${db:Status-Status}' fence-rs 2> /dev/null | grep -qx installed
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  # A run cut short after dpkg -i still removes the package (and what it diverted).
  if [ -n "${FENCE_PACKAGE_STATE:-}" ] && [ -f "$FENCE_PACKAGE_STATE/before" ] && package_installed; then
    echo "removing the fence-rs package installed by this run"
    bash "$ROOT/tests/scripts/package-check.sh" remove > "$LOGS/package-remove-at-exit.log" 2>&1 ||
      { FAILED=1; SUMMARY+=("FAIL  package: dpkg -r at exit (see $LOGS/package-remove-at-exit.log)"); }
  fi
  if [ -n "$PEERS_DIR" ] && [ -d "$PEERS_DIR/pids" ]; then
    PEERS_DIR=$PEERS_DIR bash "$ROOT/tests/scripts/stop-peers.sh" > "$LOGS/stop-peers.log" 2>&1 ||
      { echo "stopping the peers failed:"; cat "$LOGS/stop-peers.log"; }
  fi
  [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ] && FAILED=1
  echo
  echo "==================== summary ($(($(now) - T_START)) s; logs in $LOGS) ===================="
  local line
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  echo "tests: $TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_IGNORED ignored"
  if [ "$FAILED" -ne 0 ]; then
    echo "RESULT: FAILED"
    exit 1
  fi
  echo "RESULT: OK"
  exit 0
}
trap finish EXIT
trap 'echo "interrupted"; FAILED=1; exit 130' INT TERM

# step NAME COMMAND...: runs COMMAND, records PASS/FAIL with its duration; returns its status.
step() {
  local name=$1 t rc
  shift
  echo
  echo "==> $name: $*"
  t=$(now)
  "$@"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    SUMMARY+=("PASS  $name ($(($(now) - t)) s)")
  else
    SUMMARY+=("FAIL  $name (exit $rc, $(($(now) - t)) s)")
    FAILED=1
  fi
  return "$rc"
}

# count_results LOG: adds up libtest's "test result:" lines of a cargo test log. A test
# binary that cargo started ("Running ..."/"Doc-tests ...") but that printed no result line
# (it crashed, was killed, or its harness failed) counts as one failed test, by name.
count_results() {
  local p f i b
  read -r p f i b < <(awk '
      function close_binary() { if (running != "" && !seen) { b++; lost = lost " " running } }
      /^ *(Running|Doc-tests) / { close_binary(); running = $0; sub(/^ +/, "", running); gsub(/ /, "_", running); seen = 0 }
      /^test result:/ {
        seen = 1
        for (n = 1; n <= NF; n++) {
          if ($(n) ~ /^passed;?$/) p += $(n - 1)
          if ($(n) ~ /^failed;?$/) f += $(n - 1)
          if ($(n) ~ /^ignored;?$/) i += $(n - 1)
        } }
      END { close_binary(); print p + 0, f + b, i + 0, b + 0; if (lost != "") print lost > "/dev/stderr" }' "$1")
  TESTS_PASSED=$((TESTS_PASSED + p))
  TESTS_FAILED=$((TESTS_FAILED + f))
  TESTS_IGNORED=$((TESTS_IGNORED + i))
  echo "cargo test: $p passed, $f failed, $i ignored ($b test binaries ended without a result line)"
}

cargo_test() {
  # --no-fail-fast: a failing test binary never hides the ones after it.
  cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$LOGS/cargo-test.log"
  local rc=${PIPESTATUS[0]}
  count_results "$LOGS/cargo-test.log"
  return "$rc"
}

run_suite() { # SCRIPT [ARGS]: a suite; its "N passed, M failed" line is added to the counts
  local log
  log="$LOGS/$(basename "$1" .sh)${2:+-$2}.log"
  bash "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} counts
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$counts" ]; then
    TESTS_PASSED=$((TESTS_PASSED + $(echo "$counts" | awk '{print $1}')))
    TESTS_FAILED=$((TESTS_FAILED + $(echo "$counts" | awk '{print $3}')))
  elif [ "$rc" -ne 0 ]; then
    TESTS_FAILED=$((TESTS_FAILED + 1))
  fi
  return "$rc"
}

# 1. dependencies
if [ "$(id -u)" != 0 ]; then
  echo "tests/run-all.sh needs root (packages, the test user, a private sshd, a Pacemaker cluster)"
  SUMMARY+=("FAIL  not run as root")
  exit 1
fi
if [ "${FENCE_SKIP_INSTALL:-0}" != 1 ]; then
  step install-deps bash tests/scripts/install-deps.sh || exit 1
fi

# 2-3. style and lints
step "cargo fmt" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
step "crates and docs" bash tests/scripts/check-crates.sh

# 4. unit, conformance and interop tests against the peers (compiled first, so the peers do
# not sit idle during the build)
step "cargo test build" cargo test --workspace --locked --no-run
PEERS_DIR=$(mktemp -d -t fence-rs-peers.XXXXXX)
export PEERS_DIR
if step "start peers" bash tests/scripts/start-peers.sh; then
  # shellcheck disable=SC1091
  . "$PEERS_DIR/peers.env"
  step "cargo test" cargo_test
else
  SUMMARY+=("FAIL  cargo test (not run: the peers did not start)")
fi

# 5. end-to-end suites; they use the release CLI (built here once, timed on its own)
# (FENCE_E2E_PROFILE=debug reuses the debug binary of step 4 instead: ~5 min less on 2 cores)
# The vendor example (examples/fence-acme: its agent and its board simulator) is built with
# it: pacemaker.sh fences a node through it.
if [ "${FENCE_E2E_PROFILE:-release}" = debug ]; then
  step "cargo build -p fence-cli -p fence-acme -p fence-sim" cargo build --locked -p fence-cli -p fence-acme -p fence-sim &&
    E2E_BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug
elif step "cargo build --release -p fence-cli -p fence-acme -p fence-sim" cargo build --release --locked -p fence-cli -p fence-acme -p fence-sim; then
  E2E_BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
if [ -n "${E2E_BIN_DIR:-}" ]; then
  export FENCE_AGENT_BIN=$E2E_BIN_DIR/fence-agent
  export FENCE_ACME_BIN=$E2E_BIN_DIR/fence-acme-agent FENCE_ACME_SIM=$E2E_BIN_DIR/fence-acme-sim
  export FENCE_SIM_BIN=$E2E_BIN_DIR/fence-sim # the BMCs of tests/e2e/two_node.sh
fi
# 6. the packages: the .deb and the .rpm are built (from the release build above) and
# inspected; the .deb is installed with dpkg, the end-to-end suites run against the
# installed agents (FENCE_E2E_INSTALLED=1), and dpkg -r must leave the machine as it was
# (tests/scripts/package-check.sh). FENCE_PACKAGE=0 skips this and the suites use the build.
export FENCE_PACKAGES_DIR=$LOGS/packages
build_package() { # KIND: packaging/build-KIND.sh, its last line (the package) to $LOGS/KIND.path
  bash "packaging/build-$1.sh" > "$LOGS/build-$1.log" 2>&1
  local rc=$?
  tail -n 20 "$LOGS/build-$1.log"
  tail -n 1 "$LOGS/build-$1.log" > "$LOGS/$1.path"
  return "$rc"
}
if [ -n "${E2E_BIN_DIR:-}" ] && [ "${FENCE_PACKAGE:-1}" != 0 ]; then
  export FENCE_PACKAGE_STATE=$LOGS/package-state
  # The binary the tests above ran is the one packaged (the packagers' own compiler flags
  # would rebuild it twice more, ~4 min each on 2 cores).
  export FENCE_PREBUILT_BIN=$E2E_BIN_DIR/fence-agent FENCE_BUILD_BIN=$E2E_BIN_DIR/fence-agent
  if step "package: build the .rpm" build_package rpm; then
    step "package: rpm -qlp and the RPM's contents" run_suite tests/scripts/package-check.sh rpm "$(cat "$LOGS/rpm.path")"
  fi
  if step "package: build the .deb" build_package deb; then
    step "package: dpkg -i and the installed agents" run_suite tests/scripts/package-check.sh install "$(cat "$LOGS/deb.path")"
  fi
  # Installed (even when a check above failed): the suites run against it, never against a
  # build installed over it.
  if package_installed; then
    export FENCE_E2E_INSTALLED=1 FENCE_AGENT_BIN=/usr/sbin/fence-agent
  fi
fi
for suite in tests/e2e/*.sh; do
  [ -f "$suite" ] || continue
  if [ ! -x "$suite" ]; then # a part that a suite sources, not a suite of its own
    echo "note: $suite is not executable: not run as a suite (sourced by another one)"
    continue
  fi
  step "$suite" run_suite "$suite"
done
if [ -n "${FENCE_PACKAGE_STATE:-}" ] && [ -f "$FENCE_PACKAGE_STATE/before" ] && package_installed; then
  step "package: dpkg -r leaves the machine as it was" run_suite tests/scripts/package-check.sh remove
fi
