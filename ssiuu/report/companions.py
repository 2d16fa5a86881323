"""The tables beside Tables 1-2: the continuous recovery measure, and SSIUU against each baseline.

Recovered fraction = (attacked − unlearned) / (start − unlearned) of the evaluation items' mean gold-answer
log-probability, at each run's best point, pooled over runs; Δ log p = attacked − unlearned in nats per answer
token. Where unlearning lowered the log-probability by less than ``attacks.min_logprob_drop`` the fraction is
marked § and is not a basis for ranking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ssiuu.references import REFERENCES
from ssiuu.report.attack_cells import cell_difference
from ssiuu.report.render import attack_display, fmt_cell
from ssiuu.report.stats import Interval


def _fmt(iv: Interval, digits: int = 2) -> str:
    return fmt_cell(iv.value, iv.low, iv.high, iv.n, digits=digits)


def _interval(row: pd.Series, name: str) -> Interval:
    return Interval(row[name], row[f"{name}_low"], row[f"{name}_high"], int(row[f"{name}_n"]))


def _attack_keys(table: pd.DataFrame) -> list[str]:
    return [c.removesuffix("_cell") for c in table.columns if str(c).endswith("_cell")]


def _attacked(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with at least one attack run (the Default row and unattacked methods are left out)."""
    runs = table[[f"{k}_runs" for k in _attack_keys(table)]].fillna(0).sum(axis=1)
    return table[(table["method"] != "Default") & (runs > 0)]


def unstable_fraction(row: pd.Series, key: str) -> bool:
    """A recovered fraction not to rank by: unlearning's drop is below the threshold, or some resamples of the
    items have no drop at all (the interval is then undefined although the point value exists)."""
    value, low, n = row[f"{key}_recovered"], row[f"{key}_recovered_low"], row[f"{key}_recovered_n"]
    return not math.isnan(value) and (not row[f"{key}_stable"] or (math.isnan(low) and n >= 2))


def recovery_display(table: pd.DataFrame, labels: Mapping[str, str] | None) -> tuple[pd.DataFrame, list[str]]:
    """Per method and attack: recovered fraction [CI] (§ where unstable), Δ log p [CI] and unlearning's drop."""
    rows = []
    for _, r in _attacked(table).iterrows():
        row = {
            "Model": (labels or {}).get(r["model"], r["model"]),
            "Method": (labels or {}).get(r["method"], r["method"]),
        }
        for key in _attack_keys(table):
            mark = " §" if unstable_fraction(r, key) else ""
            row[f"{attack_display(key)} recovered"] = _fmt(_interval(r, f"{key}_recovered")) + mark
            row[f"{attack_display(key)} Δ log p"] = _fmt(_interval(r, f"{key}_gain"))
            row[f"{attack_display(key)} drop"] = (
                "–" if math.isnan(r[f"{key}_drop"]) else f"{r[f'{key}_drop']:.2f}"
            )
        rows.append(row)
    notes = [
        "Recovered fraction of the evaluation items' mean gold-answer log-probability (attacked − unlearned) / "
        "(start − unlearned), at each run's highest point over learning rates and evaluation points, pooled over runs and "
        "seeds; Δ log p = attacked − unlearned (nats per answer token); drop = start − unlearned. Intervals: "
        "bootstrap over items (scipy.stats.bootstrap), n = items × runs.",
        "§ unlearning lowered the log-probability by less than attacks.min_logprob_drop, or some bootstrap "
        "resamples of the items show no drop (no interval): the fraction divides by almost nothing; do not rank "
        "by it.",
    ]
    return pd.DataFrame(rows), notes


def ssiuu_differences(
    table: pd.DataFrame,
    labels: Mapping[str, str] | None,
    *,
    confidence: float,
    n_resamples: int,
    method: str = "SSIUU",
) -> tuple[pd.DataFrame, list[str]]:
    """SSIUU minus each other row but the attacked start model: attack score (points of %) and recovered
    fraction, with bootstrap CIs."""
    rows = []
    keys = _attack_keys(table)
    for model, grp in table.groupby("model", sort=False):
        ours = grp[grp["method"] == method]
        if ours.empty or not keys:
            continue
        # The attacked start model is scored on forget items it answers right: a control for Δ log p, whose
        # attack score no unlearned model's is comparable with.
        others = grp[~grp["method"].isin([method, REFERENCES["mcqa"]])]
        for _, r in _attacked(others).iterrows():
            row = {"Model": (labels or {}).get(model, model), "Method": f"{method} − {r['method']}"}
            for key in keys:
                score, recovered = cell_difference(
                    ours.iloc[0][f"{key}_cell"],
                    r[f"{key}_cell"],
                    confidence=confidence,
                    n_resamples=n_resamples,
                )
                row[f"{attack_display(key)} Δ score"] = _fmt(score.scaled(100.0), 1)
                row[f"{attack_display(key)} Δ recovered"] = _fmt(recovered)
            rows.append(row)
    notes = [
        f"Negative = {method} lower (more robust). Δ score in points of %; the two rows score different "
        "items (each method's own pool), so the bootstrap resamples them independently "
        f"({100 * confidence:g} % intervals; n = items of both rows)."
    ]
    return pd.DataFrame(rows), notes
