#!/usr/bin/env bash
# Stop the test cluster that start_cluster.sh started (slurmd, slurmctld, munged), by PID.
set -u
STATE=${GANATLAS_SLURM_STATE:-/tmp/ganatlas-slurm}
for name in slurmd slurmctld munged; do
  pidfile="$STATE/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stop_cluster: stopped $name ($pid)"
  fi
  rm -f "$pidfile"
done
