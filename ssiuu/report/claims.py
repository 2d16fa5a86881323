"""The paper's three claims, stated from the cached results as *supported*, *not supported* or *inconclusive at
this n*, each with its numbers and 95 % interval (``results/claims.md`` and ``.json``; never hand-written).

1. **GD hides: D− exceeds D+ (Fig. 3).** Unit: the module type × layer cells of the influence heatmap (Fig. 5's
   data, ``analysis/influence/heatmap.csv``: per cell the mean of the top-k neuron scores D̃+ and D̃−, averaged
   over the analysed seeds). Statistic: the mean over cells of the paired difference D̃− − D̃+; interval: a
   bootstrap over cells (:func:`ssiuu.report.stats.mean_interval`, i.e. ``scipy.stats.bootstrap``). Supported
   when the interval lies above 0, not supported when below. The Fig. 3c top-k sums are quoted beside it. The
   cells are the whole model, not a sample: the interval says whether D− > D+ holds across the network or rests
   on a few cells; it does not resample the forget examples or unlearning seeds (their per-example attributions
   are not among the cached results).
2. **SSIUU has the lowest harmful-attack score and the lowest recovered fraction.** Per benchmark, model and
   harmful p: SSIUU's attack cell minus each baseline's (:func:`ssiuu.report.attack_cells.cell_difference`, a
   bootstrap over evaluation items pooled over runs). Supported when every difference, in score and in recovered
   fraction, has its interval below 0; not supported when some baseline is significantly lower than SSIUU in
   either; otherwise inconclusive. A recovered fraction where unlearning barely lowered the log-probability
   (``attacks.min_logprob_drop``) is not ranked, so it cannot support the claim.
3. **SSIUU's attributions are the most stable under the attack: the highest ρ (Fig. 6).** ρ is Pearson's
   correlation of the per-neuron scores before and after the harmful attack (``correlation.csv``, which keeps ρ
   and its n, not the vectors). Interval: Fisher's z transform with n neuron values, the interval that
   ``scipy.stats.pearsonr(...).confidence_interval()`` gives; seeds are pooled on the z scale. It treats
   neurons as independent pairs, which they are not, so it is narrower than the real uncertainty; as a
   robustness check, SSIUU must also have the highest ρ in every module type reported. Supported when SSIUU's
   whole-model interval lies above every other method's and every module type agrees; not supported when some
   method's interval lies above SSIUU's.

A part without the data it needs is *inconclusive* and says what is missing; a claim over several parts
(benchmarks, models, attacks) is supported when every part is, not supported when any part is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ssiuu.io import write_json, write_text
from ssiuu.report.attack_cells import cell_difference
from ssiuu.report.stats import Interval, mean_interval

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive at this n"
CORRELATION_FILES = ("distributions/correlation.csv", "distributions_rho.csv", "rho.csv", "correlation.csv")


@dataclass(frozen=True)
class Finding:
    """One part of a claim (a benchmark / model, or one attack of it): its verdict, sentence and numbers."""

    where: str
    verdict: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper with its overall verdict and the findings behind it."""

    number: int
    title: str
    verdict: str
    findings: tuple[Finding, ...]
    how: str

    def line(self) -> str:
        """The claim's Markdown line: title and verdict, then the finding (one part) or each part's verdict."""
        head = f"{self.number}. **{self.title}** — *{self.verdict}*."
        if len(self.findings) == 1:
            return f"{head} {self.findings[0].where}: {self.findings[0].text}."
        return f"{head} " + "; ".join(f"{f.where}: {f.verdict}" for f in self.findings) + "."

    def markdown(self, how: bool = True) -> list[str]:
        """The line, a sub-line per part when there are several, and how the claim was tested."""
        lines = [self.line()]
        if len(self.findings) > 1:
            lines += [f"   - {f.where} — *{f.verdict}*: {f.text}." for f in self.findings]
        return lines + ([f"   - Test: {self.how}."] if how else [])

    def to_dict(self) -> dict[str, Any]:
        """The claim as JSON-ready data; undefined numbers (NaN) become ``None``."""
        return _finite_or_none(asdict(self))


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------------------------- verdicts
def interval_verdict(iv: Interval) -> str:
    """``supported`` when the interval lies above 0, ``not supported`` below 0, else (or undefined) inconclusive."""
    if math.isnan(iv.low) or math.isnan(iv.high):
        return INCONCLUSIVE
    if iv.low > 0:
        return SUPPORTED
    return NOT_SUPPORTED if iv.high < 0 else INCONCLUSIVE


