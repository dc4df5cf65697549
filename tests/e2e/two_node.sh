#!/bin/bash
# Two-node Pacemaker cluster end to end (issue 18): a real two-node corosync + Pacemaker
# cluster on one machine fences a failed node through each of our agent families (fence_vbox,
# fence_ipmilan, fence_redfish), and the fenced node is really gone.
#
#   sudo bash tests/e2e/two_node.sh        (tests/run-all.sh runs it after cargo test, against the
#                                           installed fence-rs package: FENCE_E2E_INSTALLED=1)
#
# The machine (tests/e2e/two_node/machine; the recipe of the reference kit
# shared/reference/two-node-cluster, whose pitfalls are cited there): node1 (10.99.0.1) and
# node2 (10.99.0.2), each in its own network, mount and UTS namespace with private
# /var/lib/{pacemaker,corosync}, /var/log/{pacemaker,corosync}, /etc/corosync and tmpfs /run and
# /dev/shm, corosync over veth links to a bridge; a third namespace f2n-host (10.99.0.3) is the
# "VirtualBox host": OpenSSH's sshd (root, key login) with the VBoxManage stand-in
# (tests/peers/VBoxManage.fake) whose VMs CentOS83-1 and CentOS83-2 *are* node1 and node2: its
# power hook makes `controlvm poweroff` SIGKILL every process of that node at once (a power
# cut) and `startvm` boot its cluster stack again.
#
# The BMCs: fence-sim ipmi (two BMCs, 10.99.0.3:623 and :624) and fence-sim redfish (one
# service, 10.99.0.3:8443, Systems/1 and Systems/2) in the host namespace, started with
# --on-power-change: a machine's off kills its node, its on boots it. After the vbox
# scenarios, the same cluster gets fence_ipmilan devices, then fence_redfish devices (same ids
# fd-node1/fd-node2, same constraints), and runs A and B (and D) with each.
#
# The seed's configuration: one fence_vbox device per node, pcmk_host_map node1:CentOS83-1 and
# node2:CentOS83-2, each kept off its own node (location -INFINITY), a Dummy resource `test`
# whose stop has on-fail=fence. fd-node1 runs our agent as fence_rs_vbox, fd-node2 runs it
# under the standard name fence_vbox (our binary bind-mounted over Debian's /usr/sbin/fence_vbox
# inside the nodes' mount namespaces only; the host's file is not touched).
# Differences from the seed, for CI: the stop timeout is 5 s (seed: 30 s; TWO_NODE_STOP_TIMEOUT),
# stonith-action=off (seed: the default reboot) so that the fenced node stays down until the
# scenario powers it on with startvm, resource-stickiness=100 so that `test` stays where it runs
# when the fenced node rejoins, dc-deadtime=2s (a faster start), stonith-max-attempts=1000
# (default 10: with the host unreachable, each attempt fails within a second, and after 10 the
# controller stops trying until an administrator steps in; scenario C wants the retry to go on
# until the host is back).
#
# Scenarios (each: the failure, then the checks; the fenced node is powered on again with
# `VBoxManage startvm` on the host, and must rejoin a clean cluster):
#   A  the stop of `test` fails (it hangs in the node that runs it; ban -> stop -> timeout ->
#      on-fail=fence): the survivor fences it through fence_vbox, every process of the fenced
#      node is gone, VBoxManage reports it powered off, `test` runs on the survivor (its state
#      file there; crm_mon -1 shows it Started there)
#   B  the node running `test` is cut off (its corosync SIGKILLed): the survivor fences it
#      and takes over
#   C  the fencing device cannot reach the host (sshd stopped), and the node running `test` is
#      cut off: fencing fails with our agent's message in the survivor's Pacemaker log, `test`
#      is never running on both nodes and never started on the survivor while the victim is
#      alive; once sshd is back, the fencing succeeds and `test` runs on the survivor
#   D  after each: startvm boots the fenced node, it rejoins, both nodes Online, no failed
#      actions, every resource Started
# Prints one line per check and "N passed, M failed"; exits non-zero when any check failed.
#
# Env: FENCE_AGENT_BIN=path        our fence-agent binary (run-all sets it; else built here)
#      FENCE_SIM_BIN=path          the fence-sim binary (run-all sets it; else built here)
#      FENCE_E2E_INSTALLED=1       the fence-rs package is installed: its /usr/sbin/fence_rs_* and
#                                  alert agent are used (else FENCE_AGENT_BIN is installed into
#                                  /usr/sbin and uninstalled at the end)
#      FENCE_TWO_NODE_AGENTS=ours  ours (default) or python: Debian's Python fence_vbox,
#                                  fence_ipmilan and fence_redfish in the same places
#      FENCE_TWO_NODE_PLAN="vbox:ABC ipmilan:AB redfish:AB"  families and scenarios, in order
#      TWO_NODE_STOP_TIMEOUT=5s    the stop timeout of `test`
#      TOKEN_MS=3000               corosync's token timeout
#      FENCE_E2E_KEEP=1            keep the work directory (logs) also after a passing run
#      TWO_NODE_TIMES=FILE         append one "scenario agents ms" line per scenario (bench)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MACHINE=$ROOT/tests/e2e/two_node/machine
AGENTS_KIND=${FENCE_TWO_NODE_AGENTS:-ours}
STOP_TIMEOUT=${TWO_NODE_STOP_TIMEOUT:-5s}
export TOKEN_MS=${TOKEN_MS:-3000}
# shellcheck source=tests/e2e/suite.sh
. "$ROOT/tests/e2e/suite.sh" # pass, fail, check, fatal, note, wait_until, uninstall_recorded
T0=$(ms)

