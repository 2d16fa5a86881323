"""Wall time of regenerating every table and figure from the cached ``results/`` (target: < 60 s).

    python benchmarks/regenerate_time.py [--repeats 3]

Copies the checkout (without ``work/`` and without the committed tables, figures and claims) into a temp
directory, runs the README's regeneration command there (Snakemake, report rules only), and prints each run's
seconds, the median, and the ratio to the 60-second target. A timing on a shared machine is noisy, which is why this is a benchmark and
not a test (``tests/test_regenerate.py`` checks the content).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_regenerate import REGENERATE, fresh_copy, snakemake  # noqa: E402  (the command the test checks)

TARGET_S = 60.0


def regenerate_once() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        copy = fresh_copy(Path(tmp))
        start = time.perf_counter()
        snakemake(copy, *REGENERATE)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [regenerate_once() for _ in range(args.repeats)]
    median = statistics.median(runs)
    print("runs (s):", ", ".join(f"{r:.1f}" for r in runs))
    print(f"median {median:.1f} s = {median / TARGET_S:.2f} x the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
