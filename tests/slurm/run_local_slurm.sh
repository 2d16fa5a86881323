#!/usr/bin/env bash
# Run the pipeline through a real, private, single-node SLURM cluster on this machine and check it.
#
#   sudo bash tests/slurm/run_local_slurm.sh                       # whole smoke DAG
#   sudo bash tests/slurm/run_local_slurm.sh -- --until split      # a part of it (args go to snakemake)
#
# Debian 12, as root, no internet besides the apt mirror (only needed once, to install slurm-wlm and
# munge). It
#   1. installs slurm-wlm + munge with apt-get unless they are installed;
#   2. writes a slurm.conf for one node `localhost` (cons_tres, no accounting, proctrack/linuxproc,
#      fake `gpu` GRES, /dev/null and look-alike character devices, one per core, so `--gpus=1` is
#      accepted) in a temporary state directory, creates a munge key and starts munged, slurmctld and
#      slurmd by hand (no systemd);
#   3. copies the repository twice (one snapshot, so both runs see the same code) and runs
#        a) snakemake --workflow-profile workflow/profiles/slurm  (the shipped profile, with the edits a
#           user makes: partition, no account, memory capped to this node, squeue status queries)
#        b) snakemake --workflow-profile workflow/profiles/default (local execution)
#      with the same config (default workflow/configs/smoke.yaml);
#   4. checks that every job of run (a) went through sbatch and completed: Snakemake's own job count
#      (job-stats table) = "submitted with SLURM jobid" lines = slurmctld's submit RPCs = per-job logs
#      in .snakemake/slurm_logs/ = COMPLETED jobs in `squeue --states=all` (MinJobAge keeps them),
#      per rule; that every torch rule's job held a GPU and no CPU-only rule's job did;
#   5. checks that both runs produced the same files under results/ and work/ (logs, benchmark
#      timings, the datasets cache and Snakemake metadata excluded) with the same content: bytes, or for JSON the same
#      values after dropping timing/memory/host keys, for torch .pt files the same tensors (torch.save
#      writes a random serialization id), for PDF the same bytes after dropping /CreationDate.
#      Everything else must be bit-identical: the smoke config runs on the CPU with fixed seeds and
#      one thread per job, so nothing may differ between a SLURM job and a local job.
#   6. stops what it started (SLURM jobs of its private cluster, slurmd, slurmctld, munged) by PID.
# Exit status 0 only if every check passed; a failure prints `FAIL: <what>` and the relevant log.
#
# Options:  --config FILE   config for both runs, relative to the repository (default workflow/configs/smoke.yaml)
#           --no-local      skip run (b) and the comparison
#           --local-dir DIR compare with this finished local run of the same config and code instead of
#                           running (b) (.ci/run passes the smoke run that `make test` just made)
#           --keep          keep the temporary directory (it is always kept after a failure)
# Environment: VENV (default <repo>/.venv: snakemake 9 + the slurm plugin + ssiuu's dependencies),
#              SLURM_TEST_PORT (default 16817; slurmd uses +1), TMPDIR.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIG=workflow/configs/smoke.yaml
RUN_LOCAL=1
LOCAL_DIR=
KEEP=0
SMK_EXTRA=()
while (($#)); do
    case "$1" in
        --config) CONFIG=$2; shift 2 ;;
        --no-local) RUN_LOCAL=0; shift ;;
        --local-dir) LOCAL_DIR=$(cd "$2" && pwd) || { echo "--local-dir $2: no such directory" >&2; exit 2; }; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --) shift; SMK_EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

VENV=${VENV:-$REPO/.venv}
PORT=${SLURM_TEST_PORT:-16817}
PARTITION=gpu
T_START=$SECONDS
declare -A PHASE

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
    printf '\nFAIL: %s\n' "$*" >&2
    exit 1
}
phase_done() { PHASE[$1]=$((SECONDS - $2)); log "$1 took ${PHASE[$1]} s"; }

[[ $(id -u) -eq 0 ]] || fail "run as root (installs packages, starts slurmctld/slurmd/munged)"
[[ -x $VENV/bin/snakemake ]] || fail "no snakemake in $VENV (make setup, or set VENV=)"
[[ -f $REPO/$CONFIG ]] || fail "config $CONFIG not found in $REPO"
[[ -f /etc/debian_version ]] || log "warning: not Debian; apt-get steps may not work"

