"""Each configuration writes under its own results root and work root: the committed default under results/ and
work/, the paper's and the smoke test's under results/<name>/ and work/<name>/. No two configurations' planned
outputs, logs or benchmark files share a path, and a report built for a configuration without results fails
with one line instead of showing another configuration's tables and figures."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from ssiuu.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "default": ROOT / "config.yaml",
    "paper": ROOT / "workflow/configs/paper.yaml",
    "smoke": ROOT / "workflow/configs/smoke.yaml",
}
ROOTS = {
    "default": ("results", "work"),
    "paper": ("results/paper", "work/paper"),
    "smoke": ("results/smoke", "work/smoke"),
}


def snakemake(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env}
    environment["PATH"] = f"{Path(sys.executable).parent}:{environment['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_each_configuration_has_its_own_roots(name: str) -> None:
    config = load_config(CONFIGS[name])
    assert (config["results_dir"], config["work_dir"]) == ROOTS[name]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every output, log and benchmark file of each configuration's whole DAG (`snakemake -n --forceall`), in an
    empty working directory, the sources unchecked (none is read by a dry run)."""
    files = {}
    for name, config in CONFIGS.items():
        run = snakemake(
            "-n",
            "--forceall",
            "--configfile",
            str(config),
            "-d",
            str(tmp_path_factory.mktemp(name)),
            SSIUU_SKIP_SOURCE_CHECK="1",
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        found = re.findall(r"^\s+(?:output|log|benchmark): (.+)$", run.stdout, flags=re.M)
        # a flagged file is printed with its flags: "results/tables/table1.md (update)"
        files[name] = {
            re.sub(r" \([^)]*\)$", "", path.strip()) for line in found for path in line.split(", ")
        }
        assert len(files[name]) > 50, (name, sorted(files[name])[:20])
    return files


@pytest.mark.parametrize("first, second", list(itertools.combinations(CONFIGS, 2)))
def test_two_configurations_never_plan_the_same_path(
    planned: dict[str, set[str]], first: str, second: str
) -> None:
    """No file of one configuration is a file of the other, nor inside a directory output of the other."""
    a, b = planned[first], planned[second]
    assert not a & b, sorted(a & b)[:10]
    nested = (a & folders_above(b)) | (b & folders_above(a))
    assert not nested, sorted(nested)[:10]


def folders_above(paths: set[str]) -> set[str]:
    return {str(folder) for path in paths for folder in PurePosixPath(path).parents}


@pytest.mark.parametrize("name", CONFIGS)
def test_every_planned_file_is_under_the_configurations_roots(
    planned: dict[str, set[str]], name: str
) -> None:
    results, work = ROOTS[name]
    outside = [f for f in planned[name] if not f.startswith((f"{results}/", f"{work}/"))]
    assert not outside, outside[:10]
    tables = {f for f in planned[name] if f.startswith(f"{results}/tables/")}
    assert f"{results}/tables/table1.md" in tables and f"{results}/claims.md" in planned[name]


def test_the_report_refuses_a_configuration_without_results(tmp_path: Path) -> None:
    """The paper configuration, in a directory where the default's results are: no report from them."""
    (tmp_path / "results").symlink_to(ROOT / "results")  # the default's committed results, read only
    report = tmp_path / "paper-report.html"
    run = snakemake("--configfile", str(CONFIGS["paper"]), "-d", str(tmp_path), "--report", str(report))
    out = run.stdout + run.stderr
    assert run.returncode != 0 and not report.exists(), out[-3000:]
    assert (
        "no report: none of the table, figure, claims and card files of this configuration are in results/paper/ "
        "(its results_dir; results/paper/tables/table1.md is missing): run its pipeline first" in out
    ), out[-3000:]
    assert "SourceError" not in out  # a report reads no model or data source
    assert len(out.splitlines()) < 10, out


def test_the_report_of_a_configuration_with_results_is_built(tmp_path: Path) -> None:
    """The committed results' configuration builds its report (update-flagged outputs included)."""
    (tmp_path / "results").symlink_to(ROOT / "results")
    report = tmp_path / "report.html"
    config = ROOT / "results/config.yaml"
    run = snakemake("--configfile", str(config), "-d", str(tmp_path), "--report", str(report))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert report.stat().st_size > 100_000
