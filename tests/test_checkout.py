"""Jobs run the code of the checkout whose Snakefile runs, whatever the working directory (``-d``) and
whatever copy of the package is installed in the environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "work", "results", ".snakemake", "__pycache__", "*.egg-info"
)


def test_a_job_from_a_second_checkout_imports_that_checkouts_package(tmp_path):
    checkout, workdir = tmp_path / "second-checkout", tmp_path / "run"
    shutil.copytree(REPO, checkout, ignore=NOT_COPIED)
    target = "work/data/fictitious/records.json"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(checkout / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(checkout / "config.yaml"),
        "--cores",
        "1",
        target,
    ]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (workdir / target).is_file()
    log = (workdir / "work/logs/build_benchmark/fictitious.log").read_text()
    assert f"ssiuu package: {checkout / 'ssiuu'}" in log, log[-2000:]
    assert str(REPO / "ssiuu") not in log
