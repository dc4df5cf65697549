#!/bin/bash
# The README's main command, as a suite: `bash demo/fence-a-node.sh` must fence both simulated
# nodes (Redfish and IPMI) and exit 0. Checks its output for the evidence it promises.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LOG=$(mktemp -t fence-demo.XXXXXX)
passed=0 failed=0
check() { # NAME COMMAND...
  if "${@:2}"; then echo "PASS  $1"; passed=$((passed + 1)); else echo "FAIL  $1"; failed=$((failed + 1)); fi
}
bash "$ROOT/demo/fence-a-node.sh" > "$LOG" 2>&1
rc=$?
check "demo exits 0" test "$rc" -eq 0
check "fence_redfish powered the node off" grep -q 'Success: Powered OFF' "$LOG"
check "the off was read back as Off" grep -q 'Status: OFF' "$LOG"
check "fence_ipmilan used one RMCP+ session" grep -q 'in one RMCP+ session' "$LOG"
check "the node came back on" grep -q 'Success: Powered ON' "$LOG"
check "both nodes fenced, node 2 said to be on again" grep -q '^Done: node 2 (Redfish) and the IPMI node were fenced.*node 2 was powered on again' "$LOG"
check "no 'both nodes fenced' after node 2 is on again" bash -c "! grep -q 'Both nodes fenced' '$LOG'"
check "every agent call's last state read is shown" grep -q 'the last state read: ' "$LOG"
# "Success: Powered ON" with PoweringOn as the last read is explained, and On is read after it.
if grep -q 'the last state read: PoweringOn' "$LOG"; then
  check "PoweringOn explained" grep -q 'power-on requested, the board reports PoweringOn' "$LOG"
  check "On read after PoweringOn" grep -q 'the last state read: On$' <(sed -n '/power-on requested/,$p' "$LOG")
fi
if [ "$failed" -ne 0 ]; then echo "--- demo output"; cat "$LOG"; fi
rm -f "$LOG"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