T=
SSHD_PID=
NET_UP=
cleanup() {
  local rc=$? n p
  trap - EXIT INT TERM
  if [ -n "$T" ]; then
    # every process of the nodes and of the host namespace, by PID (machine kill scans them)
    for n in node1 node2 host; do
      [ -n "$NET_UP" ] && { TWO_NODE_DIR=$T "$MACHINE" kill "$n" || note "kill $n failed"; }
    done
    for p in $SSHD_PID ${SIM_PIDS:-} ${SNMPTRAPD_PID:-}; do if kill -0 "$p" 2> /dev/null; then kill -KILL "$p"; fi; done
    [ -n "$NET_UP" ] && { TWO_NODE_DIR=$T "$MACHINE" net-down || note "net-down failed"; }
    for p in node1 node2 host; do
      [ -e "/run/netns/f2n-$p" ] && fail "network namespace f2n-$p left behind"
    done
  fi
  uninstall_recorded # what install made here (UNINSTALL)
  [ -n "${ALERT_DIR_MADE:-}" ] && rmdir "$ALERT_DIR_MADE" 2> /dev/null
  [ "$rc" -ne 0 ] && [ "$FAIL" -eq 0 ] && FAIL=1
  echo "e2e two_node ($AGENTS_KIND agents): $(($(ms) - T0)) ms in all"
  if [ -n "$T" ]; then
    if [ "$FAIL" -ne 0 ] || [ "${FENCE_E2E_KEEP:-0}" = 1 ]; then
      echo "logs kept in $T (nodes/*/log-pacemaker/pacemaker.log, nodes/*/log-corosync, ssh/sshd.log, vbox/.log)"
    else
      rm -rf "$T"
    fi
  fi
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
  exit $?
}
trap cleanup EXIT
trap 'fail "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- preconditions
[ "$(id -u)" = 0 ] || fatal "must run as root (namespaces, cluster daemons, /usr/sbin)"
for t in corosync corosync-cmapctl pacemakerd stonith_admin cibadmin crm_mon crm_resource \
  crm_attribute ip nsenter unshare setsid flock ssh ssh-keygen; do
  command -v "$t" > /dev/null || fatal "$t is missing: run tests/scripts/install-deps.sh"
done
[ -x /usr/sbin/sshd ] || fatal "/usr/sbin/sshd is missing: run tests/scripts/install-deps.sh"
[ -x /usr/lib/ocf/resource.d/pacemaker/Dummy ] || fatal "ocf:pacemaker:Dummy is missing (package pacemaker)"
case $AGENTS_KIND in ours | python) ;; *) fatal "FENCE_TWO_NODE_AGENTS=$AGENTS_KIND: ours or python" ;; esac
# One cluster suite at a time on a host (pacemaker.sh refuses to run beside a corosync).
mkdir -p /run/lock
exec 9> /run/lock/fence-rs-e2e-pacemaker.lock
flock -w 600 9 || fatal "another cluster suite holds /run/lock/fence-rs-e2e-pacemaker.lock"

T=$(mktemp -d -t fence-rs-two-node.XXXXXX)
chmod 755 "$T" # the cluster daemons run as hacluster and write below it
export TWO_NODE_DIR=$T
m() { "$MACHINE" "$@"; }

