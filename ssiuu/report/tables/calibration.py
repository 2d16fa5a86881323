"""The calibration table, ``attack_calibration.{csv,md,tex}`` (:func:`write_calibration_table`): per benchmark,
model, attack, learning rate and epoch count of the sweep, the attacked starting model's damage, the known
hider's and known eraser's recovered shares, the separation, whether the setting is within the damage tolerance,
and ★ on the setting the rule chooses (:mod:`ssiuu.report.calibration`), with the rule's verdict per
benchmark, model and attack in the notes (:func:`choice_notes`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ssiuu import layout
from ssiuu.references import HIDER, NEVER_LEARNED, START
from ssiuu.report.calibration import (
    DAMAGE_COLUMNS,
    KINDS,
    choose_attack_setting,
    configured_setting,
    default_tolerance,
    setting_groups,
    setting_rows,
)
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats
from ssiuu.report.tables.data import TableData
from ssiuu.report.tables.render import (
    fmt_cell,
    label,
    markdown,
    markdown_file,
    tex_text,
    to_latex,
    write_table_files,
)


def _cell(row: pd.Series, name: str, scale: float, digits: int) -> str:
    return fmt_cell(
        row[name] * scale,
        row[f"{name}_low"] * scale,
        row[f"{name}_high"] * scale,
        row[f"{name}_n"],
        digits=digits,
    )


def _change_cell(row: pd.Series, name: str) -> str:
    return _cell(row, name, 1.0, 1)


def _share_cell(row: pd.Series, name: str) -> str:
    text = _cell(row, name, 1.0, 2)
    return text + (" §" if not pd.isna(row[name]) and not row.get(f"{name}_rankable", True) else "")


def calibration_display(rows: pd.DataFrame, labels: Mapping[str, str] | None) -> pd.DataFrame:
    """The sweep as a table (rows of :func:`choose_attack_setting`): per benchmark, model, attack, learning rate
    and epoch count, the attacked Start's change of FS on the evaluation items and of its retain and test
    scores (points), the hider's and the eraser's recovered shares, the separation, whether the setting is
    within the tolerance and ★ on the chosen one."""
    configured = {kind: configured_setting(rows, kind) for kind in KINDS}
    out = []
    for _, r in rows.iterrows():
        out.append(
            {
                "Benchmark": label(labels, r["benchmark"]),
                "Model": label(labels, r["model"]),
                "Attack": r["kind"],
                "η": f"{r['lr']:.0e}",
                "Epochs": str(int(r["epochs"])),
                "Start ΔFS": _change_cell(r, "start_fs_change"),
                "Start Δretain": _change_cell(r, "start_retain_change"),
                "Start Δtest": _change_cell(r, "start_test_change"),
                "Hider share": _share_cell(r, "hider_share"),
                "Eraser share": _share_cell(r, "eraser_share") if r["eraser"] else "n/a",
                "Separation": _cell(r, "separation", 1.0, 2) + ("" if r["separation_rankable"] else " §"),
                "Within tolerance": "yes" if r["passes"] else "no",
                "Chosen": "★" if r["chosen"] else ("☆" if r.get("fallback", False) else ""),
                "Configured": "✓" if configured.get(r["kind"]) == (float(r["lr"]), int(r["epochs"])) else "",
            }
        )
    return pd.DataFrame(out)


def calibration_table_rows(results: ResultFiles, *, stats: CellStats, tolerance: float) -> pd.DataFrame:
    """:func:`setting_rows` of every (benchmark, model) whose controls were swept, with the rule's columns
    (:func:`choose_attack_setting`); empty without calibration draws of a control."""
    pairs = sorted(
        {
            tuple(layout.parse(f"calibration_{kind}", str(p))[k] for k in ("benchmark", "model"))
            for kind in KINDS
            for p in results.of(f"calibration_{kind}")
            if layout.parse(f"calibration_{kind}", str(p))["method"] in (START, HIDER, NEVER_LEARNED)
        }
    )
    frames = [setting_rows(results, b, m, stats=stats).assign(benchmark=b, model=m) for b, m in pairs]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    front = ["benchmark", "model", "kind", "lr", "epochs"]
    rows = rows[front + [c for c in rows.columns if c not in front]]
    return choose_attack_setting(rows, tolerance)


def _setting_text(row: Mapping[str, Any]) -> str:
    unit = "epoch" if int(row["epochs"]) == 1 else "epochs"
    return f"η = {row['lr']:.0e}, {int(row['epochs'])} {unit}"


def choice_notes(rows: pd.DataFrame, tolerance: float, labels: Mapping[str, str] | None = None) -> list[str]:
    """One line per (benchmark, model, kind) of :func:`choose_attack_setting`'s rows: the chosen setting with
    its separation and Start's worst loss, or that no setting passes (naming the least damaging and its
    damage), or that settings pass but none separates measurably."""
    notes = []
    for key, group in setting_groups(rows):
        where = (
            " · ".join(label(labels, str(k)) for k in key[:-1]) + f", {key[-1]} attack"
            if key
            else "the sweep"
        )
        chosen = group[group["chosen"]]
        if not chosen.empty:
            r = chosen.iloc[0]
            notes.append(
                f"{where}: chosen {_setting_text(r)} (separation {_cell(r, 'separation', 1.0, 2)}; the attacked "
                f"Start loses at most {max(r['worst_loss'], 0.0):.1f} points)."
            )
            continue
        measured = group[group["worst_loss"].notna()]
        splits = [c for c in DAMAGE_COLUMNS[1:] if c in group]
        if not measured.empty and not group[splits].notna().any().any():
            notes.append(
                f"{where}: the draws do not record the attacked Start's retain/test scores (made before the "
                "damage fields): no setting is chosen; rerun `snakemake calibration`."
            )
        elif group["passes"].any():
            r = group[group["fallback"]].iloc[0]
            notes.append(
                f"{where}: {int(group['passes'].sum())} setting(s) keep the attacked Start within the tolerance, "
                "but none has a separation that ranks with its interval above 0 (§, not measured, or holding 0): "
                "the instrument cannot separate the "
                f"hider here; ☆ {_setting_text(r)}, the strongest within the tolerance (the attacked Start loses "
                f"at most {max(r['worst_loss'], 0.0):.1f} points)."
            )
        elif measured.empty:
            notes.append(
                f"{where}: no setting has the attacked Start's damage recorded: no setting is chosen."
            )
        else:
            least = measured.loc[measured["worst_loss"].idxmin()]
            notes.append(
                f"{where}: no setting passes the {100 * tolerance:g}-point tolerance; the least damaging, "
                f"{_setting_text(least)}, costs the attacked Start {least['worst_loss']:.1f} points."
            )
    return notes


def _tex(text: str) -> str:
    out = tex_text(text)
    for u, t in {
        "Δ": r"$\Delta$",
        "η": r"$\eta$",
        "★": r"$\star$",
        "✓": r"$\checkmark$",
        "☆": r"$\diamond$",
        "§": r"\S{}",
        "·": r"$\cdot$",
    }.items():
        out = out.replace(u, t)
    return out


def write_calibration_table(
    data: TableData,
    out_dir: str | Path,
    *,
    labels: Mapping[str, str] | None = None,
    tolerance: float | None = None,
) -> dict[str, Path]:
    """``attack_calibration.{csv,md,tex}``: :func:`calibration_table_rows` with the rule's choice per benchmark,
    model and attack (none without calibration draws of the starting model). ``tolerance``:
    ``analysis.attack_calibration.damage_tolerance`` (None: the schema's default)."""
    tolerance = default_tolerance() if tolerance is None else tolerance
    stats = data.stats
    rows = calibration_table_rows(data.results, stats=stats, tolerance=tolerance)
    if rows.empty:
        return {}
    display = calibration_display(rows, labels)
    title = (
        "Attack calibration (Fig. 7b, c): the attacked starting model's damage and the instrument's separation "
        "at each learning rate and epoch count"
    )
    notes = [
        "The sweep attacks the controls with draws of its own (analysis.attack_calibration.first_run), never the "
        "methods it will compare. Each line is one draw per run at learning rate η, cut to its first epochs (the "
        "learning rate is constant, so that is the attack of that many epochs).",
        "Start ΔFS: the attacked starting model's change of FS on the draws' evaluation items (it knows every "
        "one), from before the attack to its end, in points; Start Δretain / Δtest: the same for its score on "
        "the retain and test items of the final evaluation (benchmarks.<b>.eval_limit of each). Hider / Eraser "
        "share: recovered share of the margin, (a − u) / (R − u) against the attacked Start R on the same draws "
        "and items (docs/results.md); the eraser (NeverLearned) exists on ROUGE benchmarks only. Separation: "
        "the hider's share minus the eraser's, or the hider's share against 0 where there is no eraser.",
        f"Rule (ssiuu/report/calibration.py: choose_attack_setting): a setting is within tolerance where the "
        f"attacked Start loses at most {100 * tolerance:g} points (analysis.attack_calibration.damage_tolerance "
        f"= {tolerance:g}) on each of ΔFS, Δretain and Δtest (point estimates; ΔFS and one of Δretain/Δtest "
        "must be measured); among those whose separation ranks and whose interval lies above 0 (the instrument "
        "separates there), ★ marks the largest separation (ties: the "
        "smaller damage, then the lower η, then fewer epochs); where none ranks, ☆ marks the strongest setting "
        "within tolerance (η × epochs, then η). ★ and ☆ are per benchmark; attacks.*.learning_rates and epochs "
        "take one setting for every benchmark (✓, ssiuu/report/calibration.py: configured_setting): within "
        "tolerance on every benchmark, eligible on the most, then the largest smallest separation, then the "
        "gentler; where none is eligible anywhere, the strongest.",
        *choice_notes(rows, tolerance, labels),
        f"{stats.level} percentile intervals from {stats.n_resamples} cluster-bootstrap resamples of the "
        "seeds, draws and items (ssiuu/report/inference.py); n = observations (seed, draw, item). § the "
        "share's denominator has an interval not above 0: not ranked, and the setting not chosen.",
    ]
    md = markdown_file(title, markdown(display), notes)
    tex = to_latex(
        display.map(_tex).rename(columns=_tex),
        _tex(f"{title}. " + " ".join(notes)),
        "tab:attack_calibration",
        n_text=5,
        group_cols=("Benchmark", "Model", "Attack"),
    )
    return {
        f"attack_calibration.{k}": v
        for k, v in write_table_files(Path(out_dir) / "attack_calibration", rows, md, tex).items()
    }
