"""benchmarks/makespan.py: list scheduling on tiny DAGs computed by hand, and the dry-run parser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("makespan", ROOT / "benchmarks/makespan.py")
makespan = importlib.util.module_from_spec(_spec)
sys.modules["makespan"] = makespan
_spec.loader.exec_module(makespan)
Task = makespan.Task


def diamond() -> list:
    """A (3 s) and B (1 s) before C (2 s); D (4 s) on its own."""
    return [Task("A", 3), Task("B", 1), Task("C", 2, after=("A", "B")), Task("D", 4)]


def test_chain_lengths_are_the_longest_path_from_each_task():
    lengths = makespan.chain_lengths({t.name: t for t in diamond()})
    assert lengths == {"A": 5, "B": 3, "C": 2, "D": 4}


def test_two_slots_start_the_longest_chains_first():
    # t=0: A (chain 5) and D (4) start; t=3: A ends, B starts; t=4: B and D end, C starts; t=6: done
    times = makespan.list_schedule(diamond(), 2)
    assert times == {"A": (0, 3), "D": (0, 4), "B": (3, 4), "C": (4, 6)}
    assert makespan.makespan(times) == 6


def test_one_slot_runs_everything_in_turn():
    times = makespan.list_schedule(diamond(), 1)
    assert times == {"A": (0, 3), "D": (3, 7), "B": (7, 8), "C": (8, 10)}


def test_enough_slots_give_the_critical_path():
    assert makespan.makespan(makespan.list_schedule(diamond(), 8)) == 5


def test_priority_goes_before_chain_length():
    tasks = [Task("short", 1, priority=10), Task("long", 5)]
    assert makespan.list_schedule(tasks, 1) == {"short": (0, 1), "long": (1, 6)}


def test_a_task_holds_its_demand_and_smaller_ones_fill_the_rest():
    # wide (2 slots, 3 s) starts first on 2 slots; x and y (1 slot, 1 s) follow it side by side
    tasks = [Task("wide", 3, demand=2), Task("x", 1), Task("y", 1)]
    assert makespan.list_schedule(tasks, 2) == {"wide": (0, 3), "x": (3, 4), "y": (3, 4)}
    # on 3 slots the third is free at once
    assert makespan.list_schedule(tasks, 3) == {"wide": (0, 3), "x": (0, 1), "y": (1, 2)}
    # a demand above the capacity is capped at it; a demand of 0 starts at once
    assert makespan.list_schedule([Task("big", 2, demand=4), Task("free", 5, demand=0)], 1) == {
        "big": (0, 2),
        "free": (0, 5),
    }


def test_a_cycle_or_an_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="cycle"):
        makespan.list_schedule([Task("a", 1, after=("b",)), Task("b", 1, after=("a",))], 1)
    with pytest.raises(ValueError, match="not a task"):
        makespan.list_schedule([Task("a", 1, after=("missing",))], 1)


DRY_RUN = """Building DAG of jobs...
Job stats:
job      count
-----  -------
make         1
use          2
all          1
total        4

[Sun Dec  6 06:15:11 2026]
rule make:
    output: work/models/m/base, work/data/x.json
    log: work/logs/make.log
    jobid: 3
    benchmark: work/benchmarks/make/m.tsv
    reason: Missing output files: work/models/m/base
    wildcards: model=m
    priority: 10
    resources: tmpdir=/tmp, runtime=30, gpu=1
Shell command: python -m ssiuu make

[Sun Dec  6 06:15:11 2026]
rule use:
    input: work/models/m/base/model.safetensors, work/data/x.json
    output: results/a.json
    jobid: 1
    benchmark: work/benchmarks/use/a.tsv
    wildcards: model=m, name=a
    threads: 2
    resources: tmpdir=/tmp, runtime=30
Shell command: python -m ssiuu use

[Sun Dec  6 06:15:11 2026]
rule use:
    input: work/models/m/base
    output: results/b.json
    jobid: 2
    benchmark: work/benchmarks/use/b.tsv
    wildcards: model=m, name=b

[Sun Dec  6 06:15:11 2026]
localrule all:
    input: results/a.json, results/b.json
    jobid: 0
    reason: Input files updated by another job: results/a.json
    resources: tmpdir=/tmp
This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.
"""


def test_dry_run_printout_gives_jobs_and_their_dependencies():
    jobs = makespan.parse_dry_run(DRY_RUN)
    assert [(j.jobid, j.rule) for j in jobs] == [("3", "make"), ("1", "use"), ("2", "use"), ("0", "all")]
    make, use_a = jobs[0], jobs[1]
    assert make.priority == 10 and make.wildcards == {"model": "m"} and make.resources["gpu"] == "1"
    assert use_a.threads == 2 and use_a.benchmark == "work/benchmarks/use/a.tsv"
    # a file inside a directory output depends on the job that writes the directory
    assert makespan.dependencies(jobs) == {"3": (), "1": ("3",), "2": ("3",), "0": ("1", "2")}


def test_measured_times_fill_unmeasured_jobs_with_their_rules_mean(tmp_path):
    for rel, seconds in {"make/m.tsv": 10.0, "use/a.tsv": 4.0}.items():
        path = tmp_path / "benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tcpu_time\n{seconds}\t0:00:10\t1.0\n")
    measured = makespan.measured_seconds(tmp_path / "benchmarks")
    assert {k: v[0] for k, v in measured.items()} == {"make/m.tsv": 10.0, "use/a.tsv": 4.0}
    cpu = makespan.measured_seconds(tmp_path / "benchmarks", "cpu_time")  # the CPU seconds instead
    assert {k: v[0] for k, v in cpu.items()} == {"make/m.tsv": 1.0, "use/a.tsv": 1.0}
    tasks, counts = makespan.measured_tasks(makespan.parse_dry_run(DRY_RUN), measured)
    by_name = {t.name: t for t in tasks}
    # b has no file: the mean of its rule's files (4 s); `all` has none and no rule mean: 0 s
    assert {n: t.seconds for n, t in by_name.items()} == {"3": 10.0, "1": 4.0, "2": 4.0, "0": 0.0}
    assert counts == {"make": [1, 1], "use": [2, 1], "all": [1, 0]}
    # on 1 core: make (10 s), then a (2 threads, capped at 1) and b in turn
    assert makespan.makespan(makespan.list_schedule(tasks, 1)) == 18.0


def test_a_resumed_run_counts_the_jobs_done_before_it_as_zero(tmp_path):
    import os

    for rel, seconds in {"make/m.tsv": 10.0, "use/a.tsv": 4.0}.items():
        path = tmp_path / "benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tcpu_time\n{seconds}\t0:00:10\t1.0\n")
    os.utime(tmp_path / "benchmarks/make/m.tsv", (1000.0, 1000.0))  # written before the resume at t = 2000
    os.utime(tmp_path / "benchmarks/use/a.tsv", (3000.0, 3000.0))
    measured = makespan.measured_seconds(tmp_path / "benchmarks")
    tasks, _ = makespan.measured_tasks(makespan.parse_dry_run(DRY_RUN), measured, done_before=2000.0)
    # make was done before the resume (0 s); a was measured after it, b takes its rule's mean
    assert {t.name: t.seconds for t in tasks} == {"3": 0.0, "1": 4.0, "2": 4.0, "0": 0.0}
    assert makespan.makespan(makespan.list_schedule(tasks, 1)) == 8.0
