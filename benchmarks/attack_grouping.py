"""Attack draws in one process against one process per draw, through the real command line.

    .venv/bin/python benchmarks/attack_grouping.py --run-dir . --method NPO --draws 3

Reads the split, ``base.json``, the method's ``unlearn.json`` and checkpoint of a finished run (``--run-dir``,
the default layout) and runs ``--draws`` harmful draws (p from the config, runs 0, 1, ...) twice:

* ``separate``: one ``python -m ssiuu attack`` per draw, as one Snakemake job per draw would;
* ``grouped``: one ``python -m ssiuu attack`` for all draws, as the ``attack_harmful`` rule does now.

The two are run in rotating order over ``--repeats``, so both see the same background load. Printed: wall
seconds of each (median over repeats), the ratio separate / grouped and whether every draw's result is the
same in both (all fields but ``wall_time_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ssiuu import layout
from ssiuu.config import load_config


def attack_command(run_dir: Path, config: str, where: dict, outs: list[str]) -> list[str]:
    model = {"benchmark": where["benchmark"], "model": where["model"]}
    results = run_dir / "results"
    files = {
        "checkpoint": layout.path("checkpoint", work=run_dir / "work", **where),
        "split": layout.path("split", results=results, **model),
        "unlearn-result": layout.path("unlearn", results=results, **where),
        "base-result": layout.path("base", results=results, **model),
    }
    args = [sys.executable, "-m", "ssiuu", "--config", config, "attack", "--kind", "harmful"]
    for key in ("benchmark", "model", "method", "seed"):
        args += [f"--{key}", str(where[key])]
    for key, value in files.items():
        args += [f"--{key}", str(value)]
    return args + ["--out", *outs]


def timed(commands: list[list[str]], env: dict) -> float:
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", type=Path, default=Path("."), help="checkout that holds results/ and work/")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--benchmark", default="worldfacts")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--method", default="NPO")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    config = load_config(args.config)
    p = config["attacks"]["harmful"]["fractions"][0]
    lr = config["attacks"]["harmful"]["learning_rates"][0]
    where = {"benchmark": args.benchmark, "model": args.model, "method": args.method, "seed": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    times: dict[str, list[float]] = {"separate": [], "grouped": []}
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for variant in ("separate", "grouped") if repeat % 2 == 0 else ("grouped", "separate"):
                names = {**where, "p": p, "lr": lr}
                outs = [
                    layout.path("harmful", results=f"{tmp}/{variant}", **names, run=r)
                    for r in range(args.draws)
                ]
                commands = (
                    [attack_command(args.run_dir, args.config, where, [o]) for o in outs]
                    if variant == "separate"
                    else [attack_command(args.run_dir, args.config, where, outs)]
                )
                times[variant].append(timed(commands, env))
                results[variant] = [json.loads(Path(o).read_text()) for o in outs]
    same = all(
        {k: v for k, v in a.items() if k != "wall_time_s"}
        == {k: v for k, v in b.items() if k != "wall_time_s"}
        for a, b in zip(results["separate"], results["grouped"], strict=True)
    )
    separate, grouped = statistics.median(times["separate"]), statistics.median(times["grouped"])
    print(
        f"{args.draws} harmful draws of {args.method} on {args.benchmark} (p={p}, lr={lr:g}), {args.repeats} repeat(s)"
    )
    print(f"separate processes: {separate:8.1f} s  ({separate / args.draws:.1f} s per draw)")
    print(f"one process:        {grouped:8.1f} s  ({grouped / args.draws:.1f} s per draw)")
    print(f"separate / grouped: {separate / grouped:.2f}x;  results identical: {same}")


if __name__ == "__main__":
    main()
