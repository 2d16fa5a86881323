"""Predict a run's wall time (makespan) on N cores or N GPUs by list scheduling of its Snakemake DAG.

    python benchmarks/makespan.py cores work/benchmarks                     # the default config, 2, 8, 32 cores
    python benchmarks/makespan.py cores /work/run/work/benchmarks --cores 2 4 8 16 32
    python benchmarks/makespan.py gpus --configfile workflow/configs/paper.yaml --gpus 1 8 32

``cores``: the job times are those a finished run measured, Snakemake's ``benchmark:`` files
(``<work_dir>/benchmarks/<rule>/<wildcards>.tsv``, column ``s`` = wall seconds of the job's command); a job
without a file takes the mean of its rule's files, and a rule without any file counts 0 s and is listed. Each job
holds its ``threads`` cores (at most N) for its measured time, so the prediction is for the thread setting the
run was measured with. To check it, the script also prints the span from the first job's start to the last
job's end, read from the files' modification times less their ``s``: the measured makespan, where one
uninterrupted command made every file (Snakemake's own start-up before the first job is not in it). For a run
that was stopped and resumed, ``--since LOG`` (a file last written when it stopped: the stopped command's log)
counts the jobs done before it as 0 s and measures the span of the resumed command's files only.

``gpus``: the job times are the estimates of :mod:`ssiuu.resources` (measured per-step costs and the config,
docs/cluster.md); each GPU job holds one of N GPUs, CPU-only jobs hold nothing and count 0 s. It also prints
each rule's GPU-hours and the SLURM time limits they are requested with.

The DAG is Snakemake's own dry run of every job (``snakemake -n --forceall``, run here unless ``--dag`` names
a saved printout of it): rule, wildcards, threads, priority, inputs and outputs of each job; a job depends on the
jobs whose outputs it reads. Scheduling: whenever a core (GPU) frees up, the ready jobs start in order of
priority, then of the longest chain of job times that still depends on them, each that fits in what is free.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Task:
    """One job to schedule: its time, the slots it holds while it runs, the tasks it waits for."""

    name: str
    seconds: float
    demand: int = 1
    after: tuple[str, ...] = ()
    priority: float = 0.0


def chain_lengths(tasks: Mapping[str, Task]) -> dict[str, float]:
    """Per task, its time plus the longest chain of task times that depends on it (its "bottom level")."""
    successors: dict[str, list[str]] = defaultdict(list)
    for task in tasks.values():
        for dep in task.after:
            if dep not in tasks:
                raise ValueError(f"task {task.name!r} waits for {dep!r}, which is not a task")
            successors[dep].append(task.name)
    length: dict[str, float] = {}
    for name in reversed(topological_order(tasks)):
        length[name] = tasks[name].seconds + max((length[s] for s in successors[name]), default=0.0)
    return length


def topological_order(tasks: Mapping[str, Task]) -> list[str]:
    """The task names, each after every task it waits for; ValueError on a cycle."""
    waiting = {name: len(set(task.after)) for name, task in tasks.items()}
    successors: dict[str, list[str]] = defaultdict(list)
    for task in tasks.values():
        for dep in set(task.after):
            successors[dep].append(task.name)
    order, ready = [], sorted(name for name, n in waiting.items() if n == 0)
    while ready:
        name = ready.pop()
        order.append(name)
        for succ in successors[name]:
            waiting[succ] -= 1
            if waiting[succ] == 0:
                ready.append(succ)
    if len(order) != len(tasks):
        raise ValueError(f"the tasks have a cycle through {sorted(set(tasks) - set(order))[:5]}")
    return order


def list_schedule(tasks: Iterable[Task], capacity: int) -> dict[str, tuple[float, float]]:
    """(start, end) of every task on ``capacity`` slots by list scheduling: at time 0 and whenever a task ends,
    the ready tasks (all they wait for has ended) are taken in order of priority (higher first), then chain
    length (:func:`chain_lengths`, longer first), then name, and each starts if its demand (at most
    ``capacity``) fits in the free slots. A demand of 0 starts at once."""
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    by_name = {task.name: task for task in tasks}
    length = chain_lengths(by_name)
    waiting = {name: len(set(task.after)) for name, task in by_name.items()}
    successors: dict[str, list[str]] = defaultdict(list)
    for task in by_name.values():
        for dep in set(task.after):
            successors[dep].append(task.name)

    def rank(name: str) -> tuple[float, float, str]:
        return (-by_name[name].priority, -length[name], name)

    ready = sorted((name for name, n in waiting.items() if n == 0), key=rank)
    running: list[tuple[float, str]] = []  # (end, name)
    times: dict[str, tuple[float, float]] = {}
    free, now = capacity, 0.0
    while ready or running:
        still_ready = []
        for name in ready:
            demand = min(by_name[name].demand, capacity)
            if demand <= free:
                free -= demand
                times[name] = (now, now + by_name[name].seconds)
                heapq.heappush(running, (now + by_name[name].seconds, name))
            else:
                still_ready.append(name)
        ready = still_ready
        if not running:
            break
        now = running[0][0]
        while running and running[0][0] == now:
            _, name = heapq.heappop(running)
            free += min(by_name[name].demand, capacity)
            for succ in successors[name]:
                waiting[succ] -= 1
                if waiting[succ] == 0:
                    ready.append(succ)
        ready.sort(key=rank)
    return times


def makespan(times: Mapping[str, tuple[float, float]]) -> float:
    return max((end for _, end in times.values()), default=0.0)


# ------------------------------------------------------------------------------------------- the DAG
@dataclass
class PlannedJob:
    """One job of a dry-run printout."""

    jobid: str
    rule: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    wildcards: dict[str, str] = field(default_factory=dict)
    benchmark: str | None = None
    threads: int = 1
    priority: float = 0.0
    resources: dict[str, str] = field(default_factory=dict)


JOB_HEAD = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\s*$")
FIELD = re.compile(
    r"^\s+(input|output|log|jobid|benchmark|wildcards|threads|priority|resources|reason): (.*)$"
)


def split_list(value: str) -> list[str]:
    """A printed list of paths or ``key=value`` pairs (``a, b, c``)."""
    return [item.strip() for item in value.split(", ") if item.strip()]


def parse_dry_run(text: str) -> list[PlannedJob]:
    """Every job of a ``snakemake -n`` printout (the job blocks; the rest is skipped)."""
    jobs: list[PlannedJob] = []
    current: PlannedJob | None = None
    for line in text.splitlines():
        head = JOB_HEAD.match(line)
        if head:
            current = PlannedJob(jobid="", rule=head.group(1))
            jobs.append(current)
            continue
        match = FIELD.match(line) if current is not None else None
        if not match:
            if current is not None and line and not line.startswith(" "):
                current = None
            continue
        key, value = match.groups()
        if key == "input":
            current.inputs = split_list(value)
        elif key == "output":
            current.outputs = split_list(value)
        elif key == "jobid":
            current.jobid = value.strip()
        elif key == "benchmark":
            current.benchmark = value.strip()
        elif key == "wildcards":
            current.wildcards = dict(kv.split("=", 1) for kv in split_list(value))
        elif key == "threads":
            current.threads = int(value)
        elif key == "priority":
            current.priority = float(value)
        elif key == "resources":
            current.resources = dict(kv.split("=", 1) for kv in split_list(value) if "=" in kv)
    for n, job in enumerate(jobs):
        job.jobid = job.jobid or f"job{n}"
    if not jobs:
        raise SystemExit("no jobs in the dry-run printout: is it the output of `snakemake -n --forceall`?")
    return jobs


def dependencies(jobs: Sequence[PlannedJob]) -> dict[str, tuple[str, ...]]:
    """Per job id, the ids of the jobs that write a file (or directory) it reads."""
    writer = {os.path.normpath(out): job.jobid for job in jobs for out in job.outputs}
    deps = {}
    for job in jobs:
        found = set()
        for path in job.inputs:
            path = os.path.normpath(path)
            while path and path not in writer and os.path.dirname(path) != path:
                path = os.path.dirname(path)  # a file inside a directory output
            if path in writer and writer[path] != job.jobid:
                found.add(writer[path])
        deps[job.jobid] = tuple(sorted(found))
    return deps


def dry_run(configfile: str | None, targets: Sequence[str] = ()) -> str:
    """Snakemake's dry run of every job (``-n --forceall``) of this checkout, for ``configfile`` and
    ``targets`` (default: the default target)."""
    snakemake = Path(sys.executable).parent / "snakemake"
    command = [str(snakemake if snakemake.exists() else "snakemake"), "-n", "--forceall", "--nolock"]
    command += ["--configfile", configfile] if configfile else []
    command += ["--", *targets] if targets else []
    # planning reads no data: the dry run need not find the models and data sets (ssiuu/sources.py)
    env = {**os.environ, "SSIUU_SKIP_SOURCE_CHECK": "1"}
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed:\n{(out.stdout + out.stderr)[-3000:]}")
    return out.stdout + out.stderr


# ------------------------------------------------------------------------------------------ job times
def benchmark_key(path: str | Path) -> str:
    """A benchmark file's path below its ``benchmarks`` directory (``unlearn/wf/m/GD/seed0.tsv``)."""
    parts = Path(path).parts
    cut = max((i for i, part in enumerate(parts) if part == "benchmarks"), default=-1)
    return "/".join(parts[cut + 1 :])


