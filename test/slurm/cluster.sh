#!/usr/bin/env bash
# A single-node Slurm cluster in a folder, for the Slurm integration test: `cluster.sh up DIR` starts munged (its
# own socket and key under DIR), slurmctld and slurmd with DIR/slurm.conf and waits until the node is idle;
# `cluster.sh down DIR` stops them. Exit 3 from `up`: Slurm cannot run here (the reason on the last line).
set -uo pipefail
cmd=${1:?up|down}
dir=${2:?folder}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
export SLURM_CONF="$dir/slurm.conf"
skip() { echo "$*"; exit 3; }

down() {
  for f in slurmd slurmctld munged; do
    if [ -f "$dir/$f.pid" ]; then
      pid=$(cat "$dir/$f.pid")
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
      rm -f "$dir/$f.pid"
    fi
  done
  return 0
}

if [ "$cmd" = down ]; then down; exit 0; fi
[ "$cmd" = up ] || { echo "usage: cluster.sh up|down DIR"; exit 2; }

for b in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$b" >/dev/null 2>&1 || skip "$b is not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "the test cluster needs root (slurmd runs jobs as their user)"

mkdir -p "$dir/munge" "$dir/spool" "$dir/state" "$dir/log"
# munged: its own key and socket, so the machine's munge (if any) is left alone.
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 700 "$dir/munge"; chmod 400 "$dir/munge/munge.key"
sock="$dir/munge/munge.socket"
munged --force --key-file="$dir/munge/munge.key" --socket="$sock" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  >"$dir/log/munged.out" 2>&1 || skip "munged did not start: $(tail -1 "$dir/log/munged.out")"

mem=$(awk '/MemTotal/ {print int($2/1024/2)}' /proc/meminfo)
cat >"$SLURM_CONF" <<CONF
ClusterName=fisherlens-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 || { down; skip "slurmctld did not start: $(tail -1 "$dir/log/slurmctld.out")"; }
slurmd -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 || { down; skip "slurmd did not start: $(tail -1 "$dir/log/slurmd.out")"; }
for _ in $(seq 120); do
  st=$(sinfo -h -N -o '%t' 2>/dev/null | head -1)
  case "$st" in idle*) echo "slurm up: node $host idle (SLURM_CONF=$SLURM_CONF)"; exit 0 ;; esac
  sleep 0.5
done
reason="node not idle after 60 s (sinfo: ${st:-none}): $(tail -2 "$dir/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
down
skip "$reason"
