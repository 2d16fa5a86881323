"""Figures 2-7 (ssiuu.report.figures) on the SYNTHETIC fixtures in tests/fixtures/results/."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from result_files import FAST_STATS, STATS, report_options, result_files

from ssiuu.layout import parse_state
from ssiuu.report.analysis_inputs import read_correlation, read_distributions, read_influence
from ssiuu.report.figures import FIGURES, common
from ssiuu.report.figures.build import build_figures
from ssiuu.report.figures.fig2 import fig2_vulnerability
from ssiuu.report.figures.fig3 import _seed_mean_curves, fig3_influence
from ssiuu.report.figures.fig4 import fig4_logit_lens
from ssiuu.report.figures.fig5 import fig5_heatmaps
from ssiuu.report.figures.fig6 import fig6_distributions
from ssiuu.report.figures.fig7 import _lambda_rows, fig7_ablation
from ssiuu.report.results import AttackGrid, ResultError, ResultFiles
from ssiuu.report.table_data import aggregate_table
from ssiuu.report.tables.build import build_tables

FIX = Path(__file__).parent / "fixtures" / "results"
KW = {"methods": ["GA", "GD", "SSIUU"], "grid": AttackGrid([1e-5, 1e-6], [1e-5, 1e-7]), "stats": STATS}
KW_FAST = KW | {"stats": FAST_STATS}
STEMS = list(FIGURES)


def assert_written(out: Path, stem: str) -> None:
    png, pdf = out / f"{stem}.png", out / f"{stem}.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000, pdf


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    options = report_options(labels={"tiny": "Tiny (synthetic)"})
    build_tables(result_files(FIX), out / "tables", options)
    return out, build_figures(result_files(FIX), out / "figures", options)


@pytest.fixture()
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(FIX, dst)
    return dst


def test_build_writes_every_figure_and_table(built: tuple[Path, dict]) -> None:
    out, paths = built
    for stem in STEMS:
        assert_written(out / "figures", stem)
        assert [p.suffix for p in paths[stem]] == [".png", ".pdf"]
    assert (out / "tables" / "table1.md").exists() and (out / "tables" / "table2_vs_paper.tex").exists()


def test_fig_function_with_custom_stem(tmp_path: Path) -> None:
    fig4_logit_lens(result_files(FIX), tmp_path, methods=["SSIUU"], stem="lens")
    assert_written(tmp_path, "lens")


def test_missing_analysis_inputs_give_skipped_panels(
    results_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.rmtree(results_copy / "synth_mcqa/tiny/analysis")
    for d in results_copy.glob("synth_mcqa/tiny/SSIUU-lambda*"):
        shutil.rmtree(d)
    with caplog.at_level(logging.WARNING, logger="ssiuu.report.figures"):
        for stem in STEMS[1:]:  # Fig. 2 needs no analysis input
            extra = {"grid": KW["grid"], "stats": STATS} if stem == "fig7_ablation" else {}
            FIGURES[stem].function()(result_files(results_copy), tmp_path, **extra)
            assert_written(tmp_path, stem)
    skipped = " ".join(r.getMessage() for r in caplog.records)
    assert "logit_lens.csv missing" in skipped and "no influence results" in skipped
    assert "fewer than two λ values" in skipped


def test_lambda_rows_use_params_and_variant_names() -> None:
    lam = _lambda_rows(
        result_files(FIX),
        "synth_mcqa",
        "tiny",
        ablation_method="SSIUU",
        lambda_variants=None,
        grid=KW["grid"],
        stats=STATS,
    )
    assert lam["lambda"].tolist() == [1e-4, 1e-3, 1e-2, 1.0]
    # λ = 1e-3 is the main SSIUU run: test .68/.67 over two seeds; as in Tables 1-2 each of the 100 test items
    # is averaged over the seeds and counted once, with the Wilson interval (percent)
    from statsmodels.stats.proportion import proportion_confint

    main = lam[lam["lambda"] == 1e-3].iloc[0]
    assert main["test"] == pytest.approx(67.5) and main["test_n"] == 100
    wilson = [100 * x for x in proportion_confint(67.5, 100, alpha=0.05, method="wilson")]
    assert [main["test_low"], main["test_high"]] == pytest.approx(wilson)
    assert main["harmful_p0.1_runs"] == 4
    # a λ variant has one seed, but its interval resamples items, so it still has one
    assert lam["harmful_p0.1_low"].notna().all()


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("logit_lens.csv", "state,layer,accuracy,n_evaluated\nbase,0,1.5,10\n", "above 1"),
        (
            "influence/heatmap.csv",
            "method,direction,module,layer,value\nGD,sideways,q,0,0.1\n",
            "neither 'positive'",
        ),
        (
            "influence/cumulative.csv",
            "method,direction,m,cumulative\nGD,positive,1,0.5\nGD,positive,2,0.2\n",
            "decreases",
        ),
        (
            "distributions/correlation.csv",
            "pre,post,module,quantity,n_values,pearson_r\nGD,GD+attack,all,extremes,10,1.7\n",
            "above 1",
        ),
    ],
)
def test_malformed_analysis_inputs_raise(
    results_copy: Path, tmp_path: Path, name: str, content: str, match: str
) -> None:
    path = results_copy / "synth_mcqa/tiny/analysis" / name
    path.write_text(content)
    fn = {
        "logit_lens.csv": fig4_logit_lens,
        "influence/heatmap.csv": fig5_heatmaps,
        "influence/cumulative.csv": fig3_influence,
        "distributions/correlation.csv": fig6_distributions,
    }[name]
    with pytest.raises(ResultError, match=match):
        fn(result_files(results_copy), tmp_path)


@pytest.mark.parametrize(
    "name,content,column,rule",
    [
        ("logit_lens.csv", "layer,accuracy\n0,0.5\n", "'state', 'n_evaluated'", "logit_lens"),
        ("logit_lens.csv", "state,layer,accuracy,n\nbase,0,0.5,10\n", "'n_evaluated'", "logit_lens"),
        (
            "influence/heatmap.csv",
            "method,sign,module,layer,value\nGD,plus,q,0,0.1\n",
            "'direction'",
            "influence",
        ),
        (
            "influence/cumulative.csv",
            "state,direction,m,cumulative\nGD,positive,1,0.5\n",
            "'method'",
            "influence",
        ),
        (
            "distributions/histogram.csv",
            "method,state,bin_left,bin_right,density\nGD,base,0,1,1\n",
            "'model'",
            "distributions",
        ),
        (
            "distributions/correlation.csv",
            "method,rho,n_values\nGD,0.9,10\n",
            "'pre', 'module', 'pearson_r'",
            "distributions",
        ),
    ],
)
def test_a_missing_column_names_the_file_the_column_and_the_rule(
    results_copy: Path, tmp_path: Path, name: str, content: str, column: str, rule: str
) -> None:
    """The report reads the one schema ssiuu.analysis writes; another column name is an error, not a synonym."""
    path = results_copy / "synth_mcqa/tiny/analysis" / name
    path.write_text(content)
    fn = {
        "logit_lens.csv": fig4_logit_lens,
        "influence/heatmap.csv": fig5_heatmaps,
        "influence/cumulative.csv": fig3_influence,
        "distributions/histogram.csv": fig6_distributions,
        "distributions/correlation.csv": fig6_distributions,
    }[name]
    with pytest.raises(ResultError) as err:
        fn(result_files(results_copy), tmp_path)
    message = str(err.value)
    assert str(path) in message and f"missing column {column}" in message, message
    assert message.endswith(f"rerun the {rule} rule"), message


def test_parse_state() -> None:
    assert parse_state("GD-seed0-attacked") == ("GD", 0, True)
    assert parse_state("SSIUU-lambda0.01-seed2") == ("SSIUU-lambda0.01", 2, False)
    assert parse_state("NPO+attack") == ("NPO", None, True)
    assert parse_state("base") == ("base", None, False)
    assert parse_state("GD-seed0-attacked-run1") == ("GD", 0, True)


def test_attacked_states_name_their_draw() -> None:
    """Draw 0 keeps the name ``-attacked``; draw r ≥ 1 is ``-attacked-run<r>``, and both match the wildcard."""
    import re

    from ssiuu import layout

    assert layout.state_name("GD", 0, attacked=True) == "GD-seed0-attacked"
    assert layout.state_name("GD", 0, attacked=True, run=1) == "GD-seed0-attacked-run1"
    for state, run in (("GD-seed0-attacked", 0), ("GD-seed0-attacked-run1", 1), ("GD-seed0", None)):
        assert layout.attack_run(state) == run
        assert re.fullmatch(layout.WILDCARDS["state"], state)
    assert not re.fullmatch(layout.WILDCARDS["state"], "GD-seed0-attacked-run0")  # draw 0 has one name
    with pytest.raises(ValueError, match="attacked=True"):
        layout.state_name("GD", 0, run=1)


def test_influence_csv_is_read_in_the_analysis_schema(tmp_path: Path) -> None:
    """influence/cumulative.csv as ssiuu.analysis.pipeline.influence writes it: method, direction, m, cumulative;
    a ``-seed<s>`` suffix of the method label is a seed, averaged over by the curves."""
    rows = []
    for state, scale in (("GD-seed0", 1.0), ("GD-seed1", 3.0)):
        rows += [
            {"method": state, "direction": d, "m": m, "cumulative": c * scale}
            for d, m, c in (("positive", 1, 1), ("positive", 2, 2), ("negative", 1, 2), ("negative", 2, 3))
        ]
    pd.DataFrame(rows).to_csv(tmp_path / "cumulative.csv", index=False)
    cum = read_influence(tmp_path, "cumulative")
    assert set(cum["method"]) == {"GD"} and sorted(cum["seed"].unique()) == [0, 1]
    assert set(cum["sign"]) == {"plus", "minus"}
    mean = _seed_mean_curves(cum)
    assert mean[(mean["sign"] == "plus") & (mean["m"] == 2)]["mean"].item() == pytest.approx(4.0)
    assert read_influence(tmp_path, "heatmap") is None


def test_distributions_and_correlation_in_the_analysis_schema(tmp_path: Path) -> None:
    """distributions/histogram.csv (model = base, GD, GD+attack) and distributions/correlation.csv as
    ssiuu.analysis.save_distribution_tables writes them."""
    d = tmp_path / "distributions"
    d.mkdir()
    rows = []
    for model in ("base", "GD", "GD+attack"):
        rows += [
            {"model": model, "bin": 0, "bin_left": -1.0, "bin_right": 0.0, "count": 3, "density": 0.75},
            {"model": model, "bin": 1, "bin_left": 0.0, "bin_right": 1.0, "count": 1, "density": 0.25},
        ]
    pd.DataFrame(rows).assign(n_below=0, n_above=0).to_csv(d / "histogram.csv", index=False)
    pd.DataFrame(
        {
            "pre": ["GD", "GD"],
            "post": ["GD+attack"] * 2,
            "module": ["all", "q"],
            "quantity": "extremes",
            "n_values": [100, 20],
            "pearson_r": [0.9, 0.1],
        }
    ).to_csv(d / "correlation.csv", index=False)
    hist, rho = read_distributions(tmp_path)
    assert sorted(set(hist["state"])) == ["attacked", "base", "unlearned"]
    assert hist[(hist["state"] == "base")]["density"].tolist() == pytest.approx([0.75, 0.25])
    assert not hist["edge_clipped"].any()
    assert rho["rho"].tolist() == [0.9] and rho["method"].tolist() == ["GD"]
    assert read_correlation(tmp_path)["n"].tolist() == [100, 20]


def test_fig2_needs_results(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="base.json"):
        fig2_vulnerability(result_files(tmp_path), tmp_path / "out", **KW)


# ------------------------------------------------------------------------------------ Figs. 4 and 6
def drawn(monkeypatch: pytest.MonkeyPatch, fn, *args, **kwargs):
    """The matplotlib Figure a figure function draws (saving is skipped)."""
    captured = {}
    monkeypatch.setattr(
        common, "save_figure", lambda fig, out_dir, stem: captured.setdefault("fig", fig) and []
    )
    fn(*args, **kwargs)
    return captured["fig"]


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def distribution_results(tmp_path: Path, seeds: list[int], old_writer: bool) -> ResultFiles:
    """results/b/m/analysis/distributions with histograms of GD (base + per seed) and ρ per seed. The old
    writer clipped the 4 values outside the bins into the edge bins; the current one counts them in n_below,
    n_above (density = count / all values / bin width, as ssiuu.analysis.attribution_histograms)."""
    d = tmp_path / "results" / "b" / "m" / "analysis" / "distributions"
    d.mkdir(parents=True)
    edges = [-1.0, -0.5, 0.0, 0.5, 1.0]
    labels = ["base"] + [f"GD-seed{s}{x}" for s in seeds for x in ("", "+attack")]
    rows = []
    for label in labels:
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            count = [5, 1, 1, 5][i]
            row = {"model": label, "bin": i, "bin_left": lo, "bin_right": hi, "count": count}
            if old_writer:
                rows.append(row | {"density": count / 12 / 0.5})
            else:
                rows.append(row | {"density": count / 16 / 0.5, "n_below": 2, "n_above": 2})
    pd.DataFrame(rows).to_csv(d / "histogram.csv", index=False)
    rho = [
        {
            "pre": f"GD-seed{s}",
            "post": f"GD-seed{s}+attack",
            "module": "all",
            "quantity": "extremes",
            "n_values": 16,
            "pearson_r": 0.9 - 0.1 * s,
        }
        for s in seeds
    ]
    pd.DataFrame(rho).to_csv(d / "correlation.csv", index=False)
    return result_files(tmp_path / "results")


def test_fig6_letters_every_panel_and_says_one_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fig = drawn(monkeypatch, fig6_distributions, result_files(FIX), tmp_path)
    letters = [t[:3] for t in titles(fig)]
    assert letters == ["(a)", "(b)", "(c)", "(d)"], titles(fig)  # GA, GD, SSIUU, then ρ
    assert any("one unlearning seed, so no spread" in t for t in legend_texts(fig)), legend_texts(fig)
    assert not any("mean ± std" in t for t in legend_texts(fig))
    assert not fig.axes[-1].containers[1:], "no error bars with one seed"


def test_fig6_error_bars_only_with_two_seeds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fig = drawn(monkeypatch, fig6_distributions, distribution_results(tmp_path, [0, 1], False), tmp_path)
    assert any("mean over 2 seeds, ± std where ≥ 2" in t for t in legend_texts(fig)), legend_texts(fig)
    bars = fig.axes[-1]
    assert any(type(c).__name__ == "ErrorbarContainer" for c in bars.containers)
    assert "seed 0" in fig.axes[0].get_title() and "ρ = 0.90" in fig.axes[0].get_title()


@pytest.mark.parametrize(("old_writer", "points", "outside"), [(True, 2, "83.33 %"), (False, 4, "25.00 %")])
def test_fig6_tails_are_not_drawn_in_the_edge_bins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, old_writer: bool, points: int, outside: str
) -> None:
    """Old histograms clipped the tails into the edge bins: those bins are left out and their share stated;
    new ones keep the tails out of the bins (n_below, n_above) and state that share."""
    fig = drawn(monkeypatch, fig6_distributions, distribution_results(tmp_path, [0], old_writer), tmp_path)
    panel = fig.axes[0]
    assert {len(line.get_xdata()) for line in panel.get_lines()} == {points}
    note = " ".join(t.get_text() for t in panel.texts)
    assert "beyond the x range, not drawn" in note and f"original {outside}" in note, note


def test_fig4_gives_n_in_every_panel_title(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fig = drawn(monkeypatch, fig4_logit_lens, result_files(FIX), tmp_path, methods=["GD", "SSIUU"])
    assert [t.split(":")[0] for t in titles(fig)] == ["(a) GD", "(b) SSIUU"]
    assert all("n = 20 forget items" in t for t in titles(fig)), titles(fig)


# ------------------------------------------------------------------------------------ Figs. 2 and 7
def errorbar_segments(ax) -> int:
    return sum(
        len(c.lines[2][0].get_segments()) for c in ax.containers if type(c).__name__ == "ErrorbarContainer"
    )


def test_ci_error_bars_only_where_the_interval_is_defined() -> None:
    fig = common._new_figure(3, 3)
    ax = fig.subplots()
    nan = float("nan")
    common._ci_errorbars(ax, *map(np.array, ([0, 1, 2], [0.5, 0.5, 0.5], [0.4, nan, 0.4], [0.6, nan, 0.7])))
    assert errorbar_segments(ax) == 2
    common._ci_errorbars(ax, *map(np.array, ([0.0], [0.5], [nan], [nan])))  # a single value: nothing drawn
    assert errorbar_segments(ax) == 2


def flat_lines(ax) -> set[float]:
    """The heights of the horizontal lines of a panel (reference marks, the zero line)."""
    return {
        round(float(line.get_ydata()[0]), 6) for line in ax.get_lines() if len(set(line.get_ydata())) == 1
    }


def point_heights(ax) -> list[float]:
    """The heights of a panel's scatter points (filled and hollow), NaN left out."""
    ys = [
        float(y)
        for c in ax.collections
        if type(c).__name__ == "PathCollection"
        for _, y in np.ma.filled(c.get_offsets(), np.nan)
    ]
    return sorted(y for y in ys if np.isfinite(y))


