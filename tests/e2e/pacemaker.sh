#!/bin/bash
# Pacemaker end to end (issue 7): a real one-node corosync + Pacemaker cluster on 127.0.0.1
# fences simulated machines through the installed fence-rs agents.
#
#   sudo bash tests/e2e/pacemaker.sh        (tests/run-all.sh runs it after cargo test)
#
# 1. builds the CLI (release) and installs it into the fencer's agent directory as
#    /usr/sbin/fence_rs_* (`fence-agent install --dir /usr/sbin --prefix fence_rs_`: a copy of
#    the binary and links to it), or, with FENCE_E2E_INSTALLED=1, uses the agents of the
#    installed fence-rs package as they are; the vendor example is installed the same way; what
#    this script installed is uninstalled at the end (Debian's Python fence_* are not touched)
# 2. starts its own peers (tests/scripts/start-peers.sh, Redfish power changes delayed by 2 s so
#    that the off phase of a reboot can be seen) and a one-node cluster without systemd, from a
#    seeded CIB (dc-deadtime 2s) holding one stonith device per backend, each with a
#    pcmk_host_map from made-up node names to the Redfish system, the IPMI BMC and the VMs
# 3. with stonith_admin: reboot, off and on each mapped node through each device, each followed
#    by an independent look at the machine (Redfish PowerState over HTTPS, ipmi_sim's power file
#    and chassis.log, the fake VBoxManage's VM files and call log, libvirt's own domstate for
#    fence_virsh's domain of the peers' libvirtd); fence_vbox with
#    pcmk_host_check=dynamic-list and =status; a node no device can fence; --metadata and
#    --validate for every installed agent name; every device Started in crm_mon; a BMC that
#    refuses the password (the reboot fails, is reported failed, the machine is untouched);
#    the vendor example (examples/fence-acme, its own binary built on fence_cli's library):
#    its metadata read by stonith_admin, a node fenced through it against its simulator
# 4. stops everything it started by PID (also after a failure), restores
#    /etc/corosync/corosync.conf and the CIB directory.
# Prints one line per check and "N passed, M failed"; exits non-zero when any check failed.
#
# Env: FENCE_E2E_PREFIX=fence_rs_  agent name prefix; "fence_" runs the same scenarios against
#                                  Debian's Python fence-agents (no build, no install)
#      FENCE_AGENT_BIN=path        use this fence-agent binary instead of building one
#      FENCE_E2E_INSTALLED=1       the fence-rs package is installed (tests/scripts/package-check.sh):
#                                  its /usr/sbin/fence_rs_* and alert agent are used, nothing of
#                                  fence-agent is built or installed
#      FENCE_ACME_BIN, FENCE_ACME_SIM  the vendor example's agent and board simulator
#                                  (default: built with fence-agent, or next to FENCE_AGENT_BIN)
#      FENCE_E2E_KEEP=1            keep the work directory (logs) also after a passing run
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=${FENCE_E2E_PREFIX:-fence_rs_}
# shellcheck source=tests/e2e/suite.sh
. "$ROOT/tests/e2e/suite.sh" # pass, fail, check, fatal, note, wait_until, uninstall_recorded
T0=$(ms)
WORK=$(mktemp -d -t fence-rs-pacemaker.XXXXXX)
chmod 755 "$WORK" # the cluster daemons run as hacluster and write their log here

