#!/bin/bash
# Runs every property test of the workspace with fresh random seeds and many cases (CI runs
# them with the fixed seed of fence_core::testkit::proptest_support, the same cases every run).
#
#   bash tests/scripts/proptest-fresh.sh [CASES]      # default 2000 cases per property
#
# A failing case is written next to its test as <file>.regressions (proptest's persistence):
# commit that file, and it is replayed first on every later run, CI included; better still,
# add the case as a named regression test beside the property. The Redfish and CLI
# properties talk to local servers and run the agent binary: they take minutes at 2000 cases.
# Env: FENCE_PROPTEST_SEED (default random; a number replays a run's seed).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export FENCE_PROPTEST_SEED=${FENCE_PROPTEST_SEED:-random}
export PROPTEST_CASES=${1:-2000}
echo "property tests: seed $FENCE_PROPTEST_SEED, $PROPTEST_CASES cases per property"
rc=0
run() { echo "==> cargo test $*"; cargo test --locked "$@" || rc=1; }
run -p fence-core --lib hostmap
run -p fence-core --test fuzz_input
run -p fence-ipmi-proto --test decode_props
run -p fence-ipmi-proto --test fuzz_wire
run -p fence-redfish --test fuzz_json
run -p fence-tests --test fuzz_cli
[ "$rc" -eq 0 ] && echo "property tests: all passed" || echo "property tests: FAILED (see above; commit the .regressions files)"
exit "$rc"
