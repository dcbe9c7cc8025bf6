#!/usr/bin/env bash
# Bring up a single-host Slurm "cluster" (munged + slurmctld + one slurmd per
# node, and optionally mariadb + slurmdbd) on a Debian 12 machine without
# systemd, for CI. Idempotent: re-running it while the cluster is up only
# re-checks it. Needs root. Everything listens on 127.0.0.1 only.
#
# launchpad's copy of ../shared/slurm/start-cluster.sh; tests/test_slurm.py uses it. Two
# partitions, `cpu` (default) and `gpu`, match the profile (workflow/profiles/slurm, what
# `--profile slurm` finds through ./slurm) and params.yaml's `cluster.gpu_partition`.
#
# Several nodes on one host: Debian's slurmd is built without multiple-slurmd
# support (no `slurmd -N <name>`), and a slurmd takes its node name from the
# hostname. So node 1 is this host, and each further node (<host>-n2, ...) is a
# slurmd started in its own UTS namespace (`unshare --uts`: its own hostname,
# the same network and files), on its own port. Multi-node jobs (`srun` over
# --nodes=2) then really run one task per "node".
#
#   SLURM_CI_DIR        state/log/pid folder              (default /tmp/slurm-ci)
#   SLURM_CI_CPUS       CPUs the node advertises          (default 8; more than
#                       the machine has is fine: SlurmdParameters=config_overrides)
#   SLURM_CI_MEM        RealMemory of the node in MB      (default 16000)
#   SLURM_CI_GPUS       fake GPUs on each node, 0..2      (default 2)
#   SLURM_CI_NODES      nodes, 1 or more                  (default 2; 1 where
#                       `unshare --uts` is not permitted, said in the log)
#   SLURM_CI_ACCOUNTING 0: no slurmdbd (sacct does not work; use the snakemake
#                       option slurm-status-command: squeue)  1: mariadb+slurmdbd,
#                       so that sacct works                (default 0)
#
# Stop with stop-cluster.sh (kills only the PIDs in $SLURM_CI_DIR/run/*.pid).
set -euo pipefail

