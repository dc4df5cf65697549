#!/bin/bash
# Recovery time of the two-node cluster, ours versus Debian's Python agents (issue 18):
#
#   sudo bash tests/bench/two_node.sh [RUNS]          (default 3 runs of each; not run by CI)
#   bash tests/bench/two_node.sh --table FILE         the table of an earlier run's times file
#
# Runs tests/e2e/two_node.sh RUNS times with our agents and RUNS times with Debian's Python
# fence_vbox, fence_ipmilan and fence_redfish, interleaved (ours, Python, ours, ...), in the same
# cluster and configuration (FENCE_TWO_NODE_PLAN, default "vbox:AB ipmilan:AB redfish:AB"; C
# depends on how long the suite keeps sshd away and is left out). Each scenario of each run
# gives the time from the failure to `test` running on the survivor, split by the survivor's
# pacemaker.log into: failure -> the fencer asked to fence (Pacemaker: the stop timeout, or
# corosync's token + consensus), the agent's off (request -> agent's result), and result ->
# test running (fencer and controller, which wait for the new membership, and test's start).
# Prints a markdown table of medians and ranges (the one in docs/two-node-recovery.md) and
# keeps every run in $BENCH_DIR/two_node.times (default target/bench).
# Env: FENCE_AGENT_BIN, FENCE_SIM_BIN (default: built here in release), TWO_NODE_STOP_TIMEOUT,
#      TOKEN_MS (passed on to the suite).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
failed=0
if [ "${1:-}" = --table ]; then
  TIMES=${2:?usage: two_node.sh --table FILE}
  RUNS=$(grep -c '^vbox A ours ' "$TIMES")
else
RUNS=${1:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: two_node.sh [RUNS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "two_node.sh: run as root (the suite needs it)" >&2; exit 2; }
BENCH_DIR=${BENCH_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/bench}
mkdir -p "$BENCH_DIR"
TIMES=$BENCH_DIR/two_node.times
: > "$TIMES"
if [ -z "${FENCE_AGENT_BIN:-}" ] || [ -z "${FENCE_SIM_BIN:-}" ]; then
  cargo build --release --locked -p fence-cli -p fence-sim > "$BENCH_DIR/two_node-build.log" 2>&1 ||
    { tail -n 20 "$BENCH_DIR/two_node-build.log"; exit 2; }
  export FENCE_AGENT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-agent
  export FENCE_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-sim
fi
export FENCE_TWO_NODE_PLAN=${FENCE_TWO_NODE_PLAN:-vbox:AB ipmilan:AB redfish:AB}
for ((i = 1; i <= RUNS; i++)); do
  for kind in ours python; do
    log=$BENCH_DIR/two_node-$kind-$i.log
    t=$(date +%s)
    if FENCE_TWO_NODE_AGENTS=$kind TWO_NODE_TIMES=$TIMES bash tests/e2e/two_node.sh > "$log" 2>&1; then
      echo "run $i $kind: ok ($(($(date +%s) - t)) s; $(tail -n 1 "$log"))" >&2
    else
      echo "run $i $kind: FAILED ($(tail -n 1 "$log"); see $log)" >&2
      failed=1
    fi
  done
done
fi
# family scenario kind total detect agent after (ms), one line per scenario of each run
python3 - "$TIMES" "$RUNS" << 'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 7 or f[1] not in ("A", "B", "C", "D-rejoin"):
        continue
    vals = [None if x == "-" else int(x) for x in f[3:7]]
    rows[(f[0], f[1], f[2])].append(vals)
names = {"A": "A: stop of test fails", "B": "B: corosync of the node killed", "C": "C: from the host's return",
         "D-rejoin": "D: fenced node powered on -> both Online, all Started, settled"}
def cell(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{statistics.median(xs) / 1000:.2f} ({min(xs) / 1000:.2f}-{max(xs) / 1000:.2f})"
print(f"Medians over the runs, in seconds (range in brackets); {sys.argv[2]} run(s) of each.\n")
print("| family | scenario | agents | runs | failure -> test running | failure -> fence request | agent's off | result -> test running |")
print("|---|---|---|---|---|---|---|---|")
for fam in ("vbox", "ipmilan", "redfish"):
    for sc in ("A", "B", "C", "D-rejoin"):
        for kind in ("ours", "python"):
            r = rows.get((fam, sc, kind))
            if not r:
                continue
            cols = list(zip(*r))
            label = "ours (fence-rs)" if kind == "ours" else "Debian's Python"
            print(f"| fence_{fam} | {names[sc]} | {label} | {len(r)} | " + " | ".join(cell(c) for c in cols) + " |")
PY
exit $failed