def test_fig2_intervals_n_and_reference_marks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """(a) FS after unlearning and at the end of each attack; (b) the recovered share and (c) the difference in
    differences of the margin against the attacked start: every point, interval, n and control mark is the
    table's."""
    fig = drawn(monkeypatch, fig2_vulnerability, result_files(FIX), tmp_path, **KW_FAST)
    scores, share, did = fig.axes[:3]  # synth_mcqa row
    table = aggregate_table(result_files(FIX), "mcqa", **KW_FAST)
    rows = table[table["method"].isin(KW["methods"])]
    assert rows["method"].tolist() == KW["methods"]  # the controls are marks, not bars
    keys = ["harmful_p0.1", "harmful_p0.3", "benign"]
    ref = table.set_index("method")
    # (a): one error bar per defined interval, each bar's n at its foot
    assert errorbar_segments(scores) == sum(int(rows[f"{k}_low"].notna().sum()) for k in ["FS", *keys])
    ns = sorted(t.get_text() for t in scores.texts if t.get_text().startswith("n="))
    assert ns == sorted(f"n={int(n)}" for k in ["FS", *keys] for n in rows[f"{k}_n"])
    assert "n=100" in ns  # FS: each of the 100 forget items once (Wilson over items, seeds averaged)
    assert "n=72" in ns  # harmful p = 0.1: 2 seeds × 2 draws × the items wrong before the attack
    assert {round(ref.at[c, k], 6) for c in ("Start", "Hider") for k in keys} <= flat_lines(scores)
    assert scores.get_ylabel().endswith("(n at the bar foot)")
    # (b): the recovered share in percent of R − u, paired with the attacked start; the hider's share a mark
    assert share.get_title() == "(b) Recovered share of the margin"
    assert share.get_ylabel().startswith("Recovered share (% of R − u)")
    assert point_heights(share) == pytest.approx(sorted(100 * rows[[f"{k}_share" for k in keys]].stack()))
    assert errorbar_segments(share) == sum(int(rows[f"{k}_share_low"].notna().sum()) for k in keys) > 0
    assert {0.0} | {round(100 * ref.at["Hider", f"{k}_share"], 6) for k in keys} <= flat_lines(share)
    assert rows[[f"{k}_share_rankable" for k in keys]].all().all()  # so no point is hollow ...
    points = [c for c in share.collections if type(c).__name__ == "PathCollection" and len(c.get_offsets())]
    assert points and not any(np.allclose(c.get_facecolors()[:, :3], 1) for c in points)
    # (c): the difference in differences in nats per token, on the same pairing
    assert did.get_title() == "(c) Margin gain beyond the attacked start (DiD)"
    assert did.get_ylabel().startswith("Difference in differences (nats/token)")
    assert point_heights(did) == pytest.approx(sorted(rows[[f"{k}_did" for k in keys]].stack()))
    assert errorbar_segments(did) == sum(int(rows[f"{k}_did_low"].notna().sum()) for k in keys) > 0
    assert {0.0} | {round(ref.at["Hider", f"{k}_did"], 6) for k in keys} <= flat_lines(did)
    # the rouge row draws the known eraser too; the legend names each control and the intervals' kinds
    rouge = aggregate_table(result_files(FIX), "rouge", **KW_FAST).set_index("method")
    assert {round(100 * rouge.at["NeverLearned", f"{k}_share"], 6) for k in keys} <= flat_lines(fig.axes[4])
    legend = legend_texts(fig)
    for control in ("starting model attacked", "never learned (known eraser)", "known hider"):
        assert any(t.startswith(control) for t in legend), (control, legend)
    note = " ".join(fig.legends[0].get_title().get_text().split())  # wrapped to the figure's width
    assert note.startswith("Error bars: 95 % intervals, Wilson over the forget items after unlearning")
    assert "cluster bootstrap over seeds, draws and items" in note
    assert (
        "(seed, draw, item) observations after an attack" in note and "paired with the attacked start" in note
    )


