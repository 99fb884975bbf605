#!/usr/bin/env bash
# Start a real single-node Slurm cluster on this host for the tests (needs root; Debian/Ubuntu).
#   bash scripts/slurm/start_cluster.sh     # installs slurm-wlm + munge if missing, starts
#   bash scripts/slurm/stop_cluster.sh      # stops what this script started (by PID)
# munged, slurmctld and slurmd are started by hand (no systemd); 4 fake GPUs are declared through
# gres.conf on existing character devices so that `--gpus=1` is really scheduled. Accounting is
# off (no slurmdbd): job status comes from squeue. State, logs and PIDs: $GANATLAS_SLURM_STATE.
set -euo pipefail
STATE=${GANATLAS_SLURM_STATE:-/tmp/ganatlas-slurm}
CONF_DIR=/etc/slurm
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${GANATLAS_SLURM_TIMEOUT:-90}

die() { echo "start_cluster: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "slurm is not installed and apt-get is not available"
  echo "start_cluster: installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge failed"
fi

if sinfo -h -o %T 2>/dev/null | grep -q idle; then
  echo "start_cluster: a Slurm cluster is already up"; exit 0
fi

mkdir -p "$STATE"/{spool/ctld,spool/d,log} /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 2>/dev/null;
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
gpus=()
for d in /dev/tty0 /dev/tty1 /dev/tty2 /dev/tty3; do [ -c "$d" ] && gpus+=("$d"); done
[ ${#gpus[@]} -gt 0 ] || die "no character devices /dev/tty0-3 to declare as fake GPUs"
gpu_files=$(IFS=,; echo "${gpus[*]}")

mkdir -p "$CONF_DIR"
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" -e "s|@STATE@|$STATE|g" \
    -e "s|@NGPUS@|${#gpus[@]}|g" "$HERE/slurm.conf.in" > "$CONF_DIR/slurm.conf"
sed -e "s|@HOST@|$host|g" -e "s|@GPU_FILES@|$gpu_files|g" "$HERE/gres.conf.in" > "$CONF_DIR/gres.conf"
printf 'ConstrainCores=no\nConstrainDevices=no\nConstrainRAMSpace=no\n' > "$CONF_DIR/cgroup.conf"

# Record munged's PID only when this script started it: stop_cluster.sh must not stop a munged
# that was already serving the host.
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged --force || die "munged did not start"
  # munged daemonises: take the daemon's PID from its own pid file, not the exiting parent's
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$STATE/munged.pid" || die "munged wrote no /run/munge/munged.pid"
fi
/usr/sbin/slurmctld -f "$CONF_DIR/slurm.conf" || die "slurmctld did not start: see $STATE/log/slurmctld.log"
/usr/sbin/slurmd -f "$CONF_DIR/slurm.conf" || die "slurmd did not start: see $STATE/log/slurmd.log"

for _ in $(seq "$TIMEOUT"); do
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    echo "start_cluster: node $host idle ($cpus CPUs, ${mem} MB, ${#gpus[@]} fake GPUs); state in $STATE"
    exit 0
  fi
  sleep 1
done
tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
die "node did not become idle in ${TIMEOUT}s"
