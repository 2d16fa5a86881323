"""Analyses of unlearned models: influence variations (Figs. 3, 5), attribution distributions (Fig. 6) and the
logit lens (Fig. 4). Attribution itself (Eq. 1) lives in :mod:`ssiuu.attribution`."""

from ssiuu.analysis.distributions import (
    attribution_correlation,
    attribution_histograms,
    attribution_stats,
    neuron_scores,
    per_example_correlation,
    rowwise_rho,
    save_distribution_tables,
    save_per_example_table,
)
from ssiuu.analysis.influence import (
    cumulative_curve,
    influence_totals,
    influence_variation,
    save_influence_tables,
    top_k_heatmap,
)
from ssiuu.analysis.logit_lens import logit_lens_accuracy, logit_lens_logprobs

__all__ = [
    "attribution_correlation",
    "attribution_histograms",
    "attribution_stats",
    "cumulative_curve",
    "influence_totals",
    "influence_variation",
    "logit_lens_accuracy",
    "logit_lens_logprobs",
    "neuron_scores",
    "per_example_correlation",
    "rowwise_rho",
    "save_distribution_tables",
    "save_per_example_table",
    "save_influence_tables",
    "top_k_heatmap",
]
