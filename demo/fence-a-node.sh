#!/usr/bin/env bash
# Fence a simulated node, start to finish, with no hardware and no Python:
#
#   bash demo/fence-a-node.sh
#
# 1. builds everything (cargo build --release);
# 2. starts simulated BMCs with fence-sim: a Redfish service over HTTPS (3 systems, with a
#    certificate it makes at start) and an IPMI v2.0 RMCP+ BMC on UDP; each takes 1 s to
#    switch power, like a real machine;
# 3. fences node 2 of the Redfish service through the fence_redfish persona and the IPMI
#    node through the fence_ipmilan persona, exactly as Pacemaker would call them, and
#    prints what happened: the states read, the round trips the simulators saw, the time;
# 4. stops what it started (also on Ctrl-C or failure).
#
# Environment: DEMO_DELAY_MS (default 1000) is the simulated power-change delay.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DELAY_MS=${DEMO_DELAY_MS:-1000}

if [ -t 1 ]; then
    bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    bold() { printf '\n%s\n' "$*"; }
fi
note() { printf '   %s\n' "$*"; }
die() { printf 'fence-a-node: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# --- 0. what a fresh machine needs -------------------------------------------------------
command -v cargo >/dev/null || die "needs Rust's cargo: see https://rustup.rs (then run this again)"
# fence-vbox links libssh2 with OpenSSL: the build needs its headers and pkg-config.
if ! pkg-config --exists openssl 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        bold "Installing the build's system packages (pkg-config libssl-dev)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q pkg-config libssl-dev >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pkg-config libssl-dev >/dev/null; } \
            || die "could not install pkg-config and libssl-dev"
    else
        die "the build needs pkg-config and OpenSSL headers: apt-get install pkg-config libssl-dev (or your system's equivalent)"
    fi
fi

# --- 1. build ----------------------------------------------------------------------------
bold "1. Building everything: cargo build --release"
note "(a first build takes a few minutes on 2 cores; later runs take seconds)"
t0=$(now_ms)
cargo build --release
note "built in $(( ($(now_ms) - t0) / 1000 )) s: target/release/fence-agent, target/release/fence-sim"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

# --- 2. start the simulated BMCs ---------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fence-demo.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a simulator in the background; its events go to $WORK/NAME.log.
start_sim() {
    local name=$1
    shift
    "$BIN/fence-sim" "$@" --events --info-file "$WORK/$name.json" >/dev/null 2>"$WORK/$name.log" &
    PIDS+=($!)
    local pid=$! _
    for _ in $(seq 100); do
        [ -s "$WORK/$name.json" ] && return 0
        kill -0 "$pid" 2>/dev/null || die "fence-sim $1 exited: $(cat "$WORK/$name.log")"
        sleep 0.05
    done
    die "fence-sim $1 was not ready within 5 s"
}

bold "2. Starting simulated BMCs (fence-sim)"
start_sim redfish redfish --systems 3 --delay-ms "$DELAY_MS" --ca-file "$WORK/ca.pem"
start_sim ipmi ipmi --count 1 --delay-ms "$DELAY_MS"
REDFISH_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/redfish.json")
IPMI_PORT=$(sed -n 's/.*"ports":\[\([0-9]*\)\].*/\1/p' "$WORK/ipmi.json")
if [ -z "$REDFISH_PORT" ] || [ -z "$IPMI_PORT" ]; then
    die "could not read the simulators' ports"
fi
note "Redfish: https://127.0.0.1:$REDFISH_PORT, systems 1-3, CA $WORK/ca.pem (made at start)"
note "IPMI:    127.0.0.1:$IPMI_PORT (UDP, RMCP+ cipher suite 3)"
note "each power change takes effect ${DELAY_MS} ms after it is asked for"

# The last power state a simulator reported in EVENTS (its event lines of one call): a
# Redfish PowerState (On, Off, PoweringOn, PoweringOff) or an IPMI chassis state (on, off).
last_state() {
    printf '%s\n' "$1" | sed -n 's/^GET [^ ]* (\([A-Za-z]*\)) -> .*/\1/p; s/^Get Chassis Status: \([a-z]*\).*/\1/p' | tail -n 1
}

# Runs one agent call; prints the command, its output, exit code, time, and the simulator
# events it caused.
LAST_RC=0
LAST_STATE=
agent() {
    local sim=$1
    shift
    local log=$WORK/$sim.log before after t0 ms out rc
    before=$(wc -l <"$log")
    printf '\n   $ fence-agent %s\n' "$*"
    t0=$(now_ms)
    set +e
    out=$("$BIN/fence-agent" "$@" 2>&1)
    rc=$?
    set -e
    ms=$(( $(now_ms) - t0 ))
    after=$(wc -l <"$log")
    printf '%s\n' "$out" | sed 's/^/     /'
    note "exit code $rc, $ms ms"
    local events
    events=$(sed -n "$((before + 1)),${after}p" "$log" | sed 's/^[a-z]* #[0-9]*: //')
    case $sim in
        redfish)
            note "the Redfish service saw $(printf '%s\n' "$events" | grep -c ' -> ' || true) HTTPS request(s) on $(printf '%s\n' "$events" | grep -c '^connection' || true) TLS connection(s):"
            printf '%s\n' "$events" | grep -v '^connection' | sed 's/^/       /'
            ;;
        ipmi)
            note "the BMC answered $(printf '%s\n' "$events" | grep -vc 'dropped' || true) UDP round trips in one RMCP+ session:"
            printf '%s\n' "$events" | sed 's/^/       /'
            ;;
    esac
    LAST_RC=$rc
    LAST_STATE=$(last_state "$events")
    [ -z "$LAST_STATE" ] || note "the last state read: $LAST_STATE"
}

