"""The committed ``results/`` regenerate through Snakemake, on a fresh copy of the checkout: the dry run plans
the report rules only (no model, split, unlearning, attack, attribution or pre-finetuning job), and the run
reproduces the committed tables and claims byte for byte and every figure.

The under-a-minute target is a timing, not a test (this machine is shared and noisy):
``python benchmarks/regenerate_time.py`` measures it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "results"
NOT_COPIED = ("tables", "figures", "claims.md", "claims.json", "cards", "report.html")
#: the report's rules (tables, figures, claims; the cards' pages and overviews) and the targets they make
REPORT_RULES = ["tables", "figures", "claims", "card_page", "card_overview"]
TARGETS = ["tables", "figures", "claims", "card"]
#: The regeneration command of the README and `make regenerate`.
REGENERATE = [
    "--configfile",
    "results/config.yaml",
    "--cores",
    "2",
    "--allowed-rules",
    *REPORT_RULES,
    "card",
    "--forcerun",
    *REPORT_RULES,
    "--",
    *TARGETS,
]


def fresh_copy(tmp_path: Path) -> Path:
    """The checkout without work/, .snakemake/ or the report outputs, as a fresh clone has it."""
    copy = tmp_path / "checkout"
    skip = shutil.ignore_patterns(".git", ".venv", "work", ".snakemake", "__pycache__", "*.egg-info")
    shutil.copytree(REPO, copy, ignore=skip)
    for name in NOT_COPIED:
        target = copy / "results" / name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    return copy


def snakemake(copy: Path, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_committed_results_regenerate_through_snakemake_without_training(tmp_path: Path) -> None:
    tables = sorted(p.name for p in (COMMITTED / "tables").glob("*") if p.is_file())
    figures = sorted(p.name for p in (COMMITTED / "figures").glob("*") if p.is_file())
    assert {"table1.md", "table2.md", "table1.csv", "table2.csv"} <= set(tables), tables
    carded = yaml.safe_load((COMMITTED / "config.yaml").read_text()).get("card", {}).get("methods", [])
    copy = fresh_copy(tmp_path)

    plan = snakemake(copy, "--dry-run", "--quiet", "rules", *REGENERATE)
    planned = set(re.findall(r"^(\w+)\s+\d+$", plan, flags=re.M)) - {"total"}
    card_rules = {"card_page", "card_overview"} if carded else set()  # a run with cards rebuilds them too
    assert planned == {"tables", "figures", "claims", "card", *card_rules}, plan

    snakemake(copy, *REGENERATE)
    assert not (copy / "work" / "models").exists() and not (copy / "work" / "checkpoints").exists()
    for name in tables:
        regenerated = (copy / "results" / "tables" / name).read_text()
        assert regenerated == (COMMITTED / "tables" / name).read_text(), f"results/tables/{name} differs"
    for name in ("claims.md", "claims.json"):
        assert (copy / "results" / name).read_text() == (COMMITTED / name).read_text(), (
            f"results/{name} differs"
        )
    assert sorted(p.name for p in (copy / "results" / "figures").glob("*") if p.is_file()) == figures
    cards = sorted(p.relative_to(COMMITTED) for p in (COMMITTED / "cards").rglob("*.md"))
    assert len([c for c in cards if c.stem != "overview"]) == 2 * len(carded), (
        cards
    )  # per method and benchmark
    for card in cards:
        assert (copy / "results" / card).read_text() == (COMMITTED / card).read_text(), (
            f"results/{card} differs"
        )


def test_the_committed_results_are_a_run_of_the_embedded_default() -> None:
    """``results/config.yaml`` (the configuration of the run that made ``results/``) is ``config.yaml``: a change to
    the default must come with a from-nothing run of it, so every committed number is one of the final default."""
    committed = yaml.safe_load((COMMITTED / "config.yaml").read_text())
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    changed = sorted(k for k in committed.keys() | default.keys() if committed.get(k) != default.get(k))
    assert not changed, (
        f"results/config.yaml differs from config.yaml in {changed}: rerun the default from nothing"
    )


def test_the_default_attacks_at_the_setting_its_committed_calibration_chooses() -> None:
    """``attacks.<kind>.learning_rates`` and ``epochs`` of ``config.yaml`` are the setting that the calibration's
    rule chooses on the committed calibration draws (``configured_setting``: ★, else ☆, on every benchmark)."""
    from ssiuu import layout
    from ssiuu.config import load_config
    from ssiuu.report.calibration import KINDS, configured_setting
    from ssiuu.report.options import options_from_config
    from ssiuu.report.results import ResultFiles
    from ssiuu.report.tables.calibration import calibration_table_rows

    config = load_config(REPO / "config.yaml")
    kinds = tuple(f"calibration_{kind}" for kind in KINDS)
    files = [p for bench in config["benchmarks"] for p in (COMMITTED / bench).rglob("*.json")]
    draws = [p for p in files if layout.kind_of(str(p.relative_to(REPO)), kinds)]
    assert draws, "no committed calibration draws: run `snakemake calibration` and commit its draws"
    files = ResultFiles(str(p.relative_to(REPO)) for p in draws)
    stats = options_from_config(config).stats
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        rows = calibration_table_rows(
            files, stats=stats, tolerance=config["analysis"]["attack_calibration"]["damage_tolerance"]
        )
    finally:
        os.chdir(cwd)
    for kind in KINDS:
        wanted = configured_setting(rows, kind)
        assert wanted is not None, (
            f"the committed calibration chooses no {kind} setting valid on every benchmark"
        )
        lr, epochs = wanted
        configured = config["attacks"][kind]
        assert configured["learning_rates"] == [pytest.approx(lr)] and configured["epochs"] == epochs, (
            f"config.yaml attacks.{kind}: learning_rates {configured['learning_rates']}, epochs "
            f"{configured['epochs']}; the committed calibration chooses η = {lr:g}, {epochs} epoch(s)"
        )
