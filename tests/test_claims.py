"""The paper's three claims (ssiuu/report/claims/) stated from synthetic results whose answer is known."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from result_files import report_options, result_files

from ssiuu.report.claims import CLAIMS
from ssiuu.report.claims.attack import Comparison, claim_lowest_attack, family, lowest_verdict
from ssiuu.report.claims.build import write_claims
from ssiuu.report.claims.hiding import claim_hiding
from ssiuu.report.claims.stability import claim_stability
from ssiuu.report.claims.verdicts import INCONCLUSIVE, INSTRUMENT, NOT_SUPPORTED, SUPPORTED, combine
from ssiuu.report.comparisons import RowDifference
from ssiuu.report.inference import Estimate, Units
from ssiuu.report.results import AttackGrid, ResultError
from ssiuu.report.stats import CellStats

FIX = Path(__file__).parent / "fixtures" / "results"
OPTS = {"stats": CellStats(0.95, 999)}
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
    [(0.05, SUPPORTED), (-0.05, NOT_SUPPORTED), (0.0, INCONCLUSIVE)],
)
def test_gd_hides_verdict_follows_the_paired_interval(
    tmp_path: Path, minus_offset: float, verdict: str
) -> None:
    rng = np.random.default_rng(1)
    plus = 0.1 + 0.01 * rng.random(40)
    minus = plus + minus_offset + np.where(np.arange(40) % 2 == 0, 0.02, -0.02)  # zero-mean spread per cell
    claim = claim_hiding(result_files(write_heatmap(tmp_path, plus, minus)), top_k=100, **OPTS)
    (finding,) = claim.findings
    assert claim.verdict == finding.verdict == verdict
    iv = finding.data["difference"]
    assert iv["value"] == pytest.approx(minus_offset, abs=1e-9) and iv["n"] == 40
    assert (iv["low"] > 0) == (verdict == SUPPORTED) and (iv["high"] < 0) == (verdict == NOT_SUPPORTED)


def test_gd_hides_without_influence_results_is_inconclusive(tmp_path: Path) -> None:
    claim = claim_hiding(
        result_files(write_heatmap(tmp_path, np.ones(10), np.ones(10), method="NPO")), top_k=100, **OPTS
    )
    assert claim.verdict == INCONCLUSIVE and "GD not in the influence results" in claim.findings[0].text
    assert (
        claim_hiding(result_files(tmp_path / "nothing"), top_k=100, **OPTS)
        .findings[0]
        .text.startswith("no data")
    )


def test_gd_hides_on_the_synthetic_fixture_quotes_fig3c() -> None:
    claim = claim_hiding(result_files(FIX), top_k=100, **OPTS)
    (finding,) = claim.findings
    assert finding.where == "synth_mcqa/tiny" and claim.verdict == SUPPORTED  # GD: D− scale 4, D+ scale 1
    assert finding.data["top_k_sum_minus"] > finding.data["top_k_sum_plus"] > 0


# --------------------------------------------------------------------------------------------- claim 2
CLAIM2 = {"methods": ["GA", "GD", "SSIUU"], "grid": AttackGrid([1e-5, 1e-6], [1e-5, 1e-7])}
HOLM_STATS = CellStats(0.95, 1999)  # enough resamples for a bootstrap p below α / m


def comparison(value: float, p_holm: float, baseline: str = "GD") -> Comparison:
    est = Estimate(value, value - 0.1, value + 0.1, 40, Units(1, 2, 20), 0.05, p_holm)
    return Comparison(baseline, "harmful p=0.1", "FS", est, p_holm, 0.14, 30.0)


def test_lowest_verdict_follows_the_holm_adjusted_family() -> None:
    assert lowest_verdict([comparison(-0.3, 0.01), comparison(-0.2, 0.02, "NPO")], 0.05)[0] == SUPPORTED
    verdict, decider = lowest_verdict([comparison(-0.3, 0.01), comparison(0.2, 0.03, "NPO")], 0.05)
    assert verdict == NOT_SUPPORTED and decider.baseline == "NPO"  # a baseline significantly lower
    verdict, decider = lowest_verdict([comparison(-0.3, 0.01), comparison(-0.1, 0.2, "NPO")], 0.05)
    assert verdict == INCONCLUSIVE and decider.baseline == "NPO"  # the weakest comparison decides
    assert lowest_verdict([], 0.05)[0] == INCONCLUSIVE


def test_the_family_is_holm_adjusted_together() -> None:
    from statsmodels.stats.multitest import multipletests

    est = [Estimate(-0.2, -0.3, -0.1, 40, Units(1, 2, 20), 0.05, p) for p in (0.01, 0.02, 0.04)]
    diffs = [("GA", "harmful_p0.1", RowDifference("SSIUU", "GA", est[0], est[1], est[2], True))]
    found = family(diffs, 0.05)
    assert [c.measure for c in found] == ["FS", "share"]
    assert [c.p_holm for c in found] == pytest.approx(list(multipletests([0.01, 0.02], method="holm")[1]))
    assert all(c.mdd > 0 for c in found)


def test_lowest_attack_on_the_synthetic_fixture_excludes_the_dagger_row() -> None:
    """Synthetic levels: SSIUU's FS and share far below GA's; GD's seed 1 did not converge (†): GD is no
    baseline; the known hider's share ≈ 1 separates it from 0 (MCQA) and from the eraser (ROUGE)."""
    claim = claim_lowest_attack(result_files(FIX), stats=HOLM_STATS, **CLAIM2)
    assert [f.where for f in claim.findings] == ["synth_mcqa/tiny", "synth_rouge/tiny"]
    mcqa, rouge = claim.findings
    assert mcqa.verdict == rouge.verdict == claim.verdict == SUPPORTED
    assert mcqa.data["excluded"] == ["GD †"] and {c["baseline"] for c in mcqa.data["comparisons"]} == {"GA"}
    assert {c["baseline"] for c in rouge.data["comparisons"]} == {"GA", "GD"}
    assert mcqa.data["instrument_separated"] and "smallest detectable" in mcqa.text


