#!/bin/bash
# Stops the peers that start-peers.sh started for $PEERS_DIR: only the PIDs recorded in
# $PEERS_DIR/pids, and each only while it still runs the program this run started (a PID that
# was reused by another program is left alone). SIGTERM, then SIGKILL after 5 s.
# $PEERS_DIR itself is kept (logs, state); remove it when no longer needed.
# Exit status 0 when nothing recorded is left running.
set -uo pipefail
R=${PEERS_DIR:?set PEERS_DIR to the directory start-peers.sh used (see its peers.env)}
[ -d "$R" ] || { echo "stop-peers: PEERS_DIR=$R: no such directory" >&2; exit 1; }
R=$(cd "$R" && pwd)
rc=0
for f in "$R"/pids/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  pid=$(cat "$f")
  case $name in
    sushy) mark=sushy_fast.py ;;
    fakebmc) mark=fakebmc_lo.py ;;
    *) mark=$R/ ;; # ipmi_sim and sshd carry this run's config path on their command line
  esac
  if ! [[ $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2> /dev/null; then
    echo "stop-peers: $name (pid $pid) was not running"
  elif ! tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF -- "$mark"; then
    echo "stop-peers: $name: pid $pid now runs another program; left alone"
  else
    kill -TERM "$pid" 2> /dev/null
    for _ in $(seq 50); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
      kill -KILL "$pid" 2> /dev/null
      sleep 0.1
      if kill -0 "$pid" 2> /dev/null; then
        echo "stop-peers: $name (pid $pid) survived SIGKILL" >&2
        rc=1
        continue
      fi
      echo "stop-peers: $name (pid $pid) killed with SIGKILL"
    else
      echo "stop-peers: stopped $name (pid $pid)"
    fi
  fi
  rm -f "$f"
done
exit "$rc"