# ---------------------------------------------------------------- 1. agents
AGENT_COPY=/usr/sbin/fence-agent
ALERT_DIR=/usr/local/libexec/fence-rs # the alert agent, outside the fencer's directory
FAMILIES="vbox ipmilan redfish"
declare -A AGENT1 AGENT2 # per family: fd-node1's and fd-node2's agent
if [ "$AGENTS_KIND" = ours ]; then
  BIN=${FENCE_AGENT_BIN:-}
  SIM=${FENCE_SIM_BIN:-}
  if [ -z "$BIN" ] || [ -z "$SIM" ]; then
    t=$(ms)
    (cd "$ROOT" && cargo build --release --locked -p fence-cli -p fence-sim) > "$T/build.log" 2>&1 ||
      { tail -n 30 "$T/build.log"; fatal "cargo build --release -p fence-cli -p fence-sim"; }
    pass "cargo build --release -p fence-cli -p fence-sim ($(($(ms) - t)) ms)"
    BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-agent}
    SIM=${SIM:-${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-sim}
  fi
  if [ "${FENCE_E2E_INSTALLED:-0}" = 1 ]; then
    # the fence-rs package (tests/scripts/package-check.sh installed it): its agents as they are
    dpkg -S "$AGENT_COPY" 2> /dev/null | grep -q '^fence-rs:' || fatal "the fence-rs package is not installed ($AGENT_COPY)"
    ALERT_DIR=/usr/libexec/fence-rs
    pass "the installed fence-rs package: $(dpkg-query -W -f='${Package} ${Version}' fence-rs), $AGENT_COPY"
  else
    UNINSTALL+=("$AGENT_COPY /usr/sbin")
    "$BIN" install --dir /usr/sbin --prefix fence_rs_ --force > "$T/install.log" 2>&1 ||
      { cat "$T/install.log"; fatal "fence-agent install --dir /usr/sbin --prefix fence_rs_"; }
  fi
  overlay=
  for f in $FAMILIES; do
    [ -x "/usr/sbin/fence_rs_$f" ] || fatal "/usr/sbin/fence_rs_$f is not installed"
    # the standard name, inside the nodes only: our binary over Debian's /usr/sbin/fence_$f
    [ -e "/usr/sbin/fence_$f" ] || fatal "/usr/sbin/fence_$f (package fence-agents) is missing: the bind mount needs its place"
    overlay+="/usr/sbin/fence_$f=$AGENT_COPY "
    AGENT1[$f]=fence_rs_$f
    AGENT2[$f]=fence_$f
  done
  pass "agents fence_rs_vbox, fence_rs_ipmilan, fence_rs_redfish -> $AGENT_COPY in /usr/sbin"
  export TWO_NODE_OVERLAY=${overlay% }
else
  SIM=${FENCE_SIM_BIN:-}
  if [ -z "$SIM" ]; then
    (cd "$ROOT" && cargo build --release --locked -p fence-sim) > "$T/build.log" 2>&1 ||
      { tail -n 30 "$T/build.log"; fatal "cargo build --release -p fence-sim"; }
    SIM=${CARGO_TARGET_DIR:-$ROOT/target}/release/fence-sim
  fi
  for f in $FAMILIES; do
    [ -x "/usr/sbin/fence_$f" ] || fatal "Debian's /usr/sbin/fence_$f is missing: run tests/scripts/install-deps.sh"
    AGENT1[$f]=fence_$f
    AGENT2[$f]=fence_$f
  done
  export TWO_NODE_OVERLAY=
fi
[ -x "$SIM" ] || fatal "fence-sim binary $SIM is missing"
for t in ipmitool curl; do command -v "$t" > /dev/null || fatal "$t is missing: run tests/scripts/install-deps.sh"; done
note "agents per node (fd-node1, fd-node2): $(for f in $FAMILIES; do printf '%s %s, ' "${AGENT1[$f]}" "${AGENT2[$f]}"; done)($AGENTS_KIND)"

# ---------------------------------------------------------------- 2. the machine and its host
t=$(ms)
NET_UP=1
m net-up > "$T/net-up.log" 2>&1 || { cat "$T/net-up.log"; fatal "namespaces and veth links (machine net-up)"; }
pass "namespaces f2n-node1, f2n-node2, f2n-host, f2n-sw with veth links up ($(($(ms) - t)) ms)"
HOST_IP=10.99.0.3
# every machine that is a node: VirtualBox's VMs and fence-sim's BMC machines (ipmi-I, redfish-S-N)
printf '%s node1\n' CentOS83-1 ipmi-0 redfish-0-1 > "$T/machines.map"
printf '%s node2\n' CentOS83-2 ipmi-1 redfish-0-2 >> "$T/machines.map"
# the "VirtualBox host": sshd (root, key login only) with the stand-in on PATH and its hook
K=$T/ssh
install -d -m 700 "$K"
install -d -m 755 "$T/bin" "$T/vbox" /run/sshd
install -m 755 "$ROOT/tests/peers/VBoxManage.fake" "$T/bin/VBoxManage"
printf '#!/bin/sh\n# the VMs are the nodes: VBoxManage.fake runs this on each state change\nTWO_NODE_DIR=%s exec %s vbox-hook "$@"\n' \
  "$T" "$MACHINE" > "$T/bin/vbox-hook"
chmod 755 "$T/bin/vbox-hook"
ssh-keygen -q -t ed25519 -N '' -C fence-rs-two-node-host -f "$K/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C fence-rs-two-node-client -f "$K/client_ed25519"
install -m 600 "$K/client_ed25519.pub" "$K/authorized_keys"
echo "$HOST_IP $(cut -d' ' -f1,2 "$K/host_ed25519.pub")" > "$K/known_hosts"
cat > "$K/sshd_config" << CONF
Port 22
ListenAddress $HOST_IP
HostKey $K/host_ed25519
PidFile $K/sshd.pid
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $K/authorized_keys
StrictModes no
SetEnv PATH=$T/bin:/usr/local/bin:/usr/bin:/bin FAKEVBOX_DIR=$T/vbox FAKEVBOX_POWER_HOOK=$T/bin/vbox-hook
PrintMotd no
MaxStartups 100:30:200
CONF
cat > "$K/ssh-wrapper" << WRAP
#!/bin/sh
# ssh with this run's known_hosts (Debian's fence_vbox: ssh_path)
exec /usr/bin/ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$K/known_hosts -o LogLevel=ERROR "\$@"
WRAP
chmod 755 "$K/ssh-wrapper"
host() { ip netns exec f2n-host "$@"; }
vbox() { host env PATH="$T/bin:/usr/bin:/bin" FAKEVBOX_DIR="$T/vbox" FAKEVBOX_POWER_HOOK="$T/bin/vbox-hook" VBoxManage "$@"; }
start_sshd() {
  rm -f "$K/sshd.pid"
  # ip netns exec execs sshd, so $! is sshd's PID; -D: no daemon, -E: its log
  (exec ip netns exec f2n-host /usr/sbin/sshd -D -f "$K/sshd_config" -E "$K/sshd.log") < /dev/null > "$K/sshd.out" 2>&1 &
  SSHD_PID=$!
  disown "$SSHD_PID" # stopped by PID here; no job report of its SIGKILL
  for _ in $(seq 100); do
    host "$K/ssh-wrapper" -i "$K/client_ed25519" -o BatchMode=yes -o ConnectTimeout=2 "root@$HOST_IP" VBoxManage list vms \
      > /dev/null 2>&1 && return 0
    kill -0 "$SSHD_PID" 2> /dev/null || return 1
    sleep 0.1
  done
  return 1
}
stop_sshd() {
  kill -TERM "$SSHD_PID" 2> /dev/null
  for _ in $(seq 50); do kill -0 "$SSHD_PID" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$SSHD_PID" 2> /dev/null; then kill -KILL "$SSHD_PID"; fi
  SSHD_PID=
}
start_sshd || { tail "$K/sshd.log"; fatal "sshd in f2n-host on $HOST_IP:22 (key login as root, VBoxManage list vms)"; }
pass "VirtualBox host: sshd on $HOST_IP:22 (pid $SSHD_PID), VBoxManage stand-in on its PATH"
# the BMCs: fence-sim in the host namespace, its machines bound to the nodes (--on-power-change);
# default credentials (admin/password: nothing secret on a command line)
printf '#!/bin/sh\n# the BMC machines are the nodes: fence-sim --on-power-change runs this\nTWO_NODE_DIR=%s exec %s bmc-hook "$@"\n' \
  "$T" "$MACHINE" > "$T/bin/bmc-hook"
chmod 755 "$T/bin/bmc-hook"
SIM_PIDS=
start_sim() { # KIND ARGS...: fence-sim KIND in f2n-host, ready when its JSON line is written
  local kind=$1
  shift
  (exec ip netns exec f2n-host "$SIM" "$kind" --address "$HOST_IP" --on-power-change "$T/bin/bmc-hook" \
    --info-file "$T/sim-$kind.json" "$@") < /dev/null > "$T/sim-$kind.out" 2> "$T/sim-$kind.log" &
  SIM_PIDS+=" $!"
  disown $!
  wait_file "$T/sim-$kind.json" || return 1
}
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
IPMI_PORT=623
RF_PORT=8443
start_sim ipmi --count 2 --base-port "$IPMI_PORT" || { cat "$T/sim-ipmi.log"; fatal "fence-sim ipmi on $HOST_IP:$IPMI_PORT-$((IPMI_PORT + 1))"; }
start_sim redfish --systems 2 --port "$RF_PORT" --ca-file "$T/redfish-ca.pem" ||
  { cat "$T/sim-redfish.log"; fatal "fence-sim redfish on $HOST_IP:$RF_PORT"; }
# the judges' credentials in files, not on their command lines
printf 'password\n' > "$T/ipmi-password"
printf 'machine %s login admin password password\n' "$HOST_IP" > "$T/netrc"
chmod 600 "$T/ipmi-password" "$T/netrc"
ipmi_port() { if [ "$1" = node1 ]; then echo "$IPMI_PORT"; else echo $((IPMI_PORT + 1)); fi; }
rf_system() { if [ "$1" = node1 ]; then echo /redfish/v1/Systems/1; else echo /redfish/v1/Systems/2; fi; }
ipmitool_host() { # NODE ARGS...: ipmitool in the host namespace against NODE's BMC
  local n=$1
  shift
  host ipmitool -I lanplus -C 3 -H "$HOST_IP" -p "$(ipmi_port "$n")" -U admin -f "$T/ipmi-password" "$@"
}
curl_host() { # PATH ARGS...: the Redfish service, from the host namespace
  local path=$1
  shift
  host curl -sS --max-time 5 --cacert "$T/redfish-ca.pem" --netrc-file "$T/netrc" "$@" "https://$HOST_IP:$RF_PORT$path"
}
# shellcheck disable=SC2016 # expanded by the inner bash
check "fence-sim BMCs answer: ipmitool (node1's BMC) and curl (node2's system) see power on" \
  bash -c '[ "$1" = "Chassis Power is on" ] && grep -q "\"PowerState\": *\"On\"" <<< "$2"' _ \
  "$(ipmitool_host node1 chassis power status 2>&1)" "$(curl_host "$(rf_system node2)" 2>&1)"

# ---------------------------------------------------------------- events: alerts, event log, SNMP traps
# (our agents only: Debian's agents have no event_log or notify_command)
EVENTS=0
EV_PARAMS=()
SNMPTRAPD_PID=
if [ "$AGENTS_KIND" = ours ]; then
  EVENTS=1
  EVLOG=$T/events.jsonl
  # agents append as root, Pacemaker's alert agents as hacluster
  install -o hacluster -g haclient -m 0660 /dev/null "$EVLOG"
  ALERT_BIN=$ALERT_DIR/fence_rs_alert
  if [ "${FENCE_E2E_INSTALLED:-0}" != 1 ]; then
    [ -d "$ALERT_DIR" ] || { mkdir -p "$ALERT_DIR" && ALERT_DIR_MADE=$ALERT_DIR; }
    UNINSTALL+=("$ALERT_DIR/fence-agent $ALERT_DIR")
    "$AGENT_COPY" install-alert --dir "$ALERT_DIR" --force > "$T/install-alert.log" 2>&1 ||
      { cat "$T/install-alert.log"; fatal "fence-agent install-alert --dir $ALERT_DIR"; }
  fi
  [ -x "$ALERT_BIN" ] || fatal "the alert agent $ALERT_BIN is missing"
  # the README's SNMP trap recipe (section "Fencing events"), exactly as printed there
  awk '/^SNMP trap \(v2c/ { f = 1 } f && /^```sh$/ { g = 1; next } g && /^```$/ { exit } g' "$ROOT/README.md" > "$T/bin/fence-notify-snmp"
  chmod 755 "$T/bin/fence-notify-snmp"
  grep -q '^exec snmptrap ' "$T/bin/fence-notify-snmp" || fatal "the SNMP trap recipe is not in README.md"
  for t in snmptrapd snmptrap; do command -v "$t" > /dev/null || fatal "$t is missing: run tests/scripts/install-deps.sh"; done
  install -d -m 755 "$T/snmp"
  printf 'authCommunity log public\n' > "$T/snmptrapd.conf"
  # net-snmp's trap receiver on the host, one line per trap; its state under $T/snmp
  (exec ip netns exec f2n-host env SNMP_PERSISTENT_DIR="$T/snmp" snmptrapd -f -C -c "$T/snmptrapd.conf" -m '' -On \
    -Lf "$T/snmptrapd.log" -F 'TRAP %B %V| %v\n' "udp:$HOST_IP:162") < /dev/null > "$T/snmptrapd.out" 2>&1 &
  SNMPTRAPD_PID=$!
  disown "$SNMPTRAPD_PID"
  trap_probe() {
    host env SNMP_PERSISTENT_DIR="$T/snmp" snmptrap -m '' -v 2c -c public "$HOST_IP:162" '' 1.3.6.1.4.1.8072.9999.9999.11.0.1 \
      1.3.6.1.4.1.8072.9999.9999.11.1 s probe > /dev/null 2>&1
    grep -q 'STRING: "probe"' "$T/snmptrapd.log" 2> /dev/null
  }
  if wait_until 10 trap_probe; then
    pass "snmptrapd (net-snmp) on $HOST_IP:162 logs a probe trap"
  else
    fatal "snmptrapd on $HOST_IP:162 did not log a probe trap: $(tail -n 3 "$T/snmptrapd.out")"
  fi
  EV_PARAMS=("event_log=$EVLOG" "notify_command=SNMP_PERSISTENT_DIR=$T/snmp SNMP_MANAGER=$HOST_IP:162 $T/bin/fence-notify-snmp")
else
  note "events (alerts, event log, SNMP traps): checked with our agents only; Debian's have no event_log or notify_command"
fi

# ---------------------------------------------------------------- 3. the CIB (the seed's configuration)
if [ "$AGENTS_KIND" = ours ]; then
  # our agent checks the host key against this file (strict: it must be there)
  VB_PARAMS=("ip=$HOST_IP" username=root "identity_file=$K/client_ed25519" "ssh_known_hosts_file=$K/known_hosts" ssh_host_key_check=strict)
else
  VB_PARAMS=("ip=$HOST_IP" username=root "identity_file=$K/client_ed25519" "ssh_path=$K/ssh-wrapper")
fi
nvpairs() { # ID NAME=VALUE...
  local id=$1 kv n v
  shift
  for kv in "$@"; do
    n=${kv%%=*}
    v=${kv#*=}
    v=${v//&/&amp;}
    v=${v//</&lt;}
    v=${v//\"/&quot;}
    printf '<nvpair id="%s-%s" name="%s" value="%s"/>' "$id" "$n" "$n" "$v"
  done
}
IPMI_PARAMS=("ip=$HOST_IP" username=admin password=password lanplus=1 cipher=3)
RF_PARAMS=("ip=$HOST_IP" "ipport=$RF_PORT" username=admin password=password)
if [ "$AGENTS_KIND" = ours ]; then RF_PARAMS+=("ssl_ca_file=$T/redfish-ca.pem"); else RF_PARAMS+=(ssl_insecure=1); fi
device() { # FAMILY NODE: the fence device for NODE (fd-NODE), through FAMILY's agent
  local f=$1 n=$2 agent params
  if [ "$n" = node1 ]; then agent=${AGENT1[$f]}; else agent=${AGENT2[$f]}; fi
  case $f in
    vbox) params=("${VB_PARAMS[@]}" "pcmk_host_map=$n:$(vm_of "$n")") ;;
    ipmilan) params=("${IPMI_PARAMS[@]}" "ipport=$(ipmi_port "$n")" "pcmk_host_list=$n") ;;
    redfish) params=("${RF_PARAMS[@]}" "systems_uri=$(rf_system "$n")" "pcmk_host_list=$n") ;;
  esac
  params+=("${EV_PARAMS[@]}")
  printf '<primitive id="fd-%s" class="stonith" type="%s"><instance_attributes id="fd-%s-ia">%s</instance_attributes>' \
    "$n" "$agent" "$n" "$(nvpairs "fd-$n" "${params[@]}")"
  printf '<operations><op id="fd-%s-monitor" name="monitor" interval="60s"/></operations></primitive>' "$n"
}
vm_of() { if [ "$1" = node1 ]; then echo CentOS83-1; else echo CentOS83-2; fi; }
RESOURCES="<resources>$(device vbox node1)$(device vbox node2)
<primitive id=\"test\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations>
  <op id=\"test-start\" name=\"start\" interval=\"0\" timeout=\"20s\"/>
  <op id=\"test-monitor\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>
  <op id=\"test-stop\" name=\"stop\" interval=\"0\" timeout=\"$STOP_TIMEOUT\" on-fail=\"fence\"/>
</operations></primitive></resources>"
CONSTRAINTS='<constraints>
  <rsc_location id="location-fd-node1" rsc="fd-node1" node="node1" score="-INFINITY"/>
  <rsc_location id="location-fd-node2" rsc="fd-node2" node="node2" score="-INFINITY"/></constraints>'
SEED=$T/cib-seed.xml
if ! { cibadmin --empty > "$SEED" &&
  for kv in dc-deadtime=2s stonith-enabled=true stonith-action=off stonith-max-attempts=1000; do
    CIB_file=$SEED crm_attribute --type crm_config --name "${kv%%=*}" --update "${kv#*=}" || exit 1
  done &&
  sed -i 's|</constraints>|&<rsc_defaults><meta_attributes id="rsc-options"><nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>|; s|<constraints/>|&<rsc_defaults><meta_attributes id="rsc-options"><nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>|' "$SEED" &&
  grep -q rsc-options-resource-stickiness "$SEED" &&
  CIB_file=$SEED cibadmin --replace -o resources --xml-text "$RESOURCES" &&
  CIB_file=$SEED cibadmin --replace -o constraints --xml-text "$CONSTRAINTS" &&
  if [ "$EVENTS" = 1 ]; then
    CIB_file=$SEED cibadmin --create -o configuration --xml-text "<alerts><alert id=\"fence-rs-alert\" path=\"$ALERT_BIN\"><recipient id=\"fence-rs-alert-file\" value=\"$EVLOG\"/></alert></alerts>"
  fi; } > "$T/seed.log" 2>&1; then
  cat "$T/seed.log"
  fatal "seed the CIB"
fi
m prep > "$T/prep.log" 2>&1 || { cat "$T/prep.log"; fatal "per-node state (machine prep)"; }
pass "CIB seeded: fd-node1 (${AGENT1[vbox]}, node1:CentOS83-1), fd-node2 (${AGENT2[vbox]}, node2:CentOS83-2), test (stop timeout $STOP_TIMEOUT on-fail=fence)"

# ---------------------------------------------------------------- cluster helpers
other() { if [ "$1" = node1 ]; then echo node2; else echo node1; fi; }
mon() { m x "$1" crm_mon -1 2> /dev/null; }
# clean NODE: NODE's view is a clean cluster: both Online, DC, 3 resources Started, no failures
clean() {
  local out
  out=$(mon "$1") || return 1
  grep -q 'Online: \[ node1 node2 \]' <<< "$out" && grep -q 'Current DC: node' <<< "$out" &&
    [ "$(grep -c 'Started' <<< "$out")" -ge 3 ] &&
    ! grep -qE 'Failed|UNCLEAN|OFFLINE|Stopped|pending' <<< "$out"
}
# settled NODE: the scheduler has nothing left to do (crm_resource --wait): crm_mon can show a
# changed device Started while its restart still waits behind a transition in flight
settled() { m x "$1" crm_resource --wait --timeout=1s > /dev/null 2>&1; }
runs_test() { m x "$1" test -e /run/Dummy-test.state 2> /dev/null; } # the truth
where() { m x "$1" crm_resource -W -r test -Q 2> /dev/null | tr '\n' ' ' | sed 's/ $//'; }
# test_on NODE: NODE itself reports test Started on NODE (only), and it really runs there
test_on() {
  [ "$(where "$1")" = "$1" ] && mon "$1" | grep -Eq "test[[:space:]].*Started $1" && runs_test "$1"
}
vm_state() { vbox showvminfo "$1" --machinereadable 2> /dev/null | sed -n 's/^VMState="\(.*\)"$/\1/p'; }
pcmk_log() { echo "$T/nodes/$1/log-pacemaker/pacemaker.log"; }
fence_ok_logged() { # SURVIVOR VICTIM [FROM_LINE]: the survivor's fencer ran fd-VICTIM's agent: off, rc 0
  # (grep reads a process substitution: with pipefail, grep -q ending first fails a pipe)
  grep -qE "Operation 'off' \[[0-9]+\] targeting $2 using fd-$2 returned 0" < <(tail -n "+${3:-1}" "$(pcmk_log "$1")")
}
show_state() { # for a failure: both nodes' views and the recent fencing lines
  local n
  for n in node1 node2; do
    note "--- crm_mon -1 on $n"
    mon "$n" | sed -n '/Node List/,$p' | sed 's/^/      /'
  done
  note "--- machine.log"
  tail -n 8 "$T/state/machine.log" | sed 's/^/      /'
}

# ---------------------------------------------------------------- 4. boot both nodes
t=$(ms)
{ m start node1 && m start node2; } || fatal "boot the nodes (machine start)"
vbox fake-create CentOS83-1 8a3f7c3e-1d2b-4c5e-9f00-000000000001 running
vbox fake-create CentOS83-2 8a3f7c3e-1d2b-4c5e-9f00-000000000002 running
if wait_until 90 clean node1 && wait_until 30 clean node2 && wait_until 60 settled node1; then
  pass "both nodes Online, fd-node1 fd-node2 test Started, nothing pending ($(($(ms) - t)) ms after boot)"
else
  show_state
  fatal "cluster did not come up clean within 120 s"
fi
check "fd-node1 runs on node2 and fd-node2 on node1 (location -INFINITY on their own node)" \
  bash -c "crm_out=\$('$MACHINE' x node1 crm_mon -1); grep -Eq 'fd-node1[[:space:]].*Started node2' <<< \"\$crm_out\" && grep -Eq 'fd-node2[[:space:]].*Started node1' <<< \"\$crm_out\""
mon node1 | sed -n '/Node List/,$p' | sed 's/^/      /'

TIMES=()
record() { # SCENARIO MS [BREAKDOWN]
  TIMES+=("$FAMILY $1: $2${3:+ ($3)}")
  [ -n "${TWO_NODE_TIMES:-}" ] && echo "$FAMILY ${1%% *} $AGENTS_KIND $2 ${BREAK_MS:-- - -}" >> "$TWO_NODE_TIMES"
  BREAK_MS=
  return 0
}
log_ms() { # a pacemaker.log line -> its time, epoch ms
  date -d "$(awk '{print $1, $2, $3}' <<< "$1")" +%s%3N
}
# breakdown SURVIVOR VICTIM T_FAIL T_RUNNING: where the time went, from the survivor's log since
# the mark: the failure until the fencer is asked to fence (Pacemaker: stop timeout, or
# corosync's token and consensus), the agent's off (the fencer's request to the agent's
# result), and from there until test runs (the result's way through the fencer and the
# controller, which waits for the new membership, then test's start). Sets BREAK_MS and WHY.
breakdown() {
  local s=$1 v=$2 tf=$3 tr req done_ tq ta
  req=$(grep -E "Requesting peer fencing \(off\) targeting $v" < <(tail -n "+$LOG_AT" "$(pcmk_log "$s")") | tail -n 1)
  done_=$(grep -E "Operation 'off' \[[0-9]+\] targeting $v using fd-$v returned 0" < <(tail -n "+$LOG_AT" "$(pcmk_log "$s")") | tail -n 1)
  tr=$4
  BREAK_MS=
  WHY=
  if [ -z "$req" ] || [ -z "$done_" ]; then return 0; fi
  tq=$(log_ms "$req")
  ta=$(log_ms "$done_")
  BREAK_MS="$((tq - tf)) $((ta - tq)) $((tr - ta))"
  WHY="to the fence request $((tq - tf)) ms, agent $((ta - tq)) ms, then until test runs $((tr - ta)) ms"
}
# power_of NODE: the power state of NODE's machine as the current family's host reports it
power_of() {
  case $FAMILY in
    vbox) case $(vm_state "$(vm_of "$1")") in poweroff) echo off ;; running) echo on ;; *) echo "?" ;; esac ;;
    ipmilan) case $(ipmitool_host "$1" chassis power status 2> /dev/null) in
      "Chassis Power is off") echo off ;; "Chassis Power is on") echo on ;; *) echo "?" ;; esac ;;
    redfish) case $(curl_host "$(rf_system "$1")" 2> /dev/null | grep -o '"PowerState": *"[A-Za-z]*"') in
      *'"Off"') echo off ;; *'"On"') echo on ;; *) echo "?" ;; esac ;;
  esac
}
# power_on NODE: the host powers NODE's machine on (VBoxManage startvm, IPMI chassis power on,
# Redfish Reset On); its hook boots the node
power_on() {
  case $FAMILY in
    vbox) vbox startvm "$(vm_of "$1")" --type headless ;;
    ipmilan) ipmitool_host "$1" chassis power on ;;
    redfish) curl_host "$(rf_system "$1")/Actions/ComputerSystem.Reset" -f -H 'Content-Type: application/json' \
      -d '{"ResetType": "On"}' ;;
  esac
}
power_on_name() { case $FAMILY in vbox) echo "VBoxManage startvm" ;; ipmilan) echo "ipmitool chassis power on" ;; redfish) echo "Redfish Reset On" ;; esac; }

