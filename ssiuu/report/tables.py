"""Tables 1 and 2 of the paper (CSV, Markdown, LaTeX) from cached result JSON files — no torch, no model.

:func:`build_tables` writes, per benchmark style, the table (:func:`aggregate_table`, rendered by
:mod:`ssiuu.report.render`), its companions (:mod:`ssiuu.report.companions`) and the table next to the paper's
published values. Reading the result files: :mod:`ssiuu.report.results`; aggregation:
:mod:`ssiuu.report.table_data` (both re-exported here).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu.report.aggregate import CONTROLS, DEGRADED_BELOW
from ssiuu.report.calibration_table import write_calibration_table
from ssiuu.report.companions import NO_INTERVAL, recovery_display, ssiuu_differences, units_note
from ssiuu.report.paper_values import PAPER_BENCHMARK, SOURCE, paper_table
from ssiuu.report.render import (
    attack_display,
    display_table,
    fmt_cell,
    label,
    latex_escape,
    main_metrics,
    markdown,
    markdown_file,
    method_mark,
    metric_cell,
    metric_head,
    tex_text,
    to_latex,
    write_table_files,
)
from ssiuu.report.results import (
    DEFAULT,
    STYLES,
    AttackGrid,
    ResultError,
    ResultFiles,
    attack_key,
    collect_attacks,
    collect_base,
    load_attack,
    load_base,
    load_unlearn,
)
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import aggregate_table, collect_results, separations

log = logging.getLogger(__name__)

TABLE_NAME = {"mcqa": "table1", "rouge": "table2"}
COMPANIONS = ("_low", "_high", "_n")

__all__ = [
    "DEFAULT",
    "STYLES",
    "TABLE_NAME",
    "ResultError",
    "aggregate_table",
    "attack_display",
    "attack_key",
    "build_tables",
    "collect_attacks",
    "collect_base",
    "collect_results",
    "display_table",
    "fmt_cell",
    "latex_escape",
    "load_attack",
    "load_base",
    "load_unlearn",
    "main_metrics",
    "to_latex",
    "vs_paper_table",
    "write_companion_tables",
]


# --------------------------------------------------------------------------------------------- notes
def _attack_set_notes(table: pd.DataFrame) -> list[str]:
    """Per attack column: the distinct items its cells rest on, by row."""
    notes = []
    rows = table[table["method"] != DEFAULT]
    for key in [k for k in main_metrics(table.columns) if k not in ("FS", "RS", "US")]:
        items = rows.get(f"{key}_items", pd.Series(dtype=float)).dropna()
        items = items[items > 0]
        if not items.empty:
            span = (
                f"{int(items.min())}–{int(items.max())}"
                if items.min() != items.max()
                else f"{int(items.min())}"
            )
            notes.append(f"{attack_display(key)}: {span} distinct evaluation items per row.")
    return notes


def _mark_notes(table: pd.DataFrame, confidence: float) -> list[str]:
    """The notes on n/a, † (not converged), ‡ (degraded) and the control rows."""
    notes = []
    if not bool(table.get("stop_fs", pd.Series(dtype=float)).notna().any()):
        notes.append(
            "stop FS n/a: these unlearn.json files predate stop_fs (docs/results.md); FS is the final evaluation."
        )
    if bool((table["n_converged"].fillna(0) < table["n_seeds"].fillna(0)).any()):
        notes.append(
            "† at least one seed did not reach the early-stopping threshold (excluded from verdicts)."
        )
    notes.append(
        f"‡ degraded: RS or US below {100 * DEGRADED_BELOW:g} % of the starting model's and significantly lower "
        f"on the same items at level {1 - confidence:.2g} (exact McNemar on 0/1 answers, Wilcoxon signed-rank on "
        "recalls or seed means; Fisher's exact test on counts where per-item utility outcomes were not "
        "recorded; the tests are in the CSV's degraded_tests). Excluded from verdicts."
    )
    controls = [m for m in CONTROLS if m in set(table["method"])]
    if controls:
        notes.append(
            "Controls: Start = the starting model attacked with the same draws (the yardstick; its FS after the "
            "attack is on all its evaluation items, which it answered right before); NeverLearned = a model that "
            "never learned the forget set (known eraser); Hider = GD on the last block only, every earlier layer "
            f"frozen (known hider). Present here: {', '.join(controls)}."
        )
    return notes


def _notes(style: str, table: pd.DataFrame, grid: AttackGrid, stats: CellStats) -> list[str]:
    """The notes under a table: what its cells are, the resampled units, then the attack sets and the marks."""
    rs = "test-set accuracy" if style == "mcqa" else "retain-set ROUGE-L recall"
    keys = [k for k in main_metrics(table.columns) if k not in ("FS", "RS", "US")]
    notes = [
        f"Scores in %, with {stats.level} intervals and n. FS, RS (= {rs}) and US: Wilson score intervals over "
        "the distinct items (statsmodels proportion_confint; a value averaged over seeds counts each item once; "
        "for ROUGE recalls the interval is conservative). Stop FS: unlearn.json's stop_fs, mean over seeds.",
        "Attack columns: FS at the end of the attack (the last evaluation point, never step 0) on the items the "
        "row answered wrongly before the attack (§6.2.2; Start: all its evaluation items), at the configured "
        f"learning rate (harmful: {', '.join(f'{x:g}' for x in grid.harmful_lrs)}; benign: "
        f"{', '.join(f'{x:g}' for x in grid.benign_lrs)}; with several, each draw's highest). Intervals: "
        f"percentile, {stats.n_resamples} cluster-bootstrap resamples of every level that varies (unlearning "
        "seeds, attack draws, items; an item scored in several draws or seeds is one cluster; "
        "ssiuu/report/inference.py); n = observations (items × draws × seeds); "
        + units_note(table, keys)
        + ".",
    ]
    notes += _attack_set_notes(table) + _mark_notes(table, stats.confidence)
    return notes + ([NO_INTERVAL] if _lacks_interval(table, keys) else [])


def _lacks_interval(table: pd.DataFrame, keys: Sequence[str]) -> bool:
    """Whether an attack cell of the table has a value but no interval."""
    return any(bool((table[k].notna() & table[f"{k}_low"].isna()).any()) for k in keys)


# --------------------------------------------------------------------------------------------- vs paper
def _our_rows(
    table: pd.DataFrame, method: str, metrics: Sequence[str], labels: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    rows = []
    for _, r in table[table["method"] == method].iterrows():
        row = {
            "method": method,
            "source": f"ours ({label(labels, r['model'])})",
            "source_kind": "ours",
            "benchmark": label(labels, r["benchmark"]),
            "n_seeds": r["n_seeds"],
            "n_converged": r["n_converged"],
        }
        for x in metrics:
            row |= {x: r[x]} | {f"{x}{c}": r[f"{x}{c}"] for c in COMPANIONS}
        rows.append(row)
    return rows


def _paper_rows(paper: pd.DataFrame, style: str, method: str, metrics: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for _, q in paper[paper["method"] == method].iterrows():
        row = {
            "method": method,
            "source": q["label"],
            "source_kind": "paper quote",
            "benchmark": PAPER_BENCHMARK[style],
            "n_seeds": math.nan,
            "n_converged": math.nan,
        }
        for x in metrics:
            v = q[x] if x in q.index else None
            row |= {x: math.nan if v is None or pd.isna(v) else float(v)} | {
                f"{x}{c}": math.nan for c in COMPANIONS
            }
        rows.append(row)
    return rows


def vs_paper_table(table: pd.DataFrame, style: str, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Our cells next to the paper's quoted cells: for every method, one row per source — ours (per model) then
    ``paper (Llama-3.2-3B)`` etc. Numeric, percent. Columns: method, source, source_kind (ours | paper quote),
    benchmark, n_seeds, n_converged (NaN for quotes), then each score with _low, _high, _n (NaN for quotes)."""
    paper = paper_table(style)
    metrics = main_metrics(table.columns)
    rows = []
    for method in dict.fromkeys(table["method"]):
        rows += _our_rows(table, method, metrics, labels) + _paper_rows(paper, style, method, metrics)
    return pd.DataFrame(rows)