def test_fig2_skips_the_recovery_panels_without_per_item_results(
    monkeypatch: pytest.MonkeyPatch, results_copy: Path, tmp_path: Path
) -> None:
    for f in results_copy.glob("*/tiny/*/seed*/attacks/*.json"):
        obj = json.loads(f.read_text())
        f.write_text(json.dumps({k: v for k, v in obj.items() if k not in ("curve", "start_logprobs")}))
    fig = drawn(monkeypatch, fig2_vulnerability, result_files(results_copy), tmp_path, **KW_FAST)
    assert "skipped" in " ".join(t.get_text() for t in fig.axes[1].texts)
    assert errorbar_segments(fig.axes[0]) == 3  # only the FS bars keep an interval


def test_first_epochs_reads_the_score_fields_off_the_cut_curve() -> None:
    """A draw cut to e epochs is the e-epoch attack: end_fs / end_margin are its last point's, not the full
    draw's; fs_curve and the curve's recorded maxima are cut the same way."""
    from ssiuu.report.calibration import first_epochs

    path = FIX / "synth_mcqa/tiny/GA/seed0/calibration/harmful_p0.1_lr1e-05_run0.json"
    draw = json.loads(path.read_text())
    assert draw["steps_per_epoch"] == 5 and [pt["step"] for pt in draw["curve"]] == [0, 5, 15]
    assert draw["curve"][1]["fs"] != draw["end_fs"] and draw["curve"][1]["margin"] != draw["end_margin"]
    for epochs in (1, 2):  # steps <= 5 and <= 10: the points at steps 0 and 5
        cut = first_epochs(draw, epochs)
        assert [pt["step"] for pt in cut["curve"]] == [0, 5]
        assert cut["end_fs"] == draw["curve"][1]["fs"] and cut["end_margin"] == draw["curve"][1]["margin"]
        assert [s for s, _ in cut["fs_curve"]] == [0, 5]
    whole = first_epochs(draw, 3)
    assert whole["curve"] == draw["curve"] and whole["fs_curve"] == draw["fs_curve"]
    assert (whole["end_fs"], whole["end_margin"]) == (draw["end_fs"], draw["end_margin"])
    assert draw["end_fs"] == draw["curve"][-1]["fs"]  # the input is left as it was
    assert "max_fs" not in cut  # a maximum the draw does not record is not made up
    # results older than docs/results.md: no margin, the curve's maxima recorded
    old = {k: v for k, v in draw.items() if k not in ("curve", "end_margin")}
    old |= {"max_fs": 0.55, "max_logprob_gain": 3.0, "max_recovered_fraction": 0.9, "curve": []}
    old["curve"] = [
        {"step": 0, "fs": 0.1, "logprob_gain": 0.0, "recovered_fraction": 0.0},
        {"step": 5, "fs": 0.2, "logprob_gain": 1.5, "recovered_fraction": None},
        {"step": 15, "fs": 0.55, "logprob_gain": 3.0, "recovered_fraction": 0.9},
    ]
    cut = first_epochs(old, 1)
    assert cut["end_fs"] == 0.2 and cut["end_margin"] is None
    assert (cut["max_fs"], cut["max_logprob_gain"], cut["max_recovered_fraction"]) == (0.1, 1.5, 0.0)