def test_a_margin_that_does_not_see_unlearning_leaves_the_instrument_unable_to_decide(tmp_path: Path) -> None:
    """The hider's margins before the attack raised to the attacked Start's (the margin did not see what its
    unlearning removed): the hider still separates, but the gate says the instrument cannot decide."""
    root = tmp_path / "results"
    shutil.copytree(FIX, root)
    for hider_file in (root / "synth_mcqa" / "tiny" / "Hider").glob("seed*/attacks/harmful_*.json"):
        start_file = root / "synth_mcqa" / "tiny" / "Start" / "seed0" / "attacks" / hider_file.name
        hider, start = json.loads(hider_file.read_text()), json.loads(start_file.read_text())
        by_id = dict(zip(start["eval_ids"], start["curve"][0]["item_margins"], strict=True))
        hider["curve"][0]["item_margins"] = [by_id[i] + 0.5 for i in hider["eval_ids"]]
        hider_file.write_text(json.dumps(hider))
    mcqa, rouge = claim_lowest_attack(result_files(root), stats=HOLM_STATS, **CLAIM2).findings
    assert mcqa.verdict == INSTRUMENT and "does not see unlearning" in mcqa.text
    assert mcqa.data["verdict_without_instrument_check"] == SUPPORTED
    assert rouge.verdict == SUPPORTED  # its files untouched


def test_a_dagger_ssiuu_is_inconclusive_and_still_states_the_instrument(tmp_path: Path) -> None:
    """SSIUU that did not reach τ (†) decides nothing, and its finding still gives the instrument's separation."""
    root = tmp_path / "results"
    shutil.copytree(FIX, root)
    unlearn = root / "synth_rouge" / "tiny" / "SSIUU" / "seed0" / "unlearn.json"
    unlearn.write_text(json.dumps(json.loads(unlearn.read_text()) | {"converged": False}))
    mcqa, rouge = claim_lowest_attack(result_files(root), stats=HOLM_STATS, **CLAIM2).findings
    assert mcqa.verdict == SUPPORTED and rouge.verdict == INCONCLUSIVE
    assert "SSIUU itself is † or ‡" in rouge.text and "instrument: separation p=0.1 " in rouge.text
    assert rouge.data == {"instrument_separated": True}


def test_without_a_known_hider_the_instrument_cannot_decide(tmp_path: Path) -> None:
    root = tmp_path / "results"
    shutil.copytree(FIX, root)
    for bench in ("synth_mcqa", "synth_rouge"):
        shutil.rmtree(root / bench / "tiny" / "Hider")
    claim = claim_lowest_attack(result_files(root), stats=HOLM_STATS, **CLAIM2)
    assert claim.verdict == INSTRUMENT and all(f.verdict == INSTRUMENT for f in claim.findings)
    assert all(f.data["verdict_without_instrument_check"] == SUPPORTED for f in claim.findings)


# --------------------------------------------------------------------------------------------- claim 3
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


def test_stability_without_per_example_rho_reports_rho_per_module_without_an_interval(tmp_path: Path) -> None:
    root = write_correlation(tmp_path, {"GD": 0.90, "SSIUU": 0.99}, 5000, {"q": {"GD": 0.95, "SSIUU": 0.9}})
    (finding,) = claim_stability(result_files(root)).findings
    assert finding.verdict == INCONCLUSIVE  # nothing that varies between repetitions is saved
    assert "all: SSIUU 0.990, highest other GD 0.900" in finding.text and "q: SSIUU 0.900" in finding.text
    assert (
        "no interval" in finding.text
        and "Spearman ρ not recorded" in finding.text
        and "[" not in finding.text
    )
    assert (finding.data["modules_highest"], finding.data["modules"]) == (0, 1)


