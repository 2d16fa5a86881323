"""What the tables beside Tables 1-2 show: the format-free measure against the attacked reference (``_recovery``,
written by :mod:`ssiuu.report.tables.recovery`) and SSIUU minus each baseline, paired (``_ssiuu_vs``,
:mod:`ssiuu.report.tables.ssiuu_vs`).

Recovery: per row and attack, the recovered share (a − u) / (R − u) and the difference in differences
(a − u) − (R_after − R_before) of the per-item margin (docs/results.md), paired with the attacked ``Start`` on
the draws and items both score; § where the share's denominator is not above 0 (Fieller,
:func:`ssiuu.report.inference.rankable`). The instrument's separation closes each model's block. The old
log-probability fraction (a − u) / (s − u) against the unattacked start follows as a secondary column, under
the same § rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ssiuu.report.aggregate import CONTROLS, ERASER, REFERENCE
from ssiuu.report.comparisons import row_difference
from ssiuu.report.inference import Estimate
from ssiuu.report.stats import CellStats
from ssiuu.report.tables.render import (
    attack_display,
    fmt_cell,
    label,
    latex_escape,
    markdown,
    markdown_file,
    tex_text,
    to_latex,
    write_table_files,
)

NOT_AVAILABLE = "n/a"
#: the note under a table where some value has n but no interval (:func:`lacks_interval`)
NO_INTERVAL = (
    "A value with n but no interval (and no §): no level of it varies (one seed, one draw, one item), or some "
    "bootstrap resamples held no observation of a row (few items per draw, mostly different from draw to "
    "draw, so that a resample's draws and items can miss them all); no percentile interval is then given."
)
#: the note on the attacked start's own row in the recovery table
REFERENCE_ROW = (
    "Start model, attacked: n/a throughout, as it is the yardstick R itself (share 1 and DiD 0 by definition) "
    "and was never unlearned (s = u: its log p fraction has no denominator)."
)


def fmt_estimate(est: Estimate, digits: int = 2, *, rankable: bool = True) -> str:
    """``value [low, high] n=…`` (:func:`fmt_cell`), ``value n=… §`` without ranking, ``n/a`` when missing."""
    if math.isnan(est.value):
        return NOT_AVAILABLE
    if not rankable:
        return fmt_cell(est.value, n=est.n, digits=digits) + " §"
    return fmt_cell(est.value, est.low, est.high, est.n, digits=digits)


def lacks_interval(est: Estimate, rankable: bool = True) -> bool:
    """A value shown with n but without an interval that § does not explain."""
    return rankable and not math.isnan(est.value) and not est.defined


def row_estimate(row: pd.Series, name: str) -> Estimate:
    """The estimate of the table columns ``name``, ``_low``, ``_high``, ``_n``."""
    n = row.get(f"{name}_n")
    return Estimate(row[name], row[f"{name}_low"], row[f"{name}_high"], 0 if pd.isna(n) else int(n))


def attack_keys(table: pd.DataFrame) -> list[str]:
    """The attack keys of a table (those with a ``<key>_cell`` column)."""
    return [c.removesuffix("_cell") for c in table.columns if str(c).endswith("_cell")]


def attacked(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with at least one attacked (seed, draw) (the Default row and unattacked methods left out)."""
    runs = table[[f"{k}_runs" for k in attack_keys(table)]].fillna(0).sum(axis=1)
    return table[(table["method"] != "Default") & (runs > 0)]


def unstable_fraction(row: pd.Series, key: str) -> bool:
    """The secondary log-probability fraction is § (its drop's interval is not above 0)."""
    return not math.isnan(row[f"{key}_recovered"]) and not bool(row[f"{key}_stable"])


def _recovery_row(r: pd.Series, keys: Sequence[str], labels: Mapping[str, str] | None) -> dict[str, str]:
    row = {"Model": label(labels, r["model"]), "Method": label(labels, r["method"])}
    for key in keys:
        name = attack_display(key)
        share = row_estimate(r, f"{key}_share")
        row[f"{name} share"] = fmt_estimate(share, rankable=bool(r[f"{key}_share_rankable"]))
        row[f"{name} DiD"] = fmt_estimate(row_estimate(r, f"{key}_did"))
        row[f"{name} log p fraction"] = fmt_estimate(
            row_estimate(r, f"{key}_recovered"), rankable=not unstable_fraction(r, key)
        )
    return row


def _separation_row(
    model: str, style_has_eraser: bool, keys: Sequence[str], seps: Mapping, bench: str, labels
) -> dict[str, str]:
    what = "Hider − NeverLearned share" if style_has_eraser else "Hider share against 0"
    row = {"Model": label(labels, model), "Method": f"Separation: {what}"}
    for key in keys:
        name = attack_display(key)
        row[f"{name} share"] = fmt_estimate(seps.get((bench, model, key), Estimate.missing()))
        row[f"{name} DiD"] = row[f"{name} log p fraction"] = ""
    return row


