"""Wall time of regenerating every table and figure from the cached ``results/`` (issue target: < 60 s).

    python benchmarks/regenerate_time.py [--repeats 3]

Copies ``results/`` (without tables and figures) and ``config.yaml`` into a temp directory with no ``work/``,
runs ``python -m ssiuu tables`` and ``figures`` there, and prints each run's seconds, the median, and the
ratio to the 60-second target. A timing on a shared machine is noisy, which is why this is a benchmark and
not a test (``tests/test_regenerate.py`` checks the content).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def regenerate_once() -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "results", Path(tmp) / "results",
                        ignore=shutil.ignore_patterns("tables", "figures", "*.html"))
        shutil.copy(REPO / "config.yaml", Path(tmp) / "config.yaml")
        start = time.perf_counter()
        for command in ("tables", "figures"):
            subprocess.run([sys.executable, "-m", "ssiuu", "--config", "config.yaml", command,
                            "--out-dir", f"results/{command}"], cwd=tmp, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [regenerate_once() for _ in range(args.repeats)]
    median = statistics.median(runs)
    print("runs (s):", ", ".join(f"{r:.1f}" for r in runs))
    print(f"median {median:.1f} s = {median / TARGET_S:.2f} x the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
