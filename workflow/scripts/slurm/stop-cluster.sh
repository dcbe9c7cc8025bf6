#!/usr/bin/env bash
# Stop what start-cluster.sh started, by the PIDs in its pidfiles only (launchpad's copy of
# ../shared/slurm/stop-cluster.sh). Safe to run when nothing is up.
set -uo pipefail
D=${SLURM_CI_DIR:-/tmp/slurm-ci}
t0=$(date +%s%N)
# cancel leftover jobs first, so that no slurmstepd outlives slurmd
if [ -s "$D/run/slurmctld.pid" ] && kill -0 "$(cat "$D/run/slurmctld.pid")" 2>/dev/null; then
  jobs=$(squeue -h -o %A 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h -t R,CG -o %A 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi
stop_wave() {  # SIGTERM the named daemons together, wait up to 15 s, then SIGKILL
  local pids="" name pf pid
  for name in "$@"; do
    pf=$D/run/$name.pid
    [ -s "$pf" ] || continue
    pid=$(cat "$pf"); rm -f "$pf"
    kill -0 "$pid" 2>/dev/null && kill "$pid" && pids="$pids $pid"
  done
  for _ in $(seq 150); do
    local left=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
    pids=$left; [ -z "$pids" ] && return 0; sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
}
# one slurmd per node: slurmd-<node>.pid
stop_wave $(cd "$D/run" 2>/dev/null && for pf in slurmd*.pid; do [ -e "$pf" ] && echo "${pf%.pid}"; done) slurmctld slurmdbd
stop_wave mariadbd munged
echo "[stop-cluster] stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