def _validity_row(model: str, keys: Sequence[str], validity: Mapping, bench: str, labels) -> dict[str, str]:
    row = {"Model": label(labels, model), "Method": "Validity: Start − Hider margin before the attack"}
    for key in keys:
        name = attack_display(key)
        row[f"{name} share"] = fmt_estimate(validity.get((bench, model, key), Estimate.missing()))
        row[f"{name} DiD"] = row[f"{name} log p fraction"] = ""
    return row


def recovery_display(
    table: pd.DataFrame,
    seps: Mapping,
    labels: Mapping[str, str] | None,
    stats: CellStats,
    validity: Mapping | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Per attacked row and attack: share, DiD and the secondary fraction; then, per model, the margin's
    validity (``validity``: :func:`ssiuu.report.table_data.margin_validities`) and the separation."""
    keys, rows = attack_keys(table), []
    for (bench, model), grp in attacked(table).groupby(["benchmark", "model"], sort=False):
        rows += [_recovery_row(r, keys, labels) for _, r in grp.iterrows()]
        eraser = ERASER in set(table.loc[table["benchmark"] == bench, "method"])
        if validity is not None:
            rows.append(_validity_row(model, keys, validity, bench, labels))
        rows.append(_separation_row(model, eraser, keys, seps, bench, labels))
    notes = recovery_notes(table, keys, stats, seps)
    if validity is not None:
        notes.append(
            "Validity = the attacked Start's margin minus the known hider's, both before the attack, paired on "
            "shared items (nats per token): the hider was unlearned to the threshold, so a margin that sees what "
            "unlearning removed puts it above 0. Where its interval does not lie above 0, the shares and the "
            "separation of that model say nothing about the facts, and the claims say the instrument cannot "
            "decide."
        )
    return pd.DataFrame(rows), notes


def _recovery_lacks_interval(table: pd.DataFrame, keys: Sequence[str], seps: Mapping) -> bool:
    """Whether a share, DiD, fraction or separation of the recovery table is shown without an interval."""
    for _, r in attacked(table).iterrows():
        for key in keys:
            share = row_estimate(r, f"{key}_share")
            if lacks_interval(share, bool(r[f"{key}_share_rankable"])):
                return True
            fraction = row_estimate(r, f"{key}_recovered")
            if lacks_interval(row_estimate(r, f"{key}_did")) or lacks_interval(
                fraction, not unstable_fraction(r, key)
            ):
                return True
    return any(lacks_interval(e) for e in seps.values())


def recovery_notes(
    table: pd.DataFrame, keys: Sequence[str], stats: CellStats, seps: Mapping | None = None
) -> list[str]:
    """What the recovery table's columns are, the units behind them, and § / n/a / values without an
    interval."""
    seps = seps or {}
    notes = [
        "share = recovered share (a − u) / (R − u) and DiD = difference in differences (a − u) − (R_after − "
        "R_before) of the per-item margin (nats per token, docs/results.md): a = the row after the attack, u = "
        "the row before it, R = the starting model attacked with the same draws. Near 1 the attack brings the "
        "row back as far as a model that knows the facts (hiding); near 0 nothing comes back (erasing).",
        f"{stats.level} percentile intervals from {stats.n_resamples} cluster-bootstrap resamples "
        "(ssiuu/report/inference.py) of every level that varies: seeds, draws and items, an item scored in "
        "several draws or seeds being one cluster; n = observations; " + units_note(table, keys) + ".",
        "§ the share's denominator (R − u) has an interval that is not above 0 (Fieller's condition): the "
        "ratio is unbounded and not ranked. The same rule marks the secondary fraction.",
        "Separation: the known hider's share minus the known eraser's (NeverLearned; ROUGE benchmarks), or the "
        "hider's share against 0 where no never-learned model exists (MCQA); paired on shared draws and items.",
        "log p fraction (secondary, the old measure): (a − u) / (s − u) of the gold answer's mean "
        "log-probability, s = the unattacked starting model; it mostly measures answer format.",
    ]
    if not _has_margins(table, keys):
        notes.append(
            f"{NOT_AVAILABLE}: these result files record no per-item margin (written before docs/results.md), "
            "so no share, DiD or separation can be computed; rerun the attack rules to fill them."
        )
    elif any(math.isnan(e.value) for e in seps.values()):
        notes.append(
            f"Separation {NOT_AVAILABLE}: no known hider (and, on ROUGE benchmarks, known eraser) with per-item "
            "margins on the attacked start's draws in these results."
        )
    if REFERENCE in set(attacked(table)["method"]):
        notes.append(REFERENCE_ROW)
    if _recovery_lacks_interval(table, keys, seps):
        notes.append(NO_INTERVAL)
    return notes


def _has_margins(table: pd.DataFrame, keys: Sequence[str]) -> bool:
    return any(table.get(f"{k}_share", pd.Series(dtype=float)).notna().any() for k in keys)


def units_note(table: pd.DataFrame, keys: Sequence[str]) -> str:
    """``units per attack cell: 1 seed, 2 draws, 23–50 items`` over the table's FS-after-attack cells."""
    units = [r[f"{k}_cell"].score.units for _, r in attacked(table).iterrows() for k in keys]
    if not units:
        return "no attack cells"
    spans = {level: _span([getattr(u, level) for u in units]) for level in ("seeds", "draws", "items")}
    return "units per attack cell: " + ", ".join(
        f"{span} {level if span != '1' else level.removesuffix('s')}" for level, span in spans.items()
    )


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def _baselines(grp: pd.DataFrame, method: str) -> pd.DataFrame:
    """The rows SSIUU is compared with: the other methods (controls are not baselines)."""
    return attacked(grp[~grp["method"].isin([method, *CONTROLS])])


def ssiuu_differences(
    table: pd.DataFrame, labels: Mapping[str, str] | None, stats: CellStats, method: str = "SSIUU"
) -> tuple[pd.DataFrame, list[str]]:
    """``method`` minus each baseline per attack: Δ FS after the attack (points of %), Δ share and Δ DiD, each
    paired on the draws and items both rows score (n = shared observations; items shared in the notes)."""
    rows, shared, no_interval = [], [], False
    keys = attack_keys(table)
    for (_, model), grp in table.groupby(["benchmark", "model"], sort=False):
        ours = grp[grp["method"] == method]
        if ours.empty or not keys:
            continue
        ref = grp[grp["method"] == REFERENCE]
        for _, r in _baselines(grp, method).iterrows():
            row = {"Model": label(labels, model), "Method": f"{method} − {r['method']}"}
            for key in keys:
                ref_cell = ref.iloc[0][f"{key}_cell"] if not ref.empty else None
                first, second = (method, ours.iloc[0][f"{key}_cell"]), (r["method"], r[f"{key}_cell"])
                diff = row_difference(first, second, ref_cell, stats)
                shared.append(diff.score.units.items)
                no_interval |= lacks_interval(diff.score) or lacks_interval(diff.did)
                no_interval |= lacks_interval(diff.share, diff.share_rankable)
                name = attack_display(key)
                row[f"{name} Δ FS"] = fmt_estimate(diff.score.scaled(100.0), 1)
                row[f"{name} Δ share"] = fmt_estimate(diff.share, rankable=diff.share_rankable)
                row[f"{name} Δ DiD"] = fmt_estimate(diff.did)
            rows.append(row)
    notes = differences_notes(method, shared, stats, _has_margins(table, keys))
    return pd.DataFrame(rows), notes + ([NO_INTERVAL] if no_interval else [])


def differences_notes(method: str, shared: Sequence[int], stats: CellStats, margins: bool) -> list[str]:
    """The difference table's notes: the pairing, the shared items, the resampled levels and the marks."""
    items = f"{_span(shared)} items" if shared else "no items"
    notes = [
        f"Negative = {method} lower (more robust). Δ FS in points of %, on the items both rows scored wrong "
        f"before the attack in the same draw ({items} shared per comparison); Δ share and Δ DiD on the margin, "
        "against the attacked starting model, on the draws and items all three rows score.",
        f"{stats.level} percentile intervals from {stats.n_resamples} cluster-bootstrap resamples of each row's "
        "seeds and of the shared draws and items (an item in several draws is one cluster); n = observations "
        "of both rows. In result files written before docs/results.md each row has its own draws, so draws are "
        "paired by their index only.",
        "§ one of the two shares is not ranked (its denominator's interval is not above 0).",
    ]
    if not margins:
        notes.append(f"{NOT_AVAILABLE}: no per-item margins in these result files.")
    return notes


def write_companion(
    out_dir: Path, stem: str, caption: str, display: pd.DataFrame, notes: Sequence[str]
) -> dict[str, Path]:
    """``<stem>.{csv,md,tex}`` of a companion table (its display is also its CSV)."""
    md = markdown_file(caption, markdown(display) if not display.empty else "(no attack results)", notes)
    tex = to_latex(
        display.map(latex_escape) if not display.empty else display,
        tex_text(f"{caption}. " + " ".join(notes)),
        f"tab:{stem}",
        n_text=list(display.columns).index("Method") + 1 if "Method" in display else 0,
        group_cols=("Model",),
    )
    return {f"{stem}.{k}": v for k, v in write_table_files(out_dir / stem, display, md, tex).items()}