def test_the_published_calibration_rows_read_every_epoch_count_off_one_draw() -> None:
    """The rows the calibration table and Fig. 7b, c are made of (``calibration_table_rows``): per (kind, lr,
    epochs) each control's draw cut to its last point within that many epochs (the end of the e-epoch attack).
    Start's ΔFS is on all its evaluation items; the hider's recovered share of the margin is paired with Start
    on the items both score."""
    from ssiuu.report.calibration import default_tolerance
    from ssiuu.report.tables.calibration import calibration_table_rows

    rows = calibration_table_rows(result_files(FIX), stats=FAST_STATS, tolerance=default_tolerance())
    mcqa = rows[rows["benchmark"] == "synth_mcqa"]
    assert set(mcqa["epochs"]) == {1, 2, 3} and len(mcqa) == 3 * (3 + 2)  # 3 harmful + 2 benign rates
    at = mcqa.set_index(["kind", "lr", "epochs"])

    def draw(method: str, name: str) -> dict:
        return json.loads((FIX / f"synth_mcqa/tiny/{method}/seed0/calibration/{name}").read_text())

    def end(d: dict, epochs: int) -> dict:
        return [pt for pt in d["curve"] if pt["step"] <= d["steps_per_epoch"] * epochs][-1]

    for kind, lr in [
        ("harmful", 1e-4),
        ("harmful", 1e-5),
        ("harmful", 1e-6),
        ("benign", 1e-5),
        ("benign", 1e-7),
    ]:
        name = (
            f"harmful_p0.1_lr{lr:.0e}_run100.json" if kind == "harmful" else f"benign_lr{lr:.0e}_run100.json"
        )
        start, hider = draw("Start", name), draw("Hider", name)
        for epochs in (1, 2, 3):
            # straight from the files: Start's change of FS on its 20 evaluation items, in points
            change = np.subtract(end(start, epochs)["item_scores"], start["curve"][0]["item_scores"])
            assert at.loc[(kind, lr, epochs), "start_fs_change"] == pytest.approx(100 * change.mean())
            assert at.loc[(kind, lr, epochs), "start_fs_change_n"] == len(change) == 20
            # the hider's share (a − u) / (R − u) of the mean margin on the items both score
            r_end = dict(zip(start["eval_ids"], end(start, epochs)["item_margins"], strict=True))
            shared = [i for i in hider["eval_ids"] if i in r_end]
            h0 = dict(zip(hider["eval_ids"], hider["curve"][0]["item_margins"], strict=True))
            h1 = dict(zip(hider["eval_ids"], end(hider, epochs)["item_margins"], strict=True))
            a, u, r = (np.mean([m[i] for i in shared]) for m in (h1, h0, r_end))
            assert at.loc[(kind, lr, epochs), "hider_share"] == pytest.approx((a - u) / (r - u))
            assert (
                at.loc[(kind, lr, epochs), "separation"] == at.loc[(kind, lr, epochs), "hider_share"]
            )  # no eraser
    # the cut curve's end, not the whole draw's: Start loses 4 of its 20 items per epoch at 1e-4
    assert at.loc[("harmful", 1e-4), "start_fs_change"].tolist() == pytest.approx([-20.0, -40.0, -60.0])
    low, high = at.loc[("harmful", 1e-4, 3), ["start_fs_change_low", "start_fs_change_high"]]
    assert low < at.loc[("harmful", 1e-4, 3), "start_fs_change"] < high
    # only the controls are swept: GA's and GD's calibration draws are no rows of the published table
    assert set(rows[["benchmark", "model"]].itertuples(index=False, name=None)) == {
        ("synth_mcqa", "tiny"),
        ("synth_rouge", "tiny"),
    }