# The same with the options on stdin (name=value lines), as pacemaker-fenced runs agents.
agent_stdin() {
    local sim=$1 name=$2 input=$3 log before after t0 ms out rc
    log=$WORK/$sim.log
    before=$(wc -l <"$log")
    printf '
   $ fence-agent %s <<EOF
%s
     EOF
' "$name" "$(printf '%s\n' "$input" | sed 's/^password=.*/password=.../; s/^/     /')"
    t0=$(now_ms)
    set +e
    out=$(printf '%s\n' "$input" | "$BIN/fence-agent" "$name" 2>&1)
    rc=$?
    set -e
    ms=$(( $(now_ms) - t0 ))
    after=$(wc -l <"$log")
    printf '%s\n' "$out" | sed 's/^/     /'
    note "exit code $rc, $ms ms; the simulator saw:"
    local events
    events=$(sed -n "$((before + 1)),${after}p" "$log" | sed 's/^[a-z]* #[0-9]*: //')
    printf '%s\n' "$events" | sed 's/^/       /'
    LAST_RC=$rc
    LAST_STATE=$(last_state "$events")
    [ -z "$LAST_STATE" ] || note "the last state read: $LAST_STATE"
}

expect_rc() {
    [ "$LAST_RC" = "$1" ] || die "expected exit code $1 ($2), got $LAST_RC"
}

# --- 3. fence through fence_redfish ------------------------------------------------------
RF=(fence_redfish --ip 127.0.0.1 --ipport "$REDFISH_PORT" --username admin --password password
    --ssl-ca-file "$WORK/ca.pem" --systems-uri /redfish/v1/Systems/2)
bold "3. fence_redfish: node 2 of the Redfish service"
agent redfish "${RF[@]}" --action status
expect_rc 0 "status of a node that is on"
agent redfish "${RF[@]}" --action off
expect_rc 0 "off, verified by a status read"
agent redfish "${RF[@]}" --action status
expect_rc 2 "status of a node that is off"

# --- 4. fence through fence_ipmilan ------------------------------------------------------
# fence_ipmilan sleeps power_wait=2 s after the command by default, as fence-agents does;
# with 0 the engine polls the state adaptively (20 ms, 40 ms, ... up to 1 s apart).
IP=(fence_ipmilan --ip 127.0.0.1 --ipport "$IPMI_PORT" --username admin --password password
    --lanplus --cipher 3 --power-wait 0)
bold "4. fence_ipmilan: the IPMI node"
agent ipmi "${IP[@]}" --action status
expect_rc 0 "status of a node that is on"
agent ipmi "${IP[@]}" --action off
expect_rc 0 "off, verified by a status read"
agent ipmi "${IP[@]}" --action status
expect_rc 2 "status of a node that is off"

# --- 5. the same agent, spoken to as Pacemaker does -----------------------------------------
bold "5. fence_redfish with its options on stdin, as pacemaker-fenced calls it: node 2 on again"
agent_stdin redfish fence_redfish "action=on
ip=127.0.0.1
ipport=$REDFISH_PORT
username=admin
password=password
ssl_ca_file=$WORK/ca.pem
systems_uri=/redfish/v1/Systems/2"
expect_rc 0 "on, verified by a status read"
case $LAST_STATE in
    On) note "node 2 is on again: the board reports On" ;;
    PoweringOn)
        # fence-agents' fixed "Success: Powered ON" (tools match on it) means: not off any
        # more. Redfish's PoweringOn counts as on, as in fence_redfish.
        note "power-on requested, the board reports PoweringOn (which counts as on, as in"
        note "fence_redfish; 'Success: Powered ON' is fence-agents' fixed wording for it)."
        note "A status read once the ${DELAY_MS} ms power-change delay has passed:"
        sleep "$(( DELAY_MS / 1000 + 1 ))"
        agent redfish "${RF[@]}" --action status
        expect_rc 0 "status of a node that is on"
        ;;
    *) note "the board reports ${LAST_STATE:-no state}" ;;
esac

bold "Done: node 2 (Redfish) and the IPMI node were fenced, each 'off' only after a status read said Off; node 2 was powered on again (last read: $LAST_STATE), the IPMI node stays off."
note "Next: 'bash tests/bench/fence_many.sh' fences 1,000 simulated IPMI BMCs at once (docs/fence-many.md)."
