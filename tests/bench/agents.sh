#!/bin/bash
# Side-by-side benchmark of fence-rs against Debian's Python fence agents on loopback peers
# (docs/benchmarks.md explains the method and the numbers):
#
#   sudo bash tests/bench/agents.sh [bench_agents options]
#   e.g. sudo bash tests/bench/agents.sh --runs 30 --targets redfish,vbox --ops status,off
#
# Steps:
#   1. tests/scripts/install-deps.sh           (skipped with FENCE_SKIP_INSTALL=1)
#   2. cargo build --release -p fence-cli      -> target/release/fence-agent (ours; a build
#                                                 failure is reported and ours is then
#                                                 "not available" in the table)
#      cargo build --release -p fence-sim      -> target/release/fence-sim (the keep-alive
#                                                 Redfish peer of target "fencesim"; skipped
#                                                 if it does not build)
#      cargo build --release -p fence-tests --bin bench_agents
#   3. tests/scripts/start-peers.sh            in a fresh PEERS_DIR; stopped at exit
#   4. target/release/bench_agents --ours target/release/fence-agent ...
#      fence_redfish (sushy-emulator; and fence-sim, which keeps connections alive), fence_ipmilan
#      lanplus cipher 3 (ipmi_sim and pyghmi's fakebmc), fence_vbox (sshd + fake VBoxManage):
#      metadata, status, off, on, reboot.
#
# Output: the markdown table on stdout; also $BENCH_DIR/agents.md (with a header saying what
# ran where) and every single run in $BENCH_DIR/agents.csv (default BENCH_DIR=target/bench).
# Exit status: 0 when every Python run gave the expected answer (ours may be unavailable or
# failing: the table says so), 1 otherwise, 2 when the set-up failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
die() { echo "bench: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (install-deps.sh and start-peers.sh need it)"

if [ "${FENCE_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/scripts/install-deps.sh || die "install-deps.sh failed"
fi

echo "bench: building (release)" >&2
OURS=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-agent
if ! cargo build --release -p fence-cli >&2; then
  echo "bench: WARNING: fence-cli does not build; ours will be reported as not available" >&2
  OURS=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-agent.unbuilt
fi
SIM=(--fence-sim "${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-sim")
if ! cargo build --release -p fence-sim >&2; then
  echo "bench: WARNING: fence-sim does not build; the fencesim target is left out" >&2
  SIM=()
fi
cargo build --release -p fence-tests --bin bench_agents >&2 || die "the bench binary does not build"

BENCH_DIR=${BENCH_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/bench}
mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
PEERS_DIR=$(mktemp -d -t fence-rs-bench-peers.XXXXXX) || die "mktemp failed"
export PEERS_DIR
stop() {
  PEERS_DIR=$PEERS_DIR bash "$ROOT/tests/scripts/stop-peers.sh" > "$PEERS_DIR/stop-peers.log" 2>&1 ||
    { echo "bench: stopping the peers failed:" >&2; cat "$PEERS_DIR/stop-peers.log" >&2; }
}
trap stop EXIT
trap 'exit 130' INT TERM
bash tests/scripts/start-peers.sh >&2 || die "the peers did not start"
# shellcheck disable=SC1091
. "$PEERS_DIR/peers.env"

echo "bench: running (the peers' logs are in $PEERS_DIR/logs)" >&2
"${CARGO_TARGET_DIR:-$ROOT/target}"/release/bench_agents --ours "$OURS" "${SIM[@]}" --out "$BENCH_DIR/agents.md" \
  --csv "$BENCH_DIR/agents.csv" "$@"
