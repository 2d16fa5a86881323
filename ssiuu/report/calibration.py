"""The attack calibration sweep (Fig. 7b, c; App. D.2): which attack setting to use, chosen on the controls.

A calibration draw is an ordinary attack draw of a control (``analysis.attack_calibration.methods``) run for
``analysis.attack_calibration.<kind>.epochs`` with an evaluation after every epoch, on draws of its own (runs
from ``first_run``). The attack's learning rate is constant and its data order fixed by the draw's seed, so
the first e epochs of a draw are the e-epoch attack: :func:`first_epochs` cuts a draw to them, and one draw
per learning rate gives every epoch count up to the sweep's.

**The rule** (:func:`choose_attack_setting`): an attack must recover, not damage. A calibration draw also
records, at every point, the model's score on the retain and test items of the final evaluation
(:func:`ssiuu.attacks.damage_sets`). A setting (kind, learning rate, epochs) is *within tolerance* where the
attacked starting model (``Start``, which knows every forget item) loses at most
``analysis.attack_calibration.damage_tolerance`` (a fraction of the score) of its FS on the draws' evaluation
items and of its retain and test scores, from before the attack to its end (:func:`setting_rows`). Among
those, the chosen setting best separates the known hider from the known eraser: on ROUGE benchmarks the
hider's recovered share of the margin minus the never-learned model's, on MCQA benchmarks (no eraser) the
hider's share against 0, each paired with the attacked Start on the same draws and items
(:func:`ssiuu.report.aggregate.separation`). Where no setting within tolerance has a separation that ranks,
the strongest setting within tolerance is the fallback (☆): the instrument cannot decide there whatever the
setting, and the strongest attack that spares the model that knows the facts is the one most likely to show
hiding. The table (:mod:`ssiuu.report.tables.calibration`) marks the choice; the configured
``attacks.*.learning_rates`` and ``epochs`` are set from it (:func:`configured_setting`;
``tests/test_regenerate.py`` checks that they are).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ssiuu import layout
from ssiuu.io import read_json
from ssiuu.references import HIDER, NEVER_LEARNED, START
from ssiuu.report.aggregate import (
    MarginMeasures,
    cell_columns,
    margin_measures,
    separation,
)
from ssiuu.report.attack_cells import attack_cell, measure
from ssiuu.report.inference import LEVELS, ClusteredSample, Estimate, cluster_bootstrap, gain_of
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats

#: the epoch counts read off a sweep (those up to its epochs, and its epochs)
EPOCH_MARKS = (1, 2, 5, 10, 20, 50)
KINDS = ("harmful", "benign")
#: the parts whose score a calibration draw records beside its evaluation items (ssiuu.attacks.DAMAGE_PARTS)
DAMAGE_PARTS = ("retain", "test")
#: the attacked Start's damage measures the rule bounds, in points (FS on the evaluation items first)
DAMAGE_COLUMNS = ("start_fs_change", *(f"start_{part}_change" for part in DAMAGE_PARTS))
#: one choice per benchmark, model and attack kind
GROUP_COLUMNS = ("benchmark", "model", "kind")
#: a loss equal to the tolerance passes (the changes are sums of floats)
_EPS = 1e-9


def epoch_counts(max_epochs: int) -> list[int]:
    """The epoch counts read off a draw run for ``max_epochs``: 1, 2, 5, 10, … below it, and itself."""
    return sorted({e for e in EPOCH_MARKS if e < max_epochs} | {max_epochs})


def first_epochs(result: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    """A calibration draw cut to its evaluation points within the first ``epochs`` epochs, as the attack of
    that many epochs would have written it (docs/results.md): the score fields read off the cut curve's last
    point (``end_fs``, ``end_margin``; None without points or where the point has no margin), ``fs_curve``
    cut to the same steps, and the curve's maxima (``max_fs``, ``max_logprob_gain``,
    ``max_recovered_fraction``) over the cut points, where the draw records them."""
    last = epochs * int(result["steps_per_epoch"])
    curve = [pt for pt in result.get("curve") or [] if pt["step"] <= last]
    fs_curve = [pt for pt in result.get("fs_curve") or [] if pt[0] <= last]
    end = curve[-1] if curve else {}
    maxima = {
        "max_fs": [fs for _, fs in fs_curve],
        "max_logprob_gain": [pt.get("logprob_gain") for pt in curve],
        "max_recovered_fraction": [pt.get("recovered_fraction") for pt in curve],
    }
    recorded = {
        key: max((v for v in values if v is not None), default=None)
        for key, values in maxima.items()
        if key in result
    }
    return {
        **result,
        "curve": curve,
        "fs_curve": fs_curve,
        "end_fs": end.get("fs"),
        "end_margin": end.get("margin"),
        **recorded,
    }


def calibration_draws(
    results: ResultFiles, bench: str, model: str, method: str
) -> dict[tuple[str, float], list]:
    """The calibration draws of one checkpoint with per-item curves, keyed by (kind, learning rate)."""
    draws: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for kind in KINDS:
        for path in results.of(f"calibration_{kind}"):
            name = layout.parse(f"calibration_{kind}", str(path))
            if (name["benchmark"], name["model"], name["method"]) == (bench, model, method):
                result = read_json(path)
                if result.get("curve"):
                    draws.setdefault((kind, name["lr"]), []).append(result)
    return draws


# --------------------------------------------------------------------------------------------- the rule
def damage_items(result: Mapping[str, Any], part: str) -> pd.DataFrame:
    """seed, draw, item, ``before`` and ``after`` of a calibration draw's ``part`` (retain or test) scores: its
    step-0 point and its last point (``<part>_ids``, ``item_<part>_scores``; docs/results.md). Empty where the
    draw does not record them (a draw older than the damage fields, or a split without that part)."""
    ids, curve = list(result.get(f"{part}_ids") or []), result.get("curve") or []
    key = f"item_{part}_scores"
    if not ids or not curve or curve[0].get(key) is None or curve[-1].get(key) is None:
        return pd.DataFrame(columns=[*LEVELS, "before", "after"])
    frame = pd.DataFrame({"seed": int(result["seed"]), "draw": int(result["run"]), "item": ids})
    return frame.assign(before=[float(v) for v in curve[0][key]], after=[float(v) for v in curve[-1][key]])


def _change(frame: pd.DataFrame, stats: CellStats) -> Estimate:
    """The mean change after − before, paired on (seed, draw, item) and resampled as clusters."""
    if frame.empty:
        return Estimate.missing()
    return cluster_bootstrap(ClusteredSample.of({"row": frame}), gain_of("row"), **stats.bootstrap)


def _share_columns(name: str, measures: MarginMeasures | None) -> dict[str, Any]:
    share = measures.share if measures is not None else Estimate.missing()
    rankable = measures.rankable if measures is not None else False
    return cell_columns(f"{name}_share", share, 1.0) | {f"{name}_share_rankable": rankable}


def setting_columns(cut: Mapping[str, Sequence[Mapping[str, Any]]], stats: CellStats) -> dict[str, Any]:
    """The columns of one setting from the controls' draws cut to its epochs (``cut``: method → draws): the
    attacked Start's damage (``start_fs_change`` on the draws' evaluation items, ``start_retain_change`` and
    ``start_test_change``, in points, each after − before with its interval and n), the hider's and the
    eraser's recovered shares of the margin against the attacked Start, the separation (hider − eraser; the
    hider's share where there is no eraser) and whether it ranks (every share's denominator above 0)."""
    start = attack_cell(cut.get(START, []), START, stats)
    cols = cell_columns("start_fs_change", _change(measure(start.items, "score"), stats))
    for part in DAMAGE_PARTS:
        frames = [damage_items(d, part) for d in cut.get(START, [])]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        cols |= cell_columns(f"start_{part}_change", _change(frame, stats))
    cells = {
        name: attack_cell(cut[method], method, stats) if cut.get(method) else None
        for name, method in (("hider", HIDER), ("eraser", NEVER_LEARNED))
    }
    measures = {
        name: margin_measures(cell, start, stats) if cell is not None else None
        for name, cell in cells.items()
    }
    for name in cells:
        cols |= _share_columns(name, measures[name])
    hider, eraser = cells["hider"], cells["eraser"]
    split = separation(hider, eraser, start, stats) if hider is not None else Estimate.missing()
    ranks = [m is not None and m.rankable for name, m in measures.items() if cells[name] is not None]
    return (
        cols
        | cell_columns("separation", split, 1.0)
        | {"eraser": eraser is not None, "separation_rankable": bool(ranks) and all(ranks)}
    )


def setting_rows(results: ResultFiles, bench: str, model: str, *, stats: CellStats) -> pd.DataFrame:
    """One row per setting (kind, learning rate, epoch count) that the controls were swept at on (bench,
    model): :func:`setting_columns` of their calibration draws cut to those epochs (the epoch counts read off
    the shortest of the controls' draws at that rate). Empty without calibration draws of a control; a
    setting without Start's draws has no damage measured (and cannot pass)."""
    draws = {m: calibration_draws(results, bench, model, m) for m in (START, HIDER, NEVER_LEARNED)}
    rows = []
    for kind, lr in sorted({setting for by_setting in draws.values() for setting in by_setting}):
        swept = [d for m in draws for d in draws[m].get((kind, lr), [])]
        for epochs in epoch_counts(min(int(d["config"]["epochs"]) for d in swept)):
            cut = {m: [first_epochs(d, epochs) for d in draws[m].get((kind, lr), [])] for m in draws}
            rows.append({"kind": kind, "lr": lr, "epochs": epochs} | setting_columns(cut, stats))
    return pd.DataFrame(rows)


def worst_loss(row: Mapping[str, Any]) -> float:
    """The attacked Start's largest loss over its damage measures, in points (NaN where none is recorded)."""
    losses = [-float(row[c]) for c in DAMAGE_COLUMNS if c in row and not pd.isna(row[c])]
    return max(losses) + 0.0 if losses else math.nan  # + 0.0: no "-0.0" where nothing was lost


def within_tolerance(row: Mapping[str, Any], tolerance: float) -> bool:
    """Whether the attacked Start stays within ``tolerance`` (a fraction of the score; the changes are in
    points): its FS on the evaluation items is measured and at least one of its retain and test scores is,
    and none of those it has drops by more than 100 · tolerance points."""
    measured = [c for c in DAMAGE_COLUMNS if c in row and not pd.isna(row[c])]
    if DAMAGE_COLUMNS[0] not in measured or len(measured) < 2:
        return False
    return worst_loss(row) <= 100.0 * tolerance + _EPS


def choose_attack_setting(rows: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """The calibration's rule on its rows (a pure function; ``rows`` holds :func:`setting_rows`' columns,
    grouped by the ``benchmark``, ``model`` and ``kind`` columns it has): ``rows`` with

    * ``worst_loss``: the attacked Start's largest loss in points (:func:`worst_loss`);
    * ``passes``: within the tolerance (:func:`within_tolerance`);
    * ``eligible``: passes, and the instrument separates there: its ``separation`` ranks
      (``separation_rankable``, where the column exists: every recovered share in it has a denominator whose
      interval lies above 0) and its interval lies above 0 (``separation_low``, where the column exists; the
      claims' gate asks the same);
    * ``chosen``: per group, the eligible setting with the largest separation; ties go to the smaller worst
      loss, then the lower learning rate, then fewer epochs (the gentler attack). No row of a group is chosen
      where none is eligible (the calibration table's notes say why);
    * ``fallback``: in a group where none is eligible, the strongest setting within tolerance
      (:func:`strength`): the attack most likely to bring hidden knowledge back that still spares the model
      that knows the facts."""
    out = rows.copy()
    out["worst_loss"] = [worst_loss(r) for _, r in out.iterrows()]
    out["passes"] = [within_tolerance(r, tolerance) for _, r in out.iterrows()]
    ranks = out["separation_rankable"].fillna(False).astype(bool) if "separation_rankable" in out else True
    apart = out["separation_low"].fillna(-math.inf) > 0 if "separation_low" in out else True
    out["eligible"] = out["passes"] & out["separation"].notna() & ranks & apart
    out["chosen"] = out["fallback"] = False
    for _, group in setting_groups(out):
        candidates = group[group["eligible"]].assign(_key=lambda g: -g["separation"].round(12))
        if not candidates.empty:
            order = candidates.sort_values(["_key", "worst_loss", "lr", "epochs"], kind="mergesort")
            out.loc[order.index[0], "chosen"] = True
        elif group["passes"].any():
            passing = group[group["passes"]]
            out.loc[max(passing.index, key=lambda i: strength(passing.loc[i])), "fallback"] = True
    return out


def strength(row: Mapping[str, Any]) -> tuple[float, float]:
    """How strong an attack setting is: its learning rate times its epochs (the summed step size over the
    attack data), then its learning rate."""
    return (float(row["lr"]) * int(row["epochs"]), float(row["lr"]))


def configured_setting(rows: pd.DataFrame, kind: str) -> tuple[float, int] | None:
    """The one ``(learning rate, epochs)`` that ``attacks.<kind>`` takes from the rule's rows
    (:func:`choose_attack_setting`), over every benchmark and model swept. Among the settings within tolerance
    on every one, the first in this order: eligible (a separation that ranks) on more benchmarks; then the
    larger smallest separation over those; then the gentler (:func:`strength`). Where none is eligible
    anywhere, the strongest. None where no setting passes on every benchmark (the table's notes say why)."""
    if rows.empty:
        return None
    groups = [g for _, g in setting_groups(rows[rows["kind"] == kind])]
    if not groups:
        return None

    def rows_of(s: tuple[float, int]) -> list[pd.Series]:
        return [r for g in groups for _, r in g[(g["lr"] == s[0]) & (g["epochs"] == s[1])].iterrows()]

    def passes_everywhere(s: tuple[float, int]) -> bool:
        found = rows_of(s)
        return len(found) == len(groups) and all(bool(r["passes"]) for r in found)

    def rank(s: tuple[float, int]) -> tuple:
        eligible = [float(r["separation"]) for r in rows_of(s) if bool(r["eligible"])]
        force = strength({"lr": s[0], "epochs": s[1]})
        if not eligible:
            return (0, 0.0, force)
        return (len(eligible), round(min(eligible), 12), tuple(-x for x in force))

    settings = {(float(r["lr"]), int(r["epochs"])) for g in groups for _, r in g.iterrows()}
    passing = [s for s in settings if passes_everywhere(s)]
    return max(passing, key=rank) if passing else None


def setting_groups(rows: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    keys = [c for c in GROUP_COLUMNS if c in rows.columns]
    if not keys:
        return [((), rows)]
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in rows.groupby(keys, sort=False)]


def default_tolerance() -> float:
    """``analysis.attack_calibration.damage_tolerance``'s default, from the config schema (its one source)."""
    from ssiuu.config import load_schema

    calibration = load_schema()["properties"]["analysis"]["properties"]["attack_calibration"]
    return float(calibration["properties"]["damage_tolerance"]["default"])
