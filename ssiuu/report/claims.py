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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ssiuu.io import write_json, write_text
from ssiuu.report.claims_attack import (
    Comparison,
    claim_lowest_attack,
    compare_cells,
    lowest_findings,
    lowest_text,
    lowest_verdict,
)
from ssiuu.report.claims_hiding import claim_hiding, hiding_finding, influence_cells, top_k_sums
from ssiuu.report.claims_stability import (
    claim_stability,
    module_agreement,
    pearson_interval,
    pooled_pearson_interval,
    rho_intervals,
    stability_finding,
    stability_verdict,
)
from ssiuu.report.options import options_from_config
from ssiuu.report.results import AttackGrid, ResultFiles
from ssiuu.report.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Finding,
    combine,
    fmt_interval,
    interval_verdict,
)

__all__ = [
    "INCONCLUSIVE",
    "NOT_SUPPORTED",
    "SUPPORTED",
    "Claim",
    "Comparison",
    "Finding",
    "claim_hiding",
    "claim_lowest_attack",
    "claim_stability",
    "claims",
    "claims_markdown",
    "claims_options",
    "combine",
    "compare_cells",
    "fmt_interval",
    "hiding_finding",
    "influence_cells",
    "interval_verdict",
    "lowest_findings",
    "lowest_text",
    "lowest_verdict",
    "module_agreement",
    "pearson_interval",
    "pooled_pearson_interval",
    "rho_intervals",
    "stability_finding",
    "stability_verdict",
    "top_k_sums",
    "write_claims",
]


def claims(
    results: ResultFiles,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    top_k: int = 100,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    min_logprob_drop: float = 0.1,
) -> list[Claim]:
    """The three claims from the results under ``results`` (no torch, no model)."""
    opts = {"confidence": confidence, "n_resamples": n_resamples}
    return [
        claim_hiding(results, top_k=top_k, **opts),
        claim_lowest_attack(
            results,
            methods=methods,
            grid=grid,
            min_logprob_drop=min_logprob_drop,
            **opts,
        ),
        claim_stability(results, confidence=confidence),
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


def write_claims(results: ResultFiles, out: str | Path, **options: Any) -> list[Path]:
    """Write ``out`` (Markdown) and the same stem ``.json``; returns both paths."""
    found = claims(results, **options)
    out = Path(out)
    write_text(out, claims_markdown(found))
    json_path = out.with_suffix(".json")
    write_json(json_path, {"claims": [c.to_dict() for c in found]})
    return [out, json_path]


def claims_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`write_claims`: the report's options (:func:`ssiuu.report.options_from_config`)."""
    opts = options_from_config(config)
    keys = (
        "methods",
        "grid",
        "top_k",
        "confidence",
        "n_resamples",
        "min_logprob_drop",
    )
    return {k: opts[k] for k in keys}
