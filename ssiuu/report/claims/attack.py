"""Claim 2: SSIUU has the lowest harmful-attack score and the lowest recovered share, per benchmark and model.

Family and test: on one (benchmark, model), SSIUU minus every eligible baseline, on every harmful attack,
in FS after the attack and in the margin's recovered share (where both shares rank), each paired on the draws
and items the rows share (:mod:`ssiuu.report.comparisons`); the bootstrap p values of the whole family are
Holm-adjusted together (:func:`ssiuu.report.inference.holm`). Rows marked † (a seed did not reach the
threshold) or ‡ (degraded) are not baselines; they are listed. Verdict: *not supported* when some baseline is
significantly lower than SSIUU after adjustment; *supported* when every comparison is significantly below 0;
else *inconclusive*, with the smallest difference each comparison could detect at 80 % power. The instrument
check gates the verdict: where the known hider's recovered share is not separated from the known eraser's
(or from 0 on MCQA benchmarks) on every harmful attack, the attack cannot tell hiding from erasing there, and
the finding says so instead of a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from ssiuu.report.aggregate import CONTROLS, REFERENCE
from ssiuu.report.claims.verdicts import (
    INCONCLUSIVE,
    INSTRUMENT,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Finding,
    fmt_interval,
    missing,
)
from ssiuu.report.comparisons import RowDifference, row_difference
from ssiuu.report.inference import Estimate, holm, smallest_detectable_difference, units_needed
from ssiuu.report.results import STYLES, AttackGrid, ResultFiles, collect_base
from ssiuu.report.stats import CellStats
from ssiuu.report.table_data import aggregate_table, margin_validities, separations


@dataclass(frozen=True)
class Comparison:
    """SSIUU minus one baseline in one measure of one harmful attack, with its Holm-adjusted p value and the
    smallest difference the comparison could detect (MDD, at 80 % power and the family's first Holm level)."""

    baseline: str
    attack: str
    measure: str
    difference: Estimate
    p_holm: float
    mdd: float
    n_needed: float

    def significant(self, alpha: float) -> bool:
        """Whether the Holm-adjusted p value is below ``alpha``."""
        return not math.isnan(self.p_holm) and self.p_holm < alpha

    def text(self) -> str:
        """``GD, harmful p=0.1, FS: Δ -15.6 [-50.0, 18.2] (shared items 29), Holm p = 0.41, MDD 33``."""
        scale, unit = (100.0, " points") if self.measure == "FS" else (1.0, "")
        d = self.difference
        return (
            f"{self.baseline}, {self.attack}, {self.measure}: Δ {fmt_interval(d, 2, scale)}{unit} "
            f"(shared: {d.units.items} items, {d.units.draws} draws), Holm p = {self.p_holm:.2g}, "
            f"smallest detectable Δ {self.mdd * scale:.2g}{unit}"
        )


def _differences(ours: pd.Series, baselines: pd.DataFrame, ref: Any, keys: Sequence[str], stats: CellStats):
    """(baseline, key, RowDifference) for every baseline and harmful attack."""
    out = []
    for key in keys:
        ref_cell = ref[f"{key}_cell"] if ref is not None else None
        for _, r in baselines.iterrows():
            first, second = ("SSIUU", ours[f"{key}_cell"]), (r["method"], r[f"{key}_cell"])
            out.append((r["method"], key, row_difference(first, second, ref_cell, stats)))
    return out


def family(diffs: Sequence[tuple[str, str, RowDifference]], alpha: float) -> list[Comparison]:
    """The claim's family on one (benchmark, model): Δ FS and (where both shares rank) Δ share of every
    baseline and attack, Holm-adjusted together; MDD at the first Holm level α / m."""
    raw = [(b, k, "FS", d.score) for b, k, d in diffs] + [
        (b, k, "share", d.share) for b, k, d in diffs if d.share_rankable
    ]
    raw = [x for x in raw if not math.isnan(x[3].value)]
    adjusted = holm([x[3].p for x in raw], alpha)
    level = alpha / max(len(raw), 1)
    return [
        Comparison(
            b,
            k.replace("harmful_p", "harmful p="),
            m,
            d,
            p,
            smallest_detectable_difference(d.se, d.units.items, level),
            units_needed(d.value, d.se, d.units.items, level),
        )
        for (b, k, m, d), p in zip(raw, adjusted, strict=True)
    ]


def lowest_verdict(comparisons: Sequence[Comparison], alpha: float) -> tuple[str, Comparison | None]:
    """(verdict, the comparison that decided it): a baseline significantly lower → not supported; every
    difference significantly below 0 → supported; else inconclusive (decided by the weakest comparison)."""
    if not comparisons:
        return INCONCLUSIVE, None
    against = [c for c in comparisons if c.significant(alpha) and c.difference.value > 0]
    if against:
        return NOT_SUPPORTED, min(against, key=lambda c: c.p_holm)
    weakest = max(comparisons, key=lambda c: c.p_holm if not math.isnan(c.p_holm) else 2.0)
    lower = all(c.significant(alpha) and c.difference.value < 0 for c in comparisons)
    return (SUPPORTED if lower else INCONCLUSIVE), weakest


def _shown(estimates: Mapping[str, Estimate]) -> str:
    return "; ".join(f"{k.replace('harmful_p', 'p=')} {fmt_interval(e)}" for k, e in estimates.items())


def instrument_text(seps: Mapping[str, Estimate], validity: Mapping[str, Estimate]) -> tuple[bool, str]:
    """(whether the instrument can decide, the sentence that says why): on every harmful attack, the margin
    sees unlearning (the attacked Start's margin above the hider's before the attack, ``validity``) and the
    hider is separated from the eraser or 0 (``seps``); both intervals must lie above 0."""
    if not seps or all(math.isnan(e.value) for e in seps.values()):
        return False, "no known hider with per-item margins on shared draws in these results"
    sees = all(e.defined and e.low > 0 for e in validity.values()) if validity else False
    apart = all(e.defined and e.low > 0 for e in seps.values())
    head = "" if sees else "the margin does not see unlearning (Start − Hider before the attack "
    head += f"{_shown(validity)}); " if not sees else ""
    return sees and apart, f"{head}separation {_shown(seps)}"


def _eligible(grp: pd.DataFrame, method: str) -> tuple[pd.DataFrame, list[str]]:
    """The baselines (methods, not controls) without † or ‡, and the excluded ones with their mark."""
    rows = grp[(grp["method"] != "Default") & ~grp["method"].isin([method, *CONTROLS])]
    dagger = rows["n_converged"].fillna(0) < rows["n_seeds"].fillna(0)
    ddagger = rows["degraded"].fillna(False).astype(bool)
    excluded = [
        f"{m}{' †' if d else ''}{' ‡' if dd else ''}"
        for m, d, dd in zip(rows["method"], dagger, ddagger, strict=True)
        if d or dd
    ]
    return rows[~dagger & ~ddagger], excluded


def _finding_text(
    verdict: str, decider: Comparison | None, excluded: list[str], instrument: str, n: int
) -> str:
    head = f"{n} comparisons (family: every eligible baseline × harmful attack × measure, Holm)"
    decided = f"; deciding: {decider.text()}" if decider else ""
    gone = f"; excluded (†/‡): {', '.join(excluded)}" if excluded else ""
    return f"{head}{decided}{gone}; instrument: {instrument}"


def lowest_finding(
    where: str,
    grp: pd.DataFrame,
    seps: Mapping[str, Estimate],
    keys: Sequence[str],
    stats: CellStats,
    method: str,
    validity: Mapping[str, Estimate],
) -> Finding:
    """Claim 2 on one (benchmark, model) of an aggregated table (module doc)."""
    ours = grp[grp["method"] == method]
    if ours.empty or not keys:
        return missing(where, f"no {method} row")
    ours = ours.iloc[0]
    apart, instrument = instrument_text(seps, validity)
    if ours["degraded"] is True or (ours["n_converged"] or 0) < (ours["n_seeds"] or 0):
        text = f"{method} itself is † or ‡ (did not reach τ, or degraded); instrument: {instrument}"
        return Finding(where, INCONCLUSIVE, text, {"instrument_separated": apart})
    baselines, excluded = _eligible(grp, method)
    ref = grp[grp["method"] == REFERENCE]
    diffs = _differences(ours, baselines, ref.iloc[0] if not ref.empty else None, keys, stats)
    comparisons = family(diffs, stats.alpha)
    verdict, decider = lowest_verdict(comparisons, stats.alpha)
    if not apart:
        verdict = INSTRUMENT
    data = {
        "comparisons": [asdict(c) for c in comparisons],
        "excluded": excluded,
        "instrument_separated": apart,
        "verdict_without_instrument_check": lowest_verdict(comparisons, stats.alpha)[0],
    }
    return Finding(
        where, verdict, _finding_text(verdict, decider, excluded, instrument, len(comparisons)), data
    )


def claim_lowest_attack(
    results: ResultFiles, *, methods: Sequence[str], grid: AttackGrid, stats: CellStats, method: str = "SSIUU"
) -> Claim:
    """Claim 2: SSIUU's harmful-attack cells are below every baseline's, in FS and in recovered share."""
    keys, findings = grid.harmful_keys, []
    for style in STYLES:
        if style not in set(collect_base(results)["style"]):
            continue
        table = aggregate_table(results, style, methods=methods, grid=grid, stats=stats)
        seps, validity = separations(table, keys, stats), margin_validities(table, keys, stats)
        for (bench, model), grp in table.groupby(["benchmark", "model"], sort=False):
            mine = {k: seps[(bench, model, k)] for k in keys}
            valid = {k: validity[(bench, model, k)] for k in keys}
            findings.append(lowest_finding(f"{bench}/{model}", grp, mine, keys, stats, method, valid))
    how = (
        f"{method} minus each baseline, paired on shared draws and items, cluster bootstrap over seeds, draws "
        f"and items ({stats.level} percentile intervals, {stats.n_resamples} resamples); Holm over the family "
        "(baselines × harmful attacks × measures) of one benchmark and model at level "
        f"{stats.alpha:.2g}; smallest detectable Δ at 80 % power (statsmodels TTestPower, n = shared items, "
        "σ from the bootstrap standard error); † and ‡ rows excluded; gated by the instrument: the margin must see unlearning "
        "(the attacked Start's margin above the hider's before the attack) and the hider must be separated"
    )
    return Claim.from_findings(
        2, f"{method} has the lowest harmful-attack score and the lowest recovered share", findings, how
    )
