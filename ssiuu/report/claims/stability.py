"""Claim 3: SSIUU's attributions are the most stable under the attack — the highest pre/post ρ (Fig. 6).

What can be tested depends on what the analysis saved. ``distributions/correlation.csv`` keeps, per method,
seed and module type, one Pearson ρ of the neuron scores before and after one harmful attack (and Spearman's
ρ where the file has ``spearman_r``); it keeps neither the per-example attributions nor several attack draws.
Nothing that varies between repetitions of the experiment (forget examples, attack draws, seeds: one each)
can therefore be resampled, and treating the neuron values as independent pairs (a Fisher-z interval over
~10⁵ neurons) resamples nothing that varies; so no interval is given, the verdict is *inconclusive*, and
the finding reports ρ per module type and says what would have to be saved.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ssiuu.report.analysis_inputs import CORRELATION_FILE, read_correlation
from ssiuu.report.claims.verdicts import INCONCLUSIVE, Claim, Finding, analysis_dirs, missing
from ssiuu.report.results import ResultFiles

#: what the analysis would have to save for claim 3 to be tested
NEEDED = (
    "per-example attributions (or ρ per example) before and after at least two attack draws per seed, so "
    "that examples and draws can be resampled"
)


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


def stability_finding(where: str, analysis_dir: Path, method: str) -> Finding:
    """Claim 3 on one (benchmark, model): ρ per module type, no interval, and why (module doc)."""
    rho = read_correlation(analysis_dir)
    if rho is None:
        return missing(where, f"no {CORRELATION_FILE} in {analysis_dir}")
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


def claim_stability(results: ResultFiles, *, method: str = "SSIUU") -> Claim:
    """Claim 3: SSIUU has the highest pre/post-attack attribution correlation ρ on every analysed pair."""
    dirs = analysis_dirs(results)
    findings = [stability_finding(where, d, method) for where, d in dirs]
    if not findings:
        findings = [missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        "Pearson (and Spearman where saved) ρ per module type, mean over seeds; no interval and no smallest "
        "detectable difference: nothing that varies between repetitions is saved to resample"
    )
    return Claim.from_findings(
        3,
        f"{method}'s attributions are the most stable under the attack: the highest ρ (Fig. 6)",
        findings,
        how,
    )
