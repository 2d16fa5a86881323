"""Claim 3: SSIUU's attributions are the most stable under the attack — the highest pre/post ρ (Fig. 6).

Data: ``distributions/per_example.csv`` keeps, per forget example, attack draw (runs 0 and 1 of the
configured harmful attack), method, seed and module type, Pearson's and Spearman's ρ over the neurons between
the example's attributions before and after the attack (``max_k A`` and ``min_k A`` each on its own; the
example's ρ is their mean). Examples and draws are what varies between repetitions of the experiment.

Family and test: per module type and coefficient (Pearson, Spearman), the mean ρ over examples and draws of
SSIUU minus that of the best other method — the best taken inside every resample, so the choice of the
comparator is resampled too — paired on the (draw, example) pairs every method scores. Percentile cluster
bootstrap over seeds (per method), draws and examples (:func:`ssiuu.report.inference.cluster_bootstrap`);
Holm over the family of module types × the two coefficients (:func:`ssiuu.report.inference.holm`). Verdict:
*supported* when every difference is significantly above 0 after adjustment, *not supported* when some is
significantly below 0, else *inconclusive* with the smallest difference each comparison could detect. With
a single attack draw the draws are not resampled and the verdict is inconclusive. Without the per-example
file the finding falls back to the Fig. 6 ρ of ``correlation.csv`` per module type, with no interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ssiuu.report.analysis_inputs import (
    CORRELATION_FILE,
    PER_EXAMPLE_FILE,
    read_correlation,
    read_per_example,
)
from ssiuu.report.claims.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Finding,
    analysis_dirs,
    fmt_interval,
    missing,
)
from ssiuu.report.inference import (
    ClusteredSample,
    Estimate,
    cluster_bootstrap,
    holm,
    smallest_detectable_difference,
)
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import CellStats

#: what the analysis has to save for claim 3 to be tested
NEEDED = (
    f"{PER_EXAMPLE_FILE}: per-example ρ before and after at least two attack draws per seed, so that "
    "examples and draws can be resampled"
)
#: the coefficients compared, by their column in :func:`ssiuu.report.analysis_inputs.read_per_example`
COEFFICIENTS = {"pearson": "Pearson", "spearman": "Spearman"}
#: the defaults where no statistics options are given
DEFAULT_STATS = CellStats(confidence=0.95, n_resamples=9999)


def module_rhos(rho: pd.DataFrame, column: str = "rho") -> pd.DataFrame:
    """Per module type (``all`` = the whole model) × method: ρ averaged over seeds."""
    return rho.groupby(["module", "method"], sort=False)[column].mean().unstack("method")


def module_agreement(rho: pd.DataFrame, method: str) -> tuple[int, int]:
    """(module types where ``method`` has the highest ρ, module types reported), the whole model excluded."""
    per = module_rhos(rho[rho["module"] != "all"])
    if per.empty or method not in per.columns:
        return 0, 0
    return int((per[method] >= per.max(axis=1)).sum()), len(per)


def _rho_text(per: pd.DataFrame, method: str, name: str) -> str:
    parts = []
    for module, row in per.iterrows():
        best = row.drop(method, errors="ignore").idxmax() if len(row) > 1 else None
        other = f", highest other {best} {row[best]:.3f}" if best is not None else ""
        parts.append(f"{module}: {method} {row.get(method, float('nan')):.3f}{other}")
    return f"{name} ρ per module type — " + "; ".join(parts)


def descriptive_finding(where: str, analysis_dir: Path, method: str) -> Finding:
    """Without per-example ρ: the Fig. 6 ρ per module type from ``correlation.csv``, no interval."""
    rho = read_correlation(analysis_dir)
    if rho is None:
        return missing(where, f"no {PER_EXAMPLE_FILE} or {CORRELATION_FILE} in {analysis_dir}")
    if method not in set(rho["method"]) or rho["method"].nunique() < 2:
        return missing(where, f"ρ for {method} and at least one other method")
    agree = module_agreement(rho, method)
    texts = [_rho_text(module_rhos(rho), method, "Pearson")]
    if "spearman" in rho.columns and rho["spearman"].notna().any():
        texts.append(_rho_text(module_rhos(rho, "spearman"), method, "Spearman"))
    else:
        texts.append("Spearman ρ not recorded")
    seeds = int(rho["seed"].nunique(dropna=False))
    text = (
        "; ".join(texts)
        + f"; {method} highest in {agree[0]} of {agree[1]} module types; {seeds} seed(s), one attack draw; "
        f"no interval: the files do not keep {NEEDED}"
    )
    data = {"pearson": module_rhos(rho).to_dict(), "modules_highest": agree[0], "modules": agree[1]}
    return Finding(where, INCONCLUSIVE, text, data)


@dataclass(frozen=True)
class Comparison:
    """SSIUU minus the best other method in one coefficient's mean ρ on one module type."""

    module: str
    coefficient: str
    ours: float
    best: str
    best_value: float
    difference: Estimate
    p_holm: float
    mdd: float

    def significant(self, alpha: float) -> bool:
        """Whether the Holm-adjusted p value is below ``alpha``."""
        return not math.isnan(self.p_holm) and self.p_holm < alpha

    def text(self, method: str) -> str:
        """``ffn, Spearman: SSIUU 0.95, best other GD 0.71, Δ 0.24 [0.18, 0.30], Holm p = 0.0004, ...``."""
        return (
            f"{self.module}, {COEFFICIENTS[self.coefficient]}: {method} {self.ours:.3f}, best other "
            f"{self.best} {self.best_value:.3f}, Δ {fmt_interval(self.difference, 3)}, Holm p = "
            f"{self.p_holm:.2g}, smallest detectable Δ {self.mdd:.2g}"
        )


