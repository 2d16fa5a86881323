"""The cached results under ``results/`` regenerate the committed tables exactly and every figure,
in a temp copy with no ``work/`` directory (so no model or checkpoint can be loaded).

The under-a-minute target is a timing, not a test (this machine is shared and noisy):
``python benchmarks/regenerate_time.py`` measures it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "results"


def _regenerate(tmp_path: Path, command: str, out_dir: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    subprocess.run(
        [sys.executable, "-m", "ssiuu", "--config", "config.yaml", command, "--out-dir", out_dir],
        cwd=tmp_path, env=env, check=True, timeout=600, capture_output=True,
    )


def test_cached_results_regenerate_tables_and_figures(tmp_path: Path) -> None:
    tables = sorted(p.name for p in (COMMITTED / "tables").glob("*") if p.is_file())
    figures = sorted(p.name for p in (COMMITTED / "figures").glob("*") if p.is_file())
    assert {"table1.md", "table2.md", "table1.csv", "table2.csv"} <= set(tables), tables
    assert any(name.endswith(".png") for name in figures), figures

    shutil.copytree(COMMITTED, tmp_path / "results", ignore=shutil.ignore_patterns("tables", "figures", "*.html"))
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")

    _regenerate(tmp_path, "tables", "results/tables")
    _regenerate(tmp_path, "figures", "results/figures")

    assert not (tmp_path / "work").exists(), "regeneration must not need the work/ directory"
    for name in tables:
        regenerated = (tmp_path / "results" / "tables" / name).read_text()
        assert regenerated == (COMMITTED / "tables" / name).read_text(), f"results/tables/{name} differs"
    assert sorted(p.name for p in (tmp_path / "results" / "figures").glob("*") if p.is_file()) == figures