def combine(verdicts: Iterable[str]) -> str:
    """All parts supported → supported; any part not supported → not supported; else (or none) inconclusive."""
    verdicts = list(verdicts)
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    return SUPPORTED if verdicts and all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE


def fmt_interval(iv: Interval, digits: int = 2, scale: float = 1.0) -> str:
    """``0.12 [0.05, 0.19]``; ``0.12 (no interval)`` where it is undefined; ``–`` when missing."""
    if math.isnan(iv.value):
        return "–"
    v = iv.scaled(scale)
    if math.isnan(v.low):
        return f"{v.value:.{digits}f} (no interval)"
    return f"{v.value:.{digits}f} [{v.low:.{digits}f}, {v.high:.{digits}f}]"


def _sig(x: float) -> str:
    return f"{x:.3g}"


def _analysis_dirs(results_dir: Path) -> list[tuple[str, Path]]:
    return [
        (f"{p.parent.parent.name}/{p.parent.name}", p)
        for p in sorted(results_dir.glob("*/*/analysis"))
        if p.is_dir()
    ]


def _missing(where: str, what: str) -> Finding:
    return Finding(where, INCONCLUSIVE, f"no data ({what})")


# --------------------------------------------------------------------------------------------- claim 1
def influence_cells(influence_dir: Path) -> pd.DataFrame | None:
    """Per method, module and layer: ``plus`` (D̃+) and ``minus`` (D̃−) of the heatmap, mean over seeds."""
    from ssiuu.report.figures import read_influence

    heat = read_influence(influence_dir, "heatmap")
    if heat is None:
        return None
    mean = heat.groupby(["method", "sign", "module", "layer"])["value"].mean().unstack("sign")
    return mean.dropna(subset=[c for c in ("plus", "minus") if c in mean]).reset_index()


def top_k_sums(influence_dir: Path, method: str, k: int) -> dict[str, float]:
    """Fig. 3c: the sum of the top-k D̃+ and D̃− of ``method`` (mean over seeds); NaN where missing."""
    from ssiuu.report.figures import read_influence

    cum = read_influence(influence_dir, "cumulative")
    out = {"plus": math.nan, "minus": math.nan}
    if cum is None:
        return out
    for sign in out:
        sel = cum[(cum["method"] == method) & (cum["sign"] == sign) & (cum["m"] <= k)]
        if not sel.empty:
            out[sign] = float(sel.sort_values("m").groupby("seed", dropna=False)["cumulative"].last().mean())
    return out