def _best_other_difference(method: str, others: Sequence[str], column: str):
    """m(method) − max over ``others`` of m(other), per resample (the comparator chosen in every resample)."""
    return lambda m: m(method, column) - np.max(np.stack([m(o, column) for o in others]), axis=0)


def module_comparisons(
    per: pd.DataFrame, method: str, stats: CellStats
) -> tuple[list[Comparison], ClusteredSample | None]:
    """The family of one (benchmark, model): every module type × coefficient, Holm-adjusted together."""
    others = sorted(set(per["method"]) - {method})
    raw, sample = [], None
    for module, grp in per.groupby("module", sort=False):
        frames = {
            m: g[["seed", "draw", "item", *COEFFICIENTS]].reset_index(drop=True)
            for m, g in grp.groupby("method", sort=False)
        }
        if method not in frames or not any(o in frames for o in others):
            continue
        present = [o for o in others if o in frames]
        sample = ClusteredSample.of(frames)
        for column in COEFFICIENTS:
            means = {m: float(np.nanmean(sample.values[column][sample.groups == m])) for m in frames}
            best = max(present, key=lambda o: means[o])
            estimate = cluster_bootstrap(
                sample, _best_other_difference(method, present, column), **stats.bootstrap
            )
            raw.append((str(module), column, means[method], best, means[best], estimate))
    adjusted = holm([r[5].p for r in raw], stats.alpha)
    level = stats.alpha / max(len(raw), 1)
    comparisons = [
        Comparison(
            *r,
            p_holm=p,
            mdd=smallest_detectable_difference(r[5].se, r[5].units.items, level),
        )
        for r, p in zip(raw, adjusted, strict=True)
    ]
    return comparisons, sample


def family_text(comparisons: Sequence[Comparison], method: str, alpha: float) -> str:
    """The family in one sentence: how many of its comparisons put ``method`` significantly below or above the
    best other method, the range of Δ, and the deciding comparison: the most significant one against
    ``method`` where there is one, else the least significant (the weakest link of a *supported*)."""
    below = [c for c in comparisons if c.significant(alpha) and c.difference.value < 0]
    above = [c for c in comparisons if c.significant(alpha) and c.difference.value > 0]
    if below:
        decider = min(below, key=lambda c: (c.p_holm, c.difference.value))
    else:
        decider = max(comparisons, key=lambda c: c.p_holm if not math.isnan(c.p_holm) else 2.0)
    deltas = [c.difference.value for c in comparisons]
    return (
        f"{method} minus the best other method on {len(comparisons)} comparisons (module type × coefficient, "
        f"Holm): significantly below in {len(below)}, above in {len(above)}, Δ from {min(deltas):.3f} to "
        f"{max(deltas):.3f}; deciding: {decider.text(method)}"
    )


