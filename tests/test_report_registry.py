"""The report's registries (TABLES, FIGURES, CLAIMS): every entry has a builder, a caption that reads the config,
and an output of the rule workflow/rules/report.smk builds from it."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from ssiuu import layout
from ssiuu.config import load_config
from ssiuu.report.claims import CLAIMS
from ssiuu.report.figures import FIGURES
from ssiuu.report.options import ReportOptions
from ssiuu.report.registry import CAPTION_DIR, caption_values
from ssiuu.report.tables import TABLES

ROOT = Path(__file__).parents[1]
REGISTRIES = {"tables": TABLES, "figures": FIGURES, "claims": CLAIMS}
ENTRIES = [(rule, name) for rule, registry in REGISTRIES.items() for name in registry]
FIELDS = {f.name for f in dataclasses.fields(ReportOptions)}


@pytest.mark.parametrize("rule,name", ENTRIES)
def test_every_entry_has_a_builder_and_options_that_exist(rule: str, name: str) -> None:
    entry = REGISTRIES[rule][name]
    assert callable(entry.function()), entry.builder
    assert set(entry.options.values()) <= FIELDS, entry.options


def render(caption: str, config: dict) -> str:
    """A caption as Snakemake's report renders it (Jinja, with the rule's params and the config)."""
    snakemake = type("Snakemake", (), {"config": config, "params": {"caption": caption_values(config)}})
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(caption)
    return template.render(snakemake=snakemake, categories=[], files=[])


@pytest.mark.parametrize("rule,name", ENTRIES)
def test_every_entry_has_a_caption_that_reads_the_config(rule: str, name: str) -> None:
    """The caption exists and renders; where it quotes the confidence level, it is the config's."""
    path = ROOT / CAPTION_DIR / REGISTRIES[rule][name].caption
    config = load_config(ROOT / "config.yaml", overrides={"attacks": {"confidence_level": 0.9}})
    text = render(path.read_text(), config)
    assert len(text) > 150 and "95 %" not in text and "95%" not in text, path
    if "interval" in text and "Wilson" not in path.read_text():
        assert "90 %" in text or "paper" in text, path


def test_every_entry_is_an_output_of_its_rule(tmp_path: Path) -> None:
    """A dry run of the report's rules on a copy of the committed results with one calibration draw on disk (so
    that the calibration table is due): every entry's files are an output of its rule."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    config = load_config(ROOT / "results" / "config.yaml")
    calibration = config["analysis"]["attack_calibration"]
    draw = layout.path(
        "calibration_harmful",
        results=str(results),
        benchmark=next(iter(config["benchmarks"])),
        model=next(iter(config["models"])),
        method=calibration["methods"][0],
        seed=config["seeds"][0],
        p=calibration["harmful"]["fraction"],
        lr=calibration["harmful"]["learning_rates"][0],
        run=calibration["first_run"],
    )
    Path(draw).parent.mkdir(parents=True, exist_ok=True)
    Path(draw).write_text("{}")
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", "results/config.yaml"]
    command += ["--config", f"results_dir={results}", f"work_dir={tmp_path / 'work'}"]
    command += ["--forcerun", *REGISTRIES, "--allowed-rules", *REGISTRIES, "--", *REGISTRIES]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    outputs = {rule: set() for rule in REGISTRIES}
    rule = None
    for line in run.stdout.splitlines():
        if line.startswith("rule "):
            rule = line.removeprefix("rule ").rstrip(":")
        elif line.strip().startswith("output:") and rule in outputs:
            outputs[rule] |= {  # each output is update()-flagged: the dry run prints "PATH (update)"
                Path(p.strip().removesuffix(" (update)")).relative_to(results).as_posix()
                for p in line.split(":", 1)[1].split(",")
            }
    extensions = {"tables": ("md", "csv", "tex"), "figures": ("png", "pdf"), "claims": ("md", "json")}
    for rule, registry in REGISTRIES.items():
        for name, entry in registry.items():
            for ext in extensions[rule]:
                kind = {"tables": "table", "figures": "figure", "claims": "claims"}[rule]
                path = layout.path(kind, results="R", **({"name": name} if rule != "claims" else {}), ext=ext)
                assert str(Path(path).relative_to("R")) in outputs[rule], (
                    rule,
                    name,
                    ext,
                    sorted(outputs[rule]),
                )
            assert entry.file in (None, "claims") and (entry.file is None) == (rule != "claims")
