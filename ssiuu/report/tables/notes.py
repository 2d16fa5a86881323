"""The notes under Tables 1-2 (and their side-by-side with the paper): what the cells are, which levels were
resampled and how many units each has, the attack sets, and the marks († ‡ and the controls)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ssiuu.report.aggregate import CONTROLS, DEGRADED_BELOW
from ssiuu.report.results import DEFAULT, AttackGrid
from ssiuu.report.stats import CellStats
from ssiuu.report.tables.companions import NO_INTERVAL, units_note
from ssiuu.report.tables.render import attack_display, main_metrics


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


def table_notes(style: str, table: pd.DataFrame, grid: AttackGrid, stats: CellStats) -> list[str]:
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
