# shellcheck shell=bash
# Section 12 of tests/e2e/pacemaker.sh (issue 11): fencing events and the Pacemaker alert
# agent. Sourced by pacemaker.sh inside its running one-node cluster; it uses that script's
# helpers and variables (pass/fail/note, fence, expect_rc, wait_until, started, primitive,
# ipmi_state, IPMI_PARAMS, PREFIX, WORK, AGENT_COPY, ALERT_DIR, UNINSTALL) and is not meant to be run alone.
#
# 1. installs the alert agent (`fence-agent install-alert`, /usr/local/libexec/fence-rs/fence_rs_alert;
#    with FENCE_E2E_INSTALLED=1 the package's /usr/libexec/fence-rs/fence_rs_alert) and checks that the hacluster user, which
#    Pacemaker runs alert agents as, can run it and write the event file
# 2. configures an alert in the CIB whose recipient is that file, and a stonith device
#    (fd-ipmi-ev, the ipmi_sim BMC) whose event_log is the same file
# 3. fences a node off and on through fd-ipmi-ev, and fails to fence one through a device
#    with the wrong password; for each, the file must hold the agent's own record
#    ("source":"agent") and Pacemaker's fencing alert ("source":"pacemaker") with the same
#    target, action and outcome; also a resource alert for fd-ipmi-ev; every line whole JSON
if [ "$PREFIX" = fence_ ]; then
  note "12. events and alerts: fence-rs only (FENCE_E2E_PREFIX=fence_): not run"