# ---------------------------------------------------------------- cleanup (always runs)
COROSYNC_PID=
PACEMAKERD_PID=
PCMK_CHILDREN=
PEERS_STARTED=
ACME_SIM_PID=
COROSYNC_CONF=/etc/corosync/corosync.conf
CIB_DIR=/var/lib/pacemaker/cib
CLUSTER_TOUCHED=
stop_pid() { # PID SECONDS: SIGTERM, wait, then SIGKILL
  local pid=$1 limit=$(($2 * 10)) i
  [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null
  for ((i = 0; i < limit; i++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null
  echo "      killed pid $pid with SIGKILL"
}
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  stop_pid "$PACEMAKERD_PID" 30
  for p in $PCMK_CHILDREN; do stop_pid "$p" 5; done # only if pacemakerd left one behind
  stop_pid "$COROSYNC_PID" 15
  stop_pid "$ACME_SIM_PID" 5
  if [ -n "$PEERS_STARTED" ]; then
    PEERS_DIR=$WORK/peers bash "$ROOT/tests/scripts/stop-peers.sh" > "$WORK/stop-peers.log" 2>&1 ||
      cat "$WORK/stop-peers.log"
  fi
  uninstall_recorded # what install made here (UNINSTALL)
  # the alert agent's directory, when install-alert made it here and it is empty again
  [ -n "${ALERT_DIR_MADE:-}" ] && rmdir "$ALERT_DIR_MADE" 2> /dev/null
  if [ -n "$CLUSTER_TOUCHED" ]; then
    if [ -f "$WORK/corosync.conf.orig" ]; then
      cp -p "$WORK/corosync.conf.orig" "$COROSYNC_CONF"
    else
      rm -f "$COROSYNC_CONF"
    fi
    rm -f "$CIB_DIR"/cib* "$CIB_DIR"/shadow.* 2> /dev/null
    for p in "$WORK/cib.orig"/*; do [ -e "$p" ] && cp -p "$p" "$CIB_DIR"/; done
    find /var/lib/pacemaker/pengine -type f -newer "$WORK/started" -delete 2> /dev/null
  fi
  [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ] && FAIL=1
  local timing="e2e pacemaker: $(($(ms) - T0)) ms in all"
  [ -n "${T_SCEN:-}" ] && timing+="; from cluster start to the end of the checks $((${T_SCEN_END:-$(ms)} - T_CLUSTER)) ms"
  echo "$timing"
  if [ "$FAIL" -ne 0 ] || [ "${FENCE_E2E_KEEP:-0}" = 1 ]; then
    echo "logs kept in $WORK (pacemaker.log, corosync.log, peers/logs)"
  else
    rm -rf "$WORK"
  fi
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
  exit $?
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- preconditions
[ "$(id -u)" = 0 ] || fatal "must run as root (cluster daemons, /usr/sbin, /etc/corosync)"
for t in corosync corosync-quorumtool pacemakerd stonith_admin cibadmin crm_mon crm_attribute \
  xmllint curl ipmitool flock runuser python3; do
  command -v "$t" > /dev/null || fatal "$t is missing: run tests/scripts/install-deps.sh"
done
# One cluster per host: wait for another run of this script, refuse a cluster we did not start.
mkdir -p /run/lock
exec 9> /run/lock/fence-rs-e2e-pacemaker.lock
flock -w 600 9 || fatal "another tests/e2e/pacemaker.sh holds /run/lock/fence-rs-e2e-pacemaker.lock"
for d in corosync pacemakerd pacemaker-fence; do # process names (15 characters at most)
  if pgrep -x "$d" > /dev/null; then
    fatal "$d is already running (pid $(pgrep -x "$d" | tr '\n' ' ')); this test needs the host's cluster stack to itself"
  fi
done

# ---------------------------------------------------------------- 1. build and install
AGENT_COPY=/usr/sbin/fence-agent
ALERT_DIR=/usr/local/libexec/fence-rs # the alert agent, outside the fencer's directory
if [ "$PREFIX" = fence_ ]; then
  note "FENCE_E2E_PREFIX=fence_: the scenarios run against Debian's Python fence-agents"
else
  BIN=${FENCE_AGENT_BIN:-}
  if [ "${FENCE_E2E_INSTALLED:-0}" = 1 ]; then
    [ "$PREFIX" = fence_rs_ ] || fatal "FENCE_E2E_INSTALLED=1 runs the package's fence_rs_* agents only"
    dpkg -S "$AGENT_COPY" 2> /dev/null | grep -q '^fence-rs:' || fatal "the fence-rs package is not installed ($AGENT_COPY)"
    ALERT_DIR=/usr/libexec/fence-rs
    [ -n "$BIN" ] || BIN=$AGENT_COPY
    pass "the installed fence-rs package: $(dpkg-query -W -f='${Package} ${Version}' fence-rs), $AGENT_COPY"
  elif [ -z "$BIN" ]; then
    t=$(ms)
    (cd "$ROOT" && cargo build --release --locked -p fence-cli -p fence-acme) > "$WORK/build.log" 2>&1 ||
      { tail -n 30 "$WORK/build.log"; fatal "cargo build --release -p fence-cli -p fence-acme"; }
    pass "cargo build --release -p fence-cli -p fence-acme ($(($(ms) - t)) ms)"
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-agent
  fi
  ACME_BIN=${FENCE_ACME_BIN:-$(dirname "$BIN")/fence-acme-agent}
  ACME_SIM=${FENCE_ACME_SIM:-$(dirname "$BIN")/fence-acme-sim}
  [ -x "$ACME_BIN" ] && [ -x "$ACME_SIM" ] ||
    fatal "the vendor example is not built ($ACME_BIN, $ACME_SIM): cargo build --release -p fence-acme"
  if [ "${FENCE_E2E_INSTALLED:-0}" != 1 ]; then
    # install copies the binary into /usr/sbin: the agents keep working after this checkout
    # (and its target/) is gone.
    UNINSTALL+=("$AGENT_COPY /usr/sbin")
    "$BIN" install --dir /usr/sbin --prefix "$PREFIX" --force > "$WORK/install.log" 2>&1 ||
      { cat "$WORK/install.log"; fatal "fence-agent install --dir /usr/sbin --prefix $PREFIX"; }
    pass "fence-agent install --dir /usr/sbin --prefix $PREFIX ($(grep -c -- '->' "$WORK/install.log") links to $AGENT_COPY)"
  fi
  # The vendor's binary installs its own agent the same way, through the same library.
  ACME_COPY=/usr/sbin/$(basename "$ACME_BIN")
  UNINSTALL+=("$ACME_COPY /usr/sbin")
  "$ACME_BIN" install --dir /usr/sbin --prefix "$PREFIX" --force > "$WORK/install-acme.log" 2>&1 ||
    { cat "$WORK/install-acme.log"; fatal "fence-acme-agent install --dir /usr/sbin --prefix $PREFIX"; }
  [ -x "/usr/sbin/${PREFIX}acme" ] || fatal "/usr/sbin/${PREFIX}acme is not installed"
  pass "fence-acme-agent install --dir /usr/sbin --prefix $PREFIX (${PREFIX}acme -> $ACME_COPY)"
fi
for a in redfish ipmilan vbox virsh; do
  [ -x "/usr/sbin/$PREFIX$a" ] || fatal "/usr/sbin/$PREFIX$a is not installed"
done
AGENTS=$(cd /usr/sbin && for f in "$PREFIX"*; do [ -x "$f" ] && echo "$f"; done)
[ "$PREFIX" = fence_ ] && AGENTS="fence_redfish fence_ipmilan fence_vbox fence_virsh"
note "agents: $(echo "$AGENTS" | tr '\n' ' ')"

# ---------------------------------------------------------------- 2. peers
t=$(ms)
unset REDFISH_PORT SSH_PORT IPMISIM_PORT FAKEBMC_PORT # run-all's peers keep theirs; pick new ones
PEERS_STARTED=1
if ! PEERS_DIR=$WORK/peers FAKE_POWER_DELAY=2 bash "$ROOT/tests/scripts/start-peers.sh" > "$WORK/start-peers.log" 2>&1; then
  cat "$WORK/start-peers.log"
  fatal "start the peers (tests/scripts/start-peers.sh)"
fi
# shellcheck disable=SC1091
. "$WORK/peers/peers.env"
pass "peers started ($(($(ms) - t)) ms)"
runuser -u fenceuser -- env FAKEVBOX_DIR="$FAKEVBOX_DIR" "$(getent passwd fenceuser | cut -d: -f6)/bin/VBoxManage" \
  fake-create vm3 5d08d9d9-af61-4a3d-8f4f-4e41b20a3d04 running
VBOX_LOG=$FAKEVBOX_DIR/.log
# A libvirt domain of the peers' libvirtd (test driver), fenced through fence_virsh.
virsh_local() { # virsh as fenceuser on this machine, against the peers' libvirtd: the judge
  setpriv --reuid=fenceuser --regid=fenceuser --init-groups -- env -i \
    HOME="$(getent passwd fenceuser | cut -d: -f6)" PATH=/usr/bin:/bin LC_ALL=C \
    XDG_RUNTIME_DIR="$LIBVIRT_RUNTIME/run" virsh -c "$LIBVIRT_URI" "$@"
}
printf "<domain type='test'><name>kvm1</name><memory>8192</memory><os><type>hvm</type></os></domain>" \
  > "$WORK/kvm1.xml"
chmod 644 "$WORK/kvm1.xml"
{ virsh_local define "$WORK/kvm1.xml" && virsh_local start kvm1; } > "$WORK/kvm1.log" 2>&1 ||
  { cat "$WORK/kvm1.log"; fatal "define the libvirt domain kvm1"; }
CHASSIS_LOG=$IPMISIM_STATE/chassis.log
# The vendor example's board: its own simulator, 1 s per power change (a reboot's Off phase
# can be seen), the password in a file (never on a command line).
ACME_PASSWORD=acme-$RANDOM$RANDOM
ACME_PORT=
if [ "$PREFIX" != fence_ ]; then
  (umask 077 && printf '%s\n' "$ACME_PASSWORD" > "$WORK/acme-password")
  "$ACME_SIM" --username admin --password-file "$WORK/acme-password" --delay-ms 1000 > "$WORK/acme-sim.log" 2>&1 &
  ACME_SIM_PID=$!
  acme_listening() { grep -q '^listening 127.0.0.1:' "$WORK/acme-sim.log"; }
  for _ in $(seq 50); do acme_listening && break; sleep 0.1; done
  acme_listening || { cat "$WORK/acme-sim.log"; fatal "fence-acme-sim did not start"; }
  ACME_PORT=$(sed -n 's/^listening 127.0.0.1:\([0-9]*\)$/\1/p' "$WORK/acme-sim.log")
  pass "fence-acme-sim listening on 127.0.0.1:$ACME_PORT"
fi
ACME_PARAMS=(ip=127.0.0.1 "ipport=$ACME_PORT" username=admin "password=$ACME_PASSWORD")

# Device parameters (name=value pairs). fence-rs verifies TLS and SSH host keys by default: it
# gets the test CA and a private known_hosts file; Debian's agents get their own equivalents.
RF_PARAMS=(ip=127.0.0.1 "ipport=$REDFISH_PORT" username=admin password=password)
VB_PARAMS=(ip=127.0.0.1 "ipport=$SSH_PORT" username=fenceuser password=password)
if [ "$PREFIX" = fence_ ]; then
  RF_PARAMS+=(ssl_insecure=1)
  VB_PARAMS+=("ssh_path=$SSH_WRAPPER")
else
  RF_PARAMS+=("ssl_ca_file=$REDFISH_CA")
  VB_PARAMS+=("ssh_known_hosts_file=$WORK/known_hosts")
fi
IPMI_PARAMS=(ip=127.0.0.1 "ipport=$IPMISIM_PORT" username=admin password=password lanplus=1 cipher=3)
# fence_virsh: the same sshd; virsh's default connection is the peers' libvirtd (sshd SetEnv).
VS_PARAMS=("${VB_PARAMS[@]}")

# as_opts NAME=VALUE...: sets OPTS to stonith_admin's "-o NAME=VALUE" arguments
as_opts() {
  local kv
  OPTS=()
  for kv in "$@"; do OPTS+=(-o "$kv"); done
}
# primitive ID AGENT NAME=VALUE...: a stonith primitive for the CIB, with a 60 s monitor
primitive() {
  local id=$1 agent=$2 kv n v
  shift 2
  printf '<primitive id="%s" class="stonith" type="%s"><instance_attributes id="%s-ia">' "$id" "$agent" "$id"
  for kv in "$@"; do
    n=${kv%%=*}
    v=${kv#*=}
    v=${v//&/&amp;}
    v=${v//</&lt;}
    v=${v//\"/&quot;}
    printf '<nvpair id="%s-%s" name="%s" value="%s"/>' "$id" "$n" "$n" "$v"
  done
  printf '</instance_attributes><operations><op id="%s-monitor" name="monitor" interval="60s"/></operations></primitive>' "$id"
}
ACME_NODE=acme-node-a
RF_NODE=rf-node-a
IPMI_NODE=bmc-node-a
VM_NODE=vm-node-a
KVM_NODE=kvm-node-a
DYN_NODE=vm2        # no map: found by fd-vbox-dyn's list
STATUS_NODE=st-node # found by fd-vbox-status's status call
GHOST_NODE=ghost-node
BAD_NODE=bad-node
DEVICES_XML="<resources>$(
  primitive fd-redfish "${PREFIX}redfish" "${RF_PARAMS[@]}" pcmk_host_argument=systems_uri \
    "pcmk_host_map=$RF_NODE:$REDFISH_SYSTEMS_URI"
  primitive fd-ipmi "${PREFIX}ipmilan" "${IPMI_PARAMS[@]}" "pcmk_host_map=$IPMI_NODE:ipmi-sim"
  primitive fd-vbox "${PREFIX}vbox" "${VB_PARAMS[@]}" "pcmk_host_map=$VM_NODE:vm1"
  primitive fd-vbox-dyn "${PREFIX}vbox" "${VB_PARAMS[@]}" pcmk_host_check=dynamic-list
  primitive fd-virsh "${PREFIX}virsh" "${VS_PARAMS[@]}" "pcmk_host_map=$KVM_NODE:kvm1"
  [ "$PREFIX" != fence_ ] &&
    primitive fd-acme "${PREFIX}acme" "${ACME_PARAMS[@]}" "pcmk_host_map=$ACME_NODE:board"
)</resources>"
CIB_DEVICES="fd-redfish fd-ipmi fd-vbox fd-vbox-dyn fd-virsh"
[ "$PREFIX" != fence_ ] && CIB_DEVICES+=" fd-acme"
STATUS_DEVICE_XML=$(primitive fd-vbox-status "${PREFIX}vbox" "${VB_PARAMS[@]}" pcmk_host_check=status \
  "pcmk_host_map=$STATUS_NODE:vm3")

# ---------------------------------------------------------------- 3. the cluster
CLUSTER_TOUCHED=1
touch "$WORK/started"
[ -f "$COROSYNC_CONF" ] && cp -p "$COROSYNC_CONF" "$WORK/corosync.conf.orig"
mkdir -p "$WORK/cib.orig"
cp -p "$CIB_DIR"/cib* "$WORK/cib.orig"/ 2> /dev/null
rm -f "$CIB_DIR"/cib*
install -d /etc/corosync /var/lib/corosync /var/log/corosync
cat > "$COROSYNC_CONF" << CONF
# written by fence-rs tests/e2e/pacemaker.sh; the original is restored at the end
totem {
    version: 2
    cluster_name: fence-rs-e2e
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $WORK/corosync.log
    to_syslog: no
}
quorum {
    provider: corosync_votequorum
}
nodelist {
    node {
        name: node1
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
CONF
SEED=$WORK/cib-seed.xml
if ! { cibadmin --empty > "$SEED" &&
  CIB_file=$SEED crm_attribute --type crm_config --name dc-deadtime --update 2s &&
  CIB_file=$SEED cibadmin --replace -o resources --xml-text "$DEVICES_XML" &&
  install -o hacluster -g haclient -m 0600 "$SEED" "$CIB_DIR/cib.xml"; }; then
  fatal "seed the CIB"
fi
pass "CIB seeded: dc-deadtime 2s, devices $CIB_DEVICES"

# wait_until SECONDS COMMAND...: poll every 0.1 s
t=$(ms)
T_CLUSTER=$t
corosync -f > "$WORK/corosync.out" 2>&1 &
COROSYNC_PID=$!
wait_until 20 corosync-quorumtool -s || { tail -n 20 "$WORK/corosync.out" "$WORK/corosync.log"; fatal "corosync quorate"; }
pass "corosync up and quorate ($(($(ms) - t)) ms)"
: > "$WORK/pacemaker.log"
chown hacluster:haclient "$WORK/pacemaker.log"
PCMK_logfile=$WORK/pacemaker.log PCMK_debug=pacemaker-fenced pacemakerd -f > "$WORK/pacemakerd.out" 2>&1 &
PACEMAKERD_PID=$!
wait_until 30 stonith_admin --list-registered || fatal "fencer answering"
PCMK_CHILDREN=$(pgrep -P "$PACEMAKERD_PID" | tr '\n' ' ')
started() { crm_mon -1 -r 2> /dev/null | grep -qE "^ *\* $1[[:space:]].*Started"; }
# all started, or one failed to start (no point in waiting longer then)
settled() {
  local mon
  mon=$(crm_mon -1 -r 2> /dev/null) || return 1
  echo "$mon" | grep -q "^Failed Resource Actions" && return 0
  for d in $CIB_DEVICES; do
    echo "$mon" | grep -qE "^ *\* ${d}[[:space:]].*Started" || return 1
  done
}
wait_until 60 settled
note "devices settled after $(($(ms) - t)) ms"
crm_mon -1 -r > "$WORK/crm_mon.txt" 2>&1
for d in $CIB_DEVICES; do
  if wait_until 5 started "$d"; then
    pass "crm_mon: $d Started (start + monitor ran the agent)"
  else
    fail "crm_mon: $d not Started: $(grep -E "\* ${d}[[:space:]]" "$WORK/crm_mon.txt" | tr -s '\t ' ' ')"
    grep -A5 '^Failed Resource Actions' "$WORK/crm_mon.txt" | sed 's/^/      /'
    grep -E "Operation '(monitor|start)' .*using $d returned [1-9]" "$WORK/pacemaker.log" | head -n 3 | sed 's/^/      /'
  fi
done
T_SCEN=$(ms)

# ---------------------------------------------------------------- machine state, read independently
rf_state() { # On / Off, from the emulator over HTTPS (our CA, basic auth)
  curl -s --max-time 5 --cacert "$REDFISH_CA" -u admin:password "$REDFISH_URL$REDFISH_SYSTEMS_URI" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["PowerState"])'
}
ipmi_state() { # On / Off, from ipmi_sim's power file
  case $(cat "$IPMISIM_STATE/power") in 1) echo On ;; 0) echo Off ;; *) echo "?" ;; esac
}
vm_state() { # On / Off, from the fake VBoxManage's state file of VM $1
  local u s
  read -r u s _ < "$FAKEVBOX_DIR/$1"
  case $s in running) echo On ;; poweroff) echo Off ;; *) echo "?($u $s)" ;; esac
}
kvm_state() { # On / Off, from libvirt itself (virsh domstate, run locally as fenceuser)
  case $(virsh_local domstate "$1" 2> /dev/null | head -n 1) in
    "shut off") echo Off ;;
    running) echo On ;;
    *) echo "?($(virsh_local domstate "$1" 2>&1 | head -n 1))" ;;
  esac
}
acme_state() { # On / Off, asked of the board in its own line protocol by bash (not our client)
  local login status
  exec 7<> "/dev/tcp/127.0.0.1/$ACME_PORT" || { echo "?(connect)"; return; }
  printf 'LOGIN admin %s\nSTATUS\n' "$ACME_PASSWORD" >&7
  read -r -t 5 login <&7
  read -r -t 5 status <&7
  exec 7>&-
  case "$login $status" in "OK ON") echo On ;; "OK OFF") echo Off ;; *) echo "?($login $status)" ;; esac
}
# expect_state NAME WANT READER...: one check line, the state read right after the action
expect_state() {
  local name=$1 want=$2 got
  shift 2
  got=$("$@" 2> /dev/null)
  if [ "$got" = "$want" ]; then pass "$name: machine is $got"; else fail "$name: machine is '$got', want $want"; fi
}
# fence ACTION NODE: stonith_admin --reboot/--fence/--unfence; sets RC, OUT, ELAPSED, and
# PCMK_LOG_AT (pacemaker.log's length before the call)
fence() {
  local action=$1 node=$2 t opt
  case $action in reboot) opt=--reboot ;; off) opt=--fence ;; on) opt=--unfence ;; esac
  FENCE_ACTION=$action
  FENCE_NODE=$node
  PCMK_LOG_AT=$(wc -l < "$WORK/pacemaker.log")
  t=$(ms)
  OUT=$(timeout 120 stonith_admin "$opt" "$node" --timeout 60 --delay -1 2>&1)
  RC=$?
  ELAPSED=$(($(ms) - t))
}
# fencer_says PATTERN: the fencer logged PATTERN since the last fence call (waits up to 3 s)
log_since_fence_has() { tail -n "+$((PCMK_LOG_AT + 1))" "$WORK/pacemaker.log" | grep -qE -- "$1"; }
fencer_says() { wait_until 3 log_since_fence_has "$1"; }
# expect_rc NAME WANT [DEVICE]: a check line for the last fence call; with DEVICE, also that
# the fencer ran the action on that device and the agent returned WANT
expect_rc() {
  if [ "$RC" = "$2" ]; then
    pass "$1: stonith_admin exit $RC ($ELAPSED ms)"
  else
    fail "$1: stonith_admin exit $RC, want $2 ($ELAPSED ms): $(echo "$OUT" | tail -n 2 | tr '\n' ' ')"
  fi
  [ -n "${3:-}" ] || return 0
  local line="Operation '$FENCE_ACTION' \\[[0-9]+\\] targeting $FENCE_NODE using $3 returned"
  if fencer_says "$line $2"; then
    pass "$1: pacemaker.log: '$FENCE_ACTION' targeting $FENCE_NODE using $3 returned $2"
  else
    fail "$1: pacemaker.log has no '$FENCE_ACTION' targeting $FENCE_NODE using $3 returned $2"
  fi
}
# fence_and_check LABEL ACTION NODE DEVICE WANT READER...: one fence call through DEVICE
# (its exit and the fencer's log), then the machine's state read independently by READER
fence_and_check() {
  local label=$1 action=$2 node=$3 device=$4 want=$5
  shift 5
  fence "$action" "$node"
  expect_rc "$label $action $node" 0 "$device"
  expect_state "$label after $action" "$want" "$@"
}
log_lines() { wc -l < "$1"; }
new_lines() { tail -n "+$(($2 + 1))" "$1"; } # FILE OLD-COUNT
# in_order TEXT PATTERN1 PATTERN2: PATTERN1 matches a line before one that PATTERN2 matches
in_order() {
  printf '%s\n' "$1" | awk -v a="$2" -v b="$3" '$0 ~ a { seen = 1 } seen && $0 ~ b { found = 1 } END { exit !found }'
}

# ---------------------------------------------------------------- 4. Redfish
# The emulator applies a power change 2 s after it is asked for, so a sampler that reads
# PowerState every 0.2 s during the reboot sees the Off phase.
[ "$(rf_state)" = On ] || fail "redfish: system should start On"
: > "$WORK/rf-samples"
(while :; do rf_state >> "$WORK/rf-samples" 2> /dev/null; sleep 0.2; done) &
SAMPLER=$!
fence reboot "$RF_NODE"
sleep 0.3 # one more sample after the end
kill "$SAMPLER" 2> /dev/null
wait "$SAMPLER" 2> /dev/null
expect_rc "redfish reboot $RF_NODE" 0 fd-redfish
if grep -qx Off "$WORK/rf-samples"; then
  pass "redfish reboot: PowerState was Off during the reboot ($(grep -cx Off "$WORK/rf-samples") of $(wc -l < "$WORK/rf-samples") samples)"
else
  fail "redfish reboot: PowerState never seen Off during the reboot: $(sort "$WORK/rf-samples" | uniq -c | tr '\n' ' ')"
fi
expect_state "redfish after reboot" On rf_state
fence_and_check redfish off "$RF_NODE" fd-redfish Off rf_state
fence_and_check redfish on "$RF_NODE" fd-redfish On rf_state

# ---------------------------------------------------------------- 5. IPMI (ipmi_sim, lanplus, cipher 3)
ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$IPMISIM_PORT" -U admin -P password chassis power on > /dev/null
expect_state "ipmi before reboot (switched on with ipmitool)" On ipmi_state
n=$(log_lines "$CHASSIS_LOG")
fence reboot "$IPMI_NODE"
expect_rc "ipmi reboot $IPMI_NODE" 0 fd-ipmi
calls=$(new_lines "$CHASSIS_LOG" "$n" | grep ' set ')
if in_order "$calls" 'set power "?0' 'set power "?1'; then
  pass "ipmi reboot: chassis.log shows power off, then power on"
else
  fail "ipmi reboot: chassis.log has no off-then-on: $(echo "$calls" | tr '\n' ';')"
fi
expect_state "ipmi after reboot" On ipmi_state
fence_and_check ipmi off "$IPMI_NODE" fd-ipmi Off ipmi_state
check "ipmi after off: ipmitool agrees" bash -c \
  "ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $IPMISIM_PORT -U admin -P password chassis power status | grep -q 'is off'"
fence_and_check ipmi on "$IPMI_NODE" fd-ipmi On ipmi_state

# ---------------------------------------------------------------- 6. VirtualBox over SSH
expect_state "vbox vm1 before reboot" On vm_state vm1
n=$(log_lines "$VBOX_LOG")
fence reboot "$VM_NODE"
expect_rc "vbox reboot $VM_NODE (vm1)" 0 fd-vbox
calls=$(new_lines "$VBOX_LOG" "$n")
if in_order "$calls" 'controlvm (vm1|2ad5a6a6).* (poweroff|acpipowerbutton)' 'startvm (vm1|2ad5a6a6)'; then
  pass "vbox reboot: VBoxManage log shows poweroff, then startvm"
else
  fail "vbox reboot: no poweroff-then-startvm in the VBoxManage log: $(echo "$calls" | tr '\n' ';')"
fi
expect_state "vbox vm1 after reboot" On vm_state vm1
fence off "$VM_NODE"
expect_rc "vbox off $VM_NODE" 0 fd-vbox
expect_state "vbox vm1 after off" Off vm_state vm1
fence on "$VM_NODE"
expect_rc "vbox on $VM_NODE" 0 fd-vbox
expect_state "vbox vm1 after on" On vm_state vm1

# ---------------------------------------------------------------- 6b. KVM/libvirt over SSH
expect_state "virsh kvm1 before reboot" On kvm_state kvm1
fence_and_check virsh reboot "$KVM_NODE" fd-virsh On kvm_state kvm1
fence_and_check virsh off "$KVM_NODE" fd-virsh Off kvm_state kvm1
fence_and_check virsh on "$KVM_NODE" fd-virsh On kvm_state kvm1
# A paused domain is not off: the fence destroys it.
virsh_local suspend kvm1 > /dev/null 2>&1
kvm1_paused() { [ "$(virsh_local domstate kvm1 2> /dev/null | head -n 1)" = paused ]; }
check "virsh kvm1 is paused before the fence" kvm1_paused
fence_and_check "virsh paused" off "$KVM_NODE" fd-virsh Off kvm_state kvm1
fence_and_check virsh on "$KVM_NODE" fd-virsh On kvm_state kvm1

# ---------------------------------------------------------------- 7. dynamic-list: the fencer runs list
n=$(log_lines "$VBOX_LOG")
OUT=$(stonith_admin --list "$DYN_NODE" 2>&1)
if echo "$OUT" | grep -qw fd-vbox-dyn; then
  pass "dynamic-list: stonith_admin --list $DYN_NODE names fd-vbox-dyn"
else
  fail "dynamic-list: fd-vbox-dyn not capable of $DYN_NODE: $(echo "$OUT" | tr '\n' ' ')"
fi
if new_lines "$VBOX_LOG" "$n" | grep -q 'list vms'; then
  pass "dynamic-list: the fencer ran the agent's list (VBoxManage list vms)"
else
  # the list may be cached from an earlier query (60 s); the registration query ran it then
  if grep -q 'list vms' "$VBOX_LOG"; then
    pass "dynamic-list: the agent's list ran (earlier; the fencer caches it for 60 s)"
  else
    fail "dynamic-list: VBoxManage list vms never ran"
  fi
fi
expect_state "dynamic-list: vm2 before" Off vm_state vm2
fence_and_check dynamic-list on "$DYN_NODE" fd-vbox-dyn On vm_state vm2
fence_and_check dynamic-list reboot "$DYN_NODE" fd-vbox-dyn On vm_state vm2
fence_and_check dynamic-list off "$DYN_NODE" fd-vbox-dyn Off vm_state vm2
if grep -qE "Scheduling 'list' action using fd-vbox-dyn" "$WORK/pacemaker.log" &&
  grep -qE "fd-vbox-dyn is eligible to fence \(reboot\) $DYN_NODE: dynamic-list" "$WORK/pacemaker.log"; then
  pass "dynamic-list: pacemaker.log: list ran on fd-vbox-dyn, which was found eligible for $DYN_NODE"
else
  fail "dynamic-list: pacemaker.log lacks the list run or the dynamic-list eligibility of fd-vbox-dyn"
fi

# ---------------------------------------------------------------- 8. status: the fencer asks the agent
t=$(ms)
cibadmin --create -o resources --xml-text "$STATUS_DEVICE_XML" > /dev/null 2>&1 || fail "add fd-vbox-status to the CIB"
if wait_until 60 started fd-vbox-status; then
  pass "crm_mon: fd-vbox-status Started ($(($(ms) - t)) ms)"
else
  fail "crm_mon: fd-vbox-status not Started within 60 s"
fi
n=$(log_lines "$VBOX_LOG")
fence reboot "$STATUS_NODE"
expect_rc "status check: reboot $STATUS_NODE (vm3)" 0 fd-vbox-status
if fencer_says "Scheduling 'status' action targeting $STATUS_NODE using fd-vbox-status"; then
  pass "status check: pacemaker.log: the fencer asked fd-vbox-status for the status of $STATUS_NODE"
else
  fail "status check: pacemaker.log has no status action targeting $STATUS_NODE using fd-vbox-status"
fi
calls=$(new_lines "$VBOX_LOG" "$n")
if in_order "$calls" 'controlvm (vm3|5d08d9d9).* (poweroff|acpipowerbutton)' 'startvm (vm3|5d08d9d9)'; then
  pass "status check: VBoxManage log shows vm3 powered off, then started"
else
  fail "status check: no poweroff-then-startvm of vm3 in the VBoxManage log: $(echo "$calls" | tr '\n' ';')"
fi
expect_state "status check: vm3 after reboot" On vm_state vm3

# ---------------------------------------------------------------- 8b. the vendor example (examples/fence-acme)
# An agent that is not ours: its own crate and binary, registered with fence_cli::main_with.
if [ "$PREFIX" != fence_ ]; then
  expect_state "acme before reboot" On acme_state
  n=$(log_lines "$WORK/acme-sim.log")
  fence reboot "$ACME_NODE"
  expect_rc "acme reboot $ACME_NODE" 0 fd-acme
  calls=$(new_lines "$WORK/acme-sim.log" "$n")
  if in_order "$calls" '^POWER OFF$' '^POWER ON$'; then
    pass "acme reboot: the board accepted POWER OFF, then POWER ON"
  else
    fail "acme reboot: no off-then-on at the board: $(echo "$calls" | tr '\n' ';')"
  fi
  expect_state "acme after reboot" On acme_state
  fence_and_check acme off "$ACME_NODE" fd-acme Off acme_state
  fence_and_check acme on "$ACME_NODE" fd-acme On acme_state
fi

# ---------------------------------------------------------------- 9. nobody can fence this node
fence reboot "$GHOST_NODE"
if [ "$RC" = 105 ]; then
  pass "no capable device: reboot $GHOST_NODE fails with exit 105 ($(echo "$OUT" | tail -n 1))"
else
  fail "no capable device: reboot $GHOST_NODE: exit $RC, want 105: $(echo "$OUT" | tail -n 2 | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- 10. a BMC that refuses the password
before=$(ipmi_state)
n=$(log_lines "$CHASSIS_LOG")
as_opts "${IPMI_PARAMS[@]/#password=*/password=not-the-password}" "pcmk_host_map=$BAD_NODE:ipmi-sim"
stonith_admin --register fd-badpw --agent "${PREFIX}ipmilan" "${OPTS[@]}" > "$WORK/register-badpw.out" 2>&1 ||
  fail "register fd-badpw: $(cat "$WORK/register-badpw.out")"
fence reboot "$BAD_NODE"
if [ "$RC" != 0 ] && [ "$RC" != 105 ]; then
  pass "wrong password: reboot $BAD_NODE fails (exit $RC: $(echo "$OUT" | tail -n 1))"
else
  fail "wrong password: reboot $BAD_NODE: exit $RC, want a failure of the device: $(echo "$OUT" | tail -n 2 | tr '\n' ' ')"
fi
if fencer_says "Operation 'reboot' \\[[0-9]+\\] targeting $BAD_NODE using fd-badpw returned [1-9]"; then
  pass "wrong password: pacemaker.log: the agent ran and failed ($(tail -n "+$((PCMK_LOG_AT + 1))" "$WORK/pacemaker.log" |
    grep -oE "using fd-badpw returned [0-9]+" | head -n 1))"
