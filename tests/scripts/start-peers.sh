#!/bin/bash
# Starts the third-party test peers on loopback and writes their settings to $PEERS_DIR/peers.env:
#   Redfish   sushy-emulator (fake driver, HTTPS with a test CA, basic auth admin/password)
#   IPMI      OpenIPMI ipmi_sim (admin/password, oper/password; use cipher suite 3)
#   IPMI      pyghmi fake BMC   (admin/password; cipher suite 3 only)
#   SSH       a private sshd (fenceuser/password or $SSH_KEY) with the fake VBoxManage on PATH
#   libvirt   fenceuser's own libvirtd (session mode, a socket under $PEERS_DIR) with its test
#             driver; LIBVIRT_DEFAULT_URI in the sshd's sessions points virsh at it, and one
#             open connection keeps test:///default's domains between commands
# Every start resets the simulated machines: Redfish node1 On and node2 Off, both BMCs off,
# VMs vm1 (running), vm2 and "vm with space" (powered off).
# Run as root after install-deps.sh. Stop with stop-peers.sh (by the PIDs in $PEERS_DIR/pids).
# A peer that does not come up is a failure: the logs are shown, what was started is stopped,
# and the exit status is 1.
#
# Env (all optional):
#   PEERS_DIR          per-run directory (default: a fresh mktemp -d, printed at the end)
#   FENCE_PEERS_VENV   venv made by install-deps.sh
#                      (default ${XDG_CACHE_HOME:-$HOME/.cache}/fence-rs-peers-venv)
#   REDFISH_PORT SSH_PORT (TCP), IPMISIM_PORT FAKEBMC_PORT (UDP)
#                      unset: the kernel picks a free port (bind to port 0, then checked with ss);
#                      set: used as given, and start-up fails at once if it is taken
#   FAKE_POWER_DELAY   seconds before a Redfish power change becomes visible (default 0)
#   FAKEVBOX_DELAY     seconds added to every fake VBoxManage call (default 0)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$(cd "$HERE/../peers" && pwd)
VENV=${FENCE_PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fence-rs-peers-venv}
die() { echo "start-peers: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (sshd, files for user fenceuser)"
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV: run tests/scripts/install-deps.sh (or set FENCE_PEERS_VENV)"
for tool in ipmi_sim ipmitool curl openssl ss ssh ssh-keygen runuser setpriv libvirtd virsh; do
  command -v "$tool" >/dev/null || die "$tool is missing: run tests/scripts/install-deps.sh"
done
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing: run tests/scripts/install-deps.sh"
FU_HOME=$(getent passwd fenceuser | cut -d: -f6) || true
{ [ -n "$FU_HOME" ] && [ -x "$FU_HOME/bin/VBoxManage" ]; } || die "user fenceuser or ~fenceuser/bin/VBoxManage missing: run tests/scripts/install-deps.sh"

for knob in FAKE_POWER_DELAY FAKEVBOX_DELAY; do
  [[ ${!knob:-0} =~ ^[0-9]+$ ]] || die "$knob=${!knob} is not a whole number of seconds"
done

[ -n "${PEERS_DIR:-}" ] || PEERS_DIR=$(mktemp -d -t fence-rs-peers.XXXXXX)
mkdir -p "$PEERS_DIR"
R=$(cd "$PEERS_DIR" && pwd)
for f in "$R"/pids/*; do
  if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then
    die "peers already running for $R ($(basename "$f") pid $(cat "$f")): run stop-peers.sh first"
  fi
done
rm -rf "$R"/pids "$R"/logs "$R"/redfish/state "$R"/ipmisim/state "$R"/vbox
mkdir -p "$R"/{pids,logs,redfish,ipmisim/state,ssh}
# fenceuser (sshd's session, the fake VBoxManage) must reach $R/ssh and $R/vbox; the rest stays private.
chmod 711 "$R" "$R/ssh"
SYS_UUID=27946b59-9e44-4fa7-8e91-f3527a1ef094 # Redfish system node1 (starts On)
SYS2_UUID=48295b59-9e44-4fa7-8e91-f3527a1ef095 # Redfish system node2 (starts Off)

now_ms() { date +%s%3N; }
T0=$(now_ms)
STARTED=0
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return 0
  echo "start-peers: FAILED (exit $rc); logs in $R/logs" >&2
  for l in "$R"/logs/*.log; do
    [ -s "$l" ] && { echo "--- $l (last 15 lines)" >&2; tail -n 15 "$l" >&2; }
  done
  if [ "$STARTED" = 1 ]; then PEERS_DIR=$R bash "$HERE/stop-peers.sh" >&2 || true; fi
}
trap on_exit EXIT

# ---- ports
port_taken() { # tcp|udp PORT: true when anything listens on that port (any address)
  local opt=-Hlnt
  [ "$1" = udp ] && opt=-Hlnu
  [ -n "$(ss "$opt" "sport = :$2")" ]
}
CHOSEN=" "
choose_port() { # VAR tcp|udp
  local var=$1 proto=$2 p=${!1:-}
  if [ -n "$p" ]; then
    { [[ $p =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)); } || die "$var=$p is not a port number"
    [[ $CHOSEN == *" $p "* ]] && die "$var=$p is already given to another peer"
    port_taken "$proto" "$p" && die "$var=$p: $proto port already in use"
  else
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      p=$("$VENV/bin/python" - "$proto" <<'PY'
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
with socket.socket(socket.AF_INET, kind) as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
)
      if [[ $CHOSEN != *" $p "* ]] && ! port_taken "$proto" "$p"; then break; fi
      p=
    done
    [ -n "$p" ] || die "no free $proto port found for $var"
  fi
  CHOSEN="$CHOSEN$p "
  printf -v "$var" %s "$p"
}
choose_port REDFISH_PORT tcp
choose_port SSH_PORT tcp
choose_port IPMISIM_PORT udp
choose_port FAKEBMC_PORT udp
echo "ports: redfish tcp/$REDFISH_PORT  sshd tcp/$SSH_PORT  ipmi_sim udp/$IPMISIM_PORT  fakebmc udp/$FAKEBMC_PORT"

# ---- Redfish: a test CA and a leaf signed by it (rustls refuses a CA:TRUE cert as server cert)
RF=$R/redfish
ssl() { openssl "$@" 2> "$RF/openssl.err" || { cat "$RF/openssl.err" >&2; die "openssl $1 failed"; }; }
if [ ! -s "$RF/leaf.pem" ]; then
  ssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=fence-rs test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$RF/ca.key" -out "$RF/ca.pem"
  ssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$RF/leaf.key" -out "$RF/leaf.csr"
  cat > "$RF/leaf.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
  ssl x509 -req -in "$RF/leaf.csr" -CA "$RF/ca.pem" -CAkey "$RF/ca.key" -CAcreateserial \
    -days 30 -extfile "$RF/leaf.ext" -out "$RF/leaf.pem"
fi
"$VENV/bin/python" -c 'import bcrypt; print("admin:" + bcrypt.hashpw(b"password", bcrypt.gensalt(rounds=4)).decode())' \
  > "$RF/htpasswd"
cat > "$RF/emulator.conf" <<CONF
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = $REDFISH_PORT
SUSHY_EMULATOR_SSL_CERT = '$RF/leaf.pem'
SUSHY_EMULATOR_SSL_KEY = '$RF/leaf.key'
SUSHY_EMULATOR_AUTH_FILE = '$RF/htpasswd'
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_STATE_DIR = '$RF/state'
SUSHY_EMULATOR_FAKE_SYSTEMS = [
    {'uuid': '$SYS_UUID', 'name': 'node1', 'power_state': 'On',
     'nics': [{'mac': '00:5c:52:31:3a:9c', 'ip': '127.0.0.1'}]},
    {'uuid': '$SYS2_UUID', 'name': 'node2', 'power_state': 'Off',
     'nics': [{'mac': '00:5c:52:31:3a:9d', 'ip': '127.0.0.1'}]},
]
CONF

# ---- ipmi_sim configuration (power state in $IPMISIM_STATE/power, calls in chassis.log)
IPMISIM_STATE=$R/ipmisim/state
echo 0 > "$IPMISIM_STATE/power"
: > "$IPMISIM_STATE/chassis.log"
cat > "$R/ipmisim/lan.conf" <<CONF
name "fencers"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $IPMISIM_PORT
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$PEERS/ipmi_sim/chassis_control.sh 0x20"
  user 2 true  "admin" "password" admin    10  none md2 md5 straight
  user 3 true  "oper"  "password" operator 10  none md2 md5 straight
CONF

# ---- libvirt: fenceuser's session daemon, its runtime, config and cache under $R/libvirt
# (fenceuser's home is not touched); the test driver's shared test:///default instance lives
# as long as one connection to it is open (libvirt src/test/test_driver.c, defaultPrivconn).
LV=$R/libvirt
install -d -o fenceuser -g fenceuser -m 700 "$LV" "$LV/run" "$LV/config" "$LV/cache"
LIBVIRT_SOCK=$LV/run/libvirt/libvirt-sock
LIBVIRT_URI="test+unix:///default?socket=$LIBVIRT_SOCK"
VIRSH_CALL_LOG=$LV/virsh-calls.log
install -o fenceuser -g fenceuser -m 644 /dev/null "$VIRSH_CALL_LOG"
as_fenceuser() {
  setpriv --reuid=fenceuser --regid=fenceuser --init-groups -- \
    env -i HOME="$FU_HOME" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$LV/run" \
    XDG_CONFIG_HOME="$LV/config" XDG_CACHE_HOME="$LV/cache" "$@"
}
# The same for a daemon started in the background: exec'd, so that $! is its PID (not a
# subshell's) and stop-peers.sh finds it by the $R/ on its command line.
spawn_as_fenceuser() {
  exec setpriv --reuid=fenceuser --regid=fenceuser --init-groups -- \
    env -i HOME="$FU_HOME" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$LV/run" \
    XDG_CONFIG_HOME="$LV/config" XDG_CACHE_HOME="$LV/cache" "$@"
}

# ---- sshd configuration: per-run host key, client key, authorized_keys and VM directory,
# so parallel runs on one host do not disturb each other.
SSHD=$R/ssh
[ -s "$SSHD/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fence-rs-peers-host -f "$SSHD/host_ed25519"
[ -s "$SSHD/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C fence-rs-peers-client -f "$SSHD/client_ed25519"
install -m 644 "$SSHD/client_ed25519.pub" "$SSHD/authorized_keys"
FAKEVBOX_DIR=$R/vbox
install -d -o fenceuser -g fenceuser -m 755 "$FAKEVBOX_DIR"
cat > "$SSHD/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
ListenAddress ::1
HostKey $SSHD/host_ed25519
PidFile $R/pids/sshd
UsePAM no
PermitRootLogin no
AllowUsers fenceuser
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AuthorizedKeysFile $SSHD/authorized_keys
# the key file lives under the per-run directory, whose parents (/tmp) are world-writable
StrictModes no
SetEnv PATH=$R/bin:$FU_HOME/bin:/usr/local/bin:/usr/bin:/bin FAKEVBOX_DIR=$FAKEVBOX_DIR FAKEVBOX_DELAY=${FAKEVBOX_DELAY:-0} LIBVIRT_DEFAULT_URI=$LIBVIRT_URI VIRSH_CALL_LOG=$VIRSH_CALL_LOG
PrintMotd no
MaxStartups 100:30:200
CONF
cat > "$SSHD/ssh-wrapper" <<WRAP
#!/bin/sh
# ssh with this run's private known_hosts file (for fence_vbox --ssh-path and the tests)
exec /usr/bin/ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=$SSHD/known_hosts -o LogLevel=ERROR "\$@"
WRAP
chmod 755 "$SSHD/ssh-wrapper"
vbox() { runuser -u fenceuser -- env FAKEVBOX_DIR="$FAKEVBOX_DIR" "$FU_HOME/bin/VBoxManage" "$@"; }
# virsh in front of the real one (counts calls; tests/peers/virsh.wrapper)
install -d -m 755 "$R/bin"
install -m 755 "$PEERS/virsh.wrapper" "$R/bin/virsh"
vbox fake-create vm1 2ad5a6a6-7c3e-4d0a-9d1c-1b1e8f7f0a01 running
vbox fake-create vm2 3be6b7b7-8d4f-4e1b-ae2d-2c2f908f1b02 poweroff
vbox fake-create "vm with space" 4cf7c8c8-9e50-4f2c-bf3e-3d30a19f2c03 poweroff

# ---- peers.env (written before the start so that stop-peers.sh can always find its way)
{
  echo "# fence-rs test peers, written by tests/scripts/start-peers.sh; source this file"
  printf 'export %s=%q\n' \
    PEERS_DIR "$R" \
    PEERS_VENV "$VENV" \
    REDFISH_PORT "$REDFISH_PORT" \
    REDFISH_URL "https://127.0.0.1:$REDFISH_PORT" \
    REDFISH_CA "$RF/ca.pem" \
    REDFISH_SYSTEMS_URI "/redfish/v1/Systems/$SYS_UUID" \
    IPMISIM_PORT "$IPMISIM_PORT" \
    IPMISIM_STATE "$IPMISIM_STATE" \
    FAKEBMC_PORT "$FAKEBMC_PORT" \
    SSH_PORT "$SSH_PORT" \
    SSH_KEY "$SSHD/client_ed25519" \
    SSH_WRAPPER "$SSHD/ssh-wrapper" \
    FAKEVBOX_DIR "$FAKEVBOX_DIR" \
    LIBVIRT_URI "$LIBVIRT_URI" \
    LIBVIRT_RUNTIME "$LV" \
    VIRSH_CALL_LOG "$VIRSH_CALL_LOG"
} > "$R/peers.env"

# ---- start
STARTED=1
SUSHY_EMULATOR_CONFIG="$RF/emulator.conf" FAKE_POWER_DELAY=${FAKE_POWER_DELAY:-0} \
  "$VENV/bin/python" "$PEERS/sushy_fast.py" > "$R/logs/sushy.log" 2>&1 < /dev/null &
echo $! > "$R/pids/sushy"
"$VENV/bin/python" -u "$PEERS/fakebmc_lo.py" --address 127.0.0.1 --port "$FAKEBMC_PORT" \
  > "$R/logs/fakebmc.log" 2>&1 < /dev/null &
echo $! > "$R/pids/fakebmc"
export IPMISIM_STATE # read by chassis_control.sh, which ipmi_sim runs
/usr/bin/ipmi_sim -n -c "$R/ipmisim/lan.conf" \
  -f "$PEERS/ipmi_sim/sim.emu" -s "$IPMISIM_STATE" > "$R/logs/ipmi_sim.log" 2>&1 < /dev/null &
echo $! > "$R/pids/ipmi_sim"
install -d -m 755 /run/sshd
/usr/sbin/sshd -f "$SSHD/sshd_config" -E "$R/logs/sshd.log" # daemonizes; PidFile has the PID
# --timeout 0: the session daemon does not stop when idle. Its command line names $R/.
(spawn_as_fenceuser /usr/sbin/libvirtd --timeout 0 --pid-file "$LV/run/libvirtd.pid") \
  > "$R/logs/libvirtd.log" 2>&1 < /dev/null &
echo $! > "$R/pids/libvirtd"

# ---- readiness, each wait bounded
wait_ready() { # NAME PIDFILE-NAME TIMEOUT-S COMMAND...: poll COMMAND every 50 ms
  local name=$1 pidname=$2 limit=$(($3 * 1000)) t
  shift 3
  t=$(now_ms)
  until "$@" > /dev/null 2>&1; do
    local pid
    pid=$(cat "$R/pids/$pidname" 2> /dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2> /dev/null; then
      if [ "$pidname" != sshd ] || (($(now_ms) - t > 2000)); then
        die "$name: the process is gone (see $R/logs/$pidname.log)"
      fi
    fi
    (($(now_ms) - t < limit)) || die "$name: not ready within $3 s"
    sleep 0.05
  done
  echo "  $name ready after $(($(now_ms) - T0)) ms"
}
ipmi_ok() { ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "$1" -U admin -P password -N 1 -R 1 chassis power status; }
wait_ready sshd-port sshd 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT"
wait_ready sshd-login sshd 10 "$SSHD/ssh-wrapper" -p "$SSH_PORT" -i "$SSHD/client_ed25519" -o BatchMode=yes \
  fenceuser@127.0.0.1 VBoxManage list vms
wait_ready ipmi_sim-port ipmi_sim 10 port_taken udp "$IPMISIM_PORT"
wait_ready ipmi_sim-session ipmi_sim 10 ipmi_ok "$IPMISIM_PORT"
wait_ready fakebmc-port fakebmc 15 port_taken udp "$FAKEBMC_PORT"
wait_ready fakebmc-session fakebmc 10 ipmi_ok "$FAKEBMC_PORT"
wait_ready redfish sushy 20 curl -sf --max-time 2 --cacert "$RF/ca.pem" -u admin:password \
  "https://127.0.0.1:$REDFISH_PORT/redfish/v1/Systems/$SYS_UUID"
wait_ready libvirtd libvirtd 15 as_fenceuser virsh -c "$LIBVIRT_URI" uri
# The connection that keeps test:///default's state (an event loop that never ends).
(spawn_as_fenceuser virsh -c "$LIBVIRT_URI" event --all --loop) \
  > "$R/logs/libvirt-holder.log" 2>&1 < /dev/null &
echo $! > "$R/pids/libvirt-holder"
# The benchmarks' domain, running. Each virsh call is its own connection: the domain is read
# back running by a later one only once the holder's connection keeps the instance.
printf "<domain type='test'><name>kvm-bench</name><memory>8192</memory><os><type>hvm</type></os></domain>" \
  > "$LV/kvm-bench.xml"
chmod 644 "$LV/kvm-bench.xml"
kvm_bench_kept() {
  as_fenceuser virsh -c "$LIBVIRT_URI" define "$LV/kvm-bench.xml" > /dev/null 2>&1
  as_fenceuser virsh -c "$LIBVIRT_URI" start kvm-bench > /dev/null 2>&1
  [ "$(as_fenceuser virsh -c "$LIBVIRT_URI" domstate kvm-bench 2> /dev/null | head -n 1)" = running ]
}
wait_ready libvirt-holder libvirt-holder 10 kvm_bench_kept
echo "start-peers: all peers ready after $(($(now_ms) - T0)) ms; settings: . $R/peers.env"