# mark SURVIVOR: where the logs stand before a failure (the survivor's pacemaker.log, the event
# log, snmptrapd's log): the checks read only what comes after
mark() {
  LOG_AT=$(($(wc -l < "$(pcmk_log "$1")") + 1))
  EV_AT=$(($(wc -l < "${EVLOG:-/dev/null}") + 1))
  TRAP_AT=1
  if [ -f "$T/snmptrapd.log" ]; then TRAP_AT=$(($(wc -l < "$T/snmptrapd.log") + 1)); fi
}
# events_has VICTIM SURVIVOR WANT: the event log (since the mark) holds our agent's record of the
# off of VICTIM with success WANT, and Pacemaker's fencing alert for it with the same outcome;
# with WANT=true also the node alert for VICTIM and the resource alert of test started on SURVIVOR
events_has() {
  python3 - "$EVLOG" "$EV_AT" "$1" "$2" "$3" > "$T/events-check.out" << 'PY'
import json, sys
path, start, victim, survivor, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "true"
seen = {"agent": None, "fencing": None, "node": None, "resource": None}
for n, line in enumerate(open(path), 1):
    if n < start:
        continue
    try:
        v = json.loads(line)
    except ValueError:
        print(f"line {n} is not JSON: {line[:80]!r}")
        sys.exit(1)
    src, kind = v.get("source"), v.get("kind")
    if src == "agent" and v.get("node") == victim and v.get("action") == "off" and v.get("success") is want:
        seen["agent"] = v
    elif src == "pacemaker" and kind == "fencing" and v.get("node") == victim and v.get("success") is want:
        seen["fencing"] = v
    elif src == "pacemaker" and kind == "node" and v.get("node") == victim:
        seen["node"] = v
    elif (src == "pacemaker" and kind == "resource" and v.get("rsc") == "test" and v.get("node") == survivor
          and v.get("action") == "start" and v.get("success") is True):
        seen["resource"] = v
need = ["agent", "fencing"] + (["node", "resource"] if want else [])
missing = [k for k in need if seen[k] is None]
if missing:
    print("missing: " + ", ".join(missing))
    sys.exit(1)
a, f = seen["agent"], seen["fencing"]
res = a.get("result") or (a.get("outcome") or {}).get("outcome") or a.get("error_kind")
print(f"agent: {a.get('agent')} off {victim} success={a.get('success')} ({res}, {a.get('duration_ms')} ms); "
      f"pacemaker: fencing {f.get('action')} {victim} success={f.get('success')} '{f.get('desc', '')}'"
      + (f"; node alert '{seen['node'].get('desc', '')}'; resource alert test start on {survivor}" if want else ""))
PY
}
# trap_has VICTIM RESULT: snmptrapd logged (since the mark) a trap of the README's recipe for
# the off of VICTIM with FENCE_EVENT_RESULT RESULT
trap_has() {
  tail -n "+$TRAP_AT" "$T/snmptrapd.log" > "$T/traps-since.log"
  grep -qE "\.11\.1 = STRING: \"$1\"\| \.[0-9.]+\.11\.2 = STRING: \"off\"\| \.[0-9.]+\.11\.3 = STRING: \"$2\"" "$T/traps-since.log"
}
# event_checks LABEL VICTIM SURVIVOR: the events of a successful fencing
event_checks() {
  [ "$EVENTS" = 1 ] || return 0
  if wait_until 20 events_has "$2" "$3" true; then
    pass "$1: event log: our agent's record and Pacemaker's fencing, node and resource alerts"
    note "$(cat "$T/events-check.out")"
  else
    fail "$1: event log ($EVLOG): $(cat "$T/events-check.out")"
  fi
  if wait_until 10 trap_has "$2" success; then
    pass "$1: snmptrapd logged the README recipe's trap for the off of $2: success"
  else
    fail "$1: no trap for the off of $2 with result success in $T/snmptrapd.log"
  fi
}

