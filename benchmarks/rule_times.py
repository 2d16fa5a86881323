"""Per-rule wall and CPU time of a finished run, from Snakemake's ``benchmark:`` files.

    python benchmarks/rule_times.py [work/benchmarks]      # prints a Markdown table

Each rule writes ``<work_dir>/benchmarks/<rule>/<wildcards>.tsv`` (columns ``s`` = wall seconds and
``cpu_time`` = CPU seconds, among others); this sums them per rule.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def rule_times(root: Path) -> pd.DataFrame:
    """One row per rule: jobs, total/mean/max wall seconds, total CPU seconds, max RSS (MB)."""
    rows = []
    for tsv in sorted(root.rglob("*.tsv")):
        frame = pd.read_csv(tsv, sep="\t")
        rule = tsv.relative_to(root).parts[0]
        rows.append(
            {
                "rule": rule,
                "job": str(tsv.relative_to(root / rule).with_suffix("")),
                "wall_s": float(frame["s"].iloc[-1]),
                "cpu_s": float(frame["cpu_time"].iloc[-1]),
                "max_rss_mb": float(frame["max_rss"].iloc[-1]),
            }
        )
    if not rows:
        raise SystemExit(
            f"no benchmark files under {root}: run the pipeline first (or pass its work_dir/benchmarks)"
        )
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("rule").agg(
        jobs=("job", "size"),
        wall_total_s=("wall_s", "sum"),
        wall_mean_s=("wall_s", "mean"),
        wall_max_s=("wall_s", "max"),
        cpu_total_s=("cpu_s", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    table = table.sort_values("wall_total_s", ascending=False)
    total = pd.DataFrame(
        [
            {
                "jobs": table["jobs"].sum(),
                "wall_total_s": table["wall_total_s"].sum(),
                "wall_mean_s": jobs["wall_s"].mean(),
                "wall_max_s": jobs["wall_s"].max(),
                "cpu_total_s": table["cpu_total_s"].sum(),
                "max_rss_mb": table["max_rss_mb"].max(),
            }
        ],
        index=pd.Index(["(all rules)"], name="rule"),
    )
    return pd.concat([table, total]).round(0).astype({"jobs": int})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", nargs="?", default="work/benchmarks", type=Path)
    args = parser.parse_args(argv)
    sys.stdout.write(rule_times(args.root).to_markdown() + "\n")


if __name__ == "__main__":
    main()
