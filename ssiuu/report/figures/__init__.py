"""Figures 2-7 of the paper (PNG at 150 dpi + PDF): :data:`FIGURES`, the one registry of them.

One module per figure (``fig2`` … ``fig7``) and the shared helpers in ``common``. Every figure is drawn on a
:class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) and written atomically as
``<out_dir>/<name>.png`` and ``.pdf``. Optional analysis inputs that are missing give a panel with a "skipped"
note (and a log warning); malformed inputs raise :class:`ssiuu.report.results.ResultError`. The analysis
inputs and their one schema: :mod:`ssiuu.report.analysis_inputs`. ``workflow/rules/report.smk`` takes the
``figures`` rule's outputs, captions and inputs from :data:`FIGURES`; the rule's command is
:func:`ssiuu.report.figures.build.make_figures`.

To add a figure: a module here with a builder ``fig<k>_<name>(results, out_dir, **options) -> [paths]``
(:func:`ssiuu.report.figures.common.save_figure`), one entry below, and its caption
``workflow/report/<name>.rst`` (docs/architecture.md).
"""

from __future__ import annotations

from ssiuu.report.registry import Output

_M = "ssiuu.report.figures"
_ATTRIBUTION = {"top_k": "top_k", "attribution_target": "attribution_target", "labels": "labels"}

FIGURES: dict[str, Output] = {
    "fig2_vulnerability": Output(
        f"{_M}.fig2:fig2_vulnerability",
        "fig2_vulnerability.rst",
        options={"methods": "methods", "grid": "grid", "stats": "stats", "labels": "labels"},
    ),
    "fig3_influence": Output(
        f"{_M}.fig3:fig3_influence",
        "fig3_influence.rst",
        inputs=("analysis",),
        options={"methods": "influence_methods"} | _ATTRIBUTION,
    ),
    "fig4_logit_lens": Output(
        f"{_M}.fig4:fig4_logit_lens",
        "fig4_logit_lens.rst",
        inputs=("analysis",),
        options={"methods": "logit_lens_methods", "labels": "labels"},
    ),
    "fig5_heatmaps": Output(
        f"{_M}.fig5:fig5_heatmaps",
        "fig5_heatmaps.rst",
        inputs=("analysis",),
        options={"methods": "heatmap_methods"} | _ATTRIBUTION,
    ),
    "fig6_distributions": Output(
        f"{_M}.fig6:fig6_distributions",
        "fig6_distributions.rst",
        inputs=("analysis",),
        options={
            "methods": "distribution_methods",
            "attack_p": "distribution_attack_p",
            "attribution_target": "attribution_target",
            "labels": "labels",
        },
    ),
    "fig7_ablation": Output(
        f"{_M}.fig7:fig7_ablation",
        "fig7_ablation.rst",
        inputs=("results", "calibration"),
        options={
            "grid": "grid",
            "stats": "stats",
            "lambda_variants": "lambda_variants",
            "calibration_fraction": "calibration_fraction",
            "calibration_tolerance": "calibration_tolerance",
            "labels": "labels",
        },
    ),
}