# alive_pid PID: the process exists and is not a zombie (killed, not yet reaped)
alive_pid() {
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2> /dev/null)
  [ -n "$st" ] && [ "$st" != Z ]
}
# fenced_checks LABEL VICTIM SURVIVOR T_FAIL OLD_PIDS: the checks after a fencing
fenced_checks() {
  local label="$FAMILY $1" v=$2 s=$3 tf=$4 old=$5 tr p alive=
  if wait_until 120 test_on "$s"; then
    tr=$(ms)
    pass "$label: test runs on $s $((tr - tf)) ms after the failure (crm_mon, crm_resource -W, Dummy's state file /run/Dummy-test.state on $s)"
    breakdown "$s" "$v" "$tf" "$tr"
    record "$1" $((tr - tf)) "$WHY"
  else
    fail "$label: test not running on $s within 120 s"
    show_state
    return 1
  fi
  check "$label: $s's fencer fenced $v through fd-$v ($(agent_of "$v"): off, rc 0 in $s's pacemaker.log)" fence_ok_logged "$s" "$v" "$LOG_AT"
  for p in $old; do alive_pid "$p" && alive+=" $p"; done
  if [ -z "$alive" ] && [ -z "$(m pids "$v")" ]; then
    pass "$label: $v is gone: none of its $(wc -w <<< "$old") processes is left (corosync, pacemakerd and children) and none runs in its namespace"
  else
    fail "$label: $v still has processes:${alive} $(m pids "$v" | tr '\n' ' ')"
  fi
  check "$label: the host reports $v's machine off" [ "$(power_of "$v")" = off ]
  local out
  out=$(mon "$s")
  # shellcheck disable=SC2016 # expanded by the inner bash
  check "$label: crm_mon -1 on $s shows test Started on $s and $v OFFLINE" \
    bash -c 'grep -Eq "test[[:space:]].*Started $1" <<< "$3" && grep -Eq "OFFLINE: \[ $2 \]" <<< "$3"' _ "$s" "$v" "$out"
  check "$label: $s's fencing history has the off of $v as successful" \
    bash -c "'$MACHINE' x '$s' stonith_admin --history '$v' 2>&1 | grep -Eq 'off of $v successful|turned off.*$v|$v.*successful'"
  event_checks "$label" "$v" "$s"
}
agent_of() { if [ "$1" = node1 ]; then echo "${AGENT1[$FAMILY]}"; else echo "${AGENT2[$FAMILY]}"; fi; }