def measured_seconds(root: Path, column: str = "s") -> dict[str, tuple[float, float]]:
    """Per benchmark file under ``root``: (its last row's ``column``: ``s``, wall seconds, or ``cpu_time``,
    modification time)."""
    found = {}
    for tsv in sorted(root.rglob("*.tsv")):
        lines = [line.split("\t") for line in tsv.read_text().splitlines() if line.strip()]
        if len(lines) < 2 or column not in lines[0]:
            continue
        seconds = float(lines[-1][lines[0].index(column)])
        found[tsv.relative_to(root).as_posix()] = (seconds, tsv.stat().st_mtime)
    if not found:
        raise SystemExit(f"no benchmark files under {root}: pass a finished run's <work_dir>/benchmarks")
    return found


def measured_tasks(
    jobs: Sequence[PlannedJob], measured: Mapping[str, tuple[float, float]], done_before: float | None = None
):
    """Tasks with the measured job times; a job without a file gets its rule's mean, and a job whose file was
    written before ``done_before`` (a time: where the run was resumed) was done by an earlier command and counts
    0 s. Also returns, per rule, (jobs, measured jobs)."""
    own = {
        job.jobid: measured[benchmark_key(job.benchmark)][0]
        for job in jobs
        if job.benchmark and benchmark_key(job.benchmark) in measured
    }
    by_rule: dict[str, list[float]] = defaultdict(list)
    for job in jobs:
        if job.jobid in own:
            by_rule[job.rule].append(own[job.jobid])
    mean = {rule: statistics.fmean(values) for rule, values in by_rule.items()}
    deps = dependencies(jobs)
    earlier = {
        job.jobid
        for job in jobs
        if done_before is not None
        and job.benchmark
        and measured.get(benchmark_key(job.benchmark), (0.0, done_before))[1] < done_before
    }
    tasks = [
        Task(
            name=job.jobid,
            seconds=0.0 if job.jobid in earlier else own.get(job.jobid, mean.get(job.rule, 0.0)),
            demand=job.threads,
            after=deps[job.jobid],
            priority=job.priority,
        )
        for job in jobs
    ]
    counts = defaultdict(lambda: [0, 0])
    for job in jobs:
        counts[job.rule][0] += 1
        counts[job.rule][1] += job.jobid in own
    return tasks, dict(counts)


