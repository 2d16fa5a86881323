"""Attack draws grouped into processes three ways, through the real command line.

    .venv/bin/python benchmarks/attack_grouping.py --run-dir . --method NPO --runs 2

Reads the split, ``base.json``, the method's ``unlearn.json`` and checkpoint of a finished run (``--run-dir``,
the default layout) and runs one checkpoint's attack draws at the config's first learning rates: a harmful draw
per p of the config and run, and a benign draw per run (``--runs`` runs). Each grouping runs them all:

* ``per draw``: one ``python -m ssiuu attack`` per draw, as one Snakemake job per draw would;
* ``per kind``: one process for the harmful draws and one for the benign draws, as one job per attack kind would;
* ``per checkpoint``: one process for every draw, as the ``attack`` rule does.

The groupings run in rotating order over ``--repeats``, so all see the same background load. Printed: wall
seconds of each (median over repeats), the ratios to ``per checkpoint`` and whether every draw's result is the
same in all (every field but ``wall_time_s``).
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

GROUPINGS = ("per draw", "per kind", "per checkpoint")


def attack_command(run_dir: Path, config: str, where: dict, outs: list[str]) -> list[str]:
    model = {"benchmark": where["benchmark"], "model": where["model"]}
    results = run_dir / "results"
    files = {
        "checkpoint": layout.path("checkpoint", work=run_dir / "work", **where),
        "split": layout.path("split", results=results, **model),
        "unlearn-result": layout.path("unlearn", results=results, **where),
        "base-result": layout.path("base", results=results, **model),
    }
    args = [sys.executable, "-m", "ssiuu", "--config", config, "attack"]
    for key in ("benchmark", "model", "method", "seed"):
        args += [f"--{key}", str(where[key])]
    for key, value in files.items():
        args += [f"--{key}", str(value)]
    return args + ["--out", *outs]


def draw_files(root: str, config: dict, where: dict, runs: int) -> dict[str, list[str]]:
    """The result paths of the checkpoint's draws under ``root``, by attack kind."""
    harmful, benign = config["attacks"]["harmful"], config["attacks"]["benign"]
    return {
        "harmful": [
            layout.path("harmful", results=root, **where, p=p, lr=harmful["learning_rates"][0], run=r)
            for p in harmful["fractions"]
            for r in range(runs)
        ],
        "benign": [
            layout.path("benign", results=root, **where, lr=benign["learning_rates"][0], run=r)
            for r in range(runs)
        ],
    }


def timed(commands: list[list[str]], env: dict) -> float:
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_parser(description: str | None, method: str) -> argparse.ArgumentParser:
    """The options of a benchmark that reruns jobs of a finished run: where it is and which checkpoint."""
    ap = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run-dir", type=Path, default=Path("."), help="checkout that holds results/ and work/")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--benchmark", default="worldfacts")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--method", default=method)
    return ap


def main() -> None:
    ap = run_parser(__doc__, "NPO")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument(
        "--groupings", default="per kind,per checkpoint", help="comma-separated of " + ", ".join(GROUPINGS)
    )
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    groupings = [g.strip() for g in args.groupings.split(",") if g.strip()]
    if set(groupings) - set(GROUPINGS) or "per checkpoint" not in groupings:
        ap.error(f"--groupings: a comma-separated subset of {GROUPINGS} that holds 'per checkpoint'")
    config = load_config(args.config)
    where = {"benchmark": args.benchmark, "model": args.model, "method": args.method, "seed": 0}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    times: dict[str, list[float]] = {g: [] for g in groupings}
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for grouping in groupings[repeat % len(groupings) :] + groupings[: repeat % len(groupings)]:
                files = draw_files(f"{tmp}/{grouping.replace(' ', '_')}", config, where, args.runs)
                every = files["harmful"] + files["benign"]
                groups = {
                    "per draw": [[f] for f in every],
                    "per kind": [files["harmful"], files["benign"]],
                    "per checkpoint": [every],
                }[grouping]
                commands = [attack_command(args.run_dir, args.config, where, outs) for outs in groups]
                times[grouping].append(timed(commands, env))
                results[grouping] = [
                    {k: v for k, v in json.loads(Path(f).read_text()).items() if k != "wall_time_s"}
                    for f in every
                ]
    same = all(results[g] == results["per checkpoint"] for g in groupings)
    n = len(results["per checkpoint"])
    print(
        f"{n} attack draws of {args.method} on {args.benchmark} ({args.runs} runs), {args.repeats} repeat(s)"
    )
    checkpoint = statistics.median(times["per checkpoint"])
    for grouping in groupings:
        seconds = statistics.median(times[grouping])
        print(f"{grouping:<15} {seconds:8.1f} s  ({seconds / n:.1f} s per draw)  {seconds / checkpoint:.2f}x")
    print(f"results identical in every grouping: {same}")


if __name__ == "__main__":
    main()