# rejoin LABEL NODE: the host powers NODE on; it must rejoin a clean cluster
rejoin() {
  local label="$FAMILY $1" n=$2 t
  t=$(ms)
  if ! power_on "$n" > "$T/power-on.out" 2>&1; then
    fail "$label: $(power_on_name) for $n: $(tr '\n' ' ' < "$T/power-on.out")"
    return 1
  fi
  check "$label: the host reports $n's machine on after $(power_on_name)" [ "$(power_of "$n")" = on ]
  if wait_until 90 clean "$n" && wait_until 30 clean "$(other "$n")" && wait_until 60 settled "$n"; then
    pass "$label: $n booted by $(power_on_name) and rejoined: both nodes Online, no failed action, 3 resources Started, nothing pending ($(($(ms) - t)) ms)"
    BREAK_MS=
    record "D-rejoin" $(($(ms) - t))
  else
    fail "$label: $n did not rejoin a clean cluster within 120 s"
    show_state
    return 1
  fi
}
running_node() { # the node test runs on, by node1's view
  local x
  x=$(where node1)
  [ "$x" = node1 ] || [ "$x" = node2 ] || x=$(where node2)
  echo "$x"
}

scenario_A() { # the stop of test fails on the node that runs it
  local X Y OLD tA
  X=$(running_node)
  [ "$X" = node1 ] || [ "$X" = node2 ] || { fail "$FAMILY A: test is not running on one node (crm_resource -W: '$X')"; return 1; }
  Y=$(other "$X")
  OLD=$(m pids "$X" | tr '\n' ' ')
  # the stop hangs in X only (its own mount namespace): ban -> stop -> timeout -> on-fail=fence
  m x "$X" mount --bind "$T/Dummy-stophang" /usr/lib/ocf/resource.d/pacemaker/Dummy || { fail "$FAMILY A: arm the hanging stop in $X"; return 1; }
  mark "$Y"
  tA=$(ms)
  m x "$Y" crm_resource --ban -r test -N "$X" > /dev/null 2>&1 || fail "$FAMILY A: crm_resource --ban -r test -N $X"
  fenced_checks "A (stop of test on $X fails)" "$X" "$Y" "$tA" "$OLD"
  check "$FAMILY A: $Y's log has the stop failure of test on $X" \
    grep -qE "Result of stop operation for test on $X|test_stop_0.*$X" "$(pcmk_log "$Y")"
  m x "$Y" crm_resource --clear -r test > /dev/null 2>&1 || fail "$FAMILY A: crm_resource --clear -r test"
  rejoin "D after A" "$X"
  check "$FAMILY D after A: test stayed on $Y after $X rejoined" test_on "$Y"
}