def hiding_finding(
    where: str, influence_dir: Path, method: str, top_k: int, opts: Mapping[str, Any]
) -> Finding:
    """Claim 1 on one (benchmark, model): the paired D̃− − D̃+ over the heatmap cells of ``method``."""
    cells = influence_cells(influence_dir)
    if cells is None or not {"plus", "minus"} <= set(cells.columns):
        return _missing(where, f"no influence heatmap with both directions in {influence_dir}")
    mine = cells[cells["method"] == method]
    if mine.empty:
        return _missing(where, f"{method} not in the influence results")
    diff = (mine["minus"] - mine["plus"]).to_numpy(dtype=float)
    iv = mean_interval(list(diff), **opts)
    sums = top_k_sums(influence_dir, method, top_k)
    text = (
        f"mean over module×layer cells of D̃− − D̃+ = {_sig(iv.value)} "
        f"[{_sig(iv.low)}, {_sig(iv.high)}] (n = {iv.n} cells; D̃− larger in {int((diff > 0).sum())}); "
        f"Fig. 3c top-{top_k} sums D̃− {_sig(sums['minus'])} vs D̃+ {_sig(sums['plus'])}"
    )
    data = {
        "difference": asdict(iv),
        "cells_minus_larger": int((diff > 0).sum()),
        "top_k": top_k,
        "top_k_sum_minus": sums["minus"],
        "top_k_sum_plus": sums["plus"],
        "method": method,
    }
    return Finding(where, interval_verdict(iv), text, data)