D=${SLURM_CI_DIR:-/tmp/slurm-ci}
CPUS=${SLURM_CI_CPUS:-8}
MEM=${SLURM_CI_MEM:-16000}
NGPU=${SLURM_CI_GPUS:-2}
ACCT=${SLURM_CI_ACCOUNTING:-0}
NNODES=${SLURM_CI_NODES:-2}
H=$(hostname -s)
t0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '[start-cluster %d.%03ds] %s\n' $((ms/1000)) $((ms%1000)) "$*"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_pidfile() {  # stop one daemon by the PID in its pidfile, and wait for it
  local pf=$1 pid
  alive "$pf" || return 0
  pid=$(cat "$pf"); kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# 1. packages -------------------------------------------------------------
pkgs="slurmctld slurmd slurm-client munge"
[ "$ACCT" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No systemd here: the postinst scripts' service starts are refused by
  # policy-rc.d or fail harmlessly; the daemons are started below.
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  log "packages installed"
fi

# 2. the nodes, whose names must resolve to loopback -------------------------
if [ "$NNODES" -gt 1 ] && ! unshare --uts true 2>/dev/null; then
  log "unshare --uts is not permitted here: one node instead of $NNODES"
  NNODES=1
fi
NODES="$H"
for i in $(seq 2 "$NNODES"); do NODES="$NODES $H-n$i"; done
port_of() {  # node 1 on SlurmdPort 6818; node i on 6818+i (6819 is slurmdbd's)
  [ "$1" = "$H" ] && { echo 6818; return; }
  echo $(( 6818 + ${1##*-n} ))
}
for n in $NODES; do
  getent hosts "$n" | grep -q '^127\.' || echo "127.0.0.1 $n" >> /etc/hosts
done
NODELIST=$(echo $NODES | tr ' ' ',')

# 3. configuration --------------------------------------------------------
mkdir -p "$D"/{state,spool,log,run} /etc/slurm
for n in $NODES; do mkdir -p "$D/spool/$n"; done
# slurm.conf must sit at the default path: the snakemake slurm-jobstep plugin
# strips all SLURM_* variables (SLURM_CONF too) before its nested `srun`.
GRES_NODE=""; GRES_TYPES=""
if [ "$NGPU" -gt 0 ]; then GRES_NODE=" Gres=gpu:$NGPU"; GRES_TYPES="GresTypes=gpu"; fi
if [ "$ACCT" = 1 ]; then
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu"
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none"
fi
cat > /etc/slurm/slurm.conf.new <<EOF
ClusterName=ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$D/state
# %n: the node's name, so that the slurmds of one host keep apart
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$ACCT_LINES
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
# finished jobs stay visible to squeue this long (snakemake's squeue status
# mode needs MinJobAge >= 3 * slurm-init-seconds-before-status-checks)
MinJobAge=600
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
$GRES_TYPES
$(for n in $NODES; do
  echo "NodeName=$n NodeAddr=127.0.0.1 Port=$(port_of "$n") CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM$GRES_NODE State=UNKNOWN"
done)
PartitionName=cpu Nodes=$NODELIST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODELIST Default=NO MaxTime=INFINITE State=UP
EOF
# gres/gpu silently drops GPUs without File= ("Removing file-less GPU"), so the
# fake GPUs point at harmless character devices, one per line.
{
  echo "AutoDetect=off"
  for n in $NODES; do
    [ "$NGPU" -ge 1 ] && echo "NodeName=$n Name=gpu File=/dev/null"
    [ "$NGPU" -ge 2 ] && echo "NodeName=$n Name=gpu File=/dev/zero"
  done
  true
} > /etc/slurm/gres.conf.new
changed=0
for f in slurm.conf gres.conf; do
  if cmp -s /etc/slurm/$f.new /etc/slurm/$f; then rm -f /etc/slurm/$f.new
  else mv /etc/slurm/$f.new /etc/slurm/$f; changed=1; fi
done
if [ $changed = 1 ]; then  # new config under running daemons: restart them
  for pf in "$D"/run/slurmd*.pid; do stop_pidfile "$pf"; done
  stop_pidfile "$D/run/slurmctld.pid"
fi

# 4. munge ----------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then  # Debian's postinst normally made one
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$D/run/munged.pid"
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

# 5. optional accounting: mariadb + slurmdbd --------------------------------
if [ "$ACCT" = 1 ]; then
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb-admin ping >/dev/null 2>&1; then
    log "starting mariadbd"
    # its pidfile must be in a folder that the mysql user can write
    setsid /usr/sbin/mariadbd --user=mysql --skip-networking \
      --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mariadbd.pid \
      --log-error="$D/log/mariadb.err" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 300); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.1; done
    cp /run/mysqld/mariadbd.pid "$D/run/mariadbd.pid"
  fi
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmci
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
  if ! alive "$D/run/slurmdbd.pid"; then
    log "starting slurmdbd"; /usr/sbin/slurmdbd
    # slurmdbd creates its tables before it listens
    for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/6819) 2>/dev/null && break; sleep 0.1; done
  fi
fi

# 6. slurmctld, slurmd (they daemonize and write their pidfiles) ------------
if ! alive "$D/run/slurmctld.pid"; then log "starting slurmctld"; /usr/sbin/slurmctld; fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
for n in $NODES; do
  alive "$D/run/slurmd-$n.pid" && continue
  log "starting slurmd of node $n"
  if [ "$n" = "$H" ]; then /usr/sbin/slurmd
  else unshare --uts sh -c "hostname '$n' && exec /usr/sbin/slurmd"; fi
done

# 7. wait for every node to be usable --------------------------------------
for n in $NODES; do
  state=""
  for _ in $(seq 300); do
    # %t: compact state, e.g. "idle", "idle*" (slurmd not registered yet),
    # "drain", "inval", "down*"
    state=$(sinfo -h -N -n "$n" -o %t 2>/dev/null | head -1)
    case "$state" in
      idle|mix|alloc) break ;;
      drain|drng|down|inval) scontrol update NodeName="$n" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.1
  done
  case "$state" in
    idle|mix|alloc) ;;
    *) echo "node $n not ready (state '$state')" >&2
       tail -20 "$D/log/slurmctld.log" "$D/log/slurmd-$n.log" >&2; exit 1 ;;
  esac
done
if [ "$ACCT" = 1 ]; then  # slurmctld registers cluster "ci" with slurmdbd itself
  for _ in $(seq 100); do sacct -n -X -S now >/dev/null 2>&1 && break; sleep 0.1; done
fi
log "cluster up: nodes $NODELIST are ready"
sinfo