scenario_B() { # the node running test is cut off: its corosync SIGKILLed
  local X Y OLD tB
  X=$(running_node)
  Y=$(other "$X")
  OLD=$(m pids "$X" | tr '\n' ' ')
  mark "$Y"
  tB=$(ms)
  kill -KILL "$(cat "$T/state/$X.corosync.pid")" || { fail "$FAMILY B: kill corosync of $X"; return 1; }
  fenced_checks "B (corosync of $X killed)" "$X" "$Y" "$tB" "$OLD"
  rejoin "D after B" "$X"
}

scenario_C() { # the fence host is unreachable (vbox: sshd stopped), and the node running test is cut off
  local X Y tC tS MSG twice=0 onY=0
  X=$(running_node)
  Y=$(other "$X")
  stop_sshd
  mark "$Y"
  tC=$(ms)
  kill -KILL "$(cat "$T/state/$X.corosync.pid")" || { fail "C: kill corosync of $X"; return 1; }
  failed_fence_logged() { grep -qE "Operation 'off' \[[0-9]+\] targeting $X using fd-$X returned [1-9]" < <(tail -n "+$LOG_AT" "$(pcmk_log "$Y")"); }
  if wait_until 60 failed_fence_logged; then
    pass "C: with sshd stopped, $Y's fencing of $X through fd-$X fails ($(($(ms) - tC)) ms after the failure)"
  else
    fail "C: no failed fencing of $X in $Y's log within 60 s"
    show_state
  fi
  tail -n "+$LOG_AT" "$(pcmk_log "$Y")" > "$T/C-fence.log"
  if [ "$AGENTS_KIND" = ours ]; then # ours names the host and the cause
    MSG=$(grep -E "$(agent_of "$X")" "$T/C-fence.log" | grep -iE "10\.99\.0\.3" | grep -iE "connect|refused|reach" | head -n 1)
  else # Debian's says "Unable to connect/login to fencing device", without host or cause
    MSG=$(grep -E "$(agent_of "$X").*(stderr|error output)" "$T/C-fence.log" | grep -iE "connect|refused|reach" | head -n 1)
  fi
  if [ -n "$MSG" ]; then
    pass "C: the agent's message (ours: with the host and the cause) is in $Y's Pacemaker log"
    note "${MSG:0:300}"
  else
    fail "C: no message of $(agent_of "$X") about the unreachable host in $Y's log (see $T/C-fence.log)"
  fi
  if [ "$EVENTS" = 1 ]; then
    if wait_until 20 events_has "$X" "$Y" false; then
      pass "C: event log: our agent's failed off of $X and Pacemaker's failed fencing alert"
      note "$(cat "$T/events-check.out")"
    else
      fail "C: event log: no failed off of $X from both views: $(cat "$T/events-check.out")"
    fi
    check "C: snmptrapd logged a trap for the failed off of $X (result unreachable)" wait_until 10 trap_has "$X" unreachable
  fi
  # no split brain: for 10 s (the fencing keeps failing), test never starts on Y
  for _ in $(seq 50); do
    runs_test "$Y" && onY=$((onY + 1))
    runs_test "$Y" && runs_test "$X" && twice=$((twice + 1))
    sleep 0.2
  done
  check "C: for 10 s of failed fencing, test never started on $Y (it still runs on the cut-off $X: $(runs_test "$X" && echo yes || echo no))" [ "$onY" -eq 0 ]
  check "C: test never ran on both nodes" [ "$twice" -eq 0 ]
  check "C: $X was not powered off (VBoxManage: $(vm_state "$(vm_of "$X")"))" [ "$(vm_state "$(vm_of "$X")")" = running ]
  tS=$(ms)
  start_sshd || { fail "C: restart sshd"; return 1; }
  note "C: sshd back on $HOST_IP:22 $((tS - tC)) ms after the failure"
  if wait_until 120 test_on "$Y"; then
    local tr
    tr=$(ms)
    pass "C: once the host is back, $Y fences $X and runs test ($((tr - tS)) ms after sshd returned)"
    breakdown "$Y" "$X" "$tS" "$tr"
    record "C (from sshd's return; host unreachable for $((tS - tC)) ms)" $((tr - tS)) "$WHY"
  else
    fail "C: test not running on $Y within 120 s of sshd's return"
    show_state
  fi
  check "C: $Y's fencer fenced $X through fd-$X after sshd returned" fence_ok_logged "$Y" "$X" "$LOG_AT"
  event_checks "C (after sshd's return)" "$X" "$Y"
  check "C: $X is gone (no process in its namespace) and powered off" \
    bash -c "[ -z \"\$('$MACHINE' pids '$X')\" ] && [ \"\$1\" = poweroff ]" _ "$(vm_state "$(vm_of "$X")")"
  check "C: crm_mon on $Y lists the failed attempts as superseded (a later attempt from $Y succeeded)" \
    bash -c "'$MACHINE' x '$Y' crm_mon -1 | grep -q 'turning off of $X by $Y.*(a later attempt from $Y succeeded)'"
  # what an administrator does once the cause is fixed: the failed attempts leave the history
  m x "$Y" stonith_admin --cleanup --history "$X" > /dev/null 2>&1 || fail "C: stonith_admin --cleanup --history $X"
  rejoin "D after C" "$X"
}