def hms(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def report(tasks: Sequence[Task], sizes: Sequence[int], unit: str) -> None:
    """One line per size: the predicted makespan and its two lower bounds."""
    by_name = {t.name: t for t in tasks}
    critical = max(chain_lengths(by_name).values(), default=0.0)
    for n in sizes:
        work = sum(t.seconds * min(t.demand, n) for t in tasks)
        span = makespan(list_schedule(tasks, n))
        bound = max(critical, work / n)
        print(
            f"  {n:4d} {unit:5s} predicted {span:9.0f} s ({hms(span):>6s} h:mm)   "
            f"lower bound {bound:9.0f} s (critical path {critical:.0f} s, work/{n} {work / n:.0f} s)"
        )


# ------------------------------------------------------------------------------------------- commands
def cores_command(args: argparse.Namespace) -> None:
    configfile = str(Path(args.configfile).resolve()) if args.configfile else None
    text = Path(args.dag).read_text() if args.dag else dry_run(configfile, args.targets)
    jobs = parse_dry_run(text)
    measured = measured_seconds(args.root, args.time)
    resumed = Path(args.since).stat().st_mtime if args.since else None
    tasks, counts = measured_tasks(jobs, measured, done_before=resumed)
    used = {benchmark_key(job.benchmark) for job in jobs if job.benchmark}
    print(
        f"DAG: {len(jobs)} jobs; benchmark files: {len(measured)} under {args.root}, {len(used & set(measured))} of them jobs of the DAG"
    )
    others = sorted(set(measured) - used)
    if others:
        print(f"  not jobs of this DAG (left out): {', '.join(others)}")
    print(f"  {'rule':24s} {'jobs':>5s} {'measured':>8s} {'mean s':>8s}")
    for rule, (n, found) in sorted(counts.items()):
        seconds = [t.seconds for t, job in zip(tasks, jobs, strict=True) if job.rule == rule]
        note = "" if found or rule == "all" else "   no file: counted 0 s"
        print(f"  {rule:24s} {n:5d} {found:8d} {statistics.fmean(seconds):8.0f}{note}")
    print(f"job-seconds: {sum(t.seconds * t.demand for t in tasks):.0f}")
    walls = measured_seconds(args.root).values()
    mtimes = [(mtime - s, mtime) for s, mtime in walls if resumed is None or mtime >= resumed]
    if resumed is not None:
        print(f"resumed run: the {len(measured) - len(mtimes)} files written before {args.since} count 0 s")
    first, last = min(start for start, _ in mtimes), max(end for _, end in mtimes)
    print(
        f"span of the benchmark files (first start to last end, from their times): {last - first:.0f} s ({hms(last - first)} h:mm)"
    )
    print(f"makespan by list scheduling with the measured job times ({args.time}):")
    report(tasks, args.cores, "cores")


def gpus_command(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from ssiuu import resources
    from ssiuu.config import load_config

    args.configfile = str(Path(args.configfile).resolve())
    config = load_config(args.configfile)
    text = Path(args.dag).read_text() if args.dag else dry_run(args.configfile, args.targets)
    jobs = parse_dry_run(text)
    deps = dependencies(jobs)
    tasks, per_rule = [], defaultdict(list)
    for job in jobs:
        seconds = resources.job_seconds(config, job.rule, job.wildcards)
        if seconds is not None:
            memory = resources.gpu_memory_gib(config, job.rule, job.wildcards)
            per_rule[job.rule].append((seconds, resources.runtime_minutes(seconds), memory))
        tasks.append(Task(job.jobid, seconds or 0.0, int(seconds is not None), deps[job.jobid], job.priority))
    print(f"{args.configfile}: {len(jobs)} jobs, {sum(t.demand for t in tasks)} on a GPU")
    head = ("rule", "jobs", "job min", "GPU-h", "limit min", "limits GPU-h", "GPU GiB")
    print("  {:24s} {:>5s} {:>13s} {:>7s} {:>11s} {:>12s} {:>8s}".format(*head))
    for rule, rows in sorted(per_rule.items(), key=lambda kv: -sum(r[0] for r in kv[1])):
        seconds, limits = [r[0] for r in rows], [r[1] for r in rows]
        memory = max((r[2] for r in rows if r[2] is not None), default=None)
        print(
            f"  {rule:24s} {len(rows):5d} {min(seconds) / 60:6.1f}-{max(seconds) / 60:<6.1f} "
            f"{sum(seconds) / 3600:7.1f} {min(limits):5d}-{max(limits):<5d} {sum(limits) / 60:12.1f} "
            f"{'-' if memory is None else memory:>8}"
        )
    rows = [r for rs in per_rule.values() for r in rs]
    hours, limit_hours = sum(r[0] for r in rows) / 3600, sum(r[1] for r in rows) / 60
    print(f"  {'(all GPU rules)':24s} {len(rows):5d} {'':13s} {hours:7.1f} {'':11s} {limit_hours:12.1f}")
    print("makespan by list scheduling with the estimated job times (CPU-only jobs: 0 s):")
    report(tasks, args.gpus, "GPUs")
    saved = [job for job in jobs if job.rule in ("prepare_model", *resources.SAVES_MODEL)]
    sizes = [resources.disk_mb(config, job.rule, job.wildcards) / 1000 for job in saved]
    print(
        f"saved models: {len(saved)} jobs write {sum(sizes):.0f} GB (prepare_model in float32, the others in {config['dtype']})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cores = sub.add_parser("cores", help="measured job times of a finished run, on N cores")
    cores.add_argument("root", type=Path, help="the run's <work_dir>/benchmarks")
    cores.add_argument("--cores", type=int, nargs="+", default=[2, 8, 32])
    cores.add_argument("--configfile", help="the run's config (default: config.yaml)")
    cores.add_argument("--dag", help="a saved `snakemake -n --forceall` printout instead of running it")
    cores.add_argument(
        "--targets", nargs="+", default=[], help="Snakemake targets (default: the default one)"
    )
    cores.add_argument(
        "--since",
        help="a file last written when the run was resumed (the stopped command's log): jobs whose benchmark "
        "files are older were done before and count 0 s, and the measured span starts after it",
    )
    cores.add_argument(
        "--time",
        choices=["s", "cpu_time"],
        default="s",
        help="the job time: wall seconds (s) or CPU seconds (cpu_time). Where other work shared the cores, a "
        "job's wall time holds its waiting; a one-thread job's CPU time is what it takes alone, less its I/O",
    )
    cores.set_defaults(func=cores_command)
    gpus = sub.add_parser("gpus", help="estimated job times (ssiuu/resources.py), on N GPUs")
    gpus.add_argument("--configfile", default="workflow/configs/paper.yaml")
    gpus.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 32])
    gpus.add_argument("--dag", help="a saved `snakemake -n --forceall` printout instead of running it")
    gpus.add_argument("--targets", nargs="+", default=[], help="Snakemake targets (default: the default one)")
    gpus.set_defaults(func=gpus_command)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
