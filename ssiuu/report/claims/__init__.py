"""The paper's three claims, stated from the cached results as *supported*, *not supported*, *inconclusive at
this n* or *the instrument cannot decide here*, each with its numbers, interval and the smallest difference
its design could detect (``results/claims.md`` and ``.json``; never hand-written): :data:`CLAIMS`, the one
registry of them, in the order ``claims.md`` states them.

1. **GD hides: D− exceeds D+ (Fig. 3)** — :mod:`ssiuu.report.claims.hiding`: the paired D̃− − D̃+ over the
   module type × layer cells of the influence heatmap (one comparison per benchmark and model).
2. **SSIUU has the lowest harmful-attack score and recovered share** — :mod:`ssiuu.report.claims.attack`:
   paired differences against every eligible baseline (no † or ‡), Holm over the family of one benchmark and
   model, gated by the instrument's separation (the known hider against the known eraser or 0).
3. **SSIUU's attributions are the most stable (Fig. 6)** — :mod:`ssiuu.report.claims.stability`: per module
   type, Pearson's and Spearman's per-example ρ of SSIUU minus the best other method, cluster-bootstrapped
   over examples and attack draws, Holm over module types × coefficients.

A part without the data it needs is *inconclusive* and says what is missing; a claim over several parts is
supported when every part is, not supported when any part is (:func:`ssiuu.report.claims.verdicts.combine`).
The ``claims`` rule's command is :func:`ssiuu.report.claims.build.make_claims`; ``workflow/rules/report.smk``
takes the rule's inputs from :data:`CLAIMS`.

To add a claim: a module here with a builder ``claim_<name>(results, **options) ->``
:class:`ssiuu.report.claims.verdicts.Claim`, and one entry below (docs/architecture.md).
"""

from __future__ import annotations

from ssiuu.report.registry import Output

_M = "ssiuu.report.claims"

CLAIMS: dict[str, Output] = {
    "hiding": Output(
        f"{_M}.hiding:claim_hiding",
        "claims.rst",
        inputs=("analysis",),
        options={"top_k": "top_k", "stats": "stats"},
        file="claims",
    ),
    "lowest_attack": Output(
        f"{_M}.attack:claim_lowest_attack",
        "claims.rst",
        options={"methods": "methods", "grid": "grid", "stats": "stats"},
        file="claims",
    ),
    "stability": Output(
        f"{_M}.stability:claim_stability",
        "claims.rst",
        inputs=("analysis",),
        options={"stats": "stats"},
        file="claims",
    ),
}
