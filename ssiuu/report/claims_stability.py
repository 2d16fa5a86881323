"""Claim 3: SSIUU's attributions are the most stable under the attack — the highest pre/post ρ (Fig. 6)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ssiuu.report.analysis_inputs import CORRELATION_FILE, read_correlation
from ssiuu.report.results import ResultFiles
from ssiuu.report.stats import Interval
from ssiuu.report.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Finding,
    analysis_dirs,
    fmt_interval,
    missing,
)


def pearson_interval(r: float, n: float, confidence: float = 0.95) -> Interval:
    """Fisher-z interval of a Pearson ρ from n pairs (as ``scipy.stats.pearsonr(...).confidence_interval()``)."""
    if math.isnan(r) or math.isnan(n) or n < 4:
        return Interval(r, math.nan, math.nan, 0 if math.isnan(n) else int(n))
    z, half = math.atanh(r), stats.norm.ppf(0.5 + confidence / 2) / math.sqrt(n - 3)
    return Interval(r, math.tanh(z - half), math.tanh(z + half), int(n))


def pooled_pearson_interval(rs: Sequence[float], ns: Sequence[float], confidence: float = 0.95) -> Interval:
    """Seeds pooled on the z scale: mean of the z scores, its standard error from the seeds' n − 3."""
    if len(rs) == 1:
        return pearson_interval(rs[0], ns[0], confidence)
    z = float(np.mean(np.arctanh(rs)))
    if any(math.isnan(n) or n < 4 for n in ns):
        return Interval(math.tanh(z), math.nan, math.nan, 0)
    half = stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(sum(1 / (n - 3) for n in ns)) / len(ns)
    return Interval(math.tanh(z), math.tanh(z - half), math.tanh(z + half), int(sum(ns)))


def rho_intervals(rho: pd.DataFrame, module: str, confidence: float) -> dict[str, Interval]:
    """Per method (in file order): the pooled Fisher-z interval of its ρ in ``module``."""
    sel = rho[rho["module"] == module]
    return {
        m: pooled_pearson_interval(list(g["rho"]), list(g["n"]), confidence)
        for m, g in sel.groupby("method", sort=False)
    }


def module_agreement(rho: pd.DataFrame, method: str) -> tuple[int, int]:
    """(module types where ``method`` has the highest ρ, module types reported)."""
    per = rho[rho["module"] != "all"].groupby(["module", "method"])["rho"].mean().unstack("method")
    if per.empty or method not in per.columns:
        return 0, 0
    return int((per[method] >= per.max(axis=1)).sum()), len(per)


def stability_verdict(
    ours: Interval, others: Mapping[str, Interval], agree: tuple[int, int]
) -> tuple[str, str]:
    """(verdict, reason): SSIUU's interval above all others' and every module type agreeing → supported."""
    above = [m for m, iv in others.items() if iv.low > ours.high]
    if above:
        return NOT_SUPPORTED, f"{', '.join(above)} significantly higher"
    if math.isnan(ours.low):
        return INCONCLUSIVE, "no interval: the correlation file has no n_values"
    if not all(ours.low > iv.high for iv in others.values()):
        return INCONCLUSIVE, "the intervals overlap"
    if agree[0] < agree[1]:
        return INCONCLUSIVE, f"highest on the whole model, but in only {agree[0]} of {agree[1]} module types"
    return SUPPORTED, "highest on the whole model" + (
        f" and in all {agree[1]} module types" if agree[1] else ""
    )


def stability_finding(where: str, analysis_dir: Path, method: str, confidence: float) -> Finding:
    """Claim 3 on one (benchmark, model): SSIUU's pre/post-attack ρ against every other analysed method's."""
    rho = read_correlation(analysis_dir)
    if rho is None:
        return missing(where, f"no {CORRELATION_FILE} in {analysis_dir}")
    whole = rho_intervals(rho, "all", confidence)
    if method not in whole or len(whole) < 2:
        return missing(where, f"ρ for {method} and at least one other method")
    ours = whole.pop(method)
    best = max(whole, key=lambda m: whole[m].value)
    agree = module_agreement(rho, method)
    verdict, reason = stability_verdict(ours, whole, agree)
    n = f" (n = {ours.n} neuron values)" if ours.n else ""
    text = f"{method} ρ = {fmt_interval(ours, 4)}{n}; highest other: {best} {fmt_interval(whole[best], 4)}; {reason}"
    data = {
        "rho": asdict(ours),
        "others": {m: asdict(iv) for m, iv in whole.items()},
        "modules_highest": agree[0],
        "modules": agree[1],
    }
    return Finding(where, verdict, text, data)


def claim_stability(results: ResultFiles, *, confidence: float, method: str = "SSIUU") -> Claim:
    """Claim 3: SSIUU has the highest pre/post-attack attribution correlation ρ on every analysed pair."""
    dirs = analysis_dirs(results)
    findings = [stability_finding(where, d, method, confidence) for where, d in dirs]
    if not findings:
        findings = [missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        f"Fisher-z {confidence:.0%} interval of ρ over the n neuron values (treated as independent, so too "
        "narrow), plus agreement of every module type"
    )
    return Claim.from_findings(
        3,
        f"{method}'s attributions are the most stable under the attack: the highest ρ (Fig. 6)",
        findings,
        how,
    )
