"""The paper's three claims (ssiuu/report/claims.py) stated from synthetic results whose answer is known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from result_files import result_files
from scipy import stats

from ssiuu.report import claims as C
from ssiuu.report.attack_cells import attack_cell, group_by_run
from ssiuu.report.results import AttackGrid, ResultError
from ssiuu.report.stats import CellStats

FIX = Path(__file__).parent / "fixtures" / "results"
BOOTSTRAP = {"confidence": 0.95, "n_resamples": 999}  # keyword arguments of the interval routines
OPTS = {"stats": CellStats(**BOOTSTRAP, min_logprob_drop=0.1)}
MODULES = ["q", "k", "v", "o", "ffn"]


# --------------------------------------------------------------------------------------------- claim 1
def write_heatmap(root: Path, plus: np.ndarray, minus: np.ndarray, method: str = "GD") -> Path:
    """analysis/influence/heatmap.csv of one method (ssiuu.analysis' schema): 5 module types × len(plus) // 5
    layers, direction positive (D+) / negative (D−)."""
    d = root / "bench" / "tiny" / "analysis" / "influence"
    d.mkdir(parents=True)
    rows = []
    for direction, values in (("positive", plus), ("negative", minus)):
        for i, v in enumerate(values):
            rows.append(
                {
                    "method": method,
                    "direction": direction,
                    "module": MODULES[i % 5],
                    "layer": i // 5,
                    "value": v,
                }
            )
    pd.DataFrame(rows).to_csv(d / "heatmap.csv", index=False)
    return root


@pytest.mark.parametrize(
    "minus_offset,verdict",
    [(0.05, C.SUPPORTED), (-0.05, C.NOT_SUPPORTED), (0.0, C.INCONCLUSIVE)],
)
def test_gd_hides_verdict_follows_the_paired_interval(
    tmp_path: Path, minus_offset: float, verdict: str
) -> None:
    rng = np.random.default_rng(1)
    plus = 0.1 + 0.01 * rng.random(40)
    minus = plus + minus_offset + np.where(np.arange(40) % 2 == 0, 0.02, -0.02)  # zero-mean spread per cell
    claim = C.claim_hiding(result_files(write_heatmap(tmp_path, plus, minus)), top_k=100, **OPTS)
    (finding,) = claim.findings
    assert claim.verdict == finding.verdict == verdict
    iv = finding.data["difference"]
    assert iv["value"] == pytest.approx(minus_offset, abs=1e-9) and iv["n"] == 40
    assert (iv["low"] > 0) == (verdict == C.SUPPORTED) and (iv["high"] < 0) == (verdict == C.NOT_SUPPORTED)


def test_gd_hides_without_influence_results_is_inconclusive(tmp_path: Path) -> None:
    claim = C.claim_hiding(
        result_files(write_heatmap(tmp_path, np.ones(10), np.ones(10), method="NPO")), top_k=100, **OPTS
    )
    assert claim.verdict == C.INCONCLUSIVE and "GD not in the influence results" in claim.findings[0].text
    assert (
        C.claim_hiding(result_files(tmp_path / "nothing"), top_k=100, **OPTS)
        .findings[0]
        .text.startswith("no data")
    )


def test_gd_hides_on_the_synthetic_fixture_quotes_fig3c() -> None:
    claim = C.claim_hiding(result_files(FIX), top_k=100, **OPTS)
    (finding,) = claim.findings
    assert finding.where == "synth_mcqa/tiny" and claim.verdict == C.SUPPORTED  # GD: D− scale 4, D+ scale 1
    assert finding.data["top_k_sum_minus"] > finding.data["top_k_sum_plus"] > 0


# --------------------------------------------------------------------------------------------- claim 2
def cell(score: float, recovered: float, *, drop: float = 2.0, n: int = 40, runs: int = 2):
    """An AttackCell of ``runs`` hand-made runs: ``n`` 0/1 items averaging ``score``, logprobs recovering
    ``recovered`` of ``drop`` (zero-mean item noise)."""
    results = []
    noise = np.where(np.arange(n) % 2 == 0, 0.3, -0.3)
    unlearned = -3.0 + noise
    for run in range(runs):
        ones = round(score * n)
        scores = [1.0] * ones + [0.0] * (n - ones)
        attacked = unlearned + recovered * drop + noise
        curve = [
            {
                "step": 0,
                "fs": 0.0,
                "logprob": float(unlearned.mean()),
                "item_scores": [0.0] * n,
                "item_logprobs": list(unlearned),
            },
            {
                "step": 5,
                "fs": float(np.mean(scores)),
                "logprob": float(attacked.mean()),
                "item_scores": scores,
                "item_logprobs": list(attacked),
            },
        ]
        results.append({"seed": 0, "run": run, "curve": curve, "start_logprobs": list(unlearned + drop)})
    return attack_cell(group_by_run(results), **BOOTSTRAP)


def comparisons(ours, others: dict, min_drop: float = 0.1) -> list[C.Comparison]:
    return C.compare_cells(ours, others, min_drop=min_drop, opts=BOOTSTRAP)


def test_lowest_attack_supported_when_every_difference_is_below_zero() -> None:
    found = comparisons(cell(0.1, 0.1), {"GD": cell(0.6, 0.6), "NPO": cell(0.5, 0.7)})
    assert C.lowest_verdict(found) == C.SUPPORTED
    assert all(c.score.high < 0 and c.recovered.high < 0 for c in found)


def test_lowest_attack_not_supported_when_a_baseline_is_significantly_lower() -> None:
    found = comparisons(cell(0.6, 0.5), {"GD": cell(0.7, 0.7), "NPO": cell(0.05, 0.6)})
    assert C.lowest_verdict(found) == C.NOT_SUPPORTED
    # ... in recovered fraction alone, too
    found = comparisons(cell(0.1, 0.6), {"GD": cell(0.6, 0.05)})
    assert C.lowest_verdict(found) == C.NOT_SUPPORTED


def test_lowest_attack_inconclusive_when_intervals_reach_zero_or_the_fraction_is_unstable() -> None:
    assert C.lowest_verdict(comparisons(cell(0.30, 0.3), {"GD": cell(0.35, 0.35)})) == C.INCONCLUSIVE
    # scores clearly lower, but unlearning barely moved the log-probability: the fraction is not ranked
    unstable = comparisons(cell(0.1, 0.1, drop=0.01), {"GD": cell(0.6, 0.6)}, min_drop=0.1)
    assert not unstable[0].rankable and C.lowest_verdict(unstable) == C.INCONCLUSIVE
    assert C.lowest_verdict([]) == C.INCONCLUSIVE


def test_lowest_findings_read_the_aggregated_table() -> None:
    table = pd.DataFrame(
        {
            "benchmark": ["b"] * 4,
            "model": ["tiny"] * 4,
            "method": ["Default", "GD", "SSIUU", "Start"],
            "reference": [False, False, False, True],
            "harmful_p0.1_cell": [None, cell(0.6, 0.6), cell(0.1, 0.1), cell(0.0, 0.0)],
        }
    )
    (finding,) = C.lowest_findings(table, ["harmful_p0.1"], method="SSIUU", min_drop=0.1, opts=BOOTSTRAP)
    assert finding.where == "b/tiny harmful p=0.1" and finding.verdict == C.SUPPORTED
    assert [c["baseline"] for c in finding.data["comparisons"]] == ["GD"]  # the reference row is no baseline
    assert finding.data["score"]["value"] == pytest.approx(10.0) and finding.data["score"]["n"] == 80
    assert "GD Δ score -50.0" in finding.text


def test_lowest_attack_on_the_synthetic_fixture() -> None:
    claim = C.claim_lowest_attack(
        result_files(FIX),
        methods=["GA", "GD", "SSIUU"],
        grid=AttackGrid([1e-5, 1e-6], [1e-5, 1e-7]),
        **OPTS,
    )
    wheres = [f.where for f in claim.findings]
    assert wheres == [f"synth_{b}/tiny harmful p={p}" for b in ("mcqa", "rouge") for p in ("0.1", "0.3")]
    assert claim.findings[0].verdict == C.SUPPORTED  # SSIUU's synthetic level 0.15 against GD 0.35, GA 0.45
    assert claim.verdict == C.combine(f.verdict for f in claim.findings)


# --------------------------------------------------------------------------------------------- claim 3
def test_pearson_interval_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = 0.7 * x + rng.normal(size=60)
    res = stats.pearsonr(x, y)
    ref = res.confidence_interval(0.95)
    got = C.pearson_interval(float(res.statistic), 60, 0.95)
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high)) and got.n == 60
    assert math.isnan(C.pearson_interval(0.5, math.nan).low)


def write_correlation(root: Path, rho: dict[str, float], n: int, modules: dict | None = None) -> Path:
    """analysis/distributions/correlation.csv in the layout of ssiuu.analysis.save_distribution_tables."""
    d = root / "bench" / "tiny" / "analysis" / "distributions"
    d.mkdir(parents=True)
    rows = [
        {
            "pre": m,
            "post": f"{m}+attack",
            "module": "all",
            "quantity": "extremes",
            "n_values": n,
            "pearson_r": r,
        }
        for m, r in rho.items()
    ]
    for module, per in (modules or {}).items():
        rows += [
            {
                "pre": m,
                "post": f"{m}+attack",
                "module": module,
                "quantity": "extremes",
                "n_values": n // 5,
                "pearson_r": r,
            }
            for m, r in per.items()
        ]
    pd.DataFrame(rows).to_csv(d / "correlation.csv", index=False)
    return root


@pytest.mark.parametrize(
    "rho,n,modules,verdict",
    [
        ({"GD": 0.90, "SSIUU": 0.99}, 5000, {"q": {"GD": 0.9, "SSIUU": 0.98}}, C.SUPPORTED),
        ({"GD": 0.99, "SSIUU": 0.90}, 5000, None, C.NOT_SUPPORTED),
        ({"GD": 0.93, "SSIUU": 0.95}, 20, None, C.INCONCLUSIVE),  # the intervals overlap at this n
        (
            {"GD": 0.90, "SSIUU": 0.99},
            5000,
            {"q": {"GD": 0.95, "SSIUU": 0.9}},
            C.INCONCLUSIVE,
        ),  # modules disagree
    ],
)
def test_stability_verdicts(tmp_path: Path, rho: dict, n: int, modules: dict | None, verdict: str) -> None:
    claim = C.claim_stability(result_files(write_correlation(tmp_path, rho, n, modules)), confidence=0.95)
    assert claim.verdict == verdict, claim.findings[0].text


def test_stability_on_the_synthetic_fixture() -> None:
    (finding,) = C.claim_stability(
        result_files(FIX), confidence=0.95
    ).findings  # correlation.csv: ρ 0.70 / 0.85 / 0.98, n = 200000
    assert finding.where == "synth_mcqa/tiny" and finding.verdict == C.SUPPORTED
    assert "SSIUU ρ = 0.9800 [" in finding.text and "highest other: GD 0.8500 [" in finding.text


def test_stability_without_n_or_without_ssiuu_is_inconclusive(tmp_path: Path) -> None:
    d = tmp_path / "b" / "tiny" / "analysis" / "distributions"
    d.mkdir(parents=True)
    (d / "correlation.csv").write_text(
        "pre,post,module,quantity,n_values,pearson_r\nGD,GD+attack,all,extremes,,0.5\n"
        "SSIUU,SSIUU+attack,all,extremes,,0.99\n"
    )
    (finding,) = C.claim_stability(result_files(tmp_path), confidence=0.95).findings
    assert finding.verdict == C.INCONCLUSIVE and "no n_values" in finding.text
    root = write_correlation(tmp_path / "other", {"GD": 0.9, "NPO": 0.8}, 100)
    assert (
        C.claim_stability(result_files(root), confidence=0.95)
        .findings[0]
        .text.startswith("no data (ρ for SSIUU")
    )
    assert (
        C.claim_stability(result_files(tmp_path / "none"), confidence=0.95)
        .findings[0]
        .text.startswith("no data (no analysis/")
    )


def test_a_correlation_file_in_another_schema_is_an_error(tmp_path: Path) -> None:
    d = tmp_path / "b" / "tiny" / "analysis" / "distributions"
    d.mkdir(parents=True)
    pd.DataFrame({"method": ["GD", "SSIUU"], "rho": [0.5, 0.99]}).to_csv(d / "correlation.csv", index=False)
    with pytest.raises(
        ResultError,
        match=r"correlation.csv: missing column 'pre', 'module', 'n_values', "
        r"'pearson_r' .*; rerun the distributions rule",
    ):
        C.claim_stability(result_files(tmp_path), confidence=0.95)


# --------------------------------------------------------------------------------------------- all
def test_write_claims_on_the_synthetic_fixture(tmp_path: Path) -> None:
    opts = {"methods": ["GA", "GD", "SSIUU"], "grid": AttackGrid([1e-5, 1e-6], [1e-5, 1e-7]), "top_k": 100}
    md, js = C.write_claims(result_files(FIX), tmp_path / "claims.md", **opts, **OPTS)
    text = md.read_text()
    numbered = [line for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert len(numbered) == 3 and all(" — *" in line for line in numbered)
    found = json.loads(js.read_text())["claims"]
    assert [c["number"] for c in found] == [1, 2, 3]
    assert all(c["verdict"] in (C.SUPPORTED, C.NOT_SUPPORTED, C.INCONCLUSIVE) for c in found)
    assert (
        C.write_claims(result_files(FIX), tmp_path / "again.md", **opts, **OPTS)[0].read_text() == text
    )  # reproducible


def test_combine() -> None:
    assert C.combine([C.SUPPORTED, C.SUPPORTED]) == C.SUPPORTED
    assert C.combine([C.SUPPORTED, C.INCONCLUSIVE]) == C.INCONCLUSIVE
    assert C.combine([C.INCONCLUSIVE, C.NOT_SUPPORTED]) == C.NOT_SUPPORTED
    assert C.combine([]) == C.INCONCLUSIVE