def claim_hiding(
    results_dir: str | Path,
    *,
    method: str = "GD",
    top_k: int = 100,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> Claim:
    """Claim 1: GD hides (its D− exceeds its D+), on every analysed (benchmark, model)."""
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    dirs = _analysis_dirs(Path(results_dir))
    findings = [hiding_finding(where, d / "influence", method, top_k, opts) for where, d in dirs]
    if not findings:
        findings = [_missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        "paired bootstrap over the module×layer cells of the influence heatmap (mean of the top-k D̃ per cell), "
        f"{confidence:.0%} interval"
    )
    return Claim(
        1,
        f"{method} hides: D− exceeds D+ (Fig. 3)",
        combine(f.verdict for f in findings),
        tuple(findings),
        how,
    )


# --------------------------------------------------------------------------------------------- claim 2
@dataclass(frozen=True)
class Comparison:
    """SSIUU minus one baseline in one attack cell: score (fraction) and recovered fraction, each with its CI."""

    baseline: str
    score: Interval
    recovered: Interval
    rankable: bool  # both recovered fractions rest on a large enough log-probability drop


def compare_cells(
    ours: Any, others: Mapping[str, Any], *, min_drop: float, opts: Mapping[str, Any]
) -> list[Comparison]:
    """:func:`cell_difference` of ``ours`` against each baseline's :class:`AttackCell`."""
    out = []
    for name, cell in others.items():
        score, recovered = cell_difference(ours, cell, **opts)
        out.append(Comparison(name, score, recovered, ours.stable(min_drop) and cell.stable(min_drop)))
    return out


def _above(iv: Interval) -> bool:
    return iv.low > 0  # False for NaN


def _below(iv: Interval) -> bool:
    return iv.high < 0


def lowest_verdict(comparisons: Sequence[Comparison]) -> str:
    """Claim 2 on one cell: every difference below 0 → supported; a baseline significantly lower → not."""
    if any(_above(c.score) or (c.rankable and _above(c.recovered)) for c in comparisons):
        return NOT_SUPPORTED
    lower = all(_below(c.score) and c.rankable and _below(c.recovered) for c in comparisons)
    return SUPPORTED if comparisons and lower else INCONCLUSIVE


def _weakest(comparisons: Sequence[Comparison], attr: str) -> Comparison:
    """The comparison whose interval reaches highest (the one closest to contradicting the claim)."""
    return max(
        comparisons, key=lambda c: -math.inf if math.isnan(getattr(c, attr).high) else getattr(c, attr).high
    )


def lowest_text(ours: Any, comparisons: Sequence[Comparison], method: str) -> str:
    s, r = _weakest(comparisons, "score"), _weakest(comparisons, "recovered")
    unranked = [c.baseline for c in comparisons if not c.rankable]
    text = (
        f"{method} score {fmt_interval(ours.score, 1, 100)} % (n = {ours.score.n} items, {ours.runs} runs), "
        f"recovered {fmt_interval(ours.recovered)}; closest baselines: {s.baseline} Δ score "
        f"{fmt_interval(s.score, 1, 100)} points, {r.baseline} Δ recovered {fmt_interval(r.recovered)}"
    )
    return text + (
        f"; recovered fraction not ranked for {', '.join(unranked)} (drop too small)" if unranked else ""
    )


def _comparison_data(c: Comparison) -> dict[str, Any]:
    return {
        "baseline": c.baseline,
        "score": asdict(c.score.scaled(100)),
        "recovered": asdict(c.recovered),
        "rankable": c.rankable,
    }


def lowest_findings(
    table: pd.DataFrame, keys: Sequence[str], *, method: str, min_drop: float, opts: Mapping[str, Any]
) -> list[Finding]:
    """Claim 2 per (benchmark, model, harmful attack) of one aggregated table (:func:`aggregate_table`)."""
    findings = []
    for (bench, model), grp in table.groupby(["benchmark", "model"], sort=False):
        rows = grp[(grp["method"] != "Default") & ~grp["reference"].astype(bool)].set_index("method")
        for key in keys:
            where = f"{bench}/{model} harmful p={key.removeprefix('harmful_p')}"
            if method not in rows.index or f"{key}_cell" not in rows.columns:
                findings.append(_missing(where, f"no {method} attack results"))
                continue
            ours = rows.loc[method, f"{key}_cell"]
            others = {m: c for m, c in rows[f"{key}_cell"].items() if m != method and c.runs}
            if not ours.runs or not others:
                what = "any baseline" if ours.runs else method
                findings.append(_missing(where, f"no per-item attack results ('curve') for {what}"))
                continue
            comparisons = compare_cells(ours, others, min_drop=min_drop, opts=opts)
            data = {
                "score": asdict(ours.score.scaled(100)),
                "recovered": asdict(ours.recovered),
                "runs": ours.runs,
                "comparisons": [_comparison_data(c) for c in comparisons],
            }
            findings.append(
                Finding(where, lowest_verdict(comparisons), lowest_text(ours, comparisons, method), data)
            )
    return findings


def claim_lowest_attack(
    results_dir: str | Path,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    method: str = "SSIUU",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> Claim:
    """Claim 2: SSIUU's harmful-attack cells are below every baseline's, in score and in recovered fraction."""
    from ssiuu.report.tables import STYLES, aggregate_table, attack_key, collect_base

    opts = {"confidence": confidence, "n_resamples": n_resamples}
    keys = [attack_key("harmful", p) for p in harmful_ps]
    findings = []
    for style in STYLES:
        if style not in set(collect_base(results_dir)["style"]):
            continue
        table = aggregate_table(
            results_dir,
            style,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
            min_logprob_drop=min_logprob_drop,
            **opts,
        )
        findings += lowest_findings(table, keys, method=method, min_drop=min_logprob_drop, opts=opts)
    how = (
        f"{method} minus each baseline, per harmful attack: bootstrap over evaluation items pooled over runs "
        f"(independent samples), {confidence:.0%} interval; score in points of %"
    )
    return Claim(
        2,
        f"{method} has the lowest harmful-attack score and the lowest recovered fraction",
        combine(f.verdict for f in findings),
        tuple(findings),
        how,
    )


# --------------------------------------------------------------------------------------------- claim 3
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


def rho_table(analysis_dir: Path) -> pd.DataFrame | None:
    """ρ per method, seed and module (``all`` = whole model) with its n (NaN where the file has none)."""
    from ssiuu.report.figures import parse_state

    path = next((analysis_dir / f for f in CORRELATION_FILES if (analysis_dir / f).exists()), None)
    if path is None:
        return None
    df = pd.read_csv(path)
    label = next((c for c in ("pre", "method", "state", "model") if c in df.columns), None)
    value = next((c for c in ("pearson_r", "rho", "r") if c in df.columns), None)
    if label is None or value is None or df.empty:
        return None
    parsed = [parse_state(x) for x in df[label].astype(str)]
    n = next((c for c in ("n_values", "n") if c in df.columns), None)
    return pd.DataFrame(
        {
            "method": [p[0] for p in parsed],
            "seed": [p[1] for p in parsed],
            "module": df["module"].astype(str) if "module" in df.columns else "all",
            "rho": pd.to_numeric(df[value], errors="coerce"),
            "n": pd.to_numeric(df[n], errors="coerce") if n else math.nan,
        }
    )


def rho_intervals(rho: pd.DataFrame, module: str, confidence: float) -> dict[str, Interval]:
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
    rho = rho_table(analysis_dir)
    if rho is None:
        return _missing(where, f"no correlation file ({' / '.join(CORRELATION_FILES)}) in {analysis_dir}")
    whole = rho_intervals(rho, "all", confidence)
    if method not in whole or len(whole) < 2:
        return _missing(where, f"ρ for {method} and at least one other method")
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


def claim_stability(results_dir: str | Path, *, method: str = "SSIUU", confidence: float = 0.95) -> Claim:
    """Claim 3: SSIUU has the highest pre/post-attack attribution correlation ρ on every analysed pair."""
    dirs = _analysis_dirs(Path(results_dir))
    findings = [stability_finding(where, d, method, confidence) for where, d in dirs]
    if not findings:
        findings = [_missing("all benchmarks", "no analysis/ directory under the results")]
    how = (
        f"Fisher-z {confidence:.0%} interval of ρ over the n neuron values (treated as independent, so too "
        "narrow), plus agreement of every module type"
    )
    return Claim(
        3,
        f"{method}'s attributions are the most stable under the attack: the highest ρ (Fig. 6)",
        combine(f.verdict for f in findings),
        tuple(findings),
        how,
    )


# --------------------------------------------------------------------------------------------- all
def claims(
    results_dir: str | Path,
    *,
    methods: Sequence[str],
    harmful_lrs: Sequence[float],
    benign_lrs: Sequence[float],
    harmful_ps: Sequence[float] = (0.1, 0.3),
    top_k: int = 100,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> list[Claim]:
    """The three claims from the results under ``results_dir`` (no torch, no model)."""
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    return [
        claim_hiding(results_dir, top_k=top_k, **opts),
        claim_lowest_attack(
            results_dir,
            methods=methods,
            harmful_lrs=harmful_lrs,
            benign_lrs=benign_lrs,
            harmful_ps=harmful_ps,
            min_logprob_drop=min_logprob_drop,
            **opts,
        ),
        claim_stability(results_dir, confidence=confidence),
    ]


def claims_markdown(found: Sequence[Claim]) -> str:
    """``claims.md``: a header, then one line per claim with a sub-line on how it was tested."""
    lines = [
        "# The paper's three claims on these results",
        "",
        "Generated by `python -m ssiuu claims` from the cached results (not hand-written); verdicts are "
        f"*{SUPPORTED}*, *{NOT_SUPPORTED}* or *{INCONCLUSIVE}*. The rules: `ssiuu/report/claims.py`.",
        "",
    ]
    for c in found:
        lines += [*c.markdown(), ""]
    return "\n".join(lines)


def write_claims(results_dir: str | Path, out: str | Path, **options: Any) -> list[Path]:
    """Write ``out`` (Markdown) and the same stem ``.json``; returns both paths."""
    found = claims(results_dir, **options)
    out = Path(out)
    write_text(out, claims_markdown(found))
    json_path = out.with_suffix(".json")
    write_json(json_path, {"claims": [c.to_dict() for c in found]})
    return [out, json_path]


def claims_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`write_claims`: the report's options (:func:`ssiuu.report.options_from_config`)."""
    from ssiuu.report import options_from_config

    opts = options_from_config(config)
    keys = ("methods", "harmful_lrs", "benign_lrs", "harmful_ps", "top_k", "confidence", "n_resamples",
            "min_logprob_drop")
    return {k: opts[k] for k in keys}