def test_fig7_draws_intervals_and_marks_the_configured_rates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fig = drawn(monkeypatch, fig7_ablation, result_files(FIX), tmp_path, grid=KW["grid"], stats=FAST_STATS)
    titles = [ax.get_title() for ax in fig.axes]
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)"], titles
    sweep_panel = fig.axes[1]
    assert errorbar_segments(sweep_panel) > 0
    assert {
        line.get_xdata()[0]
        for line in sweep_panel.get_lines()
        if line.get_linestyle() != "None" and len(set(line.get_xdata())) == 1
    } >= {1e-5, 1e-6, 1e-7}  # vertical marks at the configured harmful and benign rates
    assert any(t.get_text().startswith("n = ") for t in sweep_panel.texts)
    labels = {line.get_label() for line in sweep_panel.get_lines()}
    assert {
        "Harmful attack, p = 0.1, 1 epoch",
        "Harmful attack, p = 0.1, 3 epochs",
        "Benign attack, 2 epochs",
    } <= labels


def test_an_unranked_recovered_share_far_off_scale_is_written_at_the_edge() -> None:
    """Fig. 2b keeps its axis on the ranked shares; a § share of 13,600 % (its denominator's interval not above
    0) is a hollow point at the edge with its value, not the scale."""
    from matplotlib.figure import Figure

    from ssiuu.report.figures.fig2 import _fig2_points

    def cell(value: float, low: float, high: float, rankable: bool) -> dict:
        return {
            "harmful_p0.1_share": value,
            "harmful_p0.1_share_low": low,
            "harmful_p0.1_share_high": high,
            "harmful_p0.1_share_n": 30,
            "harmful_p0.1_share_rankable": rankable,
        }

    rows = pd.DataFrame(
        [cell(0.2, 0.1, 0.3, True), cell(136.0, -50.0, 400.0, False), cell(0.4, 0.3, 0.5, True)]
    )
    ax = Figure().subplots()
    assert _fig2_points(ax, rows, ["harmful_p0.1"], "_share", 100.0)  # the 136 is hollow
    hollow = [c for c in ax.collections if type(c).__name__ == "PathCollection" and len(c.get_offsets())]
    hollow = [c for c in hollow if np.allclose(c.get_facecolors()[:, :3], 1)]
    assert [list(c.get_offsets()[:, 1]) for c in hollow] == [[13600.0]]
    bottom, top = ax.get_ylim()
    assert 50 < top < 100 and bottom < 0
    assert [t.get_text() for t in ax.texts] == ["↑ 13600"]
    ax = Figure().subplots()  # the DiD has no ratio: every point filled, the axis not capped
    did = rows.rename(columns=lambda c: c.replace("_share", "_did"))
    assert not _fig2_points(ax, did, ["harmful_p0.1"], "_did", 1.0)
    assert not ax.texts and ax.get_ylim()[1] > 136