def test_stability_without_ssiuu_or_analysis_is_missing(tmp_path: Path) -> None:
    root = write_correlation(tmp_path / "other", {"GD": 0.9, "NPO": 0.8}, 100)
    assert claim_stability(result_files(root)).findings[0].text.startswith("no data (ρ for SSIUU")
    assert (
        claim_stability(result_files(tmp_path / "none")).findings[0].text.startswith("no data (no analysis/")
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
        claim_stability(result_files(tmp_path))


def write_per_example(root: Path, stable: str, shuffled: str, draws: int = 2, n: int = 24) -> Path:
    """distributions/per_example.csv through ssiuu.analysis (per_example_correlation, save_per_example_table):
    ``stable``'s attributions after each draw are its own plus small noise, ``shuffled``'s a permutation of its
    neurons (ρ ≈ 0), NPO's in between (half noise)."""
    import torch

    from ssiuu.analysis import per_example_correlation, save_per_example_table
    from ssiuu.attribution import AttributionSummary

    d = root / "bench" / "tiny" / "analysis" / "distributions"
    d.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    frames = []
    for method in (stable, shuffled, "NPO"):
        before = {t: torch.randn(n, 2, 16, generator=g) for t in MODULES}
        pre = AttributionSummary(before, {t: -v.abs() for t, v in before.items()})
        for draw in range(draws):
            if method == shuffled:
                after = {t: v[..., torch.randperm(16, generator=g)] for t, v in before.items()}
            else:
                sd = 0.1 if method == stable else 1.0
                after = {t: v + sd * torch.randn(v.shape, generator=g) for t, v in before.items()}
            post = AttributionSummary(after, {t: -v.abs() for t, v in after.items()})
            frames.append(per_example_correlation(pre, post).assign(method=method, seed=0, draw=draw))
    save_per_example_table(pd.concat(frames, ignore_index=True), d)
    return root


def test_stability_is_supported_where_ssiuu_keeps_its_attributions(tmp_path: Path) -> None:
    root = write_per_example(tmp_path, "SSIUU", "GD")
    (finding,) = claim_stability(result_files(root), **OPTS).findings
    assert finding.verdict == SUPPORTED, finding.text
    comparisons = finding.data["comparisons"]
    assert len(comparisons) == len(MODULES) * 2  # module types × (Pearson, Spearman), one Holm family
    assert {c["coefficient"] for c in comparisons} == {"pearson", "spearman"}
    assert all(c["best_other"] == "NPO" and c["low"] > 0 and c["p_holm"] < 0.05 for c in comparisons)
    assert (finding.data["draws"], finding.data["items"]) == (2, 24)
    assert "2 draws × 24 examples" in finding.text


def test_stability_is_not_supported_where_ssiuu_is_the_shuffled_one(tmp_path: Path) -> None:
    root = write_per_example(tmp_path, "GD", "SSIUU")
    claim = claim_stability(result_files(root), **OPTS)
    assert claim.verdict == NOT_SUPPORTED
    comparisons = claim.findings[0].data["comparisons"]
    assert all(c["high"] < 0 for c in comparisons)
    n, lowest = len(comparisons), min(c["difference"] for c in comparisons)
    assert (
        f"on {n} comparisons (module type × coefficient, Holm): significantly below in {n}, above in 0"
        in (claim.findings[0].text)
    )
    assert f"Δ from {lowest:.3f} to " in claim.findings[0].text and "; deciding: " in claim.findings[0].text


def test_stability_with_one_draw_is_inconclusive(tmp_path: Path) -> None:
    root = write_per_example(tmp_path, "SSIUU", "GD", draws=1)
    (finding,) = claim_stability(result_files(root), **OPTS).findings
    assert finding.verdict == INCONCLUSIVE and "one attack draw" in finding.text


# --------------------------------------------------------------------------------------------- all
def test_write_claims_on_the_synthetic_fixture(tmp_path: Path) -> None:
    """claims.md states every claim of the registry, in its order, through the rule's path (write_claims)."""
    opts = report_options(stats=OPTS["stats"], top_k=100)
    md, js = write_claims(result_files(FIX), tmp_path / "claims.md", opts)
    text = md.read_text()
    numbered = [line for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert len(numbered) == 3 and all(" — *" in line for line in numbered)
    found = json.loads(js.read_text())["claims"]
    assert [c["number"] for c in found] == [1, 2, 3] and len(found) == len(CLAIMS)
    assert all(c["verdict"] in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INSTRUMENT) for c in found)
    assert write_claims(result_files(FIX), tmp_path / "again.md", opts)[0].read_text() == text  # reproducible


def test_combine() -> None:
    assert combine([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert combine([SUPPORTED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([INCONCLUSIVE, NOT_SUPPORTED]) == NOT_SUPPORTED
    assert combine([]) == INCONCLUSIVE
    assert combine([INSTRUMENT, INSTRUMENT]) == INSTRUMENT
    assert combine([INSTRUMENT, SUPPORTED]) == INCONCLUSIVE