# switch_devices FAMILY: fd-node1 and fd-node2 replaced by FAMILY's devices, same ids and
# constraints; the cluster must settle clean with them
switch_devices() {
  local f=$1 n t
  t=$(ms)
  for n in node1 node2; do
    m x node1 cibadmin --replace -o resources --xml-text "$(device "$f" "$n")" > "$T/switch.log" 2>&1 ||
      { cat "$T/switch.log"; fail "$f: replace fd-$n"; return 1; }
  done
  FAMILY=$f
  sleep 1
  if wait_until 120 settled node1 && wait_until 60 devices_are "$f" && wait_until 60 clean node1 && wait_until 30 clean node2; then
    pass "$f: fd-node1 ($(agent_of node1)) and fd-node2 ($(agent_of node2)) Started on the other node, cluster clean ($(($(ms) - t)) ms)"
  else
    fail "$f: the devices did not start clean"
    show_state
    return 1
  fi
}
devices_are() { # FAMILY: node1's crm_mon shows both devices of FAMILY's agents Started on the other node
  local out
  out=$(mon node1)
  FAMILY=$1
  grep -Eq "fd-node1[[:space:]]+\(stonith:$(agent_of node1)\):[[:space:]]+Started node2" <<< "$out" &&
    grep -Eq "fd-node2[[:space:]]+\(stonith:$(agent_of node2)\):[[:space:]]+Started node1" <<< "$out"
}

# ---------------------------------------------------------------- 5. the scenarios, per agent family
# FENCE_TWO_NODE_PLAN: FAMILY:SCENARIOS words (C only for vbox: its host is sshd)
PLAN=${FENCE_TWO_NODE_PLAN:-vbox:ABC ipmilan:AB redfish:AB}
FAMILY=vbox
for item in $PLAN; do
  f=${item%%:*}
  case $f in vbox | ipmilan | redfish) ;; *) fail "FENCE_TWO_NODE_PLAN: unknown family $f"; continue ;; esac
  if [ "$f" != "$FAMILY" ]; then switch_devices "$f" || continue; fi
  sc=${item#*:}
  for ((i = 0; i < ${#sc}; i++)); do
    case ${sc:i:1} in
      A) scenario_A ;;
      B) scenario_B ;;
      C) if [ "$f" = vbox ]; then scenario_C; else fail "$f: scenario C is for vbox (sshd) only"; fi ;;
      *) fail "FENCE_TWO_NODE_PLAN: unknown scenario ${sc:i:1}" ;;
    esac
  done
done

# ---------------------------------------------------------------- summary
note "recovery times (failure -> test running on the survivor; D: power on -> clean cluster), ms:"
for l in "${TIMES[@]}"; do note "  $l"; done