def stability_verdict(comparisons: Sequence[Comparison], alpha: float, draws: int) -> str:
    """Some Δ significantly below 0 → not supported; every Δ significantly above 0 (and ≥ 2 draws resampled)
    → supported; else inconclusive."""
    if not comparisons:
        return INCONCLUSIVE
    if any(c.significant(alpha) and c.difference.value < 0 for c in comparisons):
        return NOT_SUPPORTED
    above = all(c.significant(alpha) and c.difference.value > 0 for c in comparisons)
    return SUPPORTED if above and draws >= 2 else INCONCLUSIVE


def stability_finding(
    where: str, analysis_dir: Path, method: str, stats: CellStats = DEFAULT_STATS
) -> Finding:
    """Claim 3 on one (benchmark, model): the module doc's family and verdict, or the descriptive fallback."""
    per = read_per_example(analysis_dir)
    if per is None:
        return descriptive_finding(where, analysis_dir, method)
    if method not in set(per["method"]) or per["method"].nunique() < 2:
        return missing(where, f"per-example ρ for {method} and at least one other method")
    comparisons, sample = module_comparisons(per, method, stats)
    if not comparisons or sample is None:
        return missing(where, f"per-example ρ of {method} and another method on shared examples and draws")
    units = sample.units
    verdict = stability_verdict(comparisons, stats.alpha, units.draws)
    seeds = per.groupby("method")["seed"].nunique()
    draw_note = "" if units.draws >= 2 else "; one attack draw: the draws are not resampled, so no verdict"
    text = (
        f"mean per-example ρ over examples and draws, {family_text(comparisons, method, stats.alpha)}"
        f" ({units.draws} draws × {units.items} examples shared by {per['method'].nunique()} methods, "
        f"{int(seeds.max())} seed(s) per method; every comparison: claims.json){draw_note}"
    )
    data = {
        "comparisons": [
            {
                "module": c.module,
                "coefficient": c.coefficient,
                method: c.ours,
                "best_other": c.best,
                "best_other_value": c.best_value,
                "difference": c.difference.value,
                "low": c.difference.low,
                "high": c.difference.high,
                "p": c.difference.p,
                "p_holm": c.p_holm,
                "mdd": c.mdd,
            }
            for c in comparisons
        ],
        "draws": units.draws,
        "items": units.items,
    }
    return Finding(where, verdict, text, data)


def claim_stability(
    results: ResultFiles, *, method: str = "SSIUU", stats: CellStats = DEFAULT_STATS
) -> Claim:
    """Claim 3: SSIUU has the highest pre/post-attack attribution correlation ρ on every analysed pair."""
    dirs = analysis_dirs(results)
    findings = [stability_finding(where, d, method, stats) for where, d in dirs]
    if not findings:
        findings = [missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        f"per module type, Pearson's and Spearman's ρ over the neurons between each forget example's "
        f"attributions before and after each attack draw (max and min each on its own, averaged); {method} "
        "minus the best other method (chosen in every resample) in the mean over examples and draws, paired on "
        f"the shared examples and draws; {stats.level} percentile cluster bootstrap over seeds, draws and "
        f"examples ({stats.n_resamples} resamples); Holm over module types × the two coefficients at "
        f"α = {stats.alpha:.2g}; smallest detectable Δ at 80 % power (statsmodels TTestPower, n = shared "
        "examples)"
    )
    return Claim.from_findings(
        3,
        f"{method}'s attributions are the most stable under the attack: the highest ρ (Fig. 6)",
        findings,
        how,
    )