def _vs_display(
    vs: pd.DataFrame, labels: Mapping[str, str] | None, *, latex: bool, style: str | None = None
) -> pd.DataFrame:
    esc = latex_escape if latex else str
    metrics = main_metrics(vs.columns)
    out = []
    for _, r in vs.iterrows():
        row = {
            "Method": method_mark(esc(label(labels, r["method"])), r, latex),
            "Source": esc(r["source"]),
            "Benchmark": esc(r["benchmark"]),
        }
        for x in metrics:
            row[metric_head(x, style, latex)] = metric_cell(r, x, latex)
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------- files
def _write_main_table(
    table: pd.DataFrame,
    out_dir: Path,
    style: str,
    title: str,
    notes: Sequence[str],
    labels: Mapping[str, str] | None,
) -> dict[str, Path]:
    """``table1.*`` / ``table2.*``: the numbers (CSV), Markdown and LaTeX."""
    name = TABLE_NAME[style]
    md = markdown_file(title, markdown(display_table(table, labels, style=style)), notes)
    disp_tex = display_table(table, labels, latex=True, style=style)
    tex = to_latex(
        disp_tex,
        tex_text(f"{title}. " + " ".join(notes)),
        f"tab:{name}",
        n_text=list(disp_tex.columns).index("Method") + 1,
        group_cols=("Benchmark", "Model"),
    )
    return {f"{name}.{k}": v for k, v in write_table_files(out_dir / name, table, md, tex).items()}


