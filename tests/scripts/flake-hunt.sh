#!/bin/bash
# A flake hunt: runs the whole cargo test suite N times in a row against the third-party
# peers (started once, as tests/run-all.sh starts them) and reports every test that failed
# at least once, with how often.
#
#   sudo bash tests/scripts/flake-hunt.sh [N]          # default N=10
#
# Each run is `cargo test --workspace --locked --no-fail-fast` (property tests with the fixed
# seed, as in CI). The test binaries are built once, before the first run. A test binary that
# ends without a result line (a crash, a hang killed by its own bounds) counts as a failure of
# that binary. Logs of every run are kept in $FLAKE_LOGS (default: a fresh temporary
# directory). Exit status 0 when every run passed, 1 otherwise.
# Env: FENCE_SKIP_INSTALL=1 (dependencies known to be present), FLAKE_LOGS.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
N=${1:-10}
case $N in '' | *[!0-9]*) echo "flake-hunt: N must be a number, got '$N'" >&2; exit 2 ;; esac
export CARGO_TERM_COLOR=never
unset FENCE_PROPTEST_SEED
LOGS=${FLAKE_LOGS:-$(mktemp -d -t fence-rs-flake-hunt.XXXXXX)}
mkdir -p "$LOGS"
if [ "${FENCE_SKIP_INSTALL:-0}" != 1 ]; then
  bash tests/scripts/install-deps.sh > "$LOGS/install-deps.log" 2>&1 ||
    { echo "flake-hunt: install-deps.sh failed, see $LOGS/install-deps.log"; exit 1; }
fi
export PEERS_DIR="$LOGS/peers"
mkdir -p "$PEERS_DIR"
stop() { PEERS_DIR=$PEERS_DIR bash "$ROOT/tests/scripts/stop-peers.sh" > "$LOGS/stop-peers.log" 2>&1; }
trap stop EXIT
trap 'echo "interrupted"; exit 130' INT TERM
bash tests/scripts/start-peers.sh > "$LOGS/start-peers.log" 2>&1 ||
  { echo "flake-hunt: the peers did not start, see $LOGS/start-peers.log"; exit 1; }
# shellcheck disable=SC1091
. "$PEERS_DIR/peers.env"
echo "flake-hunt: building the test binaries"
cargo build --locked -p fence-cli > "$LOGS/build.log" 2>&1 &&
  cargo test --workspace --locked --no-run >> "$LOGS/build.log" 2>&1 ||
  { echo "flake-hunt: the build failed, see $LOGS/build.log"; exit 1; }

: > "$LOGS/failures.txt"
bad_runs=0
for i in $(seq 1 "$N"); do
  t=$(date +%s)
  cargo test --workspace --locked --no-fail-fast > "$LOGS/run-$i.log" 2>&1
  rc=$?
  # Failed tests ("test NAME ... FAILED") and binaries that printed no result line.
  awk -v run="$i" '
    function close_binary() { if (running != "" && !seen) print "binary-without-result " running }
    /^ *(Running|Doc-tests) / { close_binary(); running = $2; seen = 0 }
    /^test result:/ { seen = 1 }
    /^test .* \.\.\. FAILED$/ { sub(/^test /, ""); sub(/ \.\.\. FAILED$/, ""); print running " " $0 }
    END { close_binary() }' "$LOGS/run-$i.log" > "$LOGS/run-$i.failures"
  counts=$(awk '/^test result:/ { for (n = 1; n <= NF; n++) { if ($(n) ~ /^passed;?$/) p += $(n-1); if ($(n) ~ /^failed;?$/) f += $(n-1) } } END { printf "%d passed, %d failed", p, f }' "$LOGS/run-$i.log")
  nfail=$(wc -l < "$LOGS/run-$i.failures")
  if [ "$rc" -ne 0 ] || [ "$nfail" -ne 0 ]; then
    bad_runs=$((bad_runs + 1))
    [ "$nfail" -eq 0 ] && echo "cargo-test-exit-$rc (no failing test named; see run-$i.log)" > "$LOGS/run-$i.failures"
    cat "$LOGS/run-$i.failures" >> "$LOGS/failures.txt"
  fi
  echo "run $i/$N: exit $rc, $counts, $(($(date +%s) - t)) s"
done

echo
echo "==================== flake hunt: $N runs, $bad_runs with failures (logs in $LOGS) ===================="
if [ -s "$LOGS/failures.txt" ]; then
  echo "tests that failed at least once (times, binary, test):"
  sort "$LOGS/failures.txt" | uniq -c | sort -rn
  exit 1
fi
echo "no test failed in any run"
exit 0
