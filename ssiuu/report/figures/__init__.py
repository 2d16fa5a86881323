"""Figures 2-7 of the paper (PNG at 150 dpi + PDF) from cached results — matplotlib only, no torch.

One module per figure (``fig2`` … ``fig7``) and the shared helpers in ``common``. Every figure is drawn on a
:class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) and written atomically as
``<out_dir>/<stem>.png`` and ``.pdf``. Optional analysis inputs that are missing give a panel with a "skipped"
note (and a log warning); malformed inputs raise :class:`ResultError`. The analysis inputs and their one
schema: :mod:`ssiuu.report.analysis_inputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ssiuu.report.analysis_inputs import (
    analysis_pairs,
    parse_state,
    read_correlation,
    read_distributions,
    read_influence,
    read_logit_lens,
)
from ssiuu.report.figures.common import _ci_errorbars, _new_figure, method_colors, save_figure, skip_panel
from ssiuu.report.figures.fig2 import fig2_vulnerability
from ssiuu.report.figures.fig3 import _seed_mean_curves, fig3_influence
from ssiuu.report.figures.fig4 import fig4_logit_lens
from ssiuu.report.figures.fig5 import fig5_heatmaps
from ssiuu.report.figures.fig6 import fig6_distributions
from ssiuu.report.figures.fig7 import _lambda_rows, fig7_ablation
from ssiuu.report.results import AttackGrid, ResultError, ResultFiles
from ssiuu.report.stats import CellStats

FIGURES: dict[str, Callable[..., list[Path]]] = {
    "fig2_vulnerability": fig2_vulnerability,
    "fig3_influence": fig3_influence,
    "fig4_logit_lens": fig4_logit_lens,
    "fig5_heatmaps": fig5_heatmaps,
    "fig6_distributions": fig6_distributions,
    "fig7_ablation": fig7_ablation,
}


def build_figures(
    results: ResultFiles,
    out_dir: str | Path,
    *,
    methods: Sequence[str],
    grid: AttackGrid,
    labels: Mapping[str, str] | None = None,
    influence_methods: Sequence[str] | None = None,
    heatmap_methods: Sequence[str] = ("GD", "SSIUU"),
    logit_lens_methods: Sequence[str] = ("GD", "SSIUU"),
    distribution_methods: Sequence[str] | None = None,
    distribution_attack_p: float = 0.1,
    lambda_variants: Sequence[str] | None = None,
    ablation_method: str = "SSIUU",
    calibration_fraction: float = 0.1,
    calibration_tolerance: float | None = None,
    top_k: int = 100,
    attribution_target: str = "prob",
    stats: CellStats,
) -> dict[str, list[Path]]:
    """Write all figures (``fig2_vulnerability``, ``fig3_influence``, ``fig4_logit_lens``, ``fig5_heatmaps``,
    ``fig6_distributions``, ``fig7_ablation``; each ``.png`` + ``.pdf``) under ``out_dir``."""
    attribution = {"top_k": top_k, "attribution_target": attribution_target}
    calibration = {
        "calibration_fraction": calibration_fraction,
        "calibration_tolerance": calibration_tolerance,
    }
    options = {
        "fig2_vulnerability": {"methods": methods, "grid": grid, "stats": stats},
        "fig3_influence": {"methods": influence_methods or methods} | attribution,
        "fig4_logit_lens": {"methods": logit_lens_methods},
        "fig5_heatmaps": {"methods": heatmap_methods} | attribution,
        "fig6_distributions": {
            "methods": distribution_methods or methods,
            "attack_p": distribution_attack_p,
            "attribution_target": attribution_target,
        },
        "fig7_ablation": {"grid": grid, "stats": stats, "lambda_variants": lambda_variants}
        | {"ablation_method": ablation_method}
        | calibration,
    }
    return {stem: FIGURES[stem](results, out_dir, labels=labels, **options[stem]) for stem in FIGURES}


__all__ = [
    "FIGURES",
    "ResultError",
    "_ci_errorbars",
    "_lambda_rows",
    "_new_figure",
    "_seed_mean_curves",
    "analysis_pairs",
    "build_figures",
    "fig2_vulnerability",
    "fig3_influence",
    "fig4_logit_lens",
    "fig5_heatmaps",
    "fig6_distributions",
    "fig7_ablation",
    "method_colors",
    "parse_state",
    "read_correlation",
    "read_distributions",
    "read_influence",
    "read_logit_lens",
    "save_figure",
    "skip_panel",
]
