#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, for the tests that run sheets as Slurm jobs.
#
#   tests/slurm/cluster.sh install   apt-get the daemons and clients (root; about 15 s)
#   tests/slurm/cluster.sh start     write the configuration, start slurmctld and slurmd,
#                                    wait until the node takes jobs; prints SLURM_CONF=...
#   tests/slurm/cluster.sh stop      cancel every job, then stop both daemons
#   tests/slurm/cluster.sh status    exit 0 when the cluster answers
#
# Everything lives under $MZT_SLURM_DIR (default /tmp/mzt-slurm): configuration, pid
# files, logs, spool, state and the job completion log (jobcomp.txt) the tests count
# submissions in. No munge (auth/none) and no cgroups, so it runs in a bare container.
set -euo pipefail

dir="${MZT_SLURM_DIR:-/tmp/mzt-slurm}"
conf="$dir/slurm.conf"

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null; then
        return 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client >/dev/null
}

configure() {
    mkdir -p "$dir/spool" "$dir/state"
    chmod 700 "$dir"
    cat >"$conf" <<CONF
ClusterName=mzt-test
SlurmctldHost=localhost(127.0.0.1)
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${MZT_SLURM_PORT:-6817}
SlurmdPort=$(( ${MZT_SLURM_PORT:-6817} + 1 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool
StateSaveLocation=$dir/state
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=600
KillWait=2
InactiveLimit=0
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

answers() {
    SLURM_CONF="$conf" sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

start() {
    install
    if [ -f "$conf" ] && answers; then
        echo "SLURM_CONF=$conf"
        return 0
    fi
    stop_daemons
    configure
    slurmctld -f "$conf"
    slurmd -f "$conf" -N localhost
    for _ in $(seq 1 150); do
        if answers; then
            echo "SLURM_CONF=$conf"
            return 0
        fi
        sleep 0.1
    done
    echo "the Slurm cluster in $dir did not come up; its logs:" >&2
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    return 1
}

stop_daemons() {
    # Job processes outlive slurmd: cancel them first, while the controller still answers.
    if [ -f "$conf" ]; then
        SLURM_CONF="$conf" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    fi
    for daemon in slurmd slurmctld; do
        pidfile="$dir/$daemon.pid"
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop_daemons ;;
    status) answers ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