else
  EVLOG=$WORK/fence-events.jsonl
  EV_NODE=ev-node
  EV_BAD_NODE=ev-bad-node
  ALERT_BIN=$ALERT_DIR/fence_rs_alert
  # Agents run as root under pacemaker-fenced, alert agents as hacluster: the file belongs
  # to hacluster and its group.
  install -o hacluster -g haclient -m 0660 /dev/null "$EVLOG"
  if [ "${FENCE_E2E_INSTALLED:-0}" = 1 ]; then
    if [ "$(readlink "$ALERT_BIN")" = ../../sbin/fence-agent ]; then
      pass "the package's alert agent $ALERT_BIN -> ../../sbin/fence-agent"
    else
      fail "the package's alert agent $ALERT_BIN is not a link to /usr/sbin/fence-agent"
    fi
  else
    [ -d "$ALERT_DIR" ] || { mkdir -p "$ALERT_DIR" && ALERT_DIR_MADE=$ALERT_DIR; }
    UNINSTALL+=("$ALERT_DIR/fence-agent $ALERT_DIR")
    if "$AGENT_COPY" install-alert --dir "$ALERT_DIR" --force > "$WORK/install-alert.log" 2>&1; then
      pass "fence-agent install-alert --dir $ALERT_DIR: $(tr '\n' ' ' < "$WORK/install-alert.log")"
    else
      fail "fence-agent install-alert --dir $ALERT_DIR: $(cat "$WORK/install-alert.log")"
    fi
  fi
  # The hacluster user can run the alert agent and append to the file (a synthetic alert).
  if runuser -u hacluster -- env -i CRM_alert_version=probe CRM_alert_kind=node \
    CRM_alert_node=probe-node CRM_alert_desc=probe "CRM_alert_recipient=$EVLOG" "$ALERT_BIN" \
    > "$WORK/alert-probe.out" 2>&1 && grep -q '"node":"probe-node"' "$EVLOG"; then
    pass "events: the hacluster user runs $ALERT_BIN and appends to $EVLOG"
  else
    fail "events: the hacluster user cannot run $ALERT_BIN into $EVLOG: $(cat "$WORK/alert-probe.out")"
  fi

  ALERT_XML="<alerts><alert id=\"fence-rs-alert\" path=\"$ALERT_BIN\"><recipient id=\"fence-rs-alert-file\" value=\"$EVLOG\"/></alert></alerts>"
  if cibadmin --create -o configuration --xml-text "$ALERT_XML" > "$WORK/alert-cib.out" 2>&1; then
    pass "events: alert fence-rs-alert ($ALERT_BIN, recipient $EVLOG) in the CIB"
  else
    fail "events: cannot add the alert to the CIB: $(cat "$WORK/alert-cib.out")"
  fi
  t=$(ms)
  EV_DEVICE_XML=$(primitive fd-ipmi-ev "${PREFIX}ipmilan" "${IPMI_PARAMS[@]}" \
    "pcmk_host_map=$EV_NODE:ipmi-sim" "event_log=$EVLOG")
  cibadmin --create -o resources --xml-text "$EV_DEVICE_XML" > /dev/null 2>&1 || fail "add fd-ipmi-ev to the CIB"
  if wait_until 60 started fd-ipmi-ev; then
    pass "crm_mon: fd-ipmi-ev (event_log=$EVLOG) Started ($(($(ms) - t)) ms)"
  else
    fail "crm_mon: fd-ipmi-ev not Started within 60 s"
  fi

  # ev_check NODE ACTION WANT: the file holds the agent's record and Pacemaker's fencing
  # alert for NODE and ACTION, both with success WANT (true/false); prints a summary.
  ev_check() {
    python3 - "$EVLOG" "$1" "$2" "$3" << 'PY'
import json, sys
path, node, action, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "true"
agent, alert = [], []
for n, line in enumerate(open(path), 1):
    try:
        v = json.loads(line)
    except ValueError:
        print(f"line {n} is not JSON: {line[:80]!r}")
        sys.exit(1)
    if v.get("node") != node or v.get("action") != action:
        continue
    if v.get("source") == "agent":
        agent.append(v)
    elif v.get("source") == "pacemaker" and v.get("kind") == "fencing":
        alert.append(v)
if not agent or not alert:
    print(f"{len(agent)} agent record(s), {len(alert)} alert(s) for {action} {node}")
    sys.exit(1)
bad = [v for v in agent + alert if v.get("success") is not want]
if bad:
    print(f"success is not {want} in: {bad[0]}")
    sys.exit(1)
a, p = agent[-1], alert[-1]
outcome = (a.get("outcome") or {}).get("outcome") or a.get("error_kind")
print(f"agent: {a['agent']} {a['action']} {a['node']} success={a['success']} ({outcome}, "
      f"{a['duration_ms']} ms, {len(agent)} run(s)); pacemaker: {p['kind']} {p['action']} "
      f"{p['node']} rc={p.get('rc')} success={p['success']} '{p.get('desc', '')}'")
PY
  }
  # ev_expect NAME NODE ACTION WANT: one check line, waiting up to 15 s for the alert
  ev_expect() {
    if wait_until 15 ev_check "$2" "$3" "$4"; then
      pass "$1: $(ev_check "$2" "$3" "$4")"
    else
      fail "$1: $(ev_check "$2" "$3" "$4")"
    fi
  }

  fence off "$EV_NODE"
  expect_rc "events: off $EV_NODE" 0 fd-ipmi-ev
  expect_state "events: ipmi after off" Off ipmi_state
  ev_expect "events: off $EV_NODE recorded by the agent and by the alert agent, both success" \
    "$EV_NODE" off true
  fence on "$EV_NODE"
  expect_rc "events: on $EV_NODE" 0 fd-ipmi-ev
  expect_state "events: ipmi after on" On ipmi_state
  ev_expect "events: on $EV_NODE recorded by both, success" "$EV_NODE" on true

  # A fencing that fails: the wrong password, the same file.
  as_opts "${IPMI_PARAMS[@]/#password=*/password=not-the-password}" \
    "pcmk_host_map=$EV_BAD_NODE:ipmi-sim" "event_log=$EVLOG"
  stonith_admin --register fd-ev-bad --agent "${PREFIX}ipmilan" "${OPTS[@]}" > "$WORK/register-ev-bad.out" 2>&1 ||
    fail "register fd-ev-bad: $(cat "$WORK/register-ev-bad.out")"
  fence reboot "$EV_BAD_NODE"
  if [ "$RC" != 0 ]; then
    pass "events: reboot $EV_BAD_NODE through fd-ev-bad fails (exit $RC)"
  else
    fail "events: reboot $EV_BAD_NODE through fd-ev-bad succeeded"
  fi
  ev_expect "events: failed reboot of $EV_BAD_NODE recorded by both, failure" "$EV_BAD_NODE" reboot false
  stonith_admin --deregister fd-ev-bad > /dev/null 2>&1

  # What the cluster decided about the device itself: a resource alert.
  if python3 -c '
import json, sys
ok = any(v.get("source") == "pacemaker" and v.get("kind") == "resource"
         and v.get("rsc") == "fd-ipmi-ev" and v.get("success") is True
         for v in map(json.loads, open(sys.argv[1])))
sys.exit(0 if ok else 1)' "$EVLOG"; then
    pass "events: a resource alert for fd-ipmi-ev (start/monitor) is in $EVLOG"
  else
    fail "events: no successful resource alert for fd-ipmi-ev in $EVLOG"
  fi
  # Every line whole, and who wrote them.
  if python3 -c '
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    v = json.loads(line)
    c[v["source"] + ":" + v.get("kind", v.get("action", "?"))] += 1
print(", ".join(f"{k} {n}" for k, n in sorted(c.items())))' "$EVLOG" > "$WORK/ev-summary" 2>&1; then
    pass "events: every line of $EVLOG is one JSON object ($(wc -l < "$EVLOG") lines: $(cat "$WORK/ev-summary"))"
  else
    fail "events: $EVLOG has a line that is not JSON: $(tail -n 1 "$WORK/ev-summary")"
  fi
  cibadmin --delete --xml-text '<alert id="fence-rs-alert"/>' > /dev/null 2>&1
fi