# ---------------------------------------------------------------- 1. install
t=$SECONDS
need_install=0
for bin in slurmctld slurmd sbatch squeue sinfo scontrol scancel srun munged munge; do
    command -v "$bin" >/dev/null || need_install=1
done
if ((need_install)); then
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update (is the Debian mirror reachable?)"
    # The packages' postinst scripts try to start the services; with no init system that fails
    # harmlessly, and the daemons below are started by hand with our own configuration.
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/tmp/ssiuu-apt.log 2>&1 ||
        { tail -20 /tmp/ssiuu-apt.log; fail "apt-get install slurm-wlm munge (log: /tmp/ssiuu-apt.log)"; }
else
    log "slurm-wlm and munge already installed"
fi
phase_done install "$t"

# ---------------------------------------------------------------- 2. private cluster
t=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ssiuu-slurm.XXXXXX")
ST=$WORK/state
mkdir -p "$ST"/{etc,spool/ctld,spool/d,log,run,munge}
chmod 755 "$ST/munge"
PIDS=()          # daemons we started, in start order
CLEANED=0

cleanup() {
    local rc=$?
    ((CLEANED)) && return
    CLEANED=1
    set +e
    if [[ -n ${SLURM_CONF:-} ]] && ((${#PIDS[@]} >= 2)); then
        # Jobs of this private cluster only (SLURM_CONF points at it).
        local jobs
        jobs=$(squeue -h -o %i --states=PENDING,RUNNING,CONFIGURING,COMPLETING 2>/dev/null)
        if [[ -n $jobs ]]; then
            log "cancelling leftover jobs: $(echo $jobs)"
            scancel $jobs 2>/dev/null
            for _ in $(seq 20); do
                [[ -z $(squeue -h -o %i --states=PENDING,RUNNING,CONFIGURING,COMPLETING 2>/dev/null) ]] && break
                sleep 1
            done
        fi
    fi
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ((${#PIDS[@]})) && log "stopped daemons (PIDs ${PIDS[*]})"
    if ((rc == 0 && KEEP == 0)); then
        rm -rf "$WORK"
    else
        log "kept $WORK (slurmctld log: $ST/log/slurmctld.log)"
    fi
    log "total $((SECONDS - T_START)) s"
    return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NCPU=$(nproc)
MEM_MB=$(free -m | awk '/^Mem:/ {print $2}')
NODE_MEM=$((MEM_MB * 9 / 10))          # leave room for the OS and the daemons
# Fake GPUs, so that `--gpus=1` / `--gres=gpu:1` are accepted: as many as cores, so GPU jobs run
# as concurrently as local jobs. The first is /dev/null; slurmd wants distinct file names, so the
# others are character devices with /dev/null's numbers in the state directory.
NGPU=${SLURM_TEST_GPUS:-$NCPU}
mkdir -p "$ST/dev"
GRES_FILES=/dev/null
for ((i = 1; i < NGPU; i++)); do
    mknod "$ST/dev/fakegpu$i" c 1 3 2>/dev/null || fail "mknod $ST/dev/fakegpu$i (set SLURM_TEST_GPUS=1)"
    GRES_FILES+=",$ST/dev/fakegpu$i"
done

for p in "$PORT" $((PORT + 1)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        fail "port $p is in use (another run of this script?); set SLURM_TEST_PORT to a free port"
    fi
done

# munge: own key, socket, pid and log files.
dd if=/dev/urandom of="$ST/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$ST/munge/munge.key"
MUNGE_SOCKET=$ST/munge/munge.socket.2
munged --foreground --force --key-file="$ST/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$ST/run/munged.pid" --log-file="$ST/log/munged.log" \
    --seed-file="$ST/munge/munged.seed" >"$ST/log/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $MUNGE_SOCKET ]] && break; sleep 0.1; done
munge -n --socket="$MUNGE_SOCKET" | unmunge --socket="$MUNGE_SOCKET" >/dev/null ||
    { cat "$ST/log/munged.out" "$ST/log/munged.log" 2>/dev/null; fail "munged did not start"; }

export SLURM_CONF=$ST/etc/slurm.conf
cat >"$SLURM_CONF" <<EOF
# single-node test cluster written by tests/slurm/run_local_slurm.sh
ClusterName=ssiuutest
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$ST/spool/ctld
SlurmdSpoolDir=$ST/spool/d
SlurmctldPidFile=$ST/run/slurmctld.pid
SlurmdPidFile=$ST/run/slurmd.pid
SlurmctldLogFile=$ST/log/slurmctld.log
SlurmdLogFile=$ST/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
# finished jobs stay visible to squeue (the plugin's status command without accounting)
MinJobAge=7200
MaxJobCount=100000
InactiveLimit=0
KillWait=10
Waittime=0
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$NODE_MEM Gres=gpu:$NGPU State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$ST/etc/gres.conf" <<EOF
NodeName=localhost Name=gpu File=$GRES_FILES
EOF

# Inside a job, the slurm-jobstep executor runs the rule through `srun` with every SLURM_* variable
# but the job's identity removed, SLURM_CONF included; a real cluster has /etc/slurm/slurm.conf, this
# one has not (and this script does not touch /etc), so its `srun` is a shim that sets SLURM_CONF.
mkdir -p "$ST/bin"
printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$ST/bin/srun"
chmod +x "$ST/bin/srun"

slurmctld -D -c -f "$SLURM_CONF" >"$ST/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$ST/log/slurmd.out" 2>&1 &
PIDS+=($!)

idle=0
for _ in $(seq 120); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1) || true
    [[ $state == idle ]] && { idle=1; break; }
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || {
            tail -n 20 "$ST"/log/slurm*.out "$ST"/log/slurm*.log 2>/dev/null
            fail "a SLURM daemon (PID $pid) exited during start-up"
        }
    done
    sleep 0.5
done
((idle)) || { tail -n 30 "$ST"/log/slurm*.log "$ST"/log/slurm*.out 2>/dev/null; fail "node not idle after 60 s (sinfo: ${state:-none})"; }
sinfo -N -o '%N %P %t %c %m %G'
phase_done cluster_start "$t"
log "SLURM setup (install + start) took $((SECONDS - T_START)) s"

# ---------------------------------------------------------------- 3. runs
export PATH=$ST/bin:$VENV/bin:$PATH
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1 TOKENIZERS_PARALLELISM=false
# one snapshot of the checkout (the tree may change while this runs); no outputs, no state
tar -C "$REPO" --exclude=./.venv --exclude=./work --exclude=./results --exclude=./.snakemake \
    --exclude=./.git --exclude=__pycache__ --exclude=./.pytest_cache --exclude=./.ruff_cache \
    -cf "$WORK/src.tar" .
mkdir -p "$WORK/slurm" "$WORK/local"
tar -C "$WORK/slurm" -xf "$WORK/src.tar"
tar -C "$WORK/local" -xf "$WORK/src.tar"

# The user's edits of the shipped profile: partition, no account (this cluster has no accounting:
# the plugin would ask sacctmgr to validate one), memory requests capped to this node.
PROFILE=$WORK/slurm/workflow/profiles/slurm/config.yaml
python3 - "$PROFILE" "$PARTITION" "$NODE_MEM" <<'PY'
import re, sys
path, partition, node_mem = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(path).read()
text = re.sub(r"(?m)^(\s*slurm_partition:).*$", rf"""\1 "'{partition}'" """, text)
text = re.sub(r"(?m)^\s*slurm_account:.*\n", "", text)
text = re.sub(r"(?m)^(\s*mem_mb:\s*)(\d+)", lambda m: m.group(1) + str(min(int(m.group(2)), node_mem)), text)
open(path, "w").write(text)
PY

# Snakemake 9 does not pass --replace-workflow-config on to cluster jobs, so `--configfile` only
# gives the head process and the jobs the same config if the Snakefile skips config.yaml when a
# --configfile is given. Otherwise the config under test becomes the copies' config.yaml.
if grep -q "overwrite_configfiles" "$REPO/Snakefile"; then
    SMK_COMMON=(--configfile "$CONFIG" "${SMK_EXTRA[@]}")
else
    log "note: Snakefile merges config.yaml with --configfile; using $CONFIG as the copies' config.yaml"
    cp "$REPO/$CONFIG" "$WORK/slurm/config.yaml"
    cp "$REPO/$CONFIG" "$WORK/local/config.yaml"
    SMK_COMMON=("${SMK_EXTRA[@]}")
fi
log "run (a): SLURM: snakemake --workflow-profile workflow/profiles/slurm ${SMK_COMMON[*]}"
t=$SECONDS
(cd "$WORK/slurm" && snakemake --workflow-profile workflow/profiles/slurm "${SMK_COMMON[@]}" \
    --slurm-status-command squeue --slurm-keep-successful-logs \
    --slurm-init-seconds-before-status-checks 2 --seconds-between-status-checks 2 \
    --latency-wait 10 --retries 0) >"$WORK/slurm.log" 2>&1 ||
    { tail -60 "$WORK/slurm.log"; fail "the SLURM run failed (log: $WORK/slurm.log)"; }
phase_done slurm_run "$t"

if [[ -n $LOCAL_DIR ]]; then
    [[ -d $LOCAL_DIR/results ]] || fail "--local-dir $LOCAL_DIR has no results/: run the local smoke DAG there first"
    log "run (b): the finished local run in $LOCAL_DIR"
elif ((RUN_LOCAL)); then
    log "run (b): local: snakemake --workflow-profile workflow/profiles/default ${SMK_COMMON[*]}"
    t=$SECONDS
    (cd "$WORK/local" && snakemake --workflow-profile workflow/profiles/default "${SMK_COMMON[@]}" \
        --cores "$NCPU") >"$WORK/local.log" 2>&1 ||
        { tail -60 "$WORK/local.log"; fail "the local run failed (log: $WORK/local.log)"; }
    phase_done local_run "$t"
fi

# ---------------------------------------------------------------- 4. every job went through SLURM
t=$SECONDS
squeue -h --states=all -o '%i|%T|%k' >"$WORK/squeue.txt"
scontrol -o show job >"$WORK/scontrol.txt" 2>/dev/null || true
python3 - "$WORK" "$ST/log/slurmctld.log" <<'PY' || fail "not every job went through SLURM (see above)"
import collections, pathlib, re, sys

work, ctld_log = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
run_log = (work / "slurm.log").read_text()
LOCAL_RULES = {"all"}            # rules without an action: Snakemake handles them itself
TORCH = {"split", "base_eval", "pretrain", "pretrain_never_learned", "unlearn",
         "reference_eval", "attack", "attack_harmful", "calibrate",
         "attribution", "logit_lens", "card_tests"}  # prepare_model runs on the CPU

# Snakemake's plan: the first "Job stats" table of the run
m = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+(\d+)", run_log, re.S)
if not m:
    sys.exit("no job-stats table in the SLURM run's log (nothing to do? run with a clean copy)")
planned = collections.Counter()
for line in m.group(1).splitlines():
    rule, count = line.split()
    if rule not in LOCAL_RULES:
        planned[rule] += int(count)
n_planned = sum(planned.values())

submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", run_log)
ctld = re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld_log.read_text())
logs = collections.Counter()
for f in (work / "slurm/.snakemake/slurm_logs").rglob("*.log"):
    logs[f.relative_to(work / "slurm/.snakemake/slurm_logs").parts[0].removeprefix("rule_")] += 1
states = collections.Counter(); by_rule = collections.Counter()
for line in (work / "squeue.txt").read_text().splitlines():
    jobid, state, comment = line.split("|", 2)
    states[state] += 1
    if state == "COMPLETED":
        by_rule[re.sub(r"^rule_(.*?)(_wildcards_.*)?$", r"\1", comment)] += 1
gpu_of = {}
for line in (work / "scontrol.txt").read_text().splitlines():
    rule = re.search(r"Comment=rule_(\S*?)(_wildcards_\S*)?(\s|$)", line)
    if rule:
        gpu_of.setdefault(rule.group(1), set()).add(bool(re.search(r"gres/gpu[=:]|gpu:\d", line)))

print(f"planned SLURM jobs (Snakemake job stats, without {sorted(LOCAL_RULES)}): {n_planned}")
print(f"'submitted with SLURM jobid' lines: {len(submitted)} (distinct ids {len(set(submitted))})")
print(f"slurmctld batch-job submissions:    {len(ctld)}")
print(f"per-job logs in slurm_logs/:        {sum(logs.values())}")
print(f"squeue --states=all:                {dict(states)}")
print(f"{'rule':16} planned  sbatch-logs  completed  gpu")
errors = []
for rule in sorted(planned):
    gpu = gpu_of.get(rule, set())
    print(f"{rule:16} {planned[rule]:7}  {logs[rule]:11}  {by_rule[rule]:9}  {sorted(gpu)}")
    if not planned[rule] == logs[rule] == by_rule[rule]:
        errors.append(f"rule {rule}: planned {planned[rule]}, slurm logs {logs[rule]}, completed {by_rule[rule]}")
    if rule in TORCH and gpu != {True}:
        errors.append(f"torch rule {rule} ran without a GPU request")
    if rule not in TORCH and True in gpu:
        errors.append(f"CPU-only rule {rule} asked for a GPU")
if not (n_planned == len(set(submitted)) == len(ctld) == states["COMPLETED"] == sum(states.values())):
    errors.append("job counts differ (see above)")
for e in errors:
    print("  -", e)
sys.exit(1 if errors else 0)
PY
phase_done slurm_checks "$t"

# ---------------------------------------------------------------- 5. same outputs as the local run
if ((RUN_LOCAL)); then
    t=$SECONDS
    "$VENV/bin/python" - "$WORK/slurm" "${LOCAL_DIR:-$WORK/local}" <<'PY' || fail "SLURM and local outputs differ (see above)"
import json, pathlib, re, sys

a_root, b_root = map(pathlib.Path, sys.argv[1:3])
# wall-clock logs and timings, under the work root (work/, or a configuration's own, e.g. work/smoke/)
SKIP_DIRS = re.compile(r"^work/([^/]+/)?(logs|benchmarks)/")
# library caches, not results: the datasets cache names its lock files after the absolute cache path
SKIP_PARTS = ("/hf_datasets_cache/",)
# wall-clock and resource measurements, not results: *time*, *_s, peak_memory_mb, host, pid, ...
VOLATILE = re.compile(
    r"(^|_)(time|times|elapsed|duration|timestamp|date|host|hostname|pid|seconds|started|finished"
    r"|memory|mem|rss|peak)(_|$)|_s$", re.I)

def files(root):
    out = set()
    for top in ("results", "work"):
        for f in (root / top).rglob("*"):
            rel = f.relative_to(root).as_posix()
            if f.is_file() and not SKIP_DIRS.match(rel) and not any(p in rel for p in SKIP_PARTS):
                out.add(rel)
    return out

def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj

def first_diff(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'SLURM' if k in a else 'local'} run"
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"

def same_tensors(x, y):
    import torch
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same_tensors(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(map(same_tensors, x, y))
    return x == y

fa, fb = files(a_root), files(b_root)
problems = []
for rel in sorted(fa ^ fb):
    problems.append(f"{rel}: only in the {'SLURM' if rel in fa else 'local'} run")
kinds = {}
for rel in sorted(fa & fb):
    a, b = (a_root / rel).read_bytes(), (b_root / rel).read_bytes()
    if a == b:
        kinds["identical bytes"] = kinds.get("identical bytes", 0) + 1
        continue
    suffix = pathlib.Path(rel).suffix
    if suffix == ".json":
        d = first_diff(strip(json.loads(a)), strip(json.loads(b)))
        kind = "JSON equal but timing/memory/host keys"
    elif suffix == ".pt":
        import torch
        load = lambda p: torch.load(p, map_location="cpu", weights_only=False)
        d = None if same_tensors(load(a_root / rel), load(b_root / rel)) else "tensors differ"
        kind = "torch .pt equal tensors"
    elif suffix == ".pdf":
        pat = re.compile(rb"/CreationDate \(D:[^)]*\)")
        d = None if pat.sub(b"", a) == pat.sub(b"", b) else "PDF content differs"
        kind = "PDF equal but /CreationDate"
    else:
        # lm-eval task files name their run's own directory (absolute data paths): compare them with each
        # run's root replaced by one placeholder
        try:
            same = a.decode().replace(str(a_root), "<run>") == b.decode().replace(str(b_root), "<run>")
        except UnicodeDecodeError:
            same = False
        d, kind = (None, "text equal up to the run directory") if same else ("bytes differ", None)
    if d:
        problems.append(f"{rel}: {d}")
    else:
        kinds[kind] = kinds.get(kind, 0) + 1
print(f"compared {len(fa & fb)} files present in both runs: {kinds}")
for p in problems[:40]:
    print("  -", p)
if len(problems) > 40:
    print(f"  ... and {len(problems) - 40} more")
sys.exit(1 if problems or not fa else 0)
PY
    phase_done compare "$t"
fi

log "PASS. timings (s): $(for k in install cluster_start slurm_run local_run slurm_checks compare; do
    [[ -n ${PHASE[$k]:-} ]] && printf '%s=%s ' "$k" "${PHASE[$k]}"; done)total=$((SECONDS - T_START))"
