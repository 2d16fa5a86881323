"""Tables 1-2 (ssiuu.report.tables) on the SYNTHETIC fixtures in tests/fixtures/results/.

Expected numbers are computed by hand (GA, harmful p = 0.1) or by an independent re-implementation that reads
the JSON files directly.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from result_files import STATS, report_options, result_files

from ssiuu.config import load_config
from ssiuu.references import REFERENCE_LABELS
from ssiuu.report import paper_values as pv
from ssiuu.report.claims import CLAIMS
from ssiuu.report.figures import FIGURES
from ssiuu.report.options import ReportOptions, options_from_config
from ssiuu.report.results import AttackGrid, ResultError, collect_attacks
from ssiuu.report.table_data import aggregate_table, collect_results
from ssiuu.report.tables import TABLES
from ssiuu.report.tables.build import build_tables
from ssiuu.report.tables.render import fmt_cell

FIX = Path(__file__).parent / "fixtures" / "results"
HARMFUL_LRS = [1e-5, 1e-6]
BENIGN_LRS = [1e-5, 1e-7]
GRID = AttackGrid(HARMFUL_LRS, BENIGN_LRS)
METHODS = ["GA", "GD", "SSIUU"]
OPTIONS = report_options
PAPER = Path("/work/shared/papers/ssiuu-paper.txt")


def table(style: str = "mcqa", results: Path = FIX, **kw) -> pd.DataFrame:
    args = {"methods": METHODS, "grid": GRID, "stats": STATS} | kw
    return aggregate_table(result_files(results), style, **args).set_index("method")


@pytest.fixture()
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(FIX, dst)
    return dst


def test_attack_value_is_the_end_fs_at_each_draws_best_rate_on_items_wrong_before() -> None:
    # GA, harmful p=0.1 (generate_synthetic.GA_P01): per (seed, draw) the rate with the highest end FS:
    # seed0: run0 .50, run1 .40; seed1: run0 .30, run1 .20, each on the 18 items wrong before the attack
    # (round(top · 18) of them right at the end: 9, 7, 5, 4)
    t = table()
    assert t.loc["GA", "harmful_p0.1"] == pytest.approx(100 * (9 + 7 + 5 + 4) / 72)
    assert t.loc["GA", "harmful_p0.1_runs"] == 4 and t.loc["GA", "harmful_p0.1_n"] == 72
    assert t.loc["GA", "harmful_p0.1_items"] == 20  # 18 per draw; an item in several draws is one cluster
    assert t.loc["GA", "harmful_p0.1_low"] < t.loc["GA", "harmful_p0.1"] < t.loc["GA", "harmful_p0.1_high"]


def test_attacks_at_unconfigured_learning_rates_do_not_change_table1() -> None:
    # GA/GD also have harmful attack files at 5e-06 (end FS 0.95) and 1e-07, outside the configured grid
    assert table().loc["GA", "harmful_p0.1"] == pytest.approx(100 * 25 / 72)
    swept = table(
        grid=AttackGrid([1e-5, 5e-6, 1e-6], BENIGN_LRS), methods=["GA", "GD"]
    )  # only GA/GD ran 5e-06
    assert swept.loc["GA", "harmful_p0.1"] == pytest.approx(100 * 17 / 18)


def _independent_attack_items(bench: str, method: str) -> dict[str, list[float]]:
    """Re-implementation straight from the JSON files: {attack: end scores of the items wrong at step 0, at
    each draw's rate with the highest end FS, pooled}."""
    best: dict[tuple[str, int, int], tuple[float, list[float]]] = {}
    for seed_dir in sorted((FIX / bench / "tiny" / method).glob("seed*")):
        for f in (seed_dir / "attacks").glob("*.json"):
            r = json.loads(f.read_text())
            lrs = HARMFUL_LRS if r["kind"] == "harmful" else BENIGN_LRS
            if not any(abs(r["lr"] - x) < 1e-12 for x in lrs):
                continue
            key = "benign" if r["kind"] == "benign" else f"harmful_p{r['p']:g}"
            first, last = r["curve"][0]["item_scores"], r["curve"][-1]["item_scores"]
            items = [e for b, e in zip(first, last, strict=True) if b == 0]
            draw = (key, r["seed"], r["run"])
            if draw not in best or statistics.fmean(last) > best[draw][0]:
                best[draw] = (statistics.fmean(last), items)
    out: dict[str, list[float]] = {}
    for (key, _, _), (_, items) in sorted(best.items()):
        out.setdefault(key, []).extend(items)
    return out


@pytest.mark.parametrize("bench,style", [("synth_mcqa", "mcqa"), ("synth_rouge", "rouge")])
def test_every_attack_cell_matches_independent_computation(bench: str, style: str) -> None:
    t = table(style)
    for method in METHODS:
        for key, items in _independent_attack_items(bench, method).items():
            assert t.loc[method, key] == pytest.approx(100 * statistics.fmean(items)), (method, key)
            assert t.loc[method, f"{key}_n"] == len(items)


def test_fs_rs_us_mean_and_ci_over_two_seeds() -> None:
    from statsmodels.stats.proportion import proportion_confint

    t = table()
    # GA seeds: FS .30/.20, test .64/.60, US .48/.46 ; MCQA RS = test-set score
    assert t.loc["GA", "FS"] == pytest.approx(25.0)
    assert t.loc["GA", "FS_n"] == 100  # the same 100 forget items in both seeds: each counted once
    low, high = proportion_confint(25, 100, method="wilson")
    assert (t.loc["GA", "FS_low"], t.loc["GA", "FS_high"]) == pytest.approx((100 * low, 100 * high))
    assert t.loc["GA", "RS"] == pytest.approx(62.0)
    assert (
        t.loc["GA", "US"] == pytest.approx(47.0) and t.loc["GA", "US_n"] == 100
    )  # per-item utility outcomes
    assert t.loc["Default", ["FS", "RS", "US"]].tolist() == pytest.approx([90.0, 70.0, 50.0])
    assert pd.isna(t.loc["Default", "harmful_p0.1"])
    # ROUGE style: RS = retain-set score; equal recalls still get a Wilson interval (no collapse)
    r = table("rouge")
    assert r.loc["GA", "RS"] == pytest.approx(85.0)
    assert r.loc["GA", "RS_n"] == 100 and r.loc["GA", "RS_low"] < 85.0 < r.loc["GA", "RS_high"]
    assert r.loc["Default", "RS"] == pytest.approx(92.0)


def test_ablation_variants_are_not_table_rows() -> None:
    t = table()
    assert list(t.index) == ["Default", *METHODS, "Hider", "Start"]  # the controls follow the methods
    assert t.loc["Start", "reference"] and pd.isna(t.loc["Start", "n_converged"])
    per_seed = collect_results(result_files(FIX))
    # Default + seeds (+ λ variants) + the reference row, per benchmark
    assert len(per_seed) == (1 + 2 * 3 + 3 + 2 + 1) + (1 + 3 + 1 + 1 + 1)
    assert sorted(per_seed.loc[per_seed["method"].str.contains("lambda"), "lambda"]) == [1e-4, 1e-2, 1.0]
    mcqa = per_seed[per_seed["benchmark"] == "synth_mcqa"]
    assert mcqa.loc[mcqa["method"] == "SSIUU", "lambda"].tolist() == [1e-3, 1e-3]


def test_table_files_written_with_expected_numbers(tmp_path: Path) -> None:
    paths = build_tables(result_files(FIX), tmp_path, OPTIONS(labels={"tiny": "Tiny (synthetic)"}))
    names = {
        f"{t}{s}.{e}"
        for t in ("table1", "table2")
        for s in ("", "_vs_paper", "_recovery", "_ssiuu_vs")
        for e in ("csv", "md", "tex")
    } | {f"attack_calibration.{e}" for e in ("csv", "md", "tex")}
    assert set(paths) == names
    assert all(p.stat().st_size > 0 for p in paths.values())
    md = (tmp_path / "table1.md").read_text()
    assert "| 34.7 [" in md and "n=72" in md and "| 25.0 [" in md and "Tiny (synthetic)" in md
    assert "GD †" in md  # seed 1 of GD did not converge
    stop = pd.read_csv(tmp_path / "table1.csv").set_index("method")["stop_fs"]
    header = [c.strip() for c in md.splitlines()[2].split("|")]
    ga = next([c.strip() for c in line.split("|")] for line in md.splitlines() if "| GA " in line)
    assert ga[header.index("Stop FS")] == f"{stop['GA']:.1f}"  # the mean over seeds, in %
    tex = (tmp_path / "table1.tex").read_text()
    assert "34.7 [" in tex and r"\multicolumn{2}{c}{Harmful Attack" in tex and r"synth\_mcqa" in tex
    assert tex.count(r"\\") >= 6
    csv = pd.read_csv(tmp_path / "table1.csv").set_index("method")
    assert csv.loc["GA", "harmful_p0.1"] == pytest.approx(100 * 25 / 72, abs=1e-4)
    md2 = (tmp_path / "table2.md").read_text()
    assert "RS (= retain-set ROUGE-L recall)" in md2 and "85.0" in md2
    assert "Never learned (control)" in md2 or "NeverLearned" in md2
    # SSIUU against every baseline method; the controls are no baselines
    vs1 = pd.read_csv(tmp_path / "table1_ssiuu_vs.csv")["Method"].tolist()
    vs2 = pd.read_csv(tmp_path / "table2_ssiuu_vs.csv")["Method"].tolist()
    assert vs1 == vs2 == ["SSIUU − GA", "SSIUU − GD"]
    recovery = (tmp_path / "table2_recovery.md").read_text()
    assert "Separation: Hider − NeverLearned share" in recovery and "| 1.00 [1.00, 1.00]" in recovery
    assert "Validity: Start − Hider margin before the attack" in recovery and "Validity = " in recovery


def test_vs_paper_tables_are_labelled_quotes(tmp_path: Path) -> None:
    build_tables(result_files(FIX), tmp_path, OPTIONS())
    md = (tmp_path / "table1_vs_paper.md").read_text()
    assert "paper (Llama-3.2-3B)" in md and "paper (Qwen-2.5-3B)" in md
    assert "not results of this" in md and "arXiv 2509.22263" in md
    csv = pd.read_csv(tmp_path / "table1_vs_paper.csv")
    ss = csv[(csv["method"] == "SSIUU") & (csv["source"] == "paper (Llama-3.2-3B)")].iloc[0]
    assert ss["source_kind"] == "paper quote"
    assert (ss["RS"], ss["harmful_p0.1"], ss["benign"]) == (84.70, 14.81, 13.33)
    ours = csv[(csv["method"] == "GA") & (csv["source_kind"] == "ours")].iloc[0]
    assert ours["harmful_p0.1"] == pytest.approx(100 * 25 / 72, abs=1e-4)
    csv2 = pd.read_csv(tmp_path / "table2_vs_paper.csv")
    assert "paper (Qwen-2.5-3B)" not in set(csv2["source"])  # Table 2 of the paper: Llama-3.2 only
    assert "paper (Llama-3.2-3B)" in (tmp_path / "table2_vs_paper.tex").read_text()


def test_rs_header_names_its_split_and_vs_paper_tables_keep_the_dagger(tmp_path: Path) -> None:
    build_tables(result_files(FIX), tmp_path, OPTIONS())
    for name in ("table1", "table1_vs_paper"):
        md = (tmp_path / f"{name}.md").read_text()
        assert "RS test acc. (↑)" in md and "| RS (↑)" not in md, name
        assert r"RS test acc. ($\uparrow$)" in (tmp_path / f"{name}.tex").read_text(), name
    assert "RS retain (↑)" in (tmp_path / "table2.md").read_text()
    vs = (tmp_path / "table1_vs_paper.md").read_text()
    assert "| GD †" in vs and "| GA †" not in vs  # seed 1 of GD did not converge (as in table1.md)
    assert r"GD$^\dagger$" in (tmp_path / "table1_vs_paper.tex").read_text()


def test_paper_values_spot_checks() -> None:
    assert pv.TABLE1["qwen-2.5-3b"]["SSIUU"] == (0.0, 75.86, 60.01, 4.76, 29.41, 13.04)
    assert pv.TABLE1["llama-3.2-3b"]["Default"] == (91.92, 89.22, 57.40, None, None, None)
    assert pv.TABLE2["llama-3.2-3b"]["RMU"] == (14.04, 93.70, 91.74, 87.97, 90.97, 20.33)
    assert "NPO" not in pv.TABLE2["llama-3.2-3b"]
    assert set(pv.paper_table("mcqa")["label"]) == {"paper (Llama-3.2-3B)", "paper (Qwen-2.5-3B)"}


@pytest.mark.skipif(not PAPER.exists(), reason="paper text not available")
def test_paper_values_match_the_paper_text() -> None:
    lines = PAPER.read_text().splitlines()
    start1 = next(i for i, line in enumerate(lines) if line.startswith("Model\tMethod"))
    start2 = next(i for i, line in enumerate(lines) if i > start1 and line.startswith("Model\tMethod"))
    names = {"Llama-3.2": "llama-3.2-3b", "Qwen-2.5": "qwen-2.5-3b"}

    def parse(start: int) -> dict:
        out, model = {}, None
        for line in lines[start + 2 :]:
            parts = line.split("\t")
            if len(parts) < 8:
                break
            model = names[parts[0].strip()] if parts[0].strip() else model
            out[(model, parts[1].strip())] = tuple(None if x.strip() == "-" else float(x) for x in parts[2:8])
        return out

    for parsed, quoted in ((parse(start1), pv.TABLE1), (parse(start2), pv.TABLE2)):
        flat = {(m, k): v for m, rows in quoted.items() for k, v in rows.items()}
        assert parsed == flat


def test_missing_configured_lr_is_an_error(results_copy: Path) -> None:
    (results_copy / "synth_mcqa/tiny/GA/seed1/attacks/harmful_p0.1_lr1e-06_run1.json").unlink()
    with pytest.raises(ResultError, match=r"GA/seed1: attack harmful_p0.1 run 1 .*1e-06"):
        table(results=results_copy)


def test_missing_attacks_give_dash_not_crash(results_copy: Path) -> None:
    shutil.rmtree(results_copy / "synth_rouge/tiny/GD/seed0/attacks")
    t = table("rouge", results=results_copy)
    assert pd.isna(t.loc["GD", "harmful_p0.1"]) and t.loc["GD", "harmful_p0.1_n"] == 0
    assert fmt_cell(t.loc["GD", "benign"]) == "–"


@pytest.mark.parametrize(
    "edit,match",
    [
        ({"forget_score": 91.9}, "not a fraction"),
        ({"forget_score": None}, "must be a number"),
        ({"method": "GD"}, "directory says 'GA'"),
    ],
)
def test_malformed_unlearn_json_is_an_error(results_copy: Path, edit: dict, match: str) -> None:
    path = results_copy / "synth_mcqa/tiny/GA/seed0/unlearn.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | edit))
    with pytest.raises(ResultError, match=match):
        table(results=results_copy)


def test_attack_file_must_agree_with_its_name(results_copy: Path) -> None:
    path = results_copy / "synth_mcqa/tiny/GA/seed0/attacks/harmful_p0.1_lr1e-05_run0.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"lr": 1e-6}))
    with pytest.raises(ResultError, match="file name says 1e-05"):
        collect_attacks(result_files(results_copy))


def test_no_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="base.json"):
        build_tables(result_files(tmp_path), tmp_path / "out", OPTIONS())


