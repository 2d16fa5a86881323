"""Pipeline jobs with ``keep_freed_memory`` on and off, side by side, through the real command line.

    .venv/bin/python benchmarks/allocator.py --run-dir . --jobs unlearn,attack      # after `make run`

Reads the split, ``base.json``, the method's ``unlearn.json`` and checkpoint of a finished run (``--run-dir``,
the default layout) and runs each job of ``--jobs`` twice, once with ``keep_freed_memory: true`` (every job's
default: glibc keeps freed memory, ``ssiuu/allocator.py``) and once with ``false`` (glibc's own settings):

* ``unlearn``: the unlearning job of ``--method`` (default SSIUU) on ``--benchmark``, its learning-rate search,
  final evaluation and checkpoint included;
* ``attack``: the harmful attack job of that method's checkpoint (``--draws`` draws in one process).

The two settings run in rotating order over ``--repeats``. Printed per job and setting: wall seconds, user and
kernel CPU seconds, minor page faults and peak RSS of the job's process (``os.wait4``), the wall ratio off / on,
and whether the job's result JSON is the same both ways (every field but wall times and peak memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attack_grouping import attack_command, run_parser

from ssiuu import layout
from ssiuu.config import load_config
from ssiuu.io import read_json

SETTINGS = {"on": True, "off": False}


def unlearn_command(run_dir: Path, config: list[str], where: dict, out_dir: Path) -> tuple[list[str], Path]:
    model = {"benchmark": where["benchmark"], "model": where["model"]}
    results = run_dir / "results"
    out = out_dir / "unlearn.json"
    args = [sys.executable, "-m", "ssiuu", *config, "unlearn"]
    for key in ("benchmark", "model", "method", "seed"):
        args += [f"--{key}", str(where[key])]
    args += ["--model-dir", str(run_dir / layout.path("base_model", work="work", model=where["model"]))]
    args += ["--split", layout.path("split", results=results, **model)]
    args += ["--base", layout.path("base", results=results, **model)]
    return args + ["--out", str(out), "--checkpoint", str(out_dir / "checkpoint")], out


def without_times(value: object) -> object:
    """A result without its measurements of the run itself (wall times, peak memory), for comparison."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if "time" not in k and "memory" not in k}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def differences(a: object, b: object, where: str = "") -> list[str]:
    """The paths at which two JSON values differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"[:160]]


def run_job(command: list[str], env: dict) -> dict:
    """Wall seconds, CPU seconds, page faults and peak RSS of one job process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"job failed ({status}): {' '.join(command)}\n{proc.stderr.read().decode()[-2000:]}")
    return {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "minor_faults": usage.ru_minflt,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    ap = run_parser(__doc__, "SSIUU")
    ap.add_argument("--jobs", default="unlearn,attack", help="comma-separated: unlearn, attack")
    ap.add_argument("--draws", type=int, default=2, help="harmful draws of the attack job")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(jobs) - {"unlearn", "attack"}
    if unknown:
        ap.error(f"unknown jobs {sorted(unknown)}; valid: unlearn, attack")
    config = load_config(args.config)
    where = {"benchmark": args.benchmark, "model": args.model, "method": args.method, "seed": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    rows: dict[tuple[str, str], list[dict]] = {}
    outputs: dict[tuple[str, str], object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for name, value in SETTINGS.items():
            override = Path(tmp) / f"allocator-{name}.yaml"
            override.write_text(f"keep_freed_memory: {json.dumps(value)}\n")
            configs[name] = ["--config", args.config, "--config", str(override)]
        for repeat in range(args.repeats):
            for job in jobs:
                for name in list(SETTINGS)[:: 1 if repeat % 2 == 0 else -1]:
                    out_dir = Path(tmp) / f"{job}-{name}-{repeat}"
                    out_dir.mkdir()
                    if job == "unlearn":
                        command, result = unlearn_command(args.run_dir, configs[name], where, out_dir)
                    else:
                        names = {**where, "p": config["attacks"]["harmful"]["fractions"][0]}
                        names["lr"] = config["attacks"]["harmful"]["learning_rates"][0]
                        outs = [
                            layout.path("harmful", results=str(out_dir), **names, run=r)
                            for r in range(args.draws)
                        ]
                        command = attack_command(args.run_dir, args.config, where, outs)
                        command[3:5] = configs[name]  # ``--config FILE`` -> both files
                        result = Path(outs[-1])
                    row = run_job(command, env)
                    rows.setdefault((job, name), []).append(row)
                    outputs[(job, name)] = without_times(read_json(result))
                    print(f"repeat {repeat + 1} {job} keep_freed_memory {name}: {row}", flush=True)

    print(
        f"\n{'job':<8} {'setting':<8} {'wall s':>8} {'user s':>8} {'sys s':>8} {'faults':>10} {'RSS MB':>8}"
    )
    for (job, name), runs in rows.items():
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}
        print(
            f"{job:<8} {name:<8} {mean['wall_s']:>8.1f} {mean['user_s']:>8.1f} {mean['sys_s']:>8.1f} "
            f"{mean['minor_faults']:>10.0f} {mean['max_rss_mb']:>8.0f}"
        )
    for job in jobs:
        ratio = sum(r["wall_s"] for r in rows[(job, "off")]) / sum(r["wall_s"] for r in rows[(job, "on")])
        diff = differences(outputs[(job, "on")], outputs[(job, "off")])
        print(
            f"{job}: wall off / on {ratio:.2f}x; results identical (all but wall times and peak memory): {not diff}"
        )
        for line in diff[:8]:
            print(f"  differs at {line}")


if __name__ == "__main__":
    main()
