#!/usr/bin/env bash
# A real single-node SLURM (Debian's slurmctld + slurmd + munge, no systemd) for tests and CI.
#
#   apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
#   scripts/slurm_local.sh start      # as root; prints the line to export SLURM_CONF
#   export SLURM_CONF=/tmp/mpies-slurm/slurm.conf
#   sbatch --wait slurm/es.sbatch ...
#   scripts/slurm_local.sh stop
#
# Everything lives in $MPIES_SLURM_DIR (default /tmp/mpies-slurm): slurm.conf, state, spool, logs
# and the PIDs of the daemons started here (stop only ever signals those). /etc/slurm/slurm.conf is
# pointed at that slurm.conf when it is absent or already a symlink, so that plain `sbatch` works too.
# The node declares max(nproc, $MPIES_SLURM_CPUS) CPUs (default 8; SlurmdParameters=config_overrides)
# so that 4-task jobs fit on a 2-core machine. No accounting: sacct does not work, use scontrol.
set -euo pipefail

DIR=${MPIES_SLURM_DIR:-/tmp/mpies-slurm}
CONF=$DIR/slurm.conf
TIMEOUT=${MPIES_SLURM_TIMEOUT:-60}     # seconds to wait for the node to be idle
SBIN=/usr/sbin
export SLURM_CONF=$CONF

die() { echo "slurm_local: $*" >&2; exit 1; }
alive() { [[ -f $DIR/$1.pid ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
running() { alive slurmctld && alive slurmd; }

write_conf() {
    local cpus; cpus=$(nproc)
    (( cpus < ${MPIES_SLURM_CPUS:-8} )) && cpus=${MPIES_SLURM_CPUS:-8}
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<EOF
# written by scripts/slurm_local.sh
ClusterName=mpies
SlurmctldHost=localhost
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
AuthInfo=cred_expire=${MPIES_SLURM_CRED_EXPIRE:-5}
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/state/slurmctld.pid
SlurmdPidFile=$DIR/spool/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2
MpiDefault=pmi2
ReturnToService=2
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
NodeName=localhost CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        echo "munged already running: using it"; return
    fi
    [[ -f /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    runuser -u munge -- "$SBIN/munged"   # daemonizes; writes /run/munge/munged.pid
    for _ in $(seq 50); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            cp /run/munge/munged.pid "$DIR/munged.pid"; return
        fi
        sleep 0.1
    done
    die "munged does not answer (munge -n | unmunge fails)"
}

# start NAME COMMAND...: in its own session, detached from our stdout (callers may capture it)
launch() {
    local name=$1; shift
    setsid "$@" </dev/null >"$DIR/log/$name.out" 2>&1 &
    echo $! >"$DIR/$name.pid"
}

do_start() {
    [[ $(id -u) -eq 0 ]] || die "run as root (SlurmUser=root, jobs run as root)"
    if running; then echo "already running ($CONF)"; exit 0; fi
    for exe in slurmctld slurmd munged; do
        [[ -x $SBIN/$exe ]] || die "$SBIN/$exe missing: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge"
    done
    write_conf
    if timeout 10 scontrol ping >/dev/null 2>&1; then
        die "another slurmctld answers on localhost (not started from $DIR): stop it first"
    fi
    start_munge
    launch slurmctld "$SBIN/slurmctld" -D -c -f "$CONF"
    launch slurmd "$SBIN/slurmd" -D -N localhost -f "$CONF"
    local end=$((SECONDS + TIMEOUT)) state=""
    while (( SECONDS < end )); do
        state=$(sinfo -h -N -o %T 2>/dev/null || true)
        if [[ $state == idle ]]; then
            if [[ ! -e /etc/slurm/slurm.conf || -L /etc/slurm/slurm.conf ]]; then
                mkdir -p /etc/slurm && ln -sfn "$CONF" /etc/slurm/slurm.conf
            fi
            echo "slurm up in $DIR: node localhost idle; export SLURM_CONF=$CONF"; return
        fi
        alive slurmctld || break
        alive slurmd || break
        sleep 0.5
    done
    echo "slurm_local: node not idle after ${TIMEOUT}s (state: '${state:-no answer}'); logs:" >&2
    tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.out >&2 2>/dev/null || true
    do_stop >&2
    exit 1
}

# stop_pid NAME GRACE: after GRACE tenths of a second, TERM (and KILL 10 s later) the process
# recorded in NAME.pid, if it is still that program
stop_pid() {
    local file=$DIR/$1.pid pid
    [[ -f $file ]] || return 0
    pid=$(cat "$file"); rm -f "$file"
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 0
    for _ in $(seq "$2"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "slurm_local: $1 ($pid) ignored TERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

do_stop() {
    if [[ ! -f $DIR/slurmctld.pid && ! -f $DIR/slurmd.pid && ! -f $DIR/munged.pid ]]; then
        echo "not running ($DIR)"; return 0
    fi
    if alive slurmctld; then
        scancel --quiet --user=root 2>/dev/null || true     # the jobs of this cluster
        for _ in $(seq 50); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
        timeout 10 scontrol shutdown >/dev/null 2>&1 || true
    fi
    stop_pid slurmd 50          # both exit on `scontrol shutdown`
    stop_pid slurmctld 50
    stop_pid munged 0
    [[ $(readlink /etc/slurm/slurm.conf 2>/dev/null) == "$CONF" ]] && rm -f /etc/slurm/slurm.conf
    echo "stopped ($DIR)"
}

do_status() {
    if running; then
        echo "running: slurmctld $(cat "$DIR/slurmctld.pid"), slurmd $(cat "$DIR/slurmd.pid"); export SLURM_CONF=$CONF"
        sinfo -N
    else
        echo "not running ($DIR)"; exit 3
    fi
}

case ${1:-} in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) echo "usage: $0 start|stop|status   (directory: \$MPIES_SLURM_DIR, default /tmp/mpies-slurm)" >&2; exit 2 ;;
esac