def _write_vs_paper(
    table: pd.DataFrame, out_dir: Path, style: str, notes: Sequence[str], labels: Mapping[str, str] | None
) -> dict[str, Path]:
    """``table<k>_vs_paper.*``: our rows next to the paper's quoted ones."""
    name, paper_name = TABLE_NAME[style], PAPER_BENCHMARK[style]
    vs = vs_paper_table(table, style, labels)
    vs_title = f"Table {name[-1]} next to the paper's published values ({paper_name})"
    quote = (
        f"Rows labelled 'paper (...)' are quoted from {SOURCE}, Table {name[-1]} "
        f"({paper_name}, 3B instruction-tuned models); they are published numbers, not results of this "
        "pipeline, and were obtained on different models and data."
    )
    extra = ["The paper excludes NPO on TOFU (it fails to converge)."] if style == "rouge" else []
    vs_md = markdown_file(
        vs_title, markdown(_vs_display(vs, labels, latex=False, style=style)), [*notes, *extra], quote
    )
    vs_tex = to_latex(
        _vs_display(vs, labels, latex=True, style=style),
        tex_text(f"{vs_title}. {quote} " + " ".join([*notes, *extra])),
        f"tab:{name}_vs_paper",
        n_text=3,
        group_cols=("Method",),
    )
    stem = f"{name}_vs_paper"
    return {f"{stem}.{k}": v for k, v in write_table_files(out_dir / stem, vs, vs_md, vs_tex).items()}


def write_companion_tables(
    table: pd.DataFrame,
    out_dir: Path,
    name: str,
    title: str,
    labels: Mapping[str, str] | None,
    *,
    stats: CellStats,
) -> dict[str, Path]:
    """``<name>_recovery`` (the margin against the attacked reference, and the instrument's separation) and
    ``<name>_ssiuu_vs`` (paired differences) beside a table."""
    written: dict[str, Path] = {}
    seps = separations(table, [k for k in main_metrics(table.columns) if k not in ("FS", "RS", "US")], stats)
    frames = {
        "recovery": (
            recovery_display(table, seps, labels, stats),
            f"{title}: the format-free margin against the attacked starting model",
        ),
        "ssiuu_vs": (ssiuu_differences(table, labels, stats), f"{title}: SSIUU minus each baseline, paired"),
    }
    for suffix, ((display, notes), caption) in frames.items():
        stem = f"{name}_{suffix}"
        md = markdown_file(caption, markdown(display) if not display.empty else "(no attack results)", notes)
        tex = to_latex(
            display.map(latex_escape) if not display.empty else display,
            tex_text(f"{caption}. " + " ".join(notes)),
            f"tab:{stem}",
            n_text=list(display.columns).index("Method") + 1 if "Method" in display else 0,
            group_cols=("Model",),
        )
        for k, v in write_table_files(out_dir / stem, display, md, tex).items():
            written[f"{stem}.{k}"] = v
    return written


def build_tables(
    results: ResultFiles,
    out_dir: str | Path,
    config_labels: Mapping[str, str] | None = None,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    stats: CellStats,
    models: Sequence[str] | None = None,
    calibration_tolerance: float | None = None,
) -> dict[str, Path]:
    """Write ``table1.{csv,md,tex}`` (MCQA-style benchmarks, FaithUn columns), ``table2.*`` (ROUGE-style, TOFU)
    and ``table1_vs_paper.*`` / ``table2_vs_paper.*`` under ``out_dir``; a style without results is skipped
    (logged). ``config_labels`` maps benchmark / model / method keys to display names. ``methods`` are the main
    methods (config ``methods``) in row order; ablation variants are not rows. ``grid`` holds the configured
    attack learning rates and fractions: results at other learning rates (the Fig. 7 sweep) are ignored.
    ``calibration_tolerance``: the calibration table's damage tolerance (``analysis.attack_calibration.
    damage_tolerance``; None: the schema's default). Returns ``{"table1.csv": path, ...}``."""
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for style in STYLES:
        table = aggregate_table(results, style, methods=methods, models=models, grid=grid, stats=stats)
        if table.empty:
            log.info("no %s-style benchmark in %s: %s not written", style, results, TABLE_NAME[style])
            continue
        name, paper_name = TABLE_NAME[style], PAPER_BENCHMARK[style]
        benches = ", ".join(label(config_labels, b) for b in dict.fromkeys(table["benchmark"]))
        notes = _notes(style, table, grid, stats)
        style_note = "" if f"{paper_name}-style" in benches else f" ({paper_name}-style)"
        title = f"Table {name[-1]}: results on {benches}{style_note}"
        written |= _write_main_table(table, out_dir, style, title, notes, config_labels)
        written |= write_companion_tables(table, out_dir, name, title, config_labels, stats=stats)
        written |= _write_vs_paper(table, out_dir, style, notes, config_labels)
    if not written:
        raise ResultError(f"no benchmark results under {results}: nothing to tabulate")
    calibration = {"stats": stats, "tolerance": calibration_tolerance}
    return written | write_calibration_table(results, out_dir, config_labels, **calibration)