def test_options_from_config() -> None:
    overrides = {
        "methods": ["GA", "SSIUU"],
        "attacks": {
            "harmful": {"fractions": [0.1, 0.3], "learning_rates": [1e-5]},
            "benign": {"learning_rates": [1e-5]},
        },
        "analysis": {"enabled": True, "lambda_ablation": [1e-4, 1e-2, 1.0]},
    }
    cfg = load_config(Path(__file__).parents[1] / "config.yaml", overrides=overrides)
    opts = options_from_config(cfg)
    assert isinstance(opts, ReportOptions)
    labels = {
        "smollm2": "SmolLM2-135M-Instruct",
        "worldfacts": "WorldFacts (FaithUn-style)",
        "fictitious": "Fictitious authors (TOFU-style)",
    }
    assert opts.labels == labels | REFERENCE_LABELS
    assert opts.lambda_variants == ("SSIUU-lambda0.0001", "SSIUU-lambda0.01", "SSIUU-lambda1")
    assert opts.grid == AttackGrid([1e-5], [1e-5], [0.1, 0.3])
    assert (
        opts.stats.n_resamples == cfg["attacks"]["bootstrap_resamples"]
    )  # the schema's default, not the code's
    # every option is read by some registry entry, and every entry reads options that exist
    fields = {f.name for f in dataclasses.fields(ReportOptions)}
    entries = (*TABLES.values(), *FIGURES.values(), *CLAIMS.values())
    assert {name for entry in entries for name in entry.options.values()} == fields


