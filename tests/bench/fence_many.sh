#!/usr/bin/env bash
# Benchmark: verified off of 1,000 simulated IPMI BMCs, fence-rs (fence_core::many with
# fence-ipmi, through `fence-sim bench`) side by side with FreeIPMI's ipmipower
# (`--off --wait-until-off` over a hostrange), against the same simulator.
#
#   bash tests/bench/fence_many.sh            # 1,000 BMCs, 3 runs per tool
#   BENCH_COUNT=200 BENCH_RUNS=1 BENCH_FANOUT=64 BENCH_DELAY_MS=500 bash tests/bench/fence_many.sh
#
# Each run starts a fresh simulator (every machine on), fences all of them, and then counts
# the machines that are off with a separate `ipmipower --stat` (a client nobody here wrote).
# Wall time and peak memory (max RSS) come from GNU time for the fencing process alone.
# Both tools use RMCP+ cipher suite 3 and administrator privilege. Needs ipmipower
# (freeipmi-tools) and /usr/bin/time; a missing one is an error, not a skip.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COUNT=${BENCH_COUNT:-1000}
RUNS=${BENCH_RUNS:-3}
FANOUT=${BENCH_FANOUT:-$COUNT}
# The simulated delay before a power change takes effect (0: at once).
DELAY_MS=${BENCH_DELAY_MS:-0}

die() { printf 'fence_many.sh: %s\n' "$*" >&2; exit 1; }
command -v ipmipower >/dev/null || die "ipmipower is missing: apt-get install freeipmi-tools"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install time"
# One UDP socket per BMC on each side.
ulimit -n "$(( COUNT * 2 + 256 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release --quiet -p fence-sim
SIM=${CARGO_TARGET_DIR:-$PWD/target}/release/fence-sim
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fence-bench.XXXXXX")
SIM_PID=
stop_sim() {
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        SIM_PID=
    fi
}
trap 'stop_sim; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

start_sim() {
    rm -f "$WORK/sim.json"
    "$SIM" ipmi --count "$COUNT" --delay-ms "$DELAY_MS" --base-port auto --info-file "$WORK/sim.json" \
        >/dev/null 2>"$WORK/sim.log" &
    SIM_PID=$!
    local _
    for _ in $(seq 200); do
        [ -s "$WORK/sim.json" ] && break
        kill -0 "$SIM_PID" 2>/dev/null || die "fence-sim exited: $(cat "$WORK/sim.log")"
        sleep 0.05
    done
    [ -s "$WORK/sim.json" ] || die "fence-sim was not ready within 10 s"
    HOSTRANGE=$(sed -n 's/.*"hostrange":"\([^"]*\)".*/\1/p' "$WORK/sim.json")
    [ -n "$HOSTRANGE" ] || die "no hostrange in $WORK/sim.json"
}

IPMIPOWER=(ipmipower -D LAN_2_0 -u admin -p password -I 3 -l ADMIN)

# Machines the simulator reports off, read by ipmipower.
count_off() {
    "${IPMIPOWER[@]}" -h "$HOSTRANGE" --stat | grep -c ': off$' || true
}

ROWS=()
row() { ROWS+=("$(printf '| %-34s | %3s | %8s | %12s | %13s | %s' "$@")"); }

for run in $(seq "$RUNS"); do
    # fence-rs: fence_core::many + fence-ipmi.
    start_sim
    /usr/bin/time -f '%e %M' -o "$WORK/time" \
        "$SIM" bench --info-file "$WORK/sim.json" --action off --fanout "$FANOUT" \
        >"$WORK/bench.json" 2>"$WORK/bench.err" || die "fence-sim bench failed: $(cat "$WORK/bench.err" "$WORK/bench.json")"
    read -r wall rss <"$WORK/time"
    rts=$(sed -n 's/.*"round_trips":\([0-9]*\).*/\1/p' "$WORK/bench.json")
    verified=$(sed -n 's/.*"off_verified":\([0-9]*\).*/\1/p' "$WORK/bench.json")
    off=$(count_off)
    stop_sim
    row "fence-rs many (fanout $FANOUT)" "$run" "$wall" "$(( rss / 1024 ))" "$off/$COUNT" "$rts round trips, $verified reports off-verified"

    # FreeIPMI ipmipower, its default fanout.
    start_sim
    /usr/bin/time -f '%e %M' -o "$WORK/time" \
        "${IPMIPOWER[@]}" -h "$HOSTRANGE" --off --wait-until-off >"$WORK/ipmipower.out" 2>&1 \
        || die "ipmipower failed: $(head -5 "$WORK/ipmipower.out")"
    read -r wall rss <"$WORK/time"
    ok=$(grep -c ': ok$' "$WORK/ipmipower.out" || true)
    off=$(count_off)
    stop_sim
    row "ipmipower --off --wait-until-off" "$run" "$wall" "$(( rss / 1024 ))" "$off/$COUNT" "$ok hosts answered ok"
done

printf '\nVerified off of %s simulated IPMI BMCs (fence-sim, loopback, power delay %s ms), %s CPU(s), %s\n\n' \
    "$COUNT" "$DELAY_MS" "$(nproc)" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '| %-34s | %3s | %8s | %12s | %13s | %s\n' tool run "wall (s)" "peak RSS MiB" "off (stat)" notes
printf '|%s|%s|%s|%s|%s|%s\n' "$(printf -- '-%.0s' $(seq 36))" ----- ---------- -------------- --------------- -------
printf '%s\n' "${ROWS[@]}"