else
  fail "wrong password: pacemaker.log has no failed reboot targeting $BAD_NODE using fd-badpw"
fi
HIST=$(stonith_admin --history "$BAD_NODE" --verbose 2>&1)
if echo "$HIST" | grep -qiE "reboot of $BAD_NODE failed|failed.*reboot.*$BAD_NODE"; then
  pass "wrong password: the fencing history reports the reboot failed"
else
  fail "wrong password: history does not say failed: $(echo "$HIST" | tr '\n' ' ')"
fi
expect_state "wrong password: machine unchanged ($before)" "$before" ipmi_state
if new_lines "$CHASSIS_LOG" "$n" | grep -q ' set '; then
  fail "wrong password: the BMC received a power command: $(new_lines "$CHASSIS_LOG" "$n" | grep ' set ' | tr '\n' ';')"
else
  pass "wrong password: the BMC received no power command"
fi
stonith_admin --deregister fd-badpw > /dev/null 2>&1

# ---------------------------------------------------------------- 11. metadata and validate, each agent name
for a in $AGENTS; do
  if stonith_admin --metadata --agent "$a" > "$WORK/meta-$a.xml" 2> "$WORK/meta-$a.err" &&
    xmllint --noout "$WORK/meta-$a.xml" 2>> "$WORK/meta-$a.err" &&
    grep -q "<resource-agent name=\"$a\"" "$WORK/meta-$a.xml"; then
    pass "stonith_admin --metadata --agent $a: valid XML naming $a"
  else
    fail "stonith_admin --metadata --agent $a: $(head -c 300 "$WORK/meta-$a.err")"
  fi
  # parameters for the agent's family, told apart by its metadata
  if grep -q 'name="systems_uri"' "$WORK/meta-$a.xml"; then
    params=("${RF_PARAMS[@]}" "systems_uri=$REDFISH_SYSTEMS_URI")
  elif grep -q 'name="vboxmanage_path"' "$WORK/meta-$a.xml"; then
    params=("${VB_PARAMS[@]}")
  elif grep -q '<resource-agent name="[^"]*virsh"' "$WORK/meta-$a.xml"; then
    params=("${VS_PARAMS[@]}")
  elif grep -q 'name="lanplus"' "$WORK/meta-$a.xml"; then
    params=("${IPMI_PARAMS[@]}")
  elif grep -q '<resource-agent name="[^"]*acme"' "$WORK/meta-$a.xml"; then
    params=("${ACME_PARAMS[@]}")
  else
    note "$a: family not recognised from its metadata; validated with ip/username/password only"
    params=(ip=127.0.0.1 username=admin password=password)
  fi
  as_opts "${params[@]}"
  OUT=$(stonith_admin --validate --agent "$a" "${OPTS[@]}" 2>&1)
  RC=$?
  if [ "$RC" = 0 ]; then
    pass "stonith_admin --validate --agent $a: $(echo "$OUT" | grep -m1 -i valid)"
  else
    fail "stonith_admin --validate --agent $a: exit $RC: $(echo "$OUT" | tail -n 3 | tr '\n' ' ')"
  fi
done
# a broken configuration is refused: no address
OUT=$(stonith_admin --validate --agent "${PREFIX}ipmilan" -o username=admin -o password=password 2>&1)
RC=$?
if [ "$RC" != 0 ]; then
  pass "stonith_admin --validate --agent ${PREFIX}ipmilan without ip: refused (exit $RC)"
else
  fail "stonith_admin --validate --agent ${PREFIX}ipmilan without ip: accepted"
fi

# ---------------------------------------------------------------- 12. fencing events and the alert agent
# (issue 11; kept in its own file, sourced here to use this cluster and these helpers)
# shellcheck source=tests/e2e/pacemaker_alerts.sh
. "$ROOT/tests/e2e/pacemaker_alerts.sh"
T_SCEN_END=$(ms)