def test_report_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from result_files import result_files\n"
        "from ssiuu.report.options import ReportOptions\n"
        "from ssiuu.report.results import AttackGrid\n"
        "from ssiuu.report.stats import CellStats\n"
        "from ssiuu.report.tables.build import build_tables\n"
        f"build_tables(result_files({str(FIX)!r}), {str(tmp_path)!r}, ReportOptions(methods=('GA',),"
        " grid=AttackGrid([1e-5], [1e-5]), stats=CellStats(0.95, 199), labels={}))\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_values_without_an_interval_and_the_start_row_are_explained_in_the_notes() -> None:
    """A cell shown with n but no interval (and no §) gets the note saying why; the attacked start's own row of
    the recovery table is n/a by construction, and says so; the units read 1 seed, not 1 seeds."""
    from ssiuu.report.inference import Estimate
    from ssiuu.report.tables.companions import (
        NO_INTERVAL,
        REFERENCE_ROW,
        lacks_interval,
        recovery_notes,
        units_note,
    )
    from ssiuu.report.tables.notes import table_notes

    assert lacks_interval(Estimate(0.2, n=5)) and not lacks_interval(Estimate(0.2, 0.1, 0.3, 5))
    assert not lacks_interval(Estimate(0.2, n=5), rankable=False)  # § says why
    assert not lacks_interval(Estimate.missing())  # n/a says why
    full = table().reset_index()
    assert NO_INTERVAL not in table_notes("mcqa", full, GRID, STATS)
    one = full.copy()
    one.loc[one["method"] == "GA", "harmful_p0.1_low"] = float("nan")
    assert NO_INTERVAL in table_notes("mcqa", one, GRID, STATS)
    keys = ["harmful_p0.1", "harmful_p0.3", "benign"]
    assert REFERENCE_ROW in recovery_notes(full, keys, STATS)
    assert REFERENCE_ROW not in recovery_notes(full[full["method"] != "Start"], keys, STATS)
    seeds = [
        u.seeds for u in (full.loc[full["method"] == "Start", f"{k}_cell"].iloc[0].score.units for k in keys)
    ]
    assert seeds == [1, 1, 1] and units_note(full[full["method"] == "Start"], keys).startswith(
        "units per attack cell: 1 seed, "
    )