def test_fig7_an_unranked_recovered_fraction_is_hollow_without_interval_and_off_the_scale() -> None:
    """Fig. 7d-f apply the tables' § rule: a fraction whose denominator's interval is not above 0 is hollow,
    has no error bar and is written at the edge instead of setting the axis."""
    from matplotlib.figure import Figure

    from ssiuu.report.figures.fig7 import _cap_to_ranked, _ci_line

    rows = pd.DataFrame(
        {
            "lr": [1e-5, 1e-4, 1e-3],
            "attack_recovered": [0.2, 40.0, 0.6],
            "attack_recovered_low": [0.1, -3500.0, 0.5],
            "attack_recovered_high": [0.3, 4600.0, 0.7],
            "attack_recovered_n": [33, 33, 33],
            "attack_stable": [True, False, True],
        }
    )
    ax = Figure().subplots()
    line = (rows["lr"], rows, "attack_recovered", 100.0)
    assert _ci_line(ax, *line[:3], ("Harmful", "#fd8d3c", "^", "--"), 100.0)
    _cap_to_ranked(ax, [line])
    assert errorbar_segments(ax) == 2  # the ranked points only
    hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
    assert [list(ln.get_ydata()) for ln in hollow] == [[4000.0]]
    bottom, top = ax.get_ylim()
    assert bottom < 10 and 70 < top < 100
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("↑")] == ["↑ 4000"]
    ax = Figure().subplots()  # an FS line has no ratio: nothing hollow, the axis untouched
    fs = rows.rename(columns=lambda c: c.replace("attack_recovered", "attack"))
    assert _ci_line(ax, fs["lr"], fs, "attack", ("Harmful", "#fd8d3c", "^", "--"))
    assert errorbar_segments(ax) == 3 and not [
        ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"
    ]


def test_a_saved_pdf_carries_no_creation_date(tmp_path: Path) -> None:
    """The PDF's only time-dependent field is left out, so that a regenerated figure equals the committed one."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = common.save_figure(fig, tmp_path, "f")
    plt.close(fig)
    assert [p.name for p in paths] == ["f.png", "f.pdf"]
    assert b"/CreationDate" not in paths[1].read_bytes()


def test_the_legend_title_is_wrapped_to_the_figure_width() -> None:
    """A note longer than the figure is wide wraps at about 13 characters per inch; its own line breaks stay."""
    note = "Error bars: " + "percentile intervals of a cluster bootstrap " * 6 + "\nsecond paragraph"
    wrapped = common.legend_title(note, 6.0)
    lines = wrapped.split("\n")
    assert all(len(line) <= 78 for line in lines) and len(lines) >= 4 and lines[-1] == "second paragraph"
    assert " ".join(wrapped.split()) == " ".join(note.split())  # every word kept, in order
